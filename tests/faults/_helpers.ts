/**
 * What the fault tests share: the Deno-side client cluster, the fault
 * server's stats, bounded waits, and raw-socket attackers (frames built by
 * hand, a connection that writes and reads until the node closes it, a
 * well-behaved caller running beside an attack).
 */

import assert from "node:assert/strict";
import net from "node:net";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { ClusterOptions } from "../../src/cluster/options.ts";
import { raw } from "../../src/codec/raw.ts";
import { isWeftError } from "../../src/errors.ts";
import { transport } from "../../src/transport/deno.ts";
import { parseAddress } from "../../src/transport/address.ts";
import type { Frame } from "../../src/wire/frame.ts";
import { FrameDecoder } from "../../src/wire/frame_decoder.ts";
import type { RuntimeName } from "../_runtimes.ts";
import { until, waitLimit } from "../_wait.ts";
import { MemoryLogger } from "../cluster/cases.ts";
import { delay, startServer } from "./_child.ts";
import { CMD, type Stats } from "./_commands.ts";

export const RUNTIMES: RuntimeName[] = ["deno", "bun", "node"];
export const enc = new TextEncoder();
export const dec = new TextDecoder();

/**
 * Heartbeats of the fault tests, both ends: a frozen peer is found within
 * about 2 s (4 pings 500 ms apart, none answered). A window of 100 ms (the
 * old 50 ms x 2) took live peers for dead on a loaded machine, whose
 * processes can wait that long for a core.
 */
export const HEARTBEAT = { heartbeatInterval: 500, heartbeatMisses: 4 } as const;
/** The fault server's flags for {@linkcode HEARTBEAT}. */
export const SERVER_HEARTBEAT: readonly string[] = [
  `--heartbeat=${HEARTBEAT.heartbeatInterval}`,
  `--misses=${HEARTBEAT.heartbeatMisses}`,
];
/** The calls' own timeout: far longer than the heartbeat window. */
export const CALL_TIMEOUT = 30_000;
/** Bounds every wait for calls to settle (a hang guard, not a timing assertion). */
export const SETTLE_LIMIT = 60_000;

export function client(
  options: Partial<ClusterOptions> = {},
): { cluster: Cluster; logger: MemoryLogger } {
  const logger = new MemoryLogger();
  const cluster = new Cluster({
    codec: raw(),
    transport,
    logger,
    timeout: CALL_TIMEOUT,
    ...options,
  });
  return { cluster, logger };
}

export async function stats(cluster: Cluster, address: string): Promise<Stats> {
  const bytes = await cluster.call(cluster.connect(address), CMD.stats, undefined, {
    timeout: CALL_TIMEOUT,
  });
  return JSON.parse(dec.decode(bytes as Uint8Array));
}

/** Polls the server's stats until `check` holds; bounded by `limitMs`. */
export async function untilStats(
  cluster: Cluster,
  address: string,
  check: (s: Stats) => boolean,
  what: string,
  limitMs = SETTLE_LIMIT,
): Promise<Stats> {
  const end = Date.now() + waitLimit(limitMs);
  for (let i = 0; i < 10_000; i++) {
    const s = await stats(cluster, address);
    if (check(s)) return s;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await delay(10);
  }
  throw new Error(`Gave up waiting for ${what}`);
}

/** Waits for every promise to settle, or throws after `limitMs` (none may hang). */
export async function settleAll<T>(promises: Promise<T>[], limitMs: number): Promise<T[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Calls still pending after ${limitMs} ms: a call hangs`)),
      limitMs,
    );
  });
  try {
    return await Promise.race([Promise.all(promises), limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each call's outcome: "ok" or its error. */
export function outcome(promise: Promise<unknown>): Promise<"ok" | unknown> {
  return promise.then(() => "ok", (error) => error);
}

export function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

export function codes(results: unknown[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of results) {
    const key = r === "ok" ? "ok" : isWeftError(r) ? r.code : String(r);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * Starts a server on a fixed address, retrying while the port is still
 * taken (the killed server's socket may take a while to go on a loaded
 * machine), for up to tests/_wait.ts's floor.
 */
export async function restartOn(runtime: RuntimeName, address: string, options: string[]) {
  let last: unknown;
  const end = Date.now() + waitLimit(0);
  for (let attempt = 0; attempt < 1000 && (attempt === 0 || Date.now() < end); attempt++) {
    try {
      return await startServer(runtime, address, options);
    } catch (error) {
      last = error;
      if (!String(error).includes("address in use")) throw error;
      await delay(100);
    }
  }
  throw last;
}

// ---- raw sockets -----------------------------------------------------------

/** A v2 request frame (trace id 0). */
export function requestFrame(session: number, cmd: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(20 + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 16 + payload.length, true);
  view.setUint32(4, session, true);
  view.setUint32(8, cmd, true);
  bytes.set(payload, 20);
  return bytes;
}

/** A weft request frame: the 5-byte head (no flags, no deadline), then `body`. */
export function weftRequest(session: number, cmd: number, body: Uint8Array): Uint8Array {
  const payload = new Uint8Array(5 + body.length);
  payload.set(body, 5);
  return requestFrame(session, cmd, payload);
}

/** weft's HELLO, as the connecting side sends it. */
export const HELLO = requestFrame(0, 0xffffff00, Uint8Array.of(0x57, 0x45, 0x46, 0x54, 1, 0, 0, 0));

/** Seeded xorshift32 bytes: the same "random" input on every run. */
export function randomBytes(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A raw socket from a chosen local address (see {@linkcode sourced}). */
export interface SourcedSocket {
  /** Bytes received so far. */
  readonly received: number;
  /** True once the other end closed it (or it failed). */
  readonly ended: boolean;
  /** Waits until `check()` holds; throws after `limitMs`. */
  until(check: () => boolean, limitMs: number, what: string): Promise<void>;
  /** Closes it at once. */
  destroy(): void;
}

/**
 * Connects to `127.0.0.1:port` from the local address `from` (any of
 * 127.0.0.0/8 on Linux: each is another remote address to the listener, as
 * another host would be) and writes `bytes`. Uses `node:net`, whose
 * `localAddress` Deno, Bun and Node all take.
 */
export async function sourced(
  port: number,
  from: string,
  bytes: Uint8Array,
): Promise<SourcedSocket> {
  const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
  let received = 0;
  let ended = false;
  socket.on("data", (chunk: Uint8Array) => (received += chunk.length));
  socket.on("close", () => (ended = true));
  socket.on("error", () => (ended = true));
  await new Promise<void>((resolve) => {
    socket.once("connect", () => resolve());
    socket.once("close", () => resolve());
  });
  if (!ended && bytes.length > 0) socket.write(bytes);
  return {
    get received() {
      return received;
    },
    get ended() {
      return ended;
    },
    async until(check, limitMs, what) {
      const end = Date.now() + limitMs;
      while (!check()) {
        if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
        await delay(10);
      }
    },
    destroy: () => void socket.destroy(),
  };
}

/**
 * Connects, writes `bytes` in one write (then half-closes if asked), and
 * reads until the node closes the connection: "eof", "reset", or "open" if
 * it is still open after `limitMs`.
 */
export async function attack(
  port: number,
  bytes: Uint8Array,
  options: { closeWrite?: boolean; limitMs?: number } = {},
): Promise<"eof" | "reset" | "open"> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, options.limitMs ?? 3000);
  try {
    if (bytes.length > 0) await conn.write(bytes).catch(() => {});
    if (options.closeWrite) await conn.closeWrite().catch(() => {});
    const buf = new Uint8Array(64 * 1024);
    for (let i = 0; i < 100_000; i++) {
      if ((await conn.read(buf)) === null) return "eof";
    }
    return "open";
  } catch {
    return timedOut ? "open" : "reset";
  } finally {
    clearTimeout(timer);
    if (!timedOut) conn.close();
  }
}

/**
 * Calls echo on `peer` until stopped (bounded), counting successes and
 * failures. Bodies are bytes, or strings when `structured` (a client and
 * server with the json or msgpack codec).
 */
export function wellBehaved(cluster: Cluster, address: string, structured = false) {
  let stop = false;
  let ok = 0;
  const failures: unknown[] = [];
  const peer = cluster.connect(address);
  const running = (async () => {
    const end = Date.now() + 30_000;
    for (let i = 0; i < 100_000 && !stop && Date.now() < end; i++) {
      try {
        const body = structured ? `n${i}` : enc.encode(`n${i}`);
        // The bound is a hang guard: a loaded node may be slow, not failing.
        const reply = await cluster.call(peer, CMD.echo, body, { timeout: CALL_TIMEOUT });
        assert.equal(structured ? reply : dec.decode(reply as Uint8Array), `n${i}`);
        ok++;
      } catch (error) {
        failures.push(error);
      }
      await delay(2);
    }
  })();
  return {
    get ok() {
      return ok;
    },
    failures,
    async stop() {
      stop = true;
      await running;
    },
  };
}

/** A raw connection that decodes what the node sends back (v2 framing). */
export interface RawPeer {
  /** Frames received so far (payloads copied). */
  readonly frames: Frame[];
  /** True once the node closed the connection (EOF or reset). */
  readonly ended: boolean;
  /** Writes all the bytes (a `Deno.Conn` write may take part); false if the connection is gone. */
  write(bytes: Uint8Array): Promise<boolean>;
  /** Waits until `check()` holds; throws after `limitMs`. */
  until(check: () => boolean, limitMs: number, what: string): Promise<void>;
  /** Closes it (harmless twice). */
  close(): Promise<void>;
}

/** Connects a raw socket to `address` and reads (and decodes) until it ends. */
export async function rawPeer(address: string): Promise<RawPeer> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: parseAddress(address).port });
  const frames: Frame[] = [];
  const decoder = new FrameDecoder();
  let ended = false;
  let closed = false;
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (let i = 0; i < 1_000_000; i++) {
        const n = await conn.read(buf);
        if (n === null) break;
        decoder.decode(
          buf.subarray(0, n),
          (f) => frames.push({ ...f, payload: f.payload.slice() }),
        );
      }
    } catch { /* reset or closed here */ }
    ended = true;
  })();
  return {
    frames,
    get ended() {
      return ended;
    },
    async write(bytes) {
      try {
        for (let at = 0, i = 0; at < bytes.length && i < 1_000_000; i++) {
          at += await conn.write(bytes.subarray(at));
        }
        return true;
      } catch {
        return false;
      }
    },
    until: (check, limitMs, what) => until(check, limitMs, what),
    async close() {
      if (!closed) {
        closed = true;
        try {
          conn.close();
        } catch { /* closed by the node */ }
      }
      await reading;
    },
  };
}
