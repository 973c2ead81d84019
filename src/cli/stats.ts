/**
 * `weft stats [host:port]`: a node's stats (a plain node, a named node, a
 * router with its per-group numbers, or a service through a router), as a
 * table, JSON or Prometheus text. The node must allow it (`stats: {
 * remote: true }`: `weft serve --stats`, `weft node --stats`, `weft router
 * --stats`, and its `authorize`).
 *
 * @module
 */

import { LATENCY_BUCKETS_MS, prometheusText } from "../cluster/stats.ts";
import type { CommandStats, StatsSnapshot } from "../cluster/stats.ts";
import type { GroupStats } from "../router/router_stats.ts";
import { formatServiceId } from "../router/service_id.ts";
import { choiceArg, UsageError } from "./args.ts";
import {
  CONTEXT_HELP,
  formatError,
  NETWORK_BOOLEANS,
  NETWORK_FLAGS,
  NETWORK_HELP,
  networkOptions,
  subcommand,
} from "./common.ts";
import { openOrReport, TARGET_FLAGS, TARGET_HELP, targetArgs } from "./target.ts";
import { TRUST_HELP } from "./trust.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft stats [host:port] [options]

Reads a node's stats: connections, bytes, and per command the calls it made
(out) and the requests it served (in), by outcome, with latency percentiles
(upper bounds of fixed buckets); a router's also per group: forwards,
refusals, drops, failed calls and the latency of forwarded calls. The node
must allow it (stats: { remote: true }: weft serve/node/router --stats, and
its authorize).

  [host:port]   the node (or the context's address; not needed with --router, or with
                --node and --config/--registry)
${TARGET_HELP}
  --format table|json|prometheus   output (default table)
${NETWORK_HELP}
${TRUST_HELP}
${CONTEXT_HELP}

Examples:
  weft stats 127.0.0.1:7000
  weft stats --router 127.0.0.1:7000                     # the router, per group
  weft stats --router 127.0.0.1:7000 --route target:1.2  # service 1.2
  weft stats 127.0.0.1:7000 --format prometheus

Exit code: 0 printed, 1 the node did not answer or refused (the error's code is
printed), 2 bad arguments.`;

/** The upper bound (ms) of the bucket holding the `q` quantile of `counts`, or "-". */
export function quantileText(counts: readonly number[], q: number): string {
  const bound = quantileBound(counts, q);
  if (bound === undefined) return "-";
  return bound === Infinity ? `>${LATENCY_BUCKETS_MS.at(-1)}` : `≤${bound}`;
}

/**
 * The upper bound (ms) of the latency bucket holding the `q` quantile of
 * `counts` (Infinity: over the last bound), or undefined with no samples.
 */
export function quantileBound(counts: readonly number[], q: number): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= q * total) return i < LATENCY_BUCKETS_MS.length ? LATENCY_BUCKETS_MS[i]! : Infinity;
  }
  return undefined;
}

function quantile(c: CommandStats, q: number): string {
  return quantileText(c.latency.counts, q);
}

/** Rows as aligned columns. */
export function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
}

/** A router's per-group numbers, and each group's members, as a table. */
export function groupsTable(
  groups: GroupStats[],
  members: { group: number; members: number[] }[] = [],
): string {
  const of = new Map(members.map((m) => [m.group, m.members]));
  const rows = [[
    "group",
    "forwarded",
    "failed",
    "refused",
    "dropped",
    "mean ms",
    "p50 ms",
    "p99 ms",
    "members",
  ]];
  for (const g of groups) {
    const timed = g.latency.counts.reduce((a, b) => a + b, 0);
    rows.push([
      String(g.group),
      String(g.forwarded),
      String(g.failed),
      String(g.refused),
      String(g.dropped),
      timed === 0 ? "-" : (g.latency.sumMs / timed).toFixed(3),
      quantileText(g.latency.counts, 0.5),
      quantileText(g.latency.counts, 0.99),
      (of.get(g.group) ?? []).map(formatServiceId).join(" ") || "-",
    ]);
  }
  return rows.length === 1 ? "(no routed traffic yet)" : columns(rows).join("\n");
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
  return [...head, ...columns(rows)].join("\n");
}

/** The `stats` subcommand. */
export const stats: Subcommand = subcommand({
  name: "stats",
  summary: "print a node's, a router's or a service's stats",
  help: HELP,
  values: { ...NETWORK_FLAGS, ...TARGET_FLAGS, format: "table" },
  booleans: [...NETWORK_BOOLEANS],
  async run(parsed) {
    const { address, rest } = targetArgs(parsed);
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    const format = choiceArg(
      "--format",
      parsed.values.format,
      ["table", "json", "prometheus"] as const,
    );
    const options = await networkOptions(parsed);
    const target = await openOrReport("stats", parsed, address, options);
    if (target === undefined) return 1;
    let snapshot: StatsSnapshot & {
      router?: {
        groups: GroupStats[];
        members?: { group: number; members: number[] }[];
        forwarded: number;
        refused: number;
        dropped: number;
        blocked: number;
        waiting: number;
      };
    };
    try {
      const answer = await target.info("stats");
      if (Array.isArray(answer)) {
        // A broadcast route: one snapshot per member.
        if (format !== "json") throw new UsageError("--route broadcast:G needs --format json");
        console.log(JSON.stringify(answer, null, 2));
        return 0;
      }
      snapshot = answer as typeof snapshot;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      console.error(`weft stats: ${formatError(error)}`);
      return 1;
    } finally {
      await target.close();
    }
    if (format === "json") console.log(JSON.stringify(snapshot, null, 2));
    else if (format === "prometheus") console.log(prometheusText(snapshot).trimEnd());
    else {
      console.log(statsTable(target.where, snapshot));
      const router = snapshot.router;
      if (router !== undefined) {
        console.log(
          `\nrouter: forwarded ${router.forwarded}, refused ${router.refused}, dropped ${router.dropped}, blocked ${router.blocked}, waiting ${router.waiting}`,
        );
        console.log(groupsTable(router.groups ?? [], router.members));
      }
    }
    return 0;
  },
});
