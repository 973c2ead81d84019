/**
 * A cluster's numbers: connections, bytes, calls and requests per command
 * and outcome, in flight, and a fixed-bucket latency histogram per command.
 * Turned on with the cluster option `stats: true`; read with
 * `cluster.stats()`; exposed to Prometheus with {@linkcode prometheusText}
 * (one cluster, or several in one exposition); read from another process
 * with `fetchStats` (`@weft/cluster/stats`) when the node allows it
 * (`stats: { remote: true }`).
 *
 * Every call and request is counted and timed, so a histogram's count is
 * the number of calls and its sum their total time. Cost on the hot path:
 * per call and per request a few increments in preallocated typed arrays
 * at the command's slot (a `Map` lookup only when the command differs from
 * the previous one) and a bucket search over 17 bounds; the clock is read
 * at most once per turn of the event loop for the calls that start and
 * end in it (and once after each handler); no object and no closure per
 * call; per chunk read or written one wrapped `data` / `write`. See the
 * README for the measured cost.
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
 * const text = prometheusText([
 *   { stats: server.stats()!, labels: { node: "server" } },
 *   { stats: client.stats()!, labels: { node: "client" } },
 * ]);
 * if (!text.includes('weft_requests_total{node="server",direction="in",cmd="7",outcome="ok"} 1')) {
 *   throw new Error("unexpected text");
 * }
 * ```
 *
 * @module
 */

import { startRefTimer, stopTimer, strictUtf8Decoder, utf8Encoder } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import { defaultTransport } from "../transport/detect.ts";
import type { Connection, Transport } from "../transport/types.ts";
import type { Frame, Framing } from "../wire/frame.ts";
import { FrameDecoder } from "../wire/frame_decoder.ts";
import { FrameEncoder } from "../wire/frame_encoder.ts";
import {
  ControlCmd,
  decodeErrorInfo,
  HELLO_PAYLOAD,
  helloVersion,
  isHello,
  ResponseStatus,
  WEFT_VERSION,
} from "../protocol/weft/protocol.ts";

const STATS_KIND = utf8Encoder.encode("stats");

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
   * Answer peers' `stats` INFO requests (`fetchStats`, `weft stats`, the
   * dashboard) with this node's stats, as `authorize` allows. Off by default: the numbers name commands and
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
  /**
   * Latency of every finished one but one-way sends (which wait for no
   * answer): counts per bucket of {@linkcode LATENCY_BUCKETS_MS} (plus one
   * over the last bound), summing to `count` less `outcomes.sent`, and the
   * sum of their milliseconds.
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
  /**
   * The node-wide budgets against a hostile peer (see the README's "Limits
   * against a hostile peer"): what is held now, and what was refused for
   * going over one (by kind: `partial bytes` over `maxPartialBytesPerNode`,
   * `part timeout` past `partTimeout`, `waiting bytes` over
   * `maxWaitingBytesPerNode`, `connection backlog` over a connection's own
   * bound of waiting requests; connections closed at accept, `connections`
   * over `maxConnections` and `per address` over
   * `maxConnectionsPerAddress`, and `evicted` for a fuller address when the
   * pool was full). Absent in a snapshot from an older node.
   */
  limits?: StatsLimits;
}

/** What {@linkcode StatsSnapshot.limits} holds. */
export interface StatsLimits {
  /** Bytes received of half-sent messages, held on every connection together. */
  partialBytes: number;
  /**
   * Handlers running now (async ones and raw forwards) on every connection
   * together, against `maxHandlersPerNode`. Absent from an older node.
   */
  handlers?: number;
  /**
   * Requests that had to wait for a node-wide handler slot (their
   * connection's own limit would have run them). Absent from an older node.
   */
  handlerWaits?: number;
  /**
   * Bytes of requests waiting for a handler slot (payloads plus 64 bytes
   * each) on every connection together, against `maxWaitingBytesPerNode`.
   * Absent from an older node.
   */
  waitingBytes?: number;
  /** Connections or requests refused for a node-wide budget, by kind. */
  refused: Record<string, number>;
}

/** One cluster's stats in a Prometheus exposition of several, and the labels that tell it apart. */
export interface StatsSource {
  /** From `cluster.stats()` or `fetchStats`. */
  stats: StatsSnapshot;
  /** Labels on every series of this cluster, e.g. `{ node: "a" }`; unique among the sources. */
  labels: Record<string, string>;
}

/** The HTTP `Content-Type` of {@linkcode prometheusText}'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Labels weft sets itself, which `labels` may not use. */
const OWN_LABELS = new Set(["direction", "cmd", "outcome", "le", "kind"]);

function labelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** `labels` as `name="value"` pairs, checked: Prometheus names, none of weft's own. */
function labelPairs(labels: Record<string, string>): string[] {
  if (labels === null || typeof labels !== "object") {
    throw new TypeError(`Invalid labels: expected an object of strings, got ${labels}`);
  }
  return Object.entries(labels).map(([name, value]) => {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || name.startsWith("__")) {
      throw new TypeError(
        `Invalid label name ${
          JSON.stringify(name)
        }: expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with __`,
      );
    }
    if (OWN_LABELS.has(name)) {
      throw new TypeError(`Invalid label name ${name}: weft sets it on its own series`);
    }
    if (typeof value !== "string") {
      throw new TypeError(`Invalid label ${name}: expected a string value, got ${typeof value}`);
    }
    return `${name}="${labelValue(value)}"`;
  });
}

/**
 * The Prometheus text exposition (format 0.0.4; serve it with
 * {@linkcode PROMETHEUS_CONTENT_TYPE}) of one cluster's stats, or of
 * several clusters' in one exposition: each metric family's HELP and TYPE
 * once, then every source's series under its own labels (two texts of one
 * cluster each cannot be concatenated: a family may appear only once).
 *
 * Families, in base units: `weft_uptime_seconds`, `weft_connections`
 * (open), `weft_connections_opened_total`, `weft_received_bytes_total`,
 * `weft_sent_bytes_total`, `weft_requests_total` (by `direction` `in` or
 * `out`, `cmd` and `outcome`), `weft_requests_in_flight`, and the histogram
 * `weft_request_duration_seconds` (by `direction` and `cmd`; its `_count`
 * is every call that waits for an answer, its `_sum` their total seconds).
 *
 * @param snapshot From `cluster.stats()` or `fetchStats`; or an array of {@linkcode StatsSource}.
 * @param labels Extra labels on every series of a single snapshot, e.g. `{ node: "a" }`.
 * @throws {TypeError} For a label name Prometheus refuses or weft uses (`direction`, `cmd`,
 *   `outcome`, `le`, `kind`), or two sources with the same labels.
 */
export function prometheusText(snapshot: StatsSnapshot, labels?: Record<string, string>): string;
/**
 * Several clusters in one exposition, each under its own labels.
 *
 * @param sources The clusters, each with labels that tell it apart.
 * @throws {TypeError} For a bad label, or two sources with the same labels.
 */
export function prometheusText(sources: readonly StatsSource[]): string;
export function prometheusText(
  input: StatsSnapshot | readonly StatsSource[],
  labels: Record<string, string> = {},
): string {
  const sources: { stats: StatsSnapshot; pairs: string[] }[] = Array.isArray(input)
    ? (input as readonly StatsSource[]).map((s) => ({
      stats: s.stats,
      pairs: labelPairs(s.labels),
    }))
    : [{ stats: input as StatsSnapshot, pairs: labelPairs(labels) }];
  const seen = new Map<string, number>();
  sources.forEach((s, i) => {
    const key = [...s.pairs].sort().join(",");
    const before = seen.get(key);
    if (before !== undefined) {
      throw new TypeError(
        `Invalid sources: ${before} and ${i} have the same labels {${key}}: give each a label that tells them apart (e.g. { node: "a" })`,
      );
    }
    seen.set(key, i);
  });
  const lines: string[] = [];
  const family = (
    name: string,
    type: string,
    help: string,
    series: (source: { stats: StatsSnapshot; l: (...pairs: string[]) => string }) => void,
  ) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const source of sources) {
      const l = (...pairs: string[]) => {
        const all = [...source.pairs, ...pairs];
        return all.length === 0 ? "" : `{${all.join(",")}}`;
      };
      series({ stats: source.stats, l });
    }
  };
  const dirs = (stats: StatsSnapshot) => [["out", stats.out], ["in", stats.in]] as const;
  family(
    "weft_uptime_seconds",
    "gauge",
    "Seconds since the cluster was created.",
    ({ stats, l }) => {
      lines.push(`weft_uptime_seconds${l()} ${stats.uptimeMs / 1000}`);
    },
  );
  family("weft_connections", "gauge", "Open connections.", ({ stats, l }) => {
    lines.push(`weft_connections${l()} ${stats.connections.open}`);
  });
  family(
    "weft_connections_opened_total",
    "counter",
    "Connections opened (accepted or made).",
    ({ stats, l }) => lines.push(`weft_connections_opened_total${l()} ${stats.connections.opened}`),
  );
  family(
    "weft_received_bytes_total",
    "counter",
    "Bytes received on every connection.",
    ({ stats, l }) => lines.push(`weft_received_bytes_total${l()} ${stats.bytes.in}`),
  );
  family(
    "weft_sent_bytes_total",
    "counter",
    "Bytes sent on every connection.",
    ({ stats, l }) => lines.push(`weft_sent_bytes_total${l()} ${stats.bytes.out}`),
  );
  // The node-wide budgets (absent in a snapshot from an older node).
  if (sources.some((s) => s.stats.limits !== undefined)) {
    family(
      "weft_partial_message_bytes",
      "gauge",
      "Bytes held of half-sent messages.",
      ({ stats, l }) => {
        if (stats.limits === undefined) return;
        lines.push(`weft_partial_message_bytes${l()} ${stats.limits.partialBytes}`);
      },
    );
    family(
      "weft_running_handlers",
      "gauge",
      "Handlers running (async ones and raw forwards) on every connection.",
      ({ stats, l }) => {
        const n = stats.limits?.handlers;
        if (n !== undefined) lines.push(`weft_running_handlers${l()} ${n}`);
      },
    );
    family(
      "weft_handler_slot_waits_total",
      "counter",
      "Requests that waited for a node-wide handler slot.",
      ({ stats, l }) => {
        const n = stats.limits?.handlerWaits;
        if (n !== undefined) lines.push(`weft_handler_slot_waits_total${l()} ${n}`);
      },
    );
    family(
      "weft_waiting_request_bytes",
      "gauge",
      "Bytes of requests waiting for a handler slot on every connection.",
      ({ stats, l }) => {
        const n = stats.limits?.waitingBytes;
        if (n !== undefined) lines.push(`weft_waiting_request_bytes${l()} ${n}`);
      },
    );
    family(
      "weft_budget_refusals_total",
      "counter",
      "Refusals for a node-wide budget, by kind.",
      ({ stats, l }) => {
        if (stats.limits === undefined) return;
        for (const [kind, n] of Object.entries(stats.limits.refused)) {
          lines.push(`weft_budget_refusals_total${l(`kind="${labelValue(kind)}"`)} ${n}`);
        }
      },
    );
  }
  family(
    "weft_requests_total",
    "counter",
    "Finished calls (out) and requests (in) by outcome.",
    ({ stats, l }) => {
      for (const [dir, cmds] of dirs(stats)) {
        for (const c of cmds) {
          for (const [outcome, n] of Object.entries(c.outcomes)) {
            lines.push(
              `weft_requests_total${
                l(`direction="${dir}"`, `cmd="${c.cmd}"`, `outcome="${labelValue(outcome)}"`)
              } ${n}`,
            );
          }
        }
      }
    },
  );
  family(
    "weft_requests_in_flight",
    "gauge",
    "Calls (out) and requests (in) not yet finished.",
    ({ stats, l }) => {
      for (const [dir, cmds] of dirs(stats)) {
        for (const c of cmds) {
          lines.push(
            `weft_requests_in_flight${l(`direction="${dir}"`, `cmd="${c.cmd}"`)} ${c.inFlight}`,
          );
        }
      }
    },
  );
  family(
    "weft_request_duration_seconds",
    "histogram",
    "Call round trips (out) and handler times (in); one-way sends are not in it.",
    ({ stats, l }) => {
      for (const [dir, cmds] of dirs(stats)) {
        for (const c of cmds) {
          const base = [`direction="${dir}"`, `cmd="${c.cmd}"`];
          let cumulative = 0;
          c.latency.counts.forEach((n, i) => {
            cumulative += n;
            const le = i < LATENCY_BUCKETS_MS.length
              ? String(LATENCY_BUCKETS_MS[i]! / 1000)
              : "+Inf";
            lines.push(
              `weft_request_duration_seconds_bucket${l(...base, `le="${le}"`)} ${cumulative}`,
            );
          });
          lines.push(`weft_request_duration_seconds_sum${l(...base)} ${c.latency.sumMs / 1000}`);
          lines.push(`weft_request_duration_seconds_count${l(...base)} ${cumulative}`);
        }
      }
    },
  );
  return lines.join("\n") + "\n";
}

// ---- fetchStats: one weft-mode INFO request (kind stats) on a connection of
// its own (no cluster needed): HELLO, INFO, wait for HELLO_ACK and the
// response, close. Plain TCP without key authentication; the `weft`
// command, which needs TLS and keys, asks through a cluster (`cluster.info`).

/** Options of {@linkcode fetchStats}. */
export interface FetchStatsOptions {
  /** The transport; by default the runtime's. */
  transport?: Transport;
  /** The node's framing. @default {"v2"} */
  framing?: Framing;
  /** Milliseconds for connecting and the answer together. @default {5000} */
  timeout?: number;
  /** Largest answer accepted, in bytes. @default {16777216} */
  hardLimit?: number;
}

/**
 * Reads the stats of the weft-mode node at `address` over a connection of
 * its own. The node must allow it (`stats: { remote: true }`).
 *
 * @throws {WeftError} `connect failed` family, `timeout`, `closed`, `protocol` (not a weft node),
 *   `remote` (the node does not allow it: `remote.code` is `forbidden`).
 */
export async function fetchStats(
  address: string,
  options: FetchStatsOptions = {},
): Promise<StatsSnapshot> {
  const timeout = options.timeout ?? 5000;
  if (typeof timeout !== "number" || !(timeout > 0)) {
    throw new RangeError(`Invalid option timeout: expected more than 0 ms, got ${timeout}`);
  }
  const framing = options.framing ?? "v2";
  const hardLimit = options.hardLimit ?? 16 * 1024 * 1024;
  const transport = options.transport ?? await defaultTransport();
  const conn: Connection = await transport.connect(address, { timeout });
  const decoder = new FrameDecoder({ framing, hardLimit });
  const answer = Promise.withResolvers<StatsSnapshot>();
  let acked = false;
  const onFrame = (frame: Frame) => {
    if (!acked) {
      if (frame.kind !== "request") return;
      if (frame.cmd !== ControlCmd.HelloAck || !isHello(frame.payload)) {
        throw new WeftError("protocol", `${address} did not answer weft's HELLO: not in weft mode`);
      }
      if (helloVersion(frame.payload) !== WEFT_VERSION) {
        throw new WeftError("protocol", `${address} speaks another weft protocol version`);
      }
      acked = true;
      return;
    }
    // INFO is answered by an ordinary weft response: a status byte, then JSON.
    if (frame.kind !== "response" || frame.session !== 1) return;
    const body = frame.payload.subarray(1);
    if (frame.payload[0] === ResponseStatus.Error) {
      answer.reject(decodeErrorInfo(body, "stats"));
    } else if (frame.payload[0] === ResponseStatus.Ok) {
      answer.resolve(JSON.parse(strictUtf8Decoder.decode(body)) as StatsSnapshot);
    } else throw new WeftError("protocol", `Bad stats answer from ${address}`);
  };
  const timer = startRefTimer(
    () => answer.reject(new WeftError("timeout", `No stats from ${address} in ${timeout} ms`)),
    timeout,
  );
  conn.start({
    data: (chunk) => {
      try {
        decoder.decode(chunk, onFrame);
      } catch (error) {
        answer.reject(
          error instanceof WeftError
            ? error
            : new WeftError("protocol", `Bad stats answer from ${address}`, { cause: error }),
        );
      }
    },
    close: (info) =>
      answer.reject(
        new WeftError(
          "closed",
          `${address} closed the connection before answering (a node in silly mode, or stats not understood)`,
          info.error === undefined ? undefined : { cause: info.error },
        ),
      ),
  });
  const encoder = new FrameEncoder({ framing });
  const header = { session: 0, cmd: ControlCmd.Hello as number, traceHi: 0, traceLo: 0 };
  encoder.request(header, HELLO_PAYLOAD);
  header.session = 1;
  header.cmd = ControlCmd.Info;
  encoder.request(header, STATS_KIND);
  conn.write(encoder.take());
  try {
    return await answer.promise;
  } finally {
    stopTimer(timer);
    await conn.close();
  }
}
