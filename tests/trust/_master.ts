/**
 * A master for the partition tests, on Deno, Bun or Node:
 * `_master.ts KIND ENDPOINT TTL` with KIND `etcd` (ENDPOINT an etcd URL) or
 * `served` (a registry node's `host:port`). Campaigns in the election
 * `partition` with a lease of TTL ms, prints `elected FENCE`, then `lost
 * MS REASON` (MS: the wall clock, Date.now()) when its leadership's signal
 * aborts, and exits.
 */

import { EtcdRegistry } from "../../src/discovery/etcd.ts";
import { RemoteRegistry } from "../../src/discovery/remote.ts";
import type { Registry } from "../../src/discovery/types.ts";

declare const process: { argv: string[]; exit(code: number): never };

const [kind, endpoint, ttlText] = process.argv.slice(2);
const quiet = { error() {}, warn() {} };
const registry: Registry = kind === "etcd"
  ? new EtcdRegistry({ endpoints: endpoint!, logger: quiet, namespace: "partition/" })
  : new RemoteRegistry({ address: endpoint!, logger: quiet, namespace: "partition/" });
const leadership = await registry.campaign("partition", { id: "m/old", address: "127.0.0.1:1" }, {
  ttl: Number(ttlText),
});
leadership.signal.addEventListener("abort", () => {
  const reason = leadership.signal.reason as Error | undefined;
  console.log(`lost ${Date.now()} ${reason?.message ?? ""}`);
  // Exits without waiting: its registry cannot be reached to resign.
  setTimeout(() => process.exit(0), 50);
}, { once: true });
console.log(`elected ${leadership.master.fence}`);
