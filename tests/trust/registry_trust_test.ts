// A registry that cannot be stolen from, in one process (the same attacks
// from other processes are in attacks_registry_test.ts): lease ids nobody
// can guess; per-identity quotas under the registry-wide caps; a holder
// whose key is deleted learns it at once (a registration is written again,
// a leadership's signal aborts), on the served registry and on a real etcd.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { json } from "../../src/codec/json.ts";
import { EtcdRegistry } from "../../src/discovery/etcd.ts";
import { RemoteRegistry, serveRegistry } from "../../src/discovery/remote.ts";
import { randomLeaseId } from "../../src/discovery/_memory_kv.ts";
import type { Registry } from "../../src/discovery/types.ts";
import { noEtcd, sayWhyIgnored, startEtcd } from "../discovery/_etcd.ts";
import { table, watcher } from "../discovery/conformance.ts";
import { authAs } from "./_keys.ts";

sayWhyIgnored("registry_trust_test.ts");
const quiet = { error() {}, warn() {} };
const COMMANDS = { grant: 1, keepAlive: 2, revoke: 3, put: 4, delete: 5, range: 6, watch: 7 };

function remoteCode(error: unknown): string | undefined {
  const e = error as { code?: string; remote?: { code?: string } };
  return e.remote?.code ?? e.code;
}

Deno.test("randomLeaseId(): 63 random bits in decimal, never twice in 10,000", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const id = randomLeaseId();
    assert.match(id, /^[1-9]\d{0,18}$/);
    assert.ok(BigInt(id) < 2n ** 63n);
    seen.add(id);
  }
  assert.equal(seen.size, 10_000);
});

Deno.test("serveRegistry: per-identity quotas under the registry-wide caps; lease ids are not sequential", async () => {
  await using server = await serveRegistry("127.0.0.1:0", {
    ...authAs("registry"),
    maxLeasesPerIdentity: 3,
    maxKeysPerIdentity: 2,
    cluster: { logger: quiet },
  });
  const clients: Cluster[] = [];
  const raw = (keyId: string) => {
    const cluster = new Cluster({
      ...json({ commands: COMMANDS }),
      ...authAs(keyId),
      logger: quiet,
    });
    clients.push(cluster);
    const peer = cluster.connect(server.address);
    return (cmd: keyof typeof COMMANDS, body: object) =>
      cluster.call(peer, cmd, body) as Promise<Record<string, unknown>>;
  };
  try {
    const good = raw("good");
    const ids: bigint[] = [];
    for (let i = 0; i < 3; i++) ids.push(BigInt((await good("grant", { ttl: 5000 })).id as string));
    await assert.rejects(
      good("grant", { ttl: 5000 }),
      (e) => remoteCode(e) === "registry rejected" && /maxLeasesPerIdentity/.test(String(e)),
    );
    // Not a counter: the ids are far apart.
    assert.ok(
      ids.every((id, i) =>
        i === 0 || (id > ids[i - 1]! ? id - ids[i - 1]! : ids[i - 1]! - id) > 1000n
      ),
    );
    await good("put", { key: "weft/m/a", value: "1", lease: String(ids[0]) });
    await good("put", { key: "weft/m/b", value: "1", lease: String(ids[0]) });
    await assert.rejects(
      good("put", { key: "weft/m/c", value: "1", lease: String(ids[0]) }),
      (e) => remoteCode(e) === "registry rejected" && /maxKeysPerIdentity/.test(String(e)),
    );
    // Overwriting its own key is not a new key.
    await good("put", { key: "weft/m/a", value: "2", lease: String(ids[1]) });
    // Another identity still has its whole share, and cannot touch the first's.
    const other = raw("other");
    const lease = (await other("grant", { ttl: 5000 })).id as string;
    await other("put", { key: "weft/m/c", value: "1", lease });
    for (
      const [cmd, body] of [
        ["put", { key: "weft/m/a", value: "x", lease }],
        ["delete", { key: "weft/m/a" }],
        ["revoke", { id: String(ids[0]) }],
        ["keepAlive", { id: String(ids[0]) }],
        ["put", { key: "weft/m/x", value: "x", lease: String(ids[2]) }],
      ] as const
    ) {
      await assert.rejects(other(cmd, body), (e) => remoteCode(e) === "registry auth", cmd);
    }
    // A revoke of its own lease frees its share.
    await good("revoke", { id: String(ids[2]) });
    await good("grant", { ttl: 5000 });
  } finally {
    for (const c of clients) await c.close();
  }
});

/** Deletes `key` behind the registry's back (an operator, or an etcd without auth). */
type Delete = (key: string) => Promise<void>;

async function deletedKeysComeBack(
  make: () => Registry,
  deleteKey: Delete,
  ns: string,
): Promise<void> {
  const holder = make();
  const onlooker = make();
  const w = watcher(onlooker, "nodes/");
  try {
    await holder.register({ id: "nodes/a", address: "127.0.0.1:7001" }, { ttl: 120_000 });
    await w.until((e) => table(e).has("nodes/a"), 5000, "nodes/a");
    const start = Date.now();
    await deleteKey(`${ns}m/nodes/a`);
    await w.until((e) => e.some((x) => x.type === "delete"), 5000, "the delete");
    await w.until((e) => table(e).has("nodes/a"), 5000, "nodes/a written again");
    // At once: long before the lease (120 s) could have lapsed.
    assert.ok(Date.now() - start < 60_000);
    // A leader whose candidacy key is deleted learns at once.
    const leadership = await holder.campaign("g", { id: "m/a", address: "127.0.0.1:7001" }, {
      ttl: 10_000,
    });
    const aborted = new Promise<void>((resolve) =>
      leadership.signal.addEventListener("abort", () => resolve(), { once: true })
    );
    const key = `${ns}e/g/`;
    await deleteKey(key);
    await aborted;
    assert.match(String(leadership.signal.reason), /deleted by someone else/);
  } finally {
    await w.stop();
    await onlooker.close();
    await holder.close();
  }
}

Deno.test("served registry: a registration whose key is deleted is written again at once; a leader whose key is deleted learns at once", async () => {
  await using server = await serveRegistry("127.0.0.1:0", { cluster: { logger: quiet } });
  const cluster = new Cluster({ ...json({ commands: COMMANDS }), logger: quiet });
  const peer = cluster.connect(server.address);
  try {
    await deletedKeysComeBack(
      () =>
        new RemoteRegistry({ address: server.address, logger: quiet, retryMin: 20, retryMax: 200 }),
      async (key) => {
        // The same (anonymous) identity may delete: a prefix stands for the candidacy's key.
        const r = (await cluster.call(peer, "range", { prefix: key })) as {
          kvs: { key: string }[];
        };
        for (const kv of r.kvs) await cluster.call(peer, "delete", { key: kv.key });
      },
      "weft/",
    );
  } finally {
    await cluster.close();
  }
});

Deno.test({
  name:
    "etcd: a registration whose key is deleted is written again at once; a leader whose key is deleted learns at once; lease ids are random",
  ignore: noEtcd,
  async fn() {
    await using etcd = await startEtcd();
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${etcd.endpoint}${path}`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      return await res.json();
    };
    const ns = `trust${Date.now()}/`;
    const end = (prefix: string) => {
      const bytes = new TextEncoder().encode(prefix);
      bytes[bytes.length - 1]!++;
      return btoa(String.fromCharCode(...bytes));
    };
    await deletedKeysComeBack(
      () => new EtcdRegistry({ endpoints: etcd.endpoint, namespace: ns, logger: quiet }),
      async (key) => {
        await post("/v3/kv/deleterange", { key: btoa(key), range_end: end(key) });
      },
      ns,
    );
    // The lease ids etcd holds for this client are the random ones it chose.
    await using r = new EtcdRegistry({ endpoints: etcd.endpoint, namespace: ns, logger: quiet });
    await r.register({ id: "x/1", address: "127.0.0.1:1" });
    await r.register({ id: "x/2", address: "127.0.0.1:2" });
    const range = await post("/v3/kv/range", {
      key: btoa(`${ns}m/x/`),
      range_end: end(`${ns}m/x/`),
    });
    const leases = (range.kvs as { lease: string }[]).map((kv) => BigInt(kv.lease));
    assert.equal(leases.length, 2);
    const gap = leases[0]! > leases[1]! ? leases[0]! - leases[1]! : leases[1]! - leases[0]!;
    assert.ok(gap > 1_000_000n, `lease ids ${leases.join(", ")} look sequential`);
  },
});
