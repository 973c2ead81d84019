// The stats recorder behind the cluster option `stats` (the public side,
// types and prometheusText, is ./stats.ts): per-command entries, the timed
// pending calls, the handler wrapper, the connection byte counters, and the
// STATS_REPLY payload.

import { now, utf8Encoder } from "../_platform.ts";
import { PendingCall } from "../session/pending_calls.ts";
import type { Connection, ConnectionHandler } from "../transport/types.ts";
import { isThenable } from "./call_helpers.ts";
import type { RequestHandler, ResolvedOptions } from "./options.ts";
import {
  type CommandStats,
  DEFAULT_TIME_EVERY,
  LATENCY_BUCKETS_MS,
  type StatsOptions,
  type StatsSnapshot,
} from "./stats.ts";

export type { StatsSnapshot } from "./stats.ts";

class Entry {
  count = 0;
  ok = 0;
  inFlight = 0;
  sumMs = 0;
  readonly counts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  /** Outcomes other than ok. */
  readonly outcomes: Record<string, number> = {};
  readonly cmd: number;
  readonly every: number;
  /** Calls to go until the next timed one. */
  #skip = 0;
  constructor(cmd: number, every: number) {
    this.cmd = cmd;
    this.every = every;
  }

  /** One starts: the clock reading if it is timed (the first, then every `every`-th), else -1. */
  begin(): number {
    this.inFlight++;
    if (this.#skip-- > 0) return -1;
    this.#skip = this.every - 1;
    return now();
  }

  /** One finished; `t0` from {@linkcode begin}. */
  done(t0: number, outcome: string): void {
    this.inFlight--;
    this.count++;
    if (outcome === "ok") this.ok++;
    else this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
    if (t0 < 0) return;
    const ms = now() - t0;
    this.sumMs += ms;
    const b = LATENCY_BUCKETS_MS;
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ms <= b[mid]!) hi = mid;
      else lo = mid + 1;
    }
    this.counts[lo]!++;
  }

  snapshot(): CommandStats {
    return {
      cmd: this.cmd,
      count: this.count,
      outcomes: { ok: this.ok, ...this.outcomes },
      inFlight: this.inFlight,
      latency: { counts: [...this.counts], sumMs: this.sumMs },
    };
  }
}

class Direction {
  readonly #entries = new Map<number, Entry>();
  /** The last entry looked up: most traffic repeats one command. */
  #last: Entry = new Entry(-2, 1);
  readonly max: number;
  readonly every: number;
  constructor(max: number, every: number) {
    this.max = max;
    this.every = every;
  }

  get(cmd: number): Entry {
    if (this.#last.cmd === cmd) return this.#last;
    let entry = this.#entries.get(cmd);
    if (entry === undefined) {
      if (this.#entries.size >= this.max) cmd = -1;
      entry = this.#entries.get(cmd);
      if (entry === undefined) {
        entry = new Entry(cmd, this.every);
        this.#entries.set(cmd, entry);
      }
    }
    if (entry.cmd === cmd) this.#last = entry;
    return entry;
  }

  snapshot(): CommandStats[] {
    return [...this.#entries.values()].sort((a, b) => a.cmd - b.cmd).map((e) => e.snapshot());
  }
}

function outcomeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "error";
}

// What an outgoing call records when it settles. The call's resolve and
// reject are the shared functions below, which read this through the call's
// `tag` (the cluster always calls them as `call.resolve(...)`), so a timed
// call costs this one small object and no closures.
/** An outgoing call made by {@linkcode ClusterStats.call}: the pending call and its promise. */
export interface TimedCall {
  /** The call to put in the pending table. */
  call: PendingCall;
  /** Its promise. */
  promise: Promise<unknown>;
}

interface Timing extends TimedCall {
  entry: Entry;
  t0: number;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

function timedResolve(this: PendingCall, value: unknown): void {
  const t = this.tag as Timing;
  t.entry.done(t.t0, "ok");
  t.resolve(value);
}

function timedReject(this: PendingCall, reason: unknown): void {
  const t = this.tag as Timing;
  t.entry.done(t.t0, outcomeOf(reason));
  t.reject(reason);
}

/** How long a remote STATS answer is reused, so a peer asking often costs little. */
const REMOTE_CACHE_MS = 250;

/** A cluster's stats recorder; made by {@linkcode createStats}. */
export class ClusterStats {
  readonly #created = now();
  readonly #out: Direction;
  readonly #in: Direction;
  /** True if remote STATS requests are answered. */
  readonly remote: boolean;
  #open = 0;
  #opened = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #cached: Uint8Array | undefined;
  #cachedAt = -Infinity;

  /** @param options The validated options. */
  constructor(options: Required<StatsOptions>) {
    this.remote = options.remote;
    this.#out = new Direction(options.maxCommands, options.timeEvery);
    this.#in = new Direction(options.maxCommands, options.timeEvery);
  }

  /** A pending call and its promise for an outgoing call of `wireCmd`, recording its outcome and latency. */
  call(wireCmd: number, cmd: string | number): TimedCall {
    const entry = this.#out.get(wireCmd);
    const t0 = entry.begin();
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const timing = { call: undefined!, promise, entry, t0, resolve, reject } as Timing;
    timing.call = new PendingCall(cmd, timedResolve, timedReject, timing);
    return timing;
  }

  /** A one-way send of `wireCmd` went out. */
  sent(wireCmd: number): void {
    const entry = this.#out.get(wireCmd);
    entry.inFlight++;
    entry.done(-1, "sent");
  }

  /** `handler`, recording each request's outcome and the handler's time. */
  handler(handler: RequestHandler): RequestHandler {
    return (peer, cmd, body, context) => {
      const entry = this.#in.get(cmd);
      const t0 = entry.begin();
      let result: unknown;
      try {
        result = handler(peer, cmd, body, context);
      } catch (error) {
        entry.done(t0, outcomeOf(error));
        throw error;
      }
      if (!isThenable(result)) {
        entry.done(t0, "ok");
        return result;
      }
      return Promise.resolve(result).then((value) => {
        entry.done(t0, "ok");
        return value;
      }, (error) => {
        entry.done(t0, outcomeOf(error));
        throw error;
      });
    };
  }

  /** Counts `connection`'s bytes and its life; call before it is started. */
  connection(connection: Connection): void {
    this.#open++;
    this.#opened++;
    const start = connection.start.bind(connection);
    const write = connection.write.bind(connection);
    connection.start = (handler: ConnectionHandler) =>
      start({
        ...handler,
        data: (chunk) => {
          this.#bytesIn += chunk.length;
          handler.data(chunk);
        },
        close: (info) => {
          this.#open--;
          handler.close(info);
        },
      });
    connection.write = (bytes) => {
      this.#bytesOut += bytes.length;
      return write(bytes);
    };
  }

  /** The numbers now. */
  snapshot(): StatsSnapshot {
    return {
      uptimeMs: now() - this.#created,
      connections: { open: this.#open, opened: this.#opened },
      bytes: { in: this.#bytesIn, out: this.#bytesOut },
      out: this.#out.snapshot(),
      in: this.#in.snapshot(),
    };
  }

  /** The STATS_REPLY payload: the snapshot as UTF-8 JSON (reused for 250 ms). */
  remoteReply(): Uint8Array {
    const t = now();
    if (this.#cached === undefined || t - this.#cachedAt >= REMOTE_CACHE_MS) {
      this.#cached = utf8Encoder.encode(JSON.stringify(this.snapshot()));
      this.#cachedAt = t;
    }
    return this.#cached;
  }
}

/** The STATS_REPLY payload of a node that does not answer STATS. */
export const STATS_REFUSED: Uint8Array = utf8Encoder.encode(
  JSON.stringify({ error: "stats not allowed: this node does not have stats: { remote: true }" }),
);

/** The STATS_REPLY payload for `stats` (undefined: stats off). */
export function statsReply(stats: ClusterStats | undefined): Uint8Array {
  return stats?.remote ? stats.remoteReply() : STATS_REFUSED;
}

/**
 * The recorder for a cluster's `stats` option, or undefined when it is off;
 * it wraps `resolved.call` to time the handler.
 *
 * @throws {TypeError} Naming the option, for a wrong type.
 * @throws {RangeError} For `maxCommands` out of range.
 */
export function createStats(
  option: boolean | StatsOptions | undefined,
  resolved: ResolvedOptions,
): ClusterStats | undefined {
  const stats = statsFor(option);
  if (stats !== undefined && resolved.call !== undefined) {
    resolved.call = stats.handler(resolved.call);
  }
  return stats;
}

function statsFor(option: boolean | StatsOptions | undefined): ClusterStats | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) {
    return new ClusterStats({ remote: false, maxCommands: 256, timeEvery: DEFAULT_TIME_EVERY });
  }
  if (option === null || typeof option !== "object") {
    throw new TypeError(`Invalid option stats: expected a boolean or an object, got ${option}`);
  }
  const remote = option.remote ?? false;
  if (typeof remote !== "boolean") {
    throw new TypeError(`Invalid option stats.remote: expected a boolean, got ${remote}`);
  }
  const maxCommands = option.maxCommands ?? 256;
  if (!Number.isInteger(maxCommands) || maxCommands < 1 || maxCommands > 65536) {
    throw new RangeError(
      `Invalid option stats.maxCommands: expected an integer from 1 to 65536, got ${maxCommands}`,
    );
  }
  const timeEvery = option.timeEvery ?? DEFAULT_TIME_EVERY;
  if (!Number.isInteger(timeEvery) || timeEvery < 1 || timeEvery > 65536) {
    throw new RangeError(
      `Invalid option stats.timeEvery: expected an integer from 1 to 65536, got ${timeEvery}`,
    );
  }
  return new ClusterStats({ remote, maxCommands, timeEvery });
}
