/**
 * A cluster's numbers: connections, bytes, calls and requests per command
 * and outcome, in flight, and a fixed-bucket latency histogram per command.
 * Turned on with the cluster option `stats: true`; read with
 * `cluster.stats()`; exposed to Prometheus with {@linkcode prometheusText};
 * read from another process with `fetchStats` (`@weft/cluster/stats`) when
 * the node allows it (`stats: { remote: true }`).
 *
 * Cost on the hot path: per call one `Map` lookup, two clock reads, a
 * bucket search over 17 bounds and a few increments; per connection one
 * wrapped `write` and `data`. No allocation per call beyond the two settle
 * closures.
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
}

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
  /** Latency: counts per bucket of {@linkcode LATENCY_BUCKETS_MS} (plus one over the last bound), and their sum. */
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
  inFlight = 0;
  sumMs = 0;
  readonly counts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  readonly outcomes: Record<string, number> = { ok: 0 };
  readonly cmd: number;
  constructor(cmd: number) {
    this.cmd = cmd;
  }

  done(ms: number, outcome: string): void {
    this.inFlight--;
    this.count++;
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
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
  }

  snapshot(): CommandStats {
    return {
      cmd: this.cmd,
      count: this.count,
      outcomes: { ...this.outcomes },
      inFlight: this.inFlight,
      latency: { counts: [...this.counts], sumMs: this.sumMs },
    };
  }
}

class Direction {
  readonly #entries = new Map<number, Entry>();
  readonly max: number;
  constructor(max: number) {
    this.max = max;
  }

  get(cmd: number): Entry {
    let entry = this.#entries.get(cmd);
    if (entry === undefined) {
      if (this.#entries.size >= this.max) cmd = -1;
      entry = this.#entries.get(cmd);
      if (entry === undefined) {
        entry = new Entry(cmd);
        this.#entries.set(cmd, entry);
      }
    }
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
    this.#out = new Direction(options.maxCommands);
    this.#in = new Direction(options.maxCommands);
  }

  /** A pending call for an outgoing call of `wireCmd` that records its outcome and latency. */
  call(
    wireCmd: number,
    cmd: string | number,
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
  ): PendingCall {
    const entry = this.#out.get(wireCmd);
    entry.inFlight++;
    const t0 = now();
    return new PendingCall(cmd, (value) => {
      entry.done(now() - t0, "ok");
      resolve(value);
    }, (reason) => {
      entry.done(now() - t0, outcomeOf(reason));
      reject(reason);
    });
  }

  /** A one-way send of `wireCmd` went out. */
  sent(wireCmd: number): void {
    const entry = this.#out.get(wireCmd);
    entry.inFlight++;
    entry.done(0, "sent");
  }

  /** `handler`, recording each request's outcome and the handler's time. */
  handler(handler: RequestHandler): RequestHandler {
    return (peer, cmd, body, context) => {
      const entry = this.#in.get(cmd);
      entry.inFlight++;
      const t0 = now();
      let result: unknown;
      try {
        result = handler(peer, cmd, body, context);
      } catch (error) {
        entry.done(now() - t0, outcomeOf(error));
        throw error;
      }
      if (!isThenable(result)) {
        entry.done(now() - t0, "ok");
        return result;
      }
      return Promise.resolve(result).then((value) => {
        entry.done(now() - t0, "ok");
        return value;
      }, (error) => {
        entry.done(now() - t0, outcomeOf(error));
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
  if (option === true) return new ClusterStats({ remote: false, maxCommands: 256 });
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
  return new ClusterStats({ remote, maxCommands });
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
