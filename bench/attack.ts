// Re-measures the hostile-peer figures of the README's "Limits against a
// hostile peer" against a node in another process: a fault server
// (tests/faults/fault_server.ts) runs under Deno, Bun and Node in turn, with
// default limits unless said; this Deno process attacks it over loopback
// with raw sockets or a client of its own, and for issue 22's attacks a good
// client in a third process (bench/_good_client.ts, one echo in flight)
// calls beside: its calls/s during the attack ÷ in the 2 s just before.
//
// Issue 10 (`--parts=issue10`):
//
// - held: 20,000 `hold` requests pipelined on one connection (distinct
//   sessions): how many handlers run (the per-connection limit).
// - dup: 10,000 `hold` requests under one session id, each handler keeping
//   16 KiB of state; handlers running and heap in use while held, then
//   after the connection hangs up (no forced GC: the heap is what the
//   runtime shows 2 s later).
// - idle: 1,100 connections that send nothing: how many the node holds (its
//   listener's maxConnections), how many it closed at once, and how many it
//   still holds after its deadline (weft: the 5 s handshake deadline; silly,
//   whose idle timeout is off by default, run with --idle=3000). The
//   per-address share (256 by default) is raised to 2,000 for it: the
//   attack comes from one address, and the column measures the pool.
//
// Issue 22 (`--parts=issue22`, or any of them by name):
//
// - timeouts: 20,000 calls with a 5 ms timeout against `hold` from one
//   client, then echo calls on the same connection: how long until one
//   succeeds, whether the connection was lost, handlers left running.
// - hangups: 5 rounds of 20,000 pipelined `hold` requests on a new
//   connection, then a hang-up; handlers still running after each (weft and
//   silly).
// - lockout: 1,000 connections from 127.0.0.1 that complete HELLO and answer
//   pings; then a fresh client from 127.0.0.2: served, and how soon.
// - handlers: `--handler-conns` (50) connections each pipelining 2,000
//   `hold` requests: handlers running at once node-wide, RSS growth.
//
// The other issue 22 attacks (unfinished parts, announced sizes, refusals
// and handler exceptions in the log) are in bench/attack_body.ts.
//
//   deno run -A bench/attack.ts [--runtimes=deno,bun,node] [--parts=issue10,issue22]
//     [--before=REF] [--json]
//
// `--before=REF` runs the same script first against REF's library (a
// temporary worktree, see bench/_hostile.ts) and prints `before → after`
// in each cell. `--json` prints one `report {...}` line instead of tables.
// About 1 minute per runtime for issue 22's parts, 40 s for issue 10's.
//
// A script, not a test: it prints markdown tables for the README. Every
// wait is bounded; every server is stopped by its pid.

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { transport } from "../src/transport/deno.ts";
import { delay, rssOf, type ServerChild, startServer } from "../tests/faults/_child.ts";
import { CMD, type Stats } from "../tests/faults/_commands.ts";
import { HELLO, requestFrame, weftRequest } from "../tests/faults/_helpers.ts";
import { parseAddress } from "../src/transport/address.ts";
import { concat } from "../tests/wire/_util.ts";
import type { RuntimeName } from "../tests/_runtimes.ts";
import { options } from "./_common.ts";
import {
  fmt,
  type GoodClient,
  goodClient,
  type IdlePeer,
  idlePeer,
  loadavg,
  merge,
  type Report,
  type Row,
  runAt,
  share,
  table,
} from "./_hostile.ts";
import { FrameDecoder } from "../src/wire/frame_decoder.ts";
import net from "node:net";

const { flags } = options(Deno.args);
const runtimes = (flags.get("runtimes") ?? "deno,bun,node").split(",") as RuntimeName[];
const MiB = 1024 * 1024;
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);
const quiet = { error() {}, warn() {} };

const probe = new Cluster({
  codec: raw(),
  transport,
  logger: { error() {}, warn() {} },
  timeout: 30_000,
});
const sillyProbe = new Cluster({
  codec: raw(),
  transport,
  protocol: "silly",
  logger: { error() {}, warn() {} },
  timeout: 30_000,
});

async function stats(server: ServerChild, silly: boolean): Promise<Stats> {
  const c = silly ? sillyProbe : probe;
  const bytes = await c.call(c.connect(server.address), CMD.stats);
  return JSON.parse(dec.decode(bytes as Uint8Array));
}

/** Polls stats until `check` holds or `limitMs` passes; returns the last. */
async function settle(
  server: ServerChild,
  silly: boolean,
  check: (s: Stats) => boolean,
  limitMs: number,
): Promise<Stats> {
  const end = Date.now() + limitMs;
  let s = await stats(server, silly);
  for (let i = 0; i < 1000 && !check(s) && Date.now() < end; i++) {
    await delay(50);
    s = await stats(server, silly);
  }
  return s;
}

function frames(count: number, silly: boolean, session: (i: number) => number): Uint8Array {
  return concat(
    Array.from(
      { length: count },
      (_, i) =>
        silly
          ? requestFrame(session(i), CMD.hold, EMPTY)
          : weftRequest(session(i), CMD.hold, EMPTY),
    ),
  );
}

async function open(address: string): Promise<Deno.Conn> {
  return await Deno.connect({ hostname: "127.0.0.1", port: parseAddress(address).port });
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed by the node */ }
}

/** Writes in the background (the node may stop reading: that is the point). */
function writeInBackground(conn: Deno.Conn, bytes: Uint8Array): void {
  (async () => {
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
  })().catch(() => {});
}

interface Issue10 {
  runtime: string;
  mode: string;
  held: number;
  heldAfter: number;
  dupRunning: number;
  dupHeapHeld: number;
  dupRunningAfter: number;
  dupHeapAfter: number;
  idleHeld: number;
  idleRefused: number;
  idleAfter: number;
}

async function issue10(runtime: RuntimeName): Promise<Row[]> {
  const rows: Row[] = [];
  for (const mode of ["weft", "silly"] as const) {
    const silly = mode === "silly";
    const base = [`--protocol=${mode}`, "--state=16384"];
    // held: 20,000 pipelined
    let server = await startServer(runtime, "127.0.0.1:0", base);
    const row: Partial<Issue10> = { runtime, mode };
    try {
      const a = await open(server.address);
      if (!silly) writeInBackground(a, concat([HELLO, frames(20_000, false, (i) => i + 1)]));
      else writeInBackground(a, frames(20_000, true, (i) => i + 1));
      await delay(1500);
      row.held = (await stats(server, silly)).running;
      closeQuietly(a);
      row.heldAfter = (await settle(server, silly, (s) => s.running === 0, 5000)).running;
    } finally {
      await server.stop();
    }
    // dup: 10,000 on one session
    server = await startServer(runtime, "127.0.0.1:0", base);
    try {
      const b = await open(server.address);
      const dup = frames(10_000, silly, () => 7);
      writeInBackground(b, silly ? dup : concat([HELLO, dup]));
      await delay(1500);
      const s1 = await stats(server, silly);
      row.dupRunning = s1.running;
      row.dupHeapHeld = s1.heap;
      closeQuietly(b);
      const s2 = await settle(server, silly, (s) => s.running === 0, 5000);
      await delay(2000);
      row.dupRunningAfter = s2.running;
      row.dupHeapAfter = (await stats(server, silly)).heap;
    } finally {
      await server.stop();
    }
    // idle
    const idleServer = await startServer(
      runtime,
      "127.0.0.1:0",
      // The share per address raised past the pool: the attack comes from
      // one address, and this column measures maxConnections itself.
      ["--max-per-address=2000", ...(silly ? ["--protocol=silly", "--idle=3000"] : [])],
    );
    const conns: Deno.Conn[] = [];
    try {
      await stats(idleServer, silly); // the probe's own connection comes first
      for (let i = 0; i < 1100; i++) conns.push(await open(idleServer.address));
      await delay(500);
      const s1 = await stats(idleServer, silly);
      row.idleHeld = s1.connections - 1;
      row.idleRefused = s1.refused;
      const s2 = await settle(idleServer, silly, (s) => s.connections <= 1, 10_000);
      row.idleAfter = s2.connections - 1;
    } finally {
      for (const conn of conns) closeQuietly(conn);
      await idleServer.stop();
    }
    const r = row as Issue10;
    console.error(`${runtime} ${mode}: ${JSON.stringify(r)}`);
    rows.push({
      runtime,
      mode,
      [ISSUE10[2]!]: `${r.held}, ${r.heldAfter}`,
      [ISSUE10[3]!]: `${r.dupRunning}, ${mib0(r.dupHeapHeld)}`,
      [ISSUE10[4]!]: `${r.dupRunningAfter}, ${mib0(r.dupHeapAfter)}`,
      [ISSUE10[5]!]: `${r.idleHeld}, ${r.idleRefused}`,
      [ISSUE10[6]!]: `${r.idleAfter}`,
    });
  }
  return rows;
}
const ISSUE10 = [
  "runtime",
  "mode",
  "20,000 pipelined: handlers, after hang-up (5 s)",
  "10,000 on one session: handlers, heap",
  "after hang-up: handlers, heap",
  "1,100 idle connections: held, closed at once",
  "held after the deadline",
];
const mib0 = (n: number) => `${(n / MiB).toFixed(0)} MiB`;

// ---- issue 22 ----------------------------------------------------------------

/** How long the good client is measured alone before each attack, ms. */
const ALONE = 2000;

/**
 * (c) 20,000 calls with a 5 ms timeout against handlers that never answer,
 * from one client; then calls on the same connection until one succeeds.
 */
async function timeouts(runtime: RuntimeName): Promise<Row[]> {
  const server = await startServer(runtime, "127.0.0.1:0");
  let good: GoodClient | undefined;
  let closes = 0;
  const attacker = new Cluster({
    codec: raw(),
    transport,
    logger: quiet,
    timeout: 5000,
    close: () => void closes++,
  });
  try {
    const peer = attacker.connect(server.address);
    await attacker.call(peer, CMD.echo, new Uint8Array(1));
    good = await goodClient(server.address);
    const alone = await good.window(ALONE);
    const t0 = good.mark();
    const storm = await Promise.allSettled(
      Array.from({ length: STORM }, () => attacker.call(peer, CMD.hold, EMPTY, { timeout: 5 })),
    );
    const timedOut = storm.filter((r) => r.status === "rejected").length;
    // The next calls on the same connection: the first to succeed, bounded.
    const started = performance.now();
    let first: number | undefined;
    let failedFirst = 0;
    for (let i = 0; i < 1000 && performance.now() - started < RECOVERY_LIMIT; i++) {
      try {
        await attacker.call(peer, CMD.echo, new Uint8Array(1), { timeout: 1000 });
        first = performance.now() - started;
        break;
      } catch {
        failedFirst++;
      }
    }
    const next = await Promise.allSettled(
      Array.from(
        { length: 100 },
        () => attacker.call(peer, CMD.echo, new Uint8Array(1), { timeout: 2000 }),
      ),
    );
    const t1 = good.mark();
    const left = await settle(server, false, (s) => s.running === 0, 5000);
    return [{
      runtime,
      [C22.storm]: `${fmt(timedOut)} timed out`,
      [C22.first]: first === undefined
        ? `none in ${RECOVERY_LIMIT / 1000} s (${failedFirst} failed)`
        : `${fmt(first)} ms (${failedFirst} failed before)`,
      [C22.next]: `${next.filter((r) => r.status === "fulfilled").length} of 100`,
      [C22.lost]: `${closes}`,
      [C22.left]: `${left.running}`,
      [C22.good]: share(await good.rate(t0, t1), alone),
    }];
  } finally {
    await good?.stop();
    await attacker.close();
    await server.stop();
  }
}

/**
 * (d) 5 rounds of 20,000 `hold` requests pipelined on a new connection (past
 * the 1,024 in-flight cap and the 1 MiB of waiting requests), then a hang-up:
 * handlers still running after each round (up to 5 s after the hang-up).
 */
async function hangups(runtime: RuntimeName): Promise<Row[]> {
  const rows: Row[] = [];
  for (const mode of ["weft", "silly"] as const) {
    const silly = mode === "silly";
    const server = await startServer(runtime, "127.0.0.1:0", [`--protocol=${mode}`]);
    let good: GoodClient | undefined;
    try {
      good = await goodClient(server.address, mode);
      const alone = await good.window(ALONE);
      const t0 = good.mark();
      const left: number[] = [];
      const flood = frames(20_000, silly, (i) => i + 1);
      for (let round = 1; round <= 5; round++) {
        const a = await open(server.address);
        writeInBackground(a, silly ? flood : concat([HELLO, flood]));
        await settle(server, silly, (s) => s.started >= 1024 * round, 10_000);
        closeQuietly(a);
        left.push((await settle(server, silly, (s) => s.running === 0, 5000)).running);
      }
      const t1 = good.mark();
      rows.push({
        runtime,
        mode,
        [C22.rounds]: left.join(", "),
        [C22.good]: share(await good.rate(t0, t1), alone),
      });
    } finally {
      await good?.stop();
      await server.stop();
    }
  }
  return rows;
}

/** Opens a raw weft connection from `from`, calls echo, and resolves when answered (or not). */
async function freshCall(port: number, from: string, limitMs: number): Promise<boolean> {
  const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
  const decoder = new FrameDecoder();
  return await new Promise<boolean>((resolve) => {
    const done = (answered: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), limitMs);
    socket.on("data", (chunk: Uint8Array) => {
      try {
        decoder.decode(chunk, (f) => {
          if (f.kind === "response" && f.session === 1) done(true);
        });
      } catch {
        done(false);
      }
    });
    socket.on("close", () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write(concat([HELLO, weftRequest(1, CMD.echo, EMPTY)])));
  });
}

/**
 * (e) 1,000 connections from 127.0.0.1 that complete HELLO, answer pings
 * and send nothing else; then a fresh client from 127.0.0.2 calls, again
 * and again for up to 10 s: when it is first answered.
 */
async function lockout(runtime: RuntimeName): Promise<Row[]> {
  const server = await startServer(runtime, "127.0.0.1:0");
  let good: GoodClient | undefined;
  const idle: IdlePeer[] = [];
  try {
    const port = parseAddress(server.address).port;
    good = await goodClient(server.address);
    await stats(server, false); // the probe's connection, before the attack
    const alone = await good.window(ALONE);
    const t0 = good.mark();
    for (let i = 0; i < IDLE; i++) idle.push(await idlePeer(port, "127.0.0.1"));
    const end = Date.now() + 20_000;
    while (Date.now() < end && idle.some((p) => !p.acked && !p.ended)) await delay(20);
    const held = idle.filter((p) => p.acked && !p.ended).length;
    const started = performance.now();
    let answered: number | undefined;
    let attempts = 0;
    while (answered === undefined && performance.now() - started < LOCKOUT_LIMIT) {
      attempts++;
      if (await freshCall(port, "127.0.0.2", 2000)) answered = performance.now() - started;
      else await delay(100);
    }
    const s = await stats(server, false);
    const t1 = good.mark();
    return [{
      runtime,
      [C22.idle]: `${held} held, ${fmt(s.refused)} refused`,
      [C22.fresh]: answered === undefined
        ? `not served in ${LOCKOUT_LIMIT / 1000} s (${attempts} tries)`
        : `served in ${fmt(answered)} ms`,
      [C22.good]: share(await good.rate(t0, t1), alone),
    }];
  } finally {
    for (const p of idle) p.destroy();
    await good?.stop();
    await server.stop();
  }
}

/**
 * Node-wide handlers: `--handler-conns` (50) connections, each pipelining
 * 2,000 `hold` requests (past the 1,024 per connection): how many handlers
 * the node runs at once, and its RSS growth, with a good client beside.
 */
async function handlers(runtime: RuntimeName): Promise<Row[]> {
  const server = await startServer(runtime, "127.0.0.1:0");
  let good: GoodClient | undefined;
  const conns: Deno.Conn[] = [];
  try {
    good = await goodClient(server.address);
    await stats(server, false);
    const rss0 = await rssOf(server.pid);
    const alone = await good.window(ALONE);
    const t0 = good.mark();
    const flood = concat([HELLO, frames(2000, false, (i) => i + 1)]);
    for (let i = 0; i < HANDLER_CONNS; i++) {
      const conn = await open(server.address);
      conns.push(conn);
      writeInBackground(conn, flood);
    }
    let peak = 0;
    let lost = 0;
    // A busy node may drop the probe's connection (its heartbeat): count it, ask again.
    const sample = async () => {
      try {
        const s = await stats(server, false);
        peak = Math.max(peak, s.running);
        return s;
      } catch {
        lost++;
        return undefined;
      }
    };
    const end = Date.now() + 10_000;
    for (let i = 0; i < 1000 && Date.now() < end; i++) {
      const s = await sample();
      if (s !== undefined && s.started >= HANDLER_CONNS * 1024) break;
      await delay(50);
    }
    await delay(1000);
    await sample();
    const rss1 = await rssOf(server.pid);
    const t1 = good.mark();
    for (const conn of conns) closeQuietly(conn);
    const after = await settle(server, false, (x) => x.running === 0, 5000).catch(() => undefined);
    return [{
      runtime,
      [C22.conns]: `${HANDLER_CONNS} × 2,000`,
      [C22.running]: `${fmt(peak)}${lost > 0 ? ` (stats connection lost ${lost}×)` : ""}`,
      [C22.rss]: mib1(rss1 - rss0),
      [C22.left]: after === undefined ? "unknown (stats lost)" : `${after.running}`,
      [C22.good]: share(await good.rate(t0, t1), alone),
    }];
  } finally {
    for (const conn of conns) closeQuietly(conn);
    await good?.stop();
    await server.stop();
  }
}

const C22 = {
  storm: "20,000 calls, 5 ms timeout",
  first: "next call on that connection: first success after",
  next: "then 100 calls",
  lost: "connections lost",
  left: "handlers left (5 s)",
  rounds: "handlers running after each of 5 hang-ups",
  idle: "1,000 idle from 127.0.0.1",
  fresh: "fresh client from 127.0.0.2",
  good: "good client: beside ÷ alone (calls/s)",
  conns: "connections × held requests",
  running: "handlers running at once (node-wide)",
  rss: "server RSS growth",
};
const STORM = Number(flags.get("storm") ?? 20_000);
const IDLE = Number(flags.get("idle") ?? 1000);
const HANDLER_CONNS = Number(flags.get("handler-conns") ?? 50);
const mib1 = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
const RECOVERY_LIMIT = 20_000;
const LOCKOUT_LIMIT = 10_000;

const ATTACKS: Record<
  string,
  { run: (r: RuntimeName) => Promise<Row[]>; title: string; columns: string[]; keys: string[] }
> = {
  issue10: {
    run: issue10,
    title:
      "Issue 10's attacks (default limits; heaps as the runtime reports them 2 s later, no forced GC):",
    columns: ISSUE10,
    keys: ["runtime", "mode"],
  },
  timeouts: {
    run: timeouts,
    title:
      "(c) 20,000 calls with a 5 ms timeout against handlers that never answer, then calls on the same connection (1 s timeout each, for up to 20 s):",
    columns: ["runtime", C22.storm, C22.first, C22.next, C22.lost, C22.left, C22.good],
    keys: ["runtime"],
  },
  hangups: {
    run: hangups,
    title:
      "(d) 5 rounds of 20,000 held requests pipelined on a new connection, then a hang-up (handlers still running 5 s after each):",
    columns: ["runtime", "mode", C22.rounds, C22.good],
    keys: ["runtime", "mode"],
  },
  handlers: {
    run: handlers,
    title:
      `Handlers node-wide: ${HANDLER_CONNS} connections each pipelining 2,000 held requests (past the 1,024 per connection), then hanging up:`,
    columns: ["runtime", C22.conns, C22.running, C22.rss, C22.left, C22.good],
    keys: ["runtime"],
  },
  lockout: {
    run: lockout,
    title:
      "(e) 1,000 connections from 127.0.0.1 that complete HELLO, answer pings and idle; then a fresh client from 127.0.0.2 (a new connection every try, 2 s each, for up to 10 s):",
    columns: ["runtime", C22.idle, C22.fresh, C22.good],
    keys: ["runtime"],
  },
};
const GROUPS: Record<string, string[]> = {
  issue22: ["timeouts", "hangups", "lockout", "handlers"],
};
const parts = (flags.get("parts") ?? "issue10,issue22").split(",").flatMap((p) => GROUPS[p] ?? [p]);
for (const p of parts) if (!(p in ATTACKS)) throw new RangeError(`Unknown part ${p}`);

const report: Report = {};
let before: { report: Report; label: string } | undefined;
const ref = flags.get("before");
if (ref !== undefined) {
  const args = Deno.args.filter((a) => !a.startsWith("--before"));
  before = await runAt(ref, "bench/attack.ts", args, 30 * 60_000);
}
for (const part of parts) {
  report[part] = [];
  for (const runtime of runtimes) {
    const rows = await ATTACKS[part]!.run(runtime);
    console.error(`${part} ${runtime}: ${JSON.stringify(rows)}`);
    report[part].push(...rows);
  }
}
await probe.close();
await sillyProbe.close();

if (flags.has("json")) {
  console.log(`report ${JSON.stringify(report)}`);
} else {
  const head = before === undefined ? "" : ` (before ${before.label} → after: the working tree)`;
  console.log(`${new Date().toISOString()}, load ${await loadavg()}${head}\n`);
  for (const part of parts) {
    const { title, columns, keys } = ATTACKS[part]!;
    const rows = before === undefined
      ? report[part]!
      : merge(before.report[part] ?? [], report[part]!, keys);
    console.log([title, "", ...table(columns, rows), ""].join("\n"));
  }
}
