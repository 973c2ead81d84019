/**
 * A cluster's numbers: connections, bytes, calls and requests per command
 * and outcome, in flight, and a fixed-bucket latency histogram per command.
 * Turned on with the cluster option `stats: true`; read with
 * `cluster.stats()`; exposed to Prometheus with {@linkcode prometheusText};
 * read from another process with `fetchStats` (`@weft/cluster/stats`) when
 * the node allows it (`stats: { remote: true }`).
 *
 * Cost on the hot path: per call and per request a cached `Map` lookup and
 * a few increments, and for one in `timeEvery` (default 16) two clock reads
 * and a bucket search over 17 bounds; per outgoing call one small object;
 * per chunk read or written one wrapped `data` / `write`. See the README for
 * the measured cost.
 *
 * @example Stats of a call, and their Prometheus text
 * ```ts
 * import { Cluster } from "@weft/cluster";
 * import { json } from "@weft/cluster/json";
 * import { transport } from "@weft/cluster/memory";
 * import { prometheusText } from "@weft/cluster/stats";
 *
 * await using server = new Cluster({ ...json(), transport, stats: true, call: (_p, _c, b) => b });
 * const listener = await server.listen("127.0.0.1:0");
 * await using client = new Cluster({ ...json(), transport, stats: true });
 * await client.call(client.connect(`127.0.0.1:${listener.address.port}`), 7, "hi");
 * const out = client.stats()!.out.find((c) => c.cmd === 7)!;
 * if (out.outcomes.ok !== 1) throw new Error("unexpected stats");
 * if (!prometheusText(server.stats()!).includes('weft_requests_total{direction="in",cmd="7",outcome="ok"} 1')) {
 *   throw new Error("unexpected text");
 * }
 * ```
 *
 * @module
 */

import { now, utf8Encoder } from "../_platform.ts";
import { PendingCall } from "../session/pending_calls.ts";
import type { Connection, ConnectionHandler } from "../transport/types.ts";
import type { RequestHandler, ResolvedOptions } from "./options.ts";

export { fetchStats, type FetchStatsOptions } from "./fetch_stats.ts";

/** Upper bounds of the latency buckets, in milliseconds (a last bucket holds the rest). */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
  5000,
  10000,
];

/** The `stats` option of a cluster. */
export interface StatsOptions {
  /**
   * Answer weft-mode STATS control requests (`fetchStats`, `weft stats`)
   * with this node's stats. Off by default: the numbers name commands and
   * traffic, which a peer need not see.
   *
   * @default {false}
   */
  remote?: boolean;
  /**
   * Distinct commands tracked per direction; further ones are counted under
   * cmd -1. Bounds what a peer sending many cmd numbers can make this node
   * keep.
   *
   * @default {256}
   */
  maxCommands?: number;
  /**
   * Time one call (and one request) in this many per command, the first
   * included; every one is counted. A clock read costs more than the rest
   * of the bookkeeping together (on a busy machine, several hundred ns
   * where a pipelined call takes about 1 µs), so timing every call costs
   * pipelined throughput about a third. 1 times every call.
   *
   * @default {16}
   */
  timeEvery?: number;
}

/** The default of {@linkcode StatsOptions.timeEvery}. */
export const DEFAULT_TIME_EVERY = 16;

/** One command's numbers in one direction. */
export interface CommandStats {
  /** The command number on the wire (-1: commands over `maxCommands`). */
  cmd: number;
  /** Finished calls (out) or handled requests (in). */
  count: number;
  /** Finished by outcome: `ok`, `sent` (one-way out), or an error code (`timeout`, `remote`, ... ; `error` for a non-WeftError). */
  outcomes: Record<string, number>;
  /** Started and not finished. */
  inFlight: number;
  /**
   * Latency of the timed ones (one in `timeEvery`, the first included):
   * counts per bucket of {@linkcode LATENCY_BUCKETS_MS} (plus one over the
   * last bound), and the sum of their milliseconds.
   */
  latency: { counts: number[]; sumMs: number };
}

/** What `cluster.stats()` returns. */
export interface StatsSnapshot {
  /** Milliseconds since the cluster was created. */
  uptimeMs: number;
  /** Open connections, and connections opened in all (accepted and connected). */
  connections: { open: number; opened: number };
  /** Bytes received and sent on every connection. */
  bytes: { in: number; out: number };
  /** Calls and sends this node made, per command. */
  out: CommandStats[];
  /** Requests this node's handler served, per command (weft and silly mode). */
  in: CommandStats[];
}

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

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function";
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

function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * The Prometheus text exposition (format 0.0.4) of a snapshot: gauges and
 * counters named `weft_*`, per-command series labelled `direction` (`in` or
 * `out`), `cmd` and `outcome`, and a `weft_request_duration_seconds`
 * histogram per direction and command.
 *
 * @param snapshot From `cluster.stats()` or `fetchStats`.
 * @param labels Extra labels on every series, e.g. `{ node: "a" }`.
 */
export function prometheusText(
  snapshot: StatsSnapshot,
  labels: Record<string, string> = {},
): string {
  const extra = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`);
  const l = (...pairs: string[]) => {
    const all = [...extra, ...pairs];
    return all.length === 0 ? "" : `{${all.join(",")}}`;
  };
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  metric("weft_uptime_seconds", "gauge", "Seconds since the cluster was created.");
  lines.push(`weft_uptime_seconds${l()} ${snapshot.uptimeMs / 1000}`);
  metric("weft_connections", "gauge", "Open connections.");
  lines.push(`weft_connections${l()} ${snapshot.connections.open}`);
  metric("weft_connections_opened_total", "counter", "Connections opened (accepted or made).");
  lines.push(`weft_connections_opened_total${l()} ${snapshot.connections.opened}`);
  metric("weft_bytes_received_total", "counter", "Bytes received on every connection.");
  lines.push(`weft_bytes_received_total${l()} ${snapshot.bytes.in}`);
  metric("weft_bytes_sent_total", "counter", "Bytes sent on every connection.");
  lines.push(`weft_bytes_sent_total${l()} ${snapshot.bytes.out}`);
  const dirs = [["out", snapshot.out], ["in", snapshot.in]] as const;
  metric("weft_requests_total", "counter", "Finished calls (out) and requests (in) by outcome.");
  for (const [dir, cmds] of dirs) {
    for (const c of cmds) {
      for (const [outcome, n] of Object.entries(c.outcomes)) {
        lines.push(
          `weft_requests_total${
            l(`direction="${dir}"`, `cmd="${c.cmd}"`, `outcome="${label(outcome)}"`)
          } ${n}`,
        );
      }
    }
  }
  metric("weft_requests_in_flight", "gauge", "Calls (out) and requests (in) not yet finished.");
  for (const [dir, cmds] of dirs) {
    for (const c of cmds) {
      lines.push(
        `weft_requests_in_flight${l(`direction="${dir}"`, `cmd="${c.cmd}"`)} ${c.inFlight}`,
      );
    }
  }
  metric(
    "weft_request_duration_seconds",
    "histogram",
    "Call round trips (out) and handler times (in).",
  );
  for (const [dir, cmds] of dirs) {
    for (const c of cmds) {
      const base = [`direction="${dir}"`, `cmd="${c.cmd}"`];
      let cumulative = 0;
      c.latency.counts.forEach((n, i) => {
        cumulative += n;
        const le = i < LATENCY_BUCKETS_MS.length ? String(LATENCY_BUCKETS_MS[i]! / 1000) : "+Inf";
        lines.push(`weft_request_duration_seconds_bucket${l(...base, `le="${le}"`)} ${cumulative}`);
      });
      lines.push(`weft_request_duration_seconds_sum${l(...base)} ${c.latency.sumMs / 1000}`);
      lines.push(`weft_request_duration_seconds_count${l(...base)} ${cumulative}`);
    }
  }
  return lines.join("\n") + "\n";
}
