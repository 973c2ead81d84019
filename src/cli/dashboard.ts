/**
 * `weft dashboard`: a web page, served by the command itself, with the
 * cluster live (see cluster_view.ts for what it shows and how it learns
 * it, and dashboard/page.ts for the page). The page and uPlot are in the
 * command, so nothing else is installed or fetched; the server is
 * `node:http`, which Deno, Bun and Node all have.
 *
 * It listens on 127.0.0.1 by default: the page shows the cluster to
 * whoever reaches it (no login), so serve it wider (`--listen :8040`) only
 * where that is meant.
 *
 * @module
 */

import { WeftError } from "../errors.ts";
import { formatAddress, parseAddress } from "../transport/address.ts";
import { intArg } from "./args.ts";
import { NETWORK_BOOLEANS, subcommand } from "./common.ts";
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from "./dashboard/page.ts";
import { UPLOT_CSS, UPLOT_JS } from "./dashboard/_uplot.ts";
import { listenArg } from "./common.ts";
import { onInterrupt } from "./_runtime.ts";
import { WATCH_FLAGS, WATCH_HELP, watchFrom } from "./top.ts";
import type { ClusterWatch } from "./cluster_view.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft dashboard [options]

Serves a web page with the cluster live: the nodes and routers with their
runtime and uptime, the groups with their members, each group's master and
fence, calls/s, errors/s and latency percentiles per node and per route,
and the connections drawn as a graph. Nodes are found in the registry (and
--router, --peer) and asked with INFO requests; numbers need each node's
remote stats (--stats on weft serve/node/router, stats: { remote: true }).

  --listen HOST:PORT         where the page is served (default 127.0.0.1:8040; port 0: any
                             free port). The page has no login: keep it on loopback unless
                             whoever can reach it may see the cluster.
${WATCH_HELP}

Examples:
  weft dashboard --registry 127.0.0.1:7400
  weft dashboard --router 127.0.0.1:7000,127.0.0.1:7001 --listen 127.0.0.1:0

Prints "dashboard http://HOST:PORT/", then serves until Ctrl-C or SIGTERM
(exit 0). Exit code 1 if it cannot listen (address in use, ...), 2 for bad
arguments.`;

/** The files the dashboard serves, by path. */
const FILES: Record<string, { type: string; body: string }> = {
  "/": { type: "text/html; charset=utf-8", body: PAGE_HTML },
  "/app.js": { type: "text/javascript; charset=utf-8", body: PAGE_JS },
  "/app.css": { type: "text/css; charset=utf-8", body: PAGE_CSS },
  "/uplot.js": { type: "text/javascript; charset=utf-8", body: UPLOT_JS },
  "/uplot.css": { type: "text/css; charset=utf-8", body: UPLOT_CSS },
};

const HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
};

/** Connections the dashboard's HTTP server holds at once; more are refused. */
export const DASHBOARD_MAX_CONNECTIONS = 256;

/** A running dashboard server. */
export interface DashboardServer {
  /** `http://host:port/`. */
  url: string;
  close(): Promise<void>;
}

/** Serves the dashboard of `watch` at `address` (`host:port`). */
export async function serveDashboard(
  watch: ClusterWatch,
  address: string,
): Promise<DashboardServer> {
  const http = await import("node:http");
  const { hostname, port } = parseAddress(address);
  let cachedView: unknown = undefined;
  let cachedBody = "";
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { ...HEADERS, allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/api/view") {
      // Encoded once per poll, however many ask.
      const view = watch.view;
      if (view !== cachedView) {
        cachedView = view;
        cachedBody = JSON.stringify(view);
      }
      const body = cachedBody;
      res.writeHead(200, {
        ...HEADERS,
        "content-type": "application/json",
        "cache-control": "no-store",
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    const file = FILES[path];
    if (file === undefined) {
      res.writeHead(404, { ...HEADERS, "content-type": "text/plain" }).end("not found\n");
      return;
    }
    res.writeHead(200, { ...HEADERS, "content-type": file.type, "cache-control": "no-cache" });
    res.end(req.method === "HEAD" ? undefined : file.body);
  });
  // Bounds for whoever reaches the page: connections at once, and how long
  // a request may take to arrive (the page's own requests are tiny GETs).
  server.maxConnections = DASHBOARD_MAX_CONNECTIONS;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch((error: { code?: string; message?: string }) => {
    throw listenError(address, error);
  });
  const bound = server.address() as { port: number };
  const url = `http://${formatAddress({ hostname, port: bound.port })}/`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

function listenError(address: string, error: { code?: string; message?: string }): WeftError {
  if (error.code === "EADDRINUSE") {
    return new WeftError("address in use", `Cannot serve the dashboard on ${address}: in use`);
  }
  return new WeftError(
    "transport",
    `Cannot serve the dashboard on ${address}: ${error.message ?? error}`,
    { cause: error },
  );
}

/** The `dashboard` subcommand. */
export const dashboard: Subcommand = subcommand({
  name: "dashboard",
  summary: "serve a live web page of the cluster (nodes, groups, masters, rates, graph)",
  help: HELP,
  values: { ...WATCH_FLAGS, listen: "127.0.0.1:8040" },
  booleans: [...NETWORK_BOOLEANS],
  positional: false,
  async run(parsed) {
    const address = listenArg("--listen", parsed.values.listen!);
    intArg("--interval", parsed.values.interval, 100, 3_600_000);
    const watch = await watchFrom(parsed);
    let server: DashboardServer | undefined;
    try {
      server = await serveDashboard(watch, address);
      console.log(`dashboard ${server.url}`);
      await watch.start();
      await new Promise<void>((resolve) => onInterrupt(resolve));
      return 0;
    } finally {
      await server?.close();
      await watch.close();
    }
  },
});
