// A worker process for the discovery failover example and the discovery
// fault tests: a weft node answering `whoami`, which registers itself in
// etcd and/or campaigns for master of a group, printing what happens.
// Runs unchanged under Deno, Bun and Node.
//
//   deno run -A examples/_discovery_worker.ts ENDPOINT NAMESPACE ID [--ttl MS] [--register] [--campaign GROUP]
//
// Prints `listening HOST:PORT`, then `registered`, `master FENCE`, `lost FENCE`.

import { Cluster } from "../src/cluster/cluster.ts";
import { json } from "../src/codec/json.ts";
import { EtcdRegistry } from "../src/discovery/etcd.ts";
import type { Leadership } from "../src/discovery/types.ts";

declare const process: { argv: string[] };
declare const Bun: unknown;
const argv = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
const [endpoint, namespace, id] = argv;
const flag = (name: string) => {
  const at = argv.indexOf(name);
  return at < 0 ? undefined : argv[at + 1];
};
const ttl = Number(flag("--ttl") ?? 1000);
const group = flag("--campaign");
if (!endpoint || !namespace || !id) throw new Error("usage: ENDPOINT NAMESPACE ID [options]");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const node = new Cluster({ ...json({ commands: { whoami: 1 } }), call: () => ({ id, runtime }) });
const listener = await node.listen("127.0.0.1:0");
const address = `127.0.0.1:${listener.address.port}`;
console.log(`listening ${address}`);
const registry = new EtcdRegistry({
  endpoints: endpoint,
  namespace,
  retryMin: 50,
  retryMax: 500,
  logger: {
    error: (message, detail) => console.error(message, String(detail ?? "")),
    warn: (message, detail) => console.error(message, String(detail ?? "")),
  },
});
const instance = { id, address, metadata: { runtime } };

for (let attempt = 0; argv.includes("--register"); attempt++) {
  try {
    await registry.register(instance, { ttl });
    console.log("registered");
    break;
  } catch (err) {
    console.error("register failed", String(err));
    await sleep(Math.min(2000, 50 * 2 ** attempt));
  }
}

while (group !== undefined) {
  let leadership: Leadership;
  try {
    leadership = await registry.campaign(group, instance, { ttl });
  } catch (err) {
    console.error("campaign failed", String(err));
    await sleep(200);
    continue;
  }
  const fence = leadership.master.fence;
  console.log(`master ${fence}`);
  await new Promise((resolve) => leadership.signal.addEventListener("abort", resolve));
  console.log(`lost ${fence}`);
}
