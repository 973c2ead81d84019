// One node of the soak ring (bench/soak.ts starts three: Deno, Bun, Node).
// Runs unchanged under all three runtimes. Bench code, not library code.
//
//   <runtime> bench/_soak_node.ts 127.0.0.1:0
//
// Prints `listening HOST:PORT`, then takes orders from the driver as calls:
// `start` (JSON {next, durationMs, depth}) starts calling the next node of
// the ring, `stop` stops the load and waits for its calls, `report` (once
// every node stopped) answers what happened, `close`
// closes the cluster. After that the process must exit by itself: anything
// left (a socket, a timer, a pending call's timer) would keep it alive.

import { Cluster } from "../src/cluster/cluster.ts";
import type { CallContext } from "../src/cluster/call_context.ts";
import { raw } from "../src/codec/raw.ts";
import { isWeftError } from "../src/errors.ts";
import { formatAddress } from "../src/transport/address.ts";
import { args, memory } from "./_common.ts";

/** The ring's commands. */
export const SOAK = {
  echo: 1,
  relay: 2,
  slow: 3,
  start: 10,
  stop: 11,
  report: 12,
  close: 13,
} as const;

/** What `report` answers. */
export interface SoakReport {
  runtime: string;
  calls: number;
  ok: number;
  /** Failures a call's own options provoked (a 10 ms timeout, an abort). */
  expected: Record<string, number>;
  /** Every other failure, by code. */
  errors: Record<string, number>;
  /** Calls started and not settled once the load stopped. */
  inFlight: number;
  /** Handlers running once the load stopped. */
  serving: number;
  seconds: number;
  rss: number;
  heap: number;
}

declare const Bun: unknown;
declare const Deno: unknown;
const runtime = typeof Bun !== "undefined" ? "bun" : typeof Deno !== "undefined" ? "deno" : "node";
const enc = new TextEncoder();
const dec = new TextDecoder();
const PAYLOAD = enc.encode("x".repeat(64));
const SLOW = enc.encode("50");
const OK = enc.encode("ok");

let serving = 0;
let next: ReturnType<Cluster["connect"]> | undefined;

function wait(ms: number, context: CallContext): Promise<Uint8Array> {
  const signal = context.signal;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(OK);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

async function handle(cmd: number, body: Uint8Array, context: CallContext): Promise<unknown> {
  switch (cmd) {
    case SOAK.echo:
      return body;
    case SOAK.relay:
      // One more hop, inside the caller's deadline and signal.
      return await context.call(next!, SOAK.echo, body);
    case SOAK.slow:
      return await wait(Number(dec.decode(body)), context);
    case SOAK.start:
      start(JSON.parse(dec.decode(body)));
      return OK;
    case SOAK.stop:
      await stop();
      return OK;
    case SOAK.report:
      return enc.encode(JSON.stringify(report()));
    case SOAK.close:
      // Answer first; close once the answer is out.
      setTimeout(() => void shutdown(), 10);
      return OK;
    default:
      throw new RangeError(`Unknown cmd ${cmd}`);
  }
}

const cluster = new Cluster({
  codec: raw(),
  timeout: 10_000,
  call(_peer, cmd, body, context) {
    serving++;
    const done = (value: unknown) => {
      serving--;
      return value;
    };
    return handle(cmd, body as Uint8Array, context).then(done, (error) => {
      serving--;
      throw error;
    });
  },
});

// ---- load --------------------------------------------------------------------

let running = false;
let calls = 0;
let ok = 0;
let inFlight = 0;
let began = 0;
let ended = 0;
const expected: Record<string, number> = {};
const errors: Record<string, number> = {};
let workers: Promise<void>[] = [];

function count(table: Record<string, number>, error: unknown): void {
  const code = isWeftError(error) ? error.code : String(error);
  table[code] = (table[code] ?? 0) + 1;
}

/** One call of the mix: mostly echo, some relays, some timeouts and aborts. */
async function one(i: number): Promise<void> {
  const peer = next!;
  calls++;
  inFlight++;
  let provoked: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    if (i % 100 === 0) {
      await cluster.call(peer, SOAK.relay, PAYLOAD);
    } else if (i % 500 === 1) {
      provoked = "timeout";
      await cluster.call(peer, SOAK.slow, SLOW, { timeout: 10 });
    } else if (i % 500 === 2) {
      provoked = "aborted";
      const controller = new AbortController();
      timer = setTimeout(() => controller.abort(), 5);
      await cluster.call(peer, SOAK.slow, SLOW, { signal: controller.signal });
    } else {
      await cluster.call(peer, SOAK.echo, PAYLOAD);
    }
    ok++;
  } catch (error) {
    if (provoked !== undefined && isWeftError(error, provoked as "timeout")) {
      count(expected, error);
    } else {
      count(errors, error);
    }
  } finally {
    clearTimeout(timer);
    inFlight--;
  }
}

function start(order: { next: string; durationMs: number; depth: number }): void {
  next = cluster.connect(order.next);
  running = true;
  began = performance.now();
  const end = began + order.durationMs + 60_000; // a bound, should `report` never come
  workers = Array.from({ length: order.depth }, async (_, w) => {
    for (let i = w; running && i < 1e9; i += order.depth) {
      await one(i);
      if (performance.now() > end) break;
    }
  });
}

async function stop(): Promise<void> {
  running = false;
  await Promise.all(workers);
  ended = performance.now();
}

/** After every node stopped: nothing should be in flight anywhere. */
function report(): SoakReport {
  const { rss, heap } = memory();
  return {
    runtime,
    calls,
    ok,
    expected,
    errors,
    inFlight,
    serving: Math.max(0, serving - 1), // not counting this `report` itself
    seconds: (ended - began) / 1000,
    rss,
    heap,
  };
}

async function shutdown(): Promise<void> {
  await cluster.close({ grace: 2000 });
  // What keeps the event loop alive, where the runtime tells (Node, Bun),
  // stdio pipes aside; looked at one short timer later, once close callbacks ran.
  setTimeout(() => {
    const g = globalThis as { process?: { getActiveResourcesInfo?: () => string[] } };
    const left = g.process?.getActiveResourcesInfo?.().filter((r) =>
      r !== "PipeWrap" && r !== "TTYWrap" && r !== "Timeout"
    );
    const state = { connected: next?.isConnected ?? false, resources: left ?? null };
    console.log(`closed ${JSON.stringify(state)}`);
  }, 50);
}

const listener = await cluster.listen(args[0] ?? "127.0.0.1:0");
console.log(`listening ${formatAddress(listener.address)}`);
