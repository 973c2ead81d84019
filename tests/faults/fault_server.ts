/**
 * The node the fault tests attack: a cluster node on the runtime's own
 * transport (src/transport/detect.ts), runnable unchanged under Deno, Bun
 * and Node 24.
 *
 * ```sh
 * deno run -A tests/faults/fault_server.ts 127.0.0.1:0 --heartbeat=50 --misses=2
 * ```
 *
 * Options: `--protocol=weft|silly`, `--heartbeat=MS`, `--misses=N`,
 * `--hard-limit=BYTES`, `--framing=v1|v2`, `--max-inflight=N`,
 * `--idle=MS`, `--handshake=MS`, `--frame-timeout=MS`, `--per-turn=N`,
 * `--solo-turn-time=MS`,
 * `--max-connections=N`, `--max-per-address=N`, `--state=BYTES` (memory each `hold` keeps while it
 * runs), `--codec=raw|json|msgpack` (default raw: bodies are bytes),
 * `--max-elements=N` (json, msgpack; `Infinity` for none),
 * `--fault-log-limit=N`, `--forbid=CMD` (an `authorize` hook refusing that
 * cmd; with `--forbid-throws` the hook throws for it), `--part-timeout=MS`,
 * `--max-partial-node=BYTES` (`maxPartialBytesPerNode`),
 * `--max-handlers-node=N` (`maxHandlersPerNode`), `--max-waiting-node=BYTES`
 * (`maxWaitingBytesPerNode`) (each turns on the cluster's stats, whose
 * `limits` the `stats` command then carries), `--stderr-log` (the cluster's default logger, to
 * stderr, in place of the stdout lines below). Prints `listening HOST:PORT`,
 * then serves until killed. Commands:
 *
 * - 1 `echo`: answers with the request's bytes;
 * - 2 `slow`: waits the milliseconds in its body (UTF-8 text), honouring
 *   `context.signal`; answers `"done"`, or rejects when cancelled;
 * - 3 `hold`: never answers unless its signal aborts;
 * - 4 `stats`: answers {@linkcode Stats} (as JSON text with the raw codec);
 * - 5 `poke`: sends `busy` (6) with the request's body to the caller, then
 *   answers with the body: both frames leave in one write;
 * - 7 `size`: answers how many values the decoded body holds (a number,
 *   or its text with the raw codec);
 * - 8 `held`: answers the heap in use (bytes) while the decoded body is
 *   still alive, for heap-per-body figures;
 * - 9 `runs`: answers `{ echoed, maxRun }` (see {@linkcode Stats}), then
 *   starts `maxRun` again from 0: what ran per macrotask from here on.
 *
 * `--fake-silly=answer|quiet` runs no cluster: a raw silly v2 node instead
 * (a stand-in for a real silly node, which knows nothing of weft): it
 * decodes requests, prints `ran CMD SESSION BYTES` for each, and answers
 * each with its own payload — every request (`answer`, like a silly node
 * whose handler answers anything), or only cmds below weft's reserved range
 * (`quiet`, like one that cannot decode HELLO's cmd and answers nothing).
 *
 * Every line the node logs is one stdout line, `log LEVEL [CODE] MESSAGE`,
 * and every handler whose signal aborted prints `aborted CMD CODE`, so a
 * test can count them.
 *
 * @module
 */

import { Cluster } from "../../src/cluster/cluster.ts";
import type { Logger } from "../../src/cluster/options.ts";
import { raw } from "../../src/codec/raw.ts";
import { json } from "../../src/codec/json.ts";
import { msgpack } from "../../src/codec/msgpack.ts";
import type { AbortSignalLike } from "../../src/_platform.ts";
import { isWeftError } from "../../src/errors.ts";
import { formatAddress } from "../../src/transport/address.ts";
import { defaultTransport } from "../../src/transport/detect.ts";
import { FrameDecoder } from "../../src/wire/frame_decoder.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";
import { CMD, type Stats } from "./_commands.ts";
import { readFileSync } from "node:fs";

declare const Deno:
  | { args: string[]; memoryUsage(): { rss: number; heapUsed: number } }
  | undefined;
declare const process: { argv: string[]; memoryUsage(): { rss: number; heapUsed: number } };

const argv = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const flags = new Map<string, string>();
const positional: string[] = [];
for (const arg of argv) {
  const match = arg.match(/^--([^=]+)(?:=(.*))?$/);
  if (match) flags.set(match[1]!, match[2] ?? "true");
  else positional.push(arg);
}
const address = positional[0] ?? "127.0.0.1:0";
const num = (name: string): number | undefined =>
  flags.has(name) ? Number(flags.get(name)) : undefined;

const stats: Stats = {
  accepted: 0,
  open: 0,
  started: 0,
  aborted: {},
  running: 0,
  peakRunning: 0,
  errors: 0,
  refused: 0,
  connections: 0,
  rss: 0,
  heap: 0,
  peakRss: 0,
  echoed: 0,
  maxRun: 0,
};

function codeOf(value: unknown): string {
  return isWeftError(value) ? value.code : "none";
}

function line(level: string, message: string, detail: unknown): void {
  // One line per event, whatever the message holds. Peer faults carry their
  // code in a plain { code } detail; other lines may carry a WeftError.
  const raw = (detail as { code?: unknown } | undefined)?.code;
  const code = isWeftError(detail) || typeof raw === "string" ? ` [${raw}]` : "";
  console.log(`log ${level}${code} ${message.replaceAll("\n", " ")}`);
}

const logger: Logger = {
  error(message, detail) {
    stats.errors++;
    line("error", message, detail);
  },
  warn: (message, detail) => line("warn", message, detail),
  info: (message, detail) => line("info", message, detail),
};

const EMPTY = new Uint8Array(0);
const DONE = new TextEncoder().encode("done");

const stateBytes = num("state") ?? 0;
/** The per-request state of handlers running now. */
const held = new Set<Uint8Array>();

/** Resolves after `ms`, or rejects with the signal's reason when it aborts. */
function wait(ms: number, signal: AbortSignalLike): Promise<Uint8Array> {
  stats.started++;
  if (++stats.running > stats.peakRunning) stats.peakRunning = stats.running;
  // Per-request state, held until the handler ends (a handler that keeps some).
  const state = stateBytes > 0 ? new Uint8Array(stateBytes).fill(1) : undefined;
  if (state !== undefined) held.add(state);
  return new Promise<Uint8Array>((resolve, reject) => {
    const timer = ms === Infinity ? undefined : setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      if (state !== undefined) held.delete(state);
      stats.running--;
      resolve(DONE);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      if (state !== undefined) held.delete(state);
      stats.running--;
      const code = codeOf(signal.reason);
      // Counted, not printed: a storm of cancels would make a line each
      // (and a node blocked on its stdout pipe measures the pipe).
      stats.aborted[code] = (stats.aborted[code] ?? 0) + 1;
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A raw silly v2 node (see the module docs); returns its address. */
async function fakeSilly(mode: string): Promise<string> {
  const transport = await defaultTransport();
  const listener = await transport.listen(address, (conn) => {
    const decoder = new FrameDecoder();
    const encoder = new FrameEncoder();
    conn.start({
      data(chunk) {
        try {
          decoder.decode(chunk, (frame) => {
            if (frame.kind !== "request") return;
            console.log(`ran ${frame.cmd} ${frame.session} ${frame.payload.length}`);
            if (mode === "answer" || frame.cmd < 0xffffff00) {
              encoder.response(frame.session, frame.payload.slice());
            }
          });
        } catch (error) {
          console.log(`log error ${String(error).replaceAll("\n", " ")}`);
          conn.close();
          return;
        }
        if (encoder.length > 0) conn.write(encoder.take());
      },
      close() {},
    });
  });
  return formatAddress(listener.address);
}

const fake = flags.get("fake-silly");
if (fake !== undefined) {
  console.log(`listening ${await fakeSilly(fake)}`);
  await new Promise(() => {});
}

const protocol = flags.get("protocol") === "silly" ? "silly" : "weft";
const heartbeatInterval = num("heartbeat");
const heartbeatMisses = num("misses");
const hardLimit = num("hard-limit");
const limits = {
  maxInflightPerConnection: num("max-inflight"),
  idleTimeout: num("idle"),
  handshakeTimeout: num("handshake"),
  frameTimeout: num("frame-timeout"),
  maxRequestsPerTurn: num("per-turn"),
  partTimeout: num("part-timeout"),
  maxPartialBytesPerNode: num("max-partial-node"),
  maxHandlersPerNode: num("max-handlers-node"),
  maxWaitingBytesPerNode: num("max-waiting-node"),
  soloTurnTime: num("solo-turn-time"),
};
const nodeStats = ["part-timeout", "max-partial-node", "max-handlers-node", "max-waiting-node"]
  .some((flag) => flags.has(flag));
const framing = flags.get("framing") === "v1" ? "v1" : "v2";
const faultLogLimit = num("fault-log-limit");
const codecName = flags.get("codec") ?? "raw";
const maxElements = num("max-elements");
const codecLimits = maxElements === undefined ? {} : { maxElements };
const codec = codecName === "json"
  ? json(codecLimits)
  : codecName === "msgpack"
  ? msgpack(codecLimits)
  : raw();
const structured = codecName !== "raw";
const forbidden = num("forbid");
const forbidThrows = flags.has("forbid-throws");
function authorize({ cmd }: { cmd: number }): boolean {
  if (cmd !== forbidden) return true;
  if (forbidThrows) throw new Error(`cmd ${cmd} is not for you`);
  return false;
}
const count = (v: unknown): number =>
  Array.isArray(v)
    ? v.reduce((n: number, x) => n + count(x), 1)
    : v !== null && typeof v === "object" && !(v instanceof Uint8Array)
    ? Object.values(v).reduce((n: number, x) => n + count(x), 1)
    : 1;
const cluster = new Cluster({
  codec,
  protocol,
  ...(flags.has("stderr-log") ? {} : { logger }),
  ...(faultLogLimit === undefined ? {} : { faultLogLimit }),
  timeout: 60_000,
  ...(heartbeatInterval === undefined ? {} : { heartbeatInterval }),
  ...(heartbeatMisses === undefined ? {} : { heartbeatMisses }),
  ...(hardLimit === undefined ? {} : { hardLimit }),
  ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
  framing,
  ...(nodeStats ? { stats: true } : {}),
  ...(forbidden === undefined ? {} : { authorize }),
  accept() {
    stats.accepted++;
    stats.open++;
  },
  close() {
    stats.open--;
  },
  call(peer, cmd, body, context) {
    switch (cmd) {
      case CMD.echo:
        countRun();
        return body ?? EMPTY;
      case CMD.slow:
        return wait(Number(new TextDecoder().decode(body as Uint8Array)), context.signal);
      case CMD.hold:
        return wait(Infinity, context.signal);
      case CMD.poke:
        cluster.send(peer, CMD.busy, body).catch(() => {});
        return body ?? EMPTY;
      case CMD.stats: {
        const m = typeof Deno !== "undefined" ? Deno.memoryUsage() : process.memoryUsage();
        stats.rss = m.rss;
        stats.heap = m.heapUsed;
        stats.refused = listener.refused;
        stats.connections = listener.connections;
        stats.peakRss = peakRss();
        const limits = cluster.stats()?.limits;
        if (limits !== undefined) stats.limits = limits;
        return structured ? { ...stats } : JSON.stringify(stats);
      }
      case CMD.size:
        return structured ? count(body) : String(count(body));
      case CMD.held: {
        const m = typeof Deno !== "undefined" ? Deno.memoryUsage() : process.memoryUsage();
        return structured ? m.heapUsed : String(m.heapUsed);
      }
      case CMD.runs: {
        const runs = { echoed: stats.echoed, maxRun: stats.maxRun };
        stats.maxRun = 0;
        return structured ? runs : JSON.stringify(runs);
      }
      default:
        throw new RangeError(`Unknown cmd ${cmd}`);
    }
  },
});
/** Echo handlers run in the current macrotask (reset by an immediate queued with the first). */
let run = 0;
const later = (globalThis as unknown as { setImmediate(f: () => void): unknown }).setImmediate;
function countRun(): void {
  stats.echoed++;
  if (run++ === 0) later(() => run = 0);
  if (run > stats.maxRun) stats.maxRun = run;
}

/** The process's peak resident set size (VmHWM), bytes; 0 where /proc is missing. */
function peakRss(): number {
  try {
    const text = readFileSync("/proc/self/status", "utf8");
    return Number(text.match(/^VmHWM:\s+(\d+) kB$/m)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

const maxConnections = num("max-connections");
const maxConnectionsPerAddress = num("max-per-address");
const listener = await cluster.listen(address, {
  ...(maxConnections === undefined ? {} : { maxConnections }),
  ...(maxConnectionsPerAddress === undefined ? {} : { maxConnectionsPerAddress }),
});
console.log(`listening ${formatAddress(listener.address)}`);
