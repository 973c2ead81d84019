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
 * deno run -A bench/attack_body.ts --parts=issue22 [--before=REF] [--json]
 *   [--partials=100] [--announced=900] [--refusals=100000] [--exceptions=20000]
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
 * Issue 22's attacks (`--parts=issue22`, or `partials`, `announced`,
 * `refusals`), each with a good client in a third process
 * (bench/_good_client.ts, one echo in flight) whose calls/s during the
 * attack are divided by its calls/s in the 2 s just before:
 *
 * 5. partials: `--partials` connections each opening 4 messages of 4 MiB in
 *    parts and never finishing them: the server's peak RSS growth, the
 *    connections it closed.
 * 6. announced: `--announced` connections each sending 4 first parts that
 *    announce 4 MiB and nothing after: RSS and virtual size growth.
 * 7. refusals: `--refusals` requests refused by an `authorize` hook (one
 *    that returns false, then one that throws), and
 *    `--exceptions` requests whose handler throws, on one connection each:
 *    the bytes of log the node wrote (default logger, stderr).
 *
 * `--before=REF` runs the issue 22 parts first against REF's library (a
 * temporary worktree, see bench/_hostile.ts) and prints `before → after`
 * in each cell; `--json` prints one `report {...}` line. About 1 minute per
 * runtime for the issue 22 parts.
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
import {
  HELLO,
  randomBytes,
  type RawPeer,
  rawPeer,
  requestFrame,
  weftRequest,
} from "../tests/faults/_helpers.ts";
import { concat } from "../tests/wire/_util.ts";
import {
  fmt,
  type GoodClient,
  goodClient,
  loadavg,
  merge,
  type Report,
  type Row,
  runAt,
  share,
  table,
} from "./_hostile.ts";
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
const PARTS = new Set(
  (flags.get("parts") ?? "bodies,prefixes,logs,flood").split(",").flatMap((p) =>
    p === "issue22" ? ["partials", "announced", "refusals"] : [p]
  ),
);
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

// ---- issue 22: parts, announced sizes, refusals and exceptions ----------------

/** How long the good client is measured alone before each attack, ms. */
const ALONE = 2000;
/** weft's PART control cmd, and its flag of the first part. */
const PART = 0xffffff06;
const FIRST = 1;
/** The largest message a weft node takes by default (its hard limit). */
const MAX_MESSAGE = 4 * MiB;
const PARTIALS = Number(flags.get("partials") ?? 100);
const ANNOUNCED = Number(flags.get("announced") ?? 900);
const REFUSALS = Number(flags.get("refusals") ?? 100_000);
const EXCEPTIONS = Number(flags.get("exceptions") ?? 20_000);

/** A PART frame of `stream`: the first (announcing `total`) or a later one, carrying `data` bytes. */
function part(stream: number, first: boolean, total: number, data: number): Uint8Array {
  const head = first ? 21 : 1;
  const payload = new Uint8Array(head + data).fill(7, head);
  const view = new DataView(payload.buffer);
  payload[0] = first ? FIRST : 0;
  if (first) {
    view.setUint32(1, total, true);
    view.setUint32(5, stream, true);
    view.setUint32(9, 1, true);
  }
  return requestFrame(stream, PART, payload);
}

/** A raw connection writing `bytes` in the background and reading until the node closes it. */
interface Hostile {
  readonly ended: boolean;
  readonly written: boolean;
  readonly received: number;
  close(): void;
}

async function hostile(port: number, bytes: Uint8Array): Promise<Hostile> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let ended = false;
  let written = false;
  let received = 0;
  let closed = false;
  (async () => {
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    written = true;
  })().catch(() => {});
  (async () => {
    const buf = new Uint8Array(16 * 1024);
    for (let i = 0; i < 10_000_000; i++) {
      const n = await conn.read(buf);
      if (n === null) break;
      received += n;
    }
  })().catch(() => {}).finally(() => (ended = true));
  return {
    get ended() {
      return ended;
    },
    get written() {
      return written;
    },
    get received() {
      return received;
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch { /* closed by the node */ }
    },
  };
}

async function until(check: () => boolean, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!check() && Date.now() < end) await delay(20);
  return check();
}

/**
 * (a) `--partials` (100) connections, each HELLO then 4 messages announcing
 * 4 MiB sent in parts up to 1 KiB short of the end, never finished (16 MiB
 * per connection, 1.6 GiB in all): the server's RSS growth at its peak, and
 * how many connections it closed.
 */
async function partials(runtime: RuntimeName): Promise<Row[]> {
  // --part-timeout (the default) turns on the server's stats, for the budget's refusals.
  const server = await startServer(runtime, "127.0.0.1:0", ["--part-timeout=30000"]);
  const friend = new Cluster({ codec: raw(), transport, logger: quiet });
  let good: GoodClient | undefined;
  const conns: Hostile[] = [];
  try {
    const port = parseAddress(server.address).port;
    good = await goodClient(server.address);
    await structuredRaw(friend, server.address);
    const rss0 = await rssOf(server.pid);
    const alone = await good.window(ALONE);
    const t0 = good.mark();
    const messages: Uint8Array[] = [];
    for (let stream = 1; stream <= 4; stream++) {
      messages.push(part(stream, true, MAX_MESSAGE, MiB));
      messages.push(part(stream, false, 0, MiB), part(stream, false, 0, MiB));
      messages.push(part(stream, false, 0, MiB - 1024));
    }
    const bytes = concat([HELLO, ...messages]);
    let peak = 0;
    const sampling = (async () => {
      for (let i = 0; i < 100_000 && peak >= 0; i++) {
        peak = Math.max(peak, await rssOf(server.pid).catch(() => 0));
        await delay(100);
      }
    })();
    for (let i = 0; i < PARTIALS; i++) conns.push(await hostile(port, bytes));
    await until(() => conns.every((c) => c.ended || c.written), 60_000);
    await delay(2000);
    const closed = conns.filter((c) => c.ended).length;
    const s = await structuredRaw(friend, server.address);
    const t1 = good.mark();
    const top = peak;
    peak = -1;
    await sampling;
    return [{
      runtime,
      [B22.sent]: `${PARTIALS} × 4 × ${mib(MAX_MESSAGE - 1024)}`,
      [B22.rss]: mib(top - rss0),
      [B22.closed]: `${closed} of ${PARTIALS}${
        s.limits === undefined ? "" : ` (over budget: ${s.limits.refused["partial bytes"] ?? 0})`
      }`,
      [B22.good]: share(await good.rate(t0, t1), alone),
    }];
  } finally {
    for (const c of conns) c.close();
    await good?.stop();
    await friend.close();
    await server.stop();
  }
}

/**
 * (b) `--announced` (900) connections, each HELLO then 4 first parts
 * announcing 4 MiB and carrying no byte of it: the server's RSS and
 * virtual size growth once every part was taken.
 */
async function announced(runtime: RuntimeName): Promise<Row[]> {
  const server = await startServer(runtime, "127.0.0.1:0");
  const friend = new Cluster({ codec: raw(), transport, logger: quiet });
  let good: GoodClient | undefined;
  const conns: Hostile[] = [];
  try {
    const port = parseAddress(server.address).port;
    good = await goodClient(server.address);
    await structuredRaw(friend, server.address);
    const rss0 = await rssOf(server.pid);
    const vm0 = await vmSizeOf(server.pid);
    const alone = await good.window(ALONE);
    const t0 = good.mark();
    const bytes = concat([
      HELLO,
      ...Array.from({ length: 4 }, (_, i) => part(i + 1, true, MAX_MESSAGE, 0)),
    ]);
    for (let i = 0; i < ANNOUNCED; i++) conns.push(await hostile(port, bytes));
    // HELLO_ACK and four PART_ACKs (20 bytes each at least): every part taken.
    await until(() => conns.every((c) => c.ended || c.received >= 100), 30_000);
    await delay(500);
    const rss1 = await rssOf(server.pid);
    const vm1 = await vmSizeOf(server.pid);
    const t1 = good.mark();
    return [{
      runtime,
      [B22.announced]: `${ANNOUNCED} × 4 × 4 MiB (${(ANNOUNCED * 16 / 1024).toFixed(1)} GiB)`,
      [B22.rss]: mib(rss1 - rss0),
      [B22.vm]: mib(vm1 - vm0),
      [B22.good]: share(await good.rate(t0, t1), alone),
    }];
  } finally {
    for (const c of conns) c.close();
    await good?.stop();
    await friend.close();
    await server.stop();
  }
}

/**
 * (f) `--refusals` (100,000) requests an `authorize` hook refuses, and
 * `--exceptions` (20,000) requests whose handler throws, pipelined on one
 * connection to a node logging to stderr (default logger and
 * faultLogLimit): bytes of log, and the good client beside.
 */
async function refusals(runtime: RuntimeName): Promise<Row[]> {
  const rows: Row[] = [];
  // cmd 10: refused by --forbid; cmd 99: the fault server's handler throws.
  const runs = [
    ["authorize refusals (the hook returns false)", 10, REFUSALS, []],
    ["authorize refusals (the hook throws)", 10, REFUSALS, ["--forbid-throws"]],
    ["handler exceptions", 99, EXCEPTIONS, []],
  ] as const;
  for (const [what, cmd, count, extra] of runs) {
    const server = await startServer(runtime, "127.0.0.1:0", [
      "--stderr-log",
      "--forbid=10",
      ...extra,
    ]);
    let good: GoodClient | undefined;
    let attacker: RawPeer | undefined;
    try {
      good = await goodClient(server.address);
      const alone = await good.window(ALONE);
      const t0 = good.mark();
      const started = performance.now();
      attacker = await rawPeer(server.address);
      await attacker.write(HELLO);
      const empty = new Uint8Array(0);
      for (let at = 0; at < count; at += 10_000) {
        const n = Math.min(10_000, count - at);
        await attacker.write(
          concat(Array.from({ length: n }, (_, i) => weftRequest(at + i + 1, cmd, empty))),
        );
      }
      const responses = () => attacker!.frames.filter((f) => f.kind === "response").length;
      await until(() => attacker!.ended || responses() >= count, 120_000);
      const seconds = (performance.now() - started) / 1000;
      const answered = responses();
      const t1 = good.mark();
      const beside = await good.rate(t0, t1);
      await attacker.close();
      await delay(200);
      const log = await server.stop();
      const bytes = new TextEncoder().encode(log).length;
      const lines = log.split("\n").filter((l) => l.length > 0).length;
      rows.push({
        runtime,
        [B22.attack]: `${fmt(count)} ${what}`,
        [B22.answered]: `${fmt(answered)} in ${seconds.toFixed(1)} s`,
        [B22.log]: `${fmt(bytes)} B, ${fmt(lines)} lines`,
        [B22.good]: share(beside, alone),
      });
    } finally {
      await attacker?.close();
      await good?.stop();
      await server.stop();
    }
  }
  return rows;
}

async function structuredRaw(cluster: Cluster, address: string): Promise<Stats> {
  const bytes = await cluster.call(cluster.connect(address), CMD.stats);
  return JSON.parse(new TextDecoder().decode(bytes as Uint8Array));
}

const B22 = {
  sent: "sent, never finished",
  announced: "announced, no byte after",
  rss: "server RSS growth",
  vm: "virtual size growth",
  closed: "connections the node closed",
  attack: "attack",
  answered: "answered",
  log: "log written",
  good: "good client: beside ÷ alone (calls/s)",
};

const ISSUE22: Record<
  string,
  { run: (r: RuntimeName) => Promise<Row[]>; title: string; columns: string[]; keys: string[] }
> = {
  partials: {
    run: partials,
    title:
      `(a) ${PARTIALS} connections, each 4 messages of 4 MiB sent in parts up to 1 KiB short of the end, never finished (default limits):`,
    columns: ["runtime", B22.sent, B22.rss, B22.closed, B22.good],
    keys: ["runtime"],
  },
  announced: {
    run: announced,
    title:
      `(b) ${ANNOUNCED} connections, each 4 first parts announcing 4 MiB with no byte after them:`,
    columns: ["runtime", B22.announced, B22.rss, B22.vm, B22.good],
    keys: ["runtime"],
  },
  refusals: {
    run: refusals,
    title:
      "(f) Requests refused by `authorize` (a hook that returns false, or throws), and requests whose handler throws, pipelined on one connection (default logger to stderr, faultLogLimit 10):",
    columns: ["runtime", B22.attack, B22.answered, B22.log, B22.good],
    keys: ["runtime", B22.attack],
  },
};

const report: Report = {};
let before: { report: Report; label: string } | undefined;
const ref = flags.get("before");
if (ref !== undefined) {
  const args = Deno.args.filter((a) => !a.startsWith("--before"));
  before = await runAt(ref, "bench/attack_body.ts", args, 30 * 60_000);
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
  out.push("");
}
for (const [part, { run, title, columns, keys }] of Object.entries(ISSUE22)) {
  if (!PARTS.has(part)) continue;
  report[part] = [];
  for (const runtime of RUNTIMES) {
    const rows = await run(runtime);
    console.error(`${part} ${runtime}: ${JSON.stringify(rows)}`);
    report[part].push(...rows);
  }
  const rows = before === undefined
    ? report[part]
    : merge(before.report[part] ?? [], report[part], keys);
  out.push(title, "", ...table(columns, rows), "");
}
if (flags.has("json")) {
  console.log(`report ${JSON.stringify(report)}`);
} else {
  const head = before === undefined ? "" : ` (before ${before.label} → after: the working tree)`;
  console.log(`${new Date().toISOString()}, load ${await loadavg()}${head}\n`);
  console.log(out.join("\n"));
}
