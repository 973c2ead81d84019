/**
 * The memory side of the benchmark, run against `rpc_server.ts` from
 * another process. Prints one `MEMORY {json}` line with:
 *
 * - bytes per idle connection: the server's heap and RSS growth while
 *   `--sample` more connections sit idle, divided by that count;
 * - the server's RSS while it holds `--conns` idle connections (or as many
 *   as could be opened, with the error that stopped it);
 * - bytes per pending call: this client's heap growth while `--pending`
 *   calls wait on the server (which holds their responses), divided by
 *   their count; and the server's heap growth per held request.
 *
 * The idle connections are plain transport connections (the server sees
 * ordinary cluster peers; the client does not start reading on them).
 * Heap figures are taken after forced garbage collection: run Deno with
 * `--v8-flags=--expose-gc`, Node with `--expose-gc`.
 *
 * @module
 */

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { defaultTransport } from "../src/transport/detect.ts";
import type { Connection } from "../src/transport/types.ts";
import { args, collect, exit, memory, options, runtime, sleep } from "./_common.ts";

const CMD = { hold: 2, release: 3, stats: 4 } as const;
const { flags, positional } = options(args);
const address = positional[0];
if (address === undefined) {
  console.error("usage: memory_client.ts HOST:PORT [--conns=10000 --sample=1000 --pending=10000]");
  exit(2);
}
const conns = Number(flags.get("conns") ?? 10_000);
const sample = Math.min(conns, Number(flags.get("sample") ?? 1000));
const pendingCount = Number(flags.get("pending") ?? 10_000);

interface Stats {
  rss: number;
  heap: number;
  open: number;
  accepted: number;
  held: number;
  gc: boolean;
}

const cluster = new Cluster({ codec: raw(), timeout: 120_000 });
const peer = cluster.connect(address);
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
const stats = async (): Promise<Stats> =>
  JSON.parse(decoder.decode(await cluster.call(peer, CMD.stats) as Uint8Array));

/** Polls the server until `check` holds (at most `ms`). */
async function until(check: (s: Stats) => boolean, ms: number): Promise<Stats> {
  const end = performance.now() + ms;
  let s = await stats();
  while (!check(s) && performance.now() < end) {
    await sleep(20);
    s = await stats();
  }
  return s;
}

const transport = await defaultTransport();
const idle: Connection[] = [];
let openError: string | undefined;

/** Opens idle connections until `total` are open or one fails. */
async function openUpTo(total: number): Promise<void> {
  while (idle.length < total && openError === undefined) {
    const batch = Math.min(200, total - idle.length);
    const results = await Promise.allSettled(
      Array.from({ length: batch }, () => transport.connect(address!, { timeout: 10_000 })),
    );
    for (const r of results) {
      if (r.status === "fulfilled") idle.push(r.value);
      else openError ??= String(r.reason?.message ?? r.reason);
    }
  }
}

// Warm the server's paths once (a few connections opened and closed).
await openUpTo(20);
await until((s) => s.open >= 21, 10_000);
await Promise.all(idle.map((conn) => conn.close()));
idle.length = 0;
await until((s) => s.open <= 1, 10_000);
const base = await stats();

await openUpTo(sample);
const atSample = await until((s) => s.accepted >= base.accepted + idle.length, 20_000);
const n1 = atSample.accepted - base.accepted;
await openUpTo(conns);
const atAll = await until((s) => s.accepted >= base.accepted + idle.length, 60_000);
const reached = atAll.open - base.open;
await Promise.all(idle.map((conn) => conn.close()));
idle.length = 0;
const afterClose = await until((s) => s.open <= base.open, 30_000);

// Pending calls: the server holds every response until released.
const gc = collect();
await sleep(50);
collect();
const serverBefore = await stats();
const heap0 = memory().heap;
const calls: Promise<unknown>[] = new Array(pendingCount);
for (let i = 0; i < pendingCount; i++) calls[i] = cluster.call(peer, CMD.hold, EMPTY);
const serverHeld = await until((s) => s.held >= pendingCount, 30_000);
collect();
const heap1 = memory().heap;
await cluster.call(peer, CMD.release, EMPTY);
const settled = await Promise.allSettled(calls);
const failed = settled.filter((r) => r.status === "rejected").length;

console.log(`MEMORY ${
  JSON.stringify({
    runtime,
    gc,
    serverGc: base.gc,
    idleSample: n1,
    idleHeapPerConn: (atSample.heap - base.heap) / Math.max(1, n1),
    idleRssPerConn: (atSample.rss - base.rss) / Math.max(1, n1),
    connsWanted: conns,
    connsReached: reached,
    connsError: openError,
    rssBase: base.rss,
    rssAtConns: atAll.rss,
    heapAtConns: atAll.heap,
    rssAfterClose: afterClose.rss,
    pending: pendingCount,
    pendingHeld: serverHeld.held,
    pendingFailed: failed,
    clientHeapPerPendingCall: (heap1 - heap0) / pendingCount,
    serverHeapPerHeldCall: (serverHeld.heap - serverBefore.heap) / Math.max(1, serverHeld.held),
  })
}`);
await cluster.close();
exit(0);
