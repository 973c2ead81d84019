// A master that learns it lost, in time (issue 21): the master (a child on
// Deno, Bun or Node) reaches its registry (a real etcd, then a served
// registry) through a TCP proxy; the proxy is frozen (it stops forwarding,
// the sockets stay open, as in a partition). Its leadership's signal must
// abort no later than the TTL after its last confirmed keepalive (the bound
// is 0.8 × TTL after that keepalive was sent, which was before the freeze),
// and before a successor, campaigning straight at the registry, is elected.
// Both are checked as events (wall-clock timestamps of one machine, with the
// slack the bound leaves), not as precise times.

import assert from "node:assert/strict";
import { EtcdRegistry } from "../../src/discovery/etcd.ts";
import { RemoteRegistry, serveRegistry } from "../../src/discovery/remote.ts";
import type { Registry } from "../../src/discovery/types.ts";
import { parseAddress } from "../../src/transport/address.ts";
import { type RuntimeName, type ScriptChild, spawnScript } from "../_runtimes.ts";
import { noEtcd, sayWhyIgnored, startEtcd } from "../discovery/_etcd.ts";
import { startFreezeProxy } from "./_freeze_proxy.ts";

const MASTER = new URL("./_master.ts", import.meta.url).pathname;
const TTL = 2000;
const quiet = { error() {}, warn() {} };
sayWhyIgnored("partition_test.ts");

async function partition(
  runtime: RuntimeName,
  kind: "etcd" | "served",
  registryAt: { hostname: string; port: number },
  endpoint: (proxy: string) => string,
  successor: () => Registry,
): Promise<void> {
  const proxy = startFreezeProxy(registryAt);
  let child: ScriptChild | undefined;
  const next = successor();
  try {
    child = await spawnScript(runtime, MASTER, [kind, endpoint(proxy.address), String(TTL)]);
    const fence = BigInt((await child.waitFor(/^elected (\d+)$/m, 30_000))[1]!);
    // A few keepalives go through first (every third of the TTL).
    await new Promise((resolve) => setTimeout(resolve, TTL));
    assert.doesNotMatch(child.stdout(), /^lost/m, "the master lost before the partition");
    const frozenAt = Date.now();
    proxy.freeze();
    const leadership = await next.campaign("partition", { id: "m/new", address: "127.0.0.1:2" }, {
      ttl: TTL,
    });
    const electedAt = Date.now();
    const lost = await child.waitFor(/^lost (\d+) (.*)$/m, 10_000);
    const lostAt = Number(lost[1]);
    assert.ok(leadership.master.fence > fence, "the successor's fence is higher");
    // The old master stopped before the successor was elected...
    assert.ok(lostAt <= electedAt, `lost at ${lostAt}, successor elected at ${electedAt}`);
    // ...and within the TTL of its last confirmed keepalive (sent before the freeze).
    assert.ok(lostAt - frozenAt <= TTL, `lost ${lostAt - frozenAt} ms after the freeze`);
    console.log(
      `${kind}, master on ${runtime}: lost ${lostAt - frozenAt} ms after the freeze, ${
        electedAt - lostAt
      } ms before the successor (TTL ${TTL} ms): ${lost[2]}`,
    );
    await leadership.resign();
  } finally {
    await child?.stop();
    await proxy.close();
    await next.close();
  }
}

for (const runtime of ["deno", "bun", "node"] as const) {
  Deno.test({
    name:
      `partition (etcd, master on ${runtime}): the master's signal aborts within the TTL of its last keepalive and before a successor is elected`,
    ignore: noEtcd,
    async fn() {
      await using etcd = await startEtcd();
      const at = new URL(etcd.endpoint);
      await partition(
        runtime,
        "etcd",
        { hostname: at.hostname, port: Number(at.port) },
        (proxy) => `http://${proxy}`,
        () =>
          new EtcdRegistry({ endpoints: etcd.endpoint, logger: quiet, namespace: "partition/" }),
      );
    },
  });

  Deno.test(`partition (served registry, master on ${runtime}): the master's signal aborts within the TTL of its last keepalive and before a successor is elected`, async () => {
    await using server = await serveRegistry("127.0.0.1:0", { cluster: { logger: quiet } });
    await partition(
      runtime,
      "served",
      parseAddress(server.address),
      (proxy) => proxy,
      () => new RemoteRegistry({ address: server.address, logger: quiet, namespace: "partition/" }),
    );
  });
}
