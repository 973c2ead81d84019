/**
 * Re-measures issue 10's attack figures for bodies, length prefixes and
 * logs (items 3, 4 and 6), against a fault server (tests/faults/
 * fault_server.ts) per runtime, on loopback. Every wait is bounded; every
 * child is killed by its pid.
 *
 * ```sh
 * deno run -A bench/attack_body.ts [--runtimes=deno,bun,node] [--connections=500]
 *   [--body-mib=3] [--duration=3000] [--garbage=200] [--repeat=3]
 *   [--parts=bodies,prefixes,logs,flood] [--lean-flood]
 * ```
 *
 * 1. Heap per hostile body: the largest body under weft's 4 MiB default,
 *    of empty maps (`[{},{},...]` as JSON, 0x80 bytes as MessagePack),
 *    against the codec without an element limit (as before) and with its
 *    default (1,000,000 values): the server's heap while the decoded body is
 *    alive, or "refused" and its peak-RSS growth.
 * 2. Length prefixes: `--connections` connections to a silly-mode node
 *    (hard limit 128 MiB), each sending a prefix that announces 128 MiB - 1
 *    and a 16-byte header, then nothing: the server's RSS and virtual size.
 * 3. Log: `--garbage` connections of 5 random bytes to a node with the
 *    default logger (stderr): bytes of log per bad connection, lines/s.
 * 4. A good client's calls/s (one in flight, json) alone and beside a
 *    bad-request flood from another process (bench/_flood.ts), with the
 *    default fault log limit and with every fault logged, and beside a
 *    flood of valid requests (the control); `--repeat` rounds of alone and
 *    beside, medians (and the range of the ratio).
 *
 * @module
 */

import { Cluster } from "../src/cluster/cluster.ts";
import { json } from "../src/codec/json.ts";
import { raw } from "../src/codec/raw.ts";
import { msgpack } from "../src/codec/msgpack.ts";
import { parseAddress } from "../src/transport/address.ts";
import { transport } from "../src/transport/deno.ts";
import { type RuntimeName, spawnScript } from "../examples/_runtimes.ts";
import { delay, rssOf, startServer, vmSizeOf } from "../tests/faults/_child.ts";
import { CMD, type Stats } from "../tests/faults/_commands.ts";
import { randomBytes } from "../tests/faults/_helpers.ts";
import { options } from "./_common.ts";

const { flags } = options(Deno.args);
const RUNTIMES = (flags.get("runtimes") ?? "deno,bun,node").split(",") as RuntimeName[];
const CONNECTIONS = Number(flags.get("connections") ?? 500);
const BODY_MIB = Number(flags.get("body-mib") ?? 3);
const DURATION = Number(flags.get("duration") ?? 3000);
const GARBAGE = Number(flags.get("garbage") ?? 200);
const REPEAT = Number(flags.get("repeat") ?? 3);
/** `--lean-flood`: the flood process builds no stacks for its rejections (see bench/_flood.ts). */
const LEAN = flags.has("lean-flood");
const PARTS = new Set((flags.get("parts") ?? "bodies,prefixes,logs,flood").split(","));
const MiB = 1024 * 1024;
const FLOOD = new URL("./_flood.ts", import.meta.url).pathname;
const quiet = { error() {}, warn() {} };

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

function jsonMaps(bytes: number): Uint8Array {
  const n = Math.floor((bytes - 2) / 3);
  return new TextEncoder().encode("[" + "{},".repeat(n - 1) + "{}]");
}

function packMaps(bytes: number): Uint8Array {
  const n = bytes - 5;
  const out = new Uint8Array(bytes).fill(0x80);
  out[0] = 0xdd;
  new DataView(out.buffer).setUint32(1, n);
  return out;
}

async function structuredStats(cluster: Cluster, address: string): Promise<Stats> {
  return await cluster.call(cluster.connect(address), CMD.stats, undefined) as Stats;
}

// ---- 1. heap per hostile body ------------------------------------------------

async function bodies(runtime: RuntimeName): Promise<string[]> {
  const rows: string[] = [];
  for (const codec of ["json", "msgpack"] as const) {
    for (const limit of ["none", "default"] as const) {
      const server = await startServer(runtime, "127.0.0.1:0", [
        `--codec=${codec}`,
        ...(limit === "none" ? ["--max-elements=Infinity"] : []),
      ]);
      const friend = new Cluster({
        codec: codec === "json" ? json() : msgpack(),
        transport,
        logger: quiet,
      });
      const hostile = new Cluster({ codec: raw(), transport, logger: quiet, timeout: 60_000 });
      try {
        const body = codec === "json" ? jsonMaps(BODY_MIB * MiB) : packMaps(BODY_MIB * MiB);
        const before = await structuredStats(friend, server.address);
        let outcome: string;
        let heap = "–";
        try {
          const bytes = await hostile.call(hostile.connect(server.address), CMD.held, body);
          const held = codec === "json"
            ? JSON.parse(new TextDecoder().decode(bytes as Uint8Array))
            : msgpack().unmarshal("response", CMD.held, bytes as Uint8Array) as number;
          const growth = held - before.heap;
          outcome = "decoded";
          heap = `${mib(growth)} (${(growth / body.length).toFixed(0)}×)`;
        } catch (error) {
          outcome = `refused (${(error as { remote?: { code?: string } }).remote?.code ?? error})`;
        }
        const after = await structuredStats(friend, server.address);
        rows.push(
          `| ${runtime} | ${codec} | ${mib(body.length)} of empty maps | ${
            limit === "none" ? "no element limit (before)" : "maxElements 1,000,000 (default)"
          } | ${outcome} | ${heap} | ${mib(after.peakRss - before.peakRss)} |`,
        );
      } finally {
        await friend.close();
        await hostile.close();
        await server.stop();
      }
    }
  }
  return rows;
}

// ---- 2. length prefixes ------------------------------------------------------

async function prefixes(runtime: RuntimeName): Promise<string> {
  const server = await startServer(runtime, "127.0.0.1:0", ["--protocol=silly"]);
  const friend = new Cluster({ codec: raw(), transport, protocol: "silly", logger: quiet });
  const conns: Deno.Conn[] = [];
  try {
    const peer = friend.connect(server.address);
    await friend.call(peer, CMD.echo, new Uint8Array(1));
    const rss0 = await rssOf(server.pid);
    const vm0 = await vmSizeOf(server.pid);
    const claim = new Uint8Array(20);
    new DataView(claim.buffer).setUint32(0, 128 * MiB - 1, true);
    const port = parseAddress(server.address).port;
    for (let i = 0; i < CONNECTIONS; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(conn);
      await conn.write(claim);
    }
    for (let i = 0; i < 1000; i++) {
      const s = JSON.parse(
        new TextDecoder().decode(await friend.call(peer, CMD.stats) as Uint8Array),
      ) as Stats;
      if (s.accepted >= CONNECTIONS + 1) break;
      await delay(10);
    }
    await delay(200);
    const rss1 = await rssOf(server.pid);
    const vm1 = await vmSizeOf(server.pid);
    return `| ${runtime} | ${CONNECTIONS} | ${mib(rss1 - rss0)} | ${
      ((rss1 - rss0) / CONNECTIONS / 1024).toFixed(1)
    } KiB | ${mib(vm1 - vm0)} |`;
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await friend.close();
    await server.stop();
  }
}

// ---- 3. log per bad connection -----------------------------------------------

async function attackOnce(port: number, bytes: Uint8Array): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(bytes).catch(() => {});
    const buf = new Uint8Array(1024);
    for (let i = 0; i < 1000; i++) {
      if ((await conn.read(buf).catch(() => null)) === null) return;
    }
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

async function logs(runtime: RuntimeName): Promise<string> {
  const server = await startServer(runtime, "127.0.0.1:0", ["--stderr-log"]);
  let stderr = "";
  const t0 = performance.now();
  try {
    const port = parseAddress(server.address).port;
    for (let i = 0; i < GARBAGE; i++) await attackOnce(port, randomBytes(i + 1, 5));
  } finally {
    await delay(100);
    stderr = await server.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const bytes = new TextEncoder().encode(stderr).length;
  const lines = stderr.split("\n").filter((l) => l.length > 0).length;
  return `| ${runtime} | ${GARBAGE} in ${seconds.toFixed(1)} s | ${lines} | ${
    (lines / seconds).toFixed(1)
  } | ${(bytes / GARBAGE).toFixed(0)} B | ${(bytes / Math.max(1, lines)).toFixed(0)} B |`;
}

// ---- 4. good client beside a flood -------------------------------------------

async function goodCalls(address: string): Promise<number> {
  const cluster = new Cluster({ codec: json(), transport, logger: quiet });
  try {
    const peer = cluster.connect(address);
    await cluster.call(peer, CMD.echo, "warm");
    const end = performance.now() + DURATION;
    let n = 0;
    for (let i = 0; i < 100_000_000 && performance.now() < end; i++) {
      await cluster.call(peer, CMD.echo, "x");
      n++;
    }
    return n / (DURATION / 1000);
  } finally {
    await cluster.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One flood of `kind` beside one good client; calls/s of the good client and the flood. */
async function floodOnce(address: string, kind: string): Promise<[number, number]> {
  const flooder = await spawnScript("deno", FLOOD, [
    address,
    `--duration=${DURATION + 1000}`,
    ...(kind.startsWith("good") ? ["--good"] : []),
    ...(LEAN ? ["--lean"] : []),
  ]);
  try {
    await flooder.waitFor(/^flooding$/m, 20_000);
    await delay(300);
    const beside = await goodCalls(address);
    // Wait for its exit, then for its output to be read to the end.
    await flooder.exited(DURATION + 20_000);
    await flooder.stop();
    const done = flooder.stdout().match(/^flood (\d+) (\d+)$/m);
    if (done === null) throw new Error(`The flood did not report:\n${flooder.stdout()}`);
    const answered = Number(done[kind.startsWith("good") ? 2 : 1]);
    return [beside, answered / ((DURATION + 1000) / 1000)];
  } finally {
    await flooder.stop();
  }
}

async function flood(runtime: RuntimeName): Promise<string[]> {
  const rows: string[] = [];
  for (const kind of ["bad", "bad, every fault logged", "good (control)"]) {
    const limit = kind === "bad, every fault logged" ? "Infinity" : "10";
    const server = await startServer(runtime, "127.0.0.1:0", [
      "--codec=json",
      "--stderr-log",
      `--fault-log-limit=${limit}`,
    ]);
    try {
      // Alone, then beside a flood, REPEAT times: the machine's load drifts.
      const alone: number[] = [];
      const beside: number[] = [];
      const flooded: number[] = [];
      for (let r = 0; r < REPEAT; r++) {
        alone.push(await goodCalls(server.address));
        const [good, bad] = await floodOnce(server.address, kind);
        beside.push(good);
        flooded.push(bad);
      }
      const ratios = alone.map((a, i) => beside[i]! / a);
      const stderr = await server.stop();
      const logBytes = new TextEncoder().encode(stderr).length / REPEAT;
      rows.push(
        `| ${runtime} | ${kind} | ${limit === "10" ? "10 (default)" : "Infinity"} | ${
          median(alone).toFixed(0)
        } | ${median(beside).toFixed(0)} | ${median(ratios).toFixed(2)} (${
          Math.min(...ratios).toFixed(2)
        }-${Math.max(...ratios).toFixed(2)}) | ${median(flooded).toFixed(0)} | ${
          (logBytes / 1024).toFixed(0)
        } KiB |`,
      );
    } finally {
      await server.stop();
    }
  }
  return rows;
}

const out: string[] = [];
if (PARTS.has("bodies")) {
  out.push(
    "Heap per hostile body (weft mode, largest body just under the 4 MiB default):",
    "",
    "| server | codec | body | codec limit | outcome | server heap while the body is held (× body) | peak RSS growth |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const runtime of RUNTIMES) out.push(...await bodies(runtime));
  out.push("");
}
if (PARTS.has("prefixes")) {
  out.push(
    `Length prefixes announcing 128 MiB - 1 (silly mode, hard limit 128 MiB), ${CONNECTIONS} connections, nothing more sent:`,
    "",
    "| server | connections | RSS growth | per connection | virtual size growth |",
    "| --- | --- | --- | --- | --- |",
  );
  for (const runtime of RUNTIMES) out.push(await prefixes(runtime));
  out.push("");
}
if (PARTS.has("logs")) {
  out.push(
    "Log per garbage connection (5 random bytes each, default logger to stderr, default faultLogLimit 10):",
    "",
    "| server | bad connections | lines | lines/s | log bytes per bad connection | bytes per line |",
    "| --- | --- | --- | --- | --- | --- |",
  );
  for (const runtime of RUNTIMES) out.push(await logs(runtime));
  out.push("");
}
if (PARTS.has("flood")) {
  out.push(
    `A good client (json, one call in flight) alone and beside a flood from another process (64 requests in flight: undecodable, or valid echoes as the control), ${DURATION} ms each:`,
    "",
    "| server | flood | faultLogLimit | good calls/s alone | beside the flood | ratio (range) | flood requests/s answered | log written per round |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const runtime of RUNTIMES) out.push(...await flood(runtime));
}
console.log(out.join("\n"));
