/**
 * `weft top`: the dashboard's picture in a terminal, for machines without
 * a browser: nodes and routers with runtime, uptime, calls/s, errors/s and
 * latency; groups with members, master and fence; routes (each router's
 * groups) with forwards/s, errors/s and latency. Redrawn every interval on
 * a terminal; one frame per interval otherwise; `--once` prints one.
 *
 * @module
 */

import { intArg, UsageError } from "./args.ts";
import { ClusterWatch, type View } from "./cluster_view.ts";
import { CONTEXT_HELP, NETWORK_BOOLEANS, networkOptions, subcommand } from "./common.ts";
import { formatUptime } from "./ls.ts";
import { columns } from "./stats.ts";
import { onInterrupt, stdoutIsTTY, writeStdout } from "./_runtime.ts";
import { TRUST_FLAGS, TRUST_HELP } from "./trust.ts";
import { addressArg } from "./common.ts";
import type { Subcommand } from "./subcommand.ts";

/** The flags `weft top` and `weft dashboard` share: where the cluster is, how often to look. */
export const WATCH_FLAGS: Record<string, string | undefined> = {
  registry: undefined,
  namespace: undefined,
  peer: undefined,
  router: undefined,
  interval: "1000",
  timeout: "5000",
  ...TRUST_FLAGS,
};

/** The help lines of {@linkcode WATCH_FLAGS}. */
export const WATCH_HELP =
  `  --registry ADDR            a registry node (host:port) or etcd (http://...): named nodes
                             (nodes/), routers (routers/), services (svc/) and masters
  --namespace NS             the registry's key prefix (default weft/)
  --router HOST:PORT,...     routers to show besides the registry's (their services too)
  --peer HOST:PORT,...       plain nodes to show (weft serve, any Cluster)
  --interval MS              how often to ask every node (default 1000)
${TRUST_HELP}
${CONTEXT_HELP}`;

/** A ClusterWatch from the shared flags. */
export async function watchFrom(parsed: import("./args.ts").Parsed): Promise<ClusterWatch> {
  const v = parsed.values;
  const list = (flag: string, value: string | undefined) =>
    value === undefined ? [] : value.split(",").map((a) => {
      try {
        return addressArg(a.trim());
      } catch {
        throw new UsageError(`--${flag} must be HOST:PORT[,HOST:PORT...], got ${value}`);
      }
    });
  const peers = list("peer", v.peer);
  const routers = list("router", v.router);
  const registry = v.registry ?? v.address;
  if (registry === undefined && peers.length === 0 && routers.length === 0) {
    throw new UsageError("nothing to watch: give --registry ADDR, --router or --peer");
  }
  const interval = intArg("--interval", v.interval, 100, 3_600_000);
  const { codecName: _c, ...cluster } = await networkOptions(parsed);
  return new ClusterWatch({
    ...(registry === undefined ? {} : { registry }),
    ...(v.namespace === undefined ? {} : { namespace: v.namespace }),
    peers,
    routers,
    cluster,
    interval,
  });
}

const num = (v: number | null | undefined, digits = 0) =>
  v === null || v === undefined ? "-" : v.toFixed(digits);
const ms = (v: number | null | undefined) =>
  v === null || v === undefined ? "-" : v === Infinity ? ">10000" : `≤${v}`;

/** The picture as the text `weft top` prints. */
export function viewText(view: View): string {
  const out: string[] = [];
  const r = view.registry;
  out.push(
    `weft top  ${new Date(view.at).toISOString().slice(11, 19)}  every ${view.interval} ms  ${
      r.endpoint === null
        ? "no registry"
        : `${r.kind} ${r.endpoint}${r.up ? "" : ` (down: ${r.error ?? "?"})`}`
    }`,
  );
  out.push("");
  const rows = [[
    "kind",
    "name",
    "address",
    "runtime",
    "uptime",
    "calls/s",
    "errors/s",
    "p50 ms",
    "p99 ms",
    "state",
  ]];
  for (const n of view.nodes) {
    rows.push([
      n.kind,
      n.label,
      n.address,
      n.runtime ?? "-",
      n.uptimeMs === null ? "-" : formatUptime(n.uptimeMs),
      n.rate === null ? "-" : num(n.rate.calls, 1),
      n.rate === null ? "-" : num(n.rate.errors, 1),
      ms(n.rate?.p50),
      ms(n.rate?.p99),
      n.up ? (n.stats ? "up" : "up (no stats)") : `down: ${n.error ?? "?"}`,
    ]);
  }
  out.push(...columns(rows));
  if (view.groups.length > 0) {
    out.push("");
    const g = [["group", "members", "master", "fence", "routers' view"]];
    for (const group of view.groups) {
      g.push([
        String(group.group),
        group.members.join(" ") || "-",
        group.master?.id ?? "-",
        group.master === null ? "-" : `${group.master.fence} (${group.master.source})`,
        group.routers.map((x) => `${x.router.replace(/.*:/, ":")}=${x.master ?? "-"}`).join(" ") ||
        "-",
      ]);
    }
    out.push(...columns(g));
  }
  if (view.routes.length > 0) {
    out.push("");
    const rt = [["route", "router", "group", "calls/s", "errors/s", "p50 ms", "p99 ms"]];
    for (const route of view.routes) {
      rt.push([
        `group ${route.group}`,
        route.router,
        String(route.group),
        num(route.rate?.calls, 1),
        num(route.rate?.errors, 1),
        ms(route.rate?.p50),
        ms(route.rate?.p99),
      ]);
    }
    out.push(...columns(rt));
  }
  if (view.edges.length > 0) {
    out.push("");
    const routes = view.edges.filter((e) => e.kind !== "registry");
    out.push(`connections: ${routes.map((e) => `${e.from} - ${e.to}`).join(", ") || "-"}`);
  }
  return out.join("\n");
}

const HELP = `weft top [options]

The cluster in a terminal (weft dashboard without a browser): nodes and
routers with runtime, uptime, calls/s, errors/s and latency percentiles;
each group's members, master and fence; each route (a router's group) with
forwards/s, errors/s and latency. Nodes are found in the registry (and
--router, --peer) and asked with INFO requests; numbers need each node's
remote stats (--stats on weft serve/node/router, stats: { remote: true }).

${WATCH_HELP}
  --once                     print one picture (after two polls, for the rates) and exit

Examples:
  weft top --registry 127.0.0.1:7400
  weft top --router 127.0.0.1:7000 --peer 127.0.0.1:7100 --once

Exit code: 0 (Ctrl-C, or --once printed), 1 nothing answered with --once, 2 bad
arguments.`;

/** The `top` subcommand. */
export const top: Subcommand = subcommand({
  name: "top",
  summary: "the cluster live in a terminal: nodes, groups, masters, rates",
  help: HELP,
  values: { ...WATCH_FLAGS },
  booleans: ["once", ...NETWORK_BOOLEANS],
  positional: false,
  async run(parsed) {
    const watch = await watchFrom(parsed);
    try {
      if (parsed.booleans.has("once")) {
        await watch.start();
        // A second poll, so rates have a window.
        await new Promise<void>((resolve) => (watch.onUpdate = () => resolve()));
        console.log(viewText(watch.view));
        return watch.view.nodes.some((n) => n.up) ? 0 : 1;
      }
      const tty = stdoutIsTTY();
      const draw = (view: View) => {
        if (tty) writeStdout(`\x1b[H\x1b[2J${viewText(view)}\n`);
        else console.log(`${viewText(view)}\n`);
      };
      watch.onUpdate = draw;
      await watch.start();
      draw(watch.view);
      await new Promise<void>((resolve) => onInterrupt(resolve));
      return 0;
    } finally {
      await watch.close();
    }
  },
});
