/**
 * `weft stats <host:port>`: a weft-mode node's stats, as a table (or JSON,
 * or Prometheus text). The node must allow it (`stats: { remote: true }`;
 * `weft serve --stats`).
 *
 * @module
 */

import { fetchStats, LATENCY_BUCKETS_MS, prometheusText } from "../cluster/stats.ts";
import type { CommandStats, StatsSnapshot } from "../cluster/stats.ts";
import { choiceArg, intArg, UsageError } from "./args.ts";
import { addressArg, formatError, subcommand } from "./common.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft stats <host:port> [options]

Reads a weft-mode node's stats: connections, bytes, and per command the
calls it made (out) and the requests it served (in), by outcome, with
latency percentiles (upper bounds of fixed buckets). The node must allow it
(cluster option stats: { remote: true }, or weft serve --stats).

  --format table|json|prometheus   output (default table)
  --framing v2|v1                  the node's framing (default v2)
  --timeout MS                     for connecting and the answer (default 5000)

Exit code: 0 printed, 1 the node did not answer (the error's code is
printed), 2 bad arguments.`;

/** The upper bound (ms) of the bucket holding the `q` quantile, or "-". */
function quantile(c: CommandStats, q: number): string {
  const total = c.latency.counts.reduce((a, b) => a + b, 0);
  if (total === 0) return "-";
  let seen = 0;
  for (let i = 0; i < c.latency.counts.length; i++) {
    seen += c.latency.counts[i]!;
    if (seen >= q * total) {
      return i < LATENCY_BUCKETS_MS.length
        ? `≤${LATENCY_BUCKETS_MS[i]}`
        : `>${LATENCY_BUCKETS_MS.at(-1)}`;
    }
  }
  return "-";
}

/** A snapshot as the table `weft stats` prints. */
export function statsTable(address: string, s: StatsSnapshot): string {
  const head = [
    `node ${address}: up ${
      (s.uptimeMs / 1000).toFixed(1)
    } s, connections ${s.connections.open} open / ${s.connections.opened} opened, bytes in ${s.bytes.in} / out ${s.bytes.out}`,
  ];
  const rows: string[][] = [[
    "dir",
    "cmd",
    "count",
    "ok",
    "failed",
    "in flight",
    "mean ms",
    "p50 ms",
    "p99 ms",
    "outcomes",
  ]];
  for (const [dir, cmds] of [["out", s.out], ["in", s.in]] as const) {
    for (const c of cmds) {
      const ok = (c.outcomes.ok ?? 0) + (c.outcomes.sent ?? 0);
      const other = Object.entries(c.outcomes).filter(([k, n]) => k !== "ok" && n > 0);
      rows.push([
        dir,
        c.cmd === -1 ? "other" : String(c.cmd),
        String(c.count),
        String(ok),
        String(c.count - ok),
        String(c.inFlight),
        c.count === 0 ? "-" : (c.latency.sumMs / c.count).toFixed(3),
        quantile(c, 0.5),
        quantile(c, 0.99),
        other.map(([k, n]) => `${k}=${n}`).join(" ") || "-",
      ]);
    }
  }
  if (rows.length === 1) return `${head[0]}\n(no calls or requests yet)`;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return [
    ...head,
    ...rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()),
  ].join("\n");
}

/** The `stats` subcommand. */
export const stats: Subcommand = subcommand({
  name: "stats",
  summary: "print a node's stats",
  help: HELP,
  values: { format: "table", framing: "v2", timeout: "5000" },
  async run(parsed) {
    const [address, extra] = parsed.positional;
    if (extra !== undefined) throw new UsageError(`unexpected argument ${extra}`);
    const target = addressArg(address);
    const format = choiceArg(
      "--format",
      parsed.values.format,
      [
        "table",
        "json",
        "prometheus",
      ] as const,
    );
    const framing = choiceArg("--framing", parsed.values.framing, ["v2", "v1"] as const);
    const timeout = intArg("--timeout", parsed.values.timeout, 1, 2 ** 31 - 1);
    let snapshot: StatsSnapshot;
    try {
      snapshot = await fetchStats(target, { framing, timeout });
    } catch (error) {
      console.error(`weft stats: ${formatError(error)}`);
      return 1;
    }
    if (format === "json") console.log(JSON.stringify(snapshot, null, 2));
    else if (format === "prometheus") console.log(prometheusText(snapshot).trimEnd());
    else console.log(statsTable(target, snapshot));
    return 0;
  },
});
