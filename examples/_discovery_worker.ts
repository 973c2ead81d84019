// A worker process for the discovery failover example and the discovery
// fault tests: a weft node answering `whoami`, which registers itself in
// etcd (ENDPOINT an http(s) URL) or on a registry node (ENDPOINT host:port,
// see examples/registry_node.ts) and/or campaigns for master of a group,
// printing what happens. Runs unchanged under Deno, Bun and Node.
//
//   deno run -A examples/_discovery_worker.ts ENDPOINT NAMESPACE ID [--ttl MS] [--register] [--campaign GROUP]
//
// Prints `listening HOST:PORT`, then `registered`, `master FENCE`, `lost FENCE`,
// and with --watch PREFIX `members ID,ID,...` (sorted) after every change.

import { Cluster } from "../src/cluster/cluster.ts";
import { json } from "../src/codec/json.ts";
import { EtcdRegistry } from "../src/discovery/etcd.ts";
import { RemoteRegistry } from "../src/discovery/remote.ts";
import type { Leadership, Registry } from "../src/discovery/types.ts";

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
const watchPrefix = flag("--watch");
if (!endpoint || !namespace || !id) throw new Error("usage: ENDPOINT NAMESPACE ID [options]");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const node = new Cluster({ ...json({ commands: { whoami: 1 } }), call: () => ({ id, runtime }) });
const listener = await node.listen("127.0.0.1:0");
const address = `127.0.0.1:${listener.address.port}`;
console.log(`listening ${address}`);
const common = {
  namespace,
  retryMin: 50,
  retryMax: 500,
  logger: {
    error: (message: string, detail?: unknown) => console.error(message, String(detail ?? "")),
    warn: (message: string, detail?: unknown) => console.error(message, String(detail ?? "")),
  },
};
const registry: Registry = /^https?:/.test(endpoint)
  ? new EtcdRegistry({ endpoints: endpoint, ...common })
  : new RemoteRegistry({ address: endpoint, requestTimeout: 1000, pollWait: 2000, ...common });
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

if (watchPrefix !== undefined) {
  void (async () => {
    const members = new Set<string>();
    for await (const event of registry.watch(watchPrefix)) {
      if (event.type === "snapshot") {
        members.clear();
        for (const m of event.members) members.add(m.id);
      } else if (event.type === "put") members.add(event.member.id);
      else members.delete(event.id);
      console.log(`members ${[...members].sort().join(",")}`);
    }
  })();
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
