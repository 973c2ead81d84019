// A node's stats over HTTP for Prometheus: an echo node with `stats: true`,
// a `GET /metrics` endpoint (node:http, which Deno, Bun and Node all have)
// answering prometheusText(cluster.stats()), a few calls, and a scrape.
//
//   deno run -A examples/stats_http.ts          # self-check, then exit
//   deno run -A examples/stats_http.ts --serve  # keep serving; curl the printed URL

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Cluster } from "../mod.ts";
import { json } from "../src/codec/json.ts";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "../src/cluster/stats.ts";
import { check, codeOf, finish } from "./_check.ts";

declare const process: { argv: string[] };
const serveForever = (globalThis as { Deno?: { args: string[] } }).Deno?.args.includes("--serve") ??
  process.argv.includes("--serve");

const node = new Cluster({
  ...json(),
  stats: true,
  call: (_peer, cmd, body) => {
    if (cmd === 2) throw new Error("not today");
    return body;
  },
});
const listener = await node.listen("127.0.0.1:0");

const http = createServer((req, res) => {
  if (req.url !== "/metrics") {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE });
  res.end(prometheusText(node.stats()!, { node: "echo" }));
});
await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`;
console.log(`weft node on ${listener.address.port}, metrics at ${url}`);

const client = new Cluster({ ...json() });
const peer = client.connect(`127.0.0.1:${listener.address.port}`);
for (let i = 0; i < 10; i++) await client.call(peer, 1, { i });
check(await codeOf(client.call(peer, 2, "x")) === "remote", "cmd 2 fails remotely");

const text = await (await fetch(url)).text();
check(
  text.includes('weft_requests_total{node="echo",direction="in",cmd="1",outcome="ok"} 10'),
  "the scrape counts 10 ok requests of cmd 1",
);
check(
  text.includes('weft_requests_total{node="echo",direction="in",cmd="2",outcome="error"} 1'),
  "and one failed request of cmd 2",
);
check(/^weft_connections\{node="echo"\} 1$/m.test(text), "one open connection");
check(/^# TYPE weft_request_duration_seconds histogram$/m.test(text), "a latency histogram");

if (serveForever) {
  console.log("serving until Ctrl-C");
} else {
  await client.close();
  await node.close();
  await new Promise((resolve) => http.close(resolve));
  finish();
}
