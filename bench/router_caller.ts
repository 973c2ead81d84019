// The router benchmark's caller: the same calls (raw 32-byte echo) direct
// to the target, through the router and (given a relay's address) through
// the byte relay, at each depth; prints one `result {json}` line per case.
// Args: ROUTER DIRECT WARMUP_MS DURATION_MS DEPTHS [WAYS] [RELAY], and
// --keys=ADDR, --tls=ADDR --certs=DIR for the ways `router+keys` and
// `router+tls` (the same calls through routers with trust on).

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { Service } from "../src/router/service.ts";
import { target } from "../src/router/route.ts";
import { args, exit, options } from "./_common.ts";
import { trustOptions } from "./_trust.ts";

const { flags, positional } = options(args);
const [router, directAddress, warmupText, durationText, depthsText, waysText, relayAddress] =
  positional;
const only = waysText === undefined || waysText === "all" ? undefined : waysText.split(",");
const warmup = Number(warmupText);
const duration = Number(durationText);
const depths = depthsText!.split(",").map(Number);
const codec = raw();
const client = new Cluster(codec);
const peer = client.connect(directAddress!);
const relayed = relayAddress === undefined ? undefined : client.connect(relayAddress);
const service = new Service({ id: 0x10001, routers: [router!], ...codec });
await service.start();
const body = new Uint8Array(32).fill(7);
const to = target(0x20001);
const trusted: Partial<Record<"keys" | "tls", Service>> = {};
for (const mode of ["keys", "tls"] as const) {
  const at = flags.get(mode);
  if (at === undefined) continue;
  const s = new Service({
    id: 0x10001,
    routers: [at],
    ...codec,
    ...trustOptions(mode, "client", flags.get("certs")),
  });
  await s.start();
  trusted[mode] = s;
}

const ways = {
  direct: () => client.call(peer, 1, body),
  relay: () => client.call(relayed!, 1, body),
  router: () => service.call(to, 1, body),
  "router+keys": () => trusted.keys!.call(to, 1, body),
  "router+tls": () => trusted.tls!.call(to, 1, body),
};
const order = ["direct", "relay", "router", "router+keys", "router+tls"] as const;

async function run(call: () => Promise<unknown>, depth: number, ms: number) {
  const latencies: number[] = [];
  let calls = 0;
  const end = performance.now() + ms;
  async function lane() {
    while (performance.now() < end) {
      const start = performance.now();
      await call();
      latencies.push(performance.now() - start);
      calls++;
    }
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: depth }, lane));
  const took = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const mean = latencies.reduce((s, x) => s + x, 0) / latencies.length;
  return {
    callsPerSec: calls / (took / 1000),
    meanMs: mean,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)]!,
  };
}

for (const depth of depths) {
  // alternate so that neither way always runs on a warmer process
  for (const way of [...order, ...order]) {
    if (only !== undefined && !only.includes(way)) continue;
    if (way === "relay" && relayed === undefined) continue;
    if (way === "router+keys" && trusted.keys === undefined) continue;
    if (way === "router+tls" && trusted.tls === undefined) continue;
    await run(ways[way], depth, warmup);
    const result = await run(ways[way], depth, duration);
    console.log(`result ${JSON.stringify({ way, depth, ...result })}`);
  }
}
await service.close();
for (const s of Object.values(trusted)) await s.close();
await client.close();
exit(0);
