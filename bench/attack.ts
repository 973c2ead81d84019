// Re-measures issue 10's attack figures against a node in another process:
// a fault server (tests/faults/fault_server.ts) runs under Deno, Bun and
// Node in turn, with default limits unless said; this Deno process attacks
// it over loopback with raw sockets:
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
//   deno run -A bench/attack.ts [--runtimes=deno,bun,node]
//
// A script, not a test: it prints a markdown table for the README. Every
// wait is bounded; every server is stopped by its pid.

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { transport } from "../src/transport/deno.ts";
import { delay, type ServerChild, startServer } from "../tests/faults/_child.ts";
import { CMD, type Stats } from "../tests/faults/_commands.ts";
import { HELLO, requestFrame, weftRequest } from "../tests/faults/_helpers.ts";
import { parseAddress } from "../src/transport/address.ts";
import { concat } from "../tests/wire/_util.ts";
import type { RuntimeName } from "../tests/_runtimes.ts";
import { options } from "./_common.ts";

const { flags } = options(Deno.args);
const runtimes = (flags.get("runtimes") ?? "deno,bun,node").split(",") as RuntimeName[];
const MiB = 1024 * 1024;
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);

const probe = new Cluster({
  codec: raw(),
  transport,
  logger: { error() {}, warn() {} },
  timeout: 5000,
});
const sillyProbe = new Cluster({
  codec: raw(),
  transport,
  protocol: "silly",
  logger: { error() {}, warn() {} },
  timeout: 5000,
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

interface Row {
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

const rows: Row[] = [];
for (const runtime of runtimes) {
  for (const mode of ["weft", "silly"] as const) {
    const silly = mode === "silly";
    const base = [`--protocol=${mode}`, "--state=16384"];
    // held: 20,000 pipelined
    let server = await startServer(runtime, "127.0.0.1:0", base);
    const row: Partial<Row> = { runtime, mode };
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
    rows.push(row as Row);
    console.error(`${runtime} ${mode}: ${JSON.stringify(row)}`);
  }
}
await probe.close();
await sillyProbe.close();

const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
console.log(
  "| runtime | mode | 20,000 pipelined: handlers, after hang-up (5 s) | 10,000 on one session: handlers, heap | after hang-up: handlers, heap | 1,100 idle connections: held, closed at once | held after the deadline |",
);
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.runtime} | ${r.mode} | ${r.held}, ${r.heldAfter} | ${r.dupRunning}, ${
      mib(r.dupHeapHeld)
    } | ${r.dupRunningAfter}, ${
      mib(r.dupHeapAfter)
    } | ${r.idleHeld}, ${r.idleRefused} | ${r.idleAfter} |`,
  );
}
