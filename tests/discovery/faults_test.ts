// Discovery fault tests with real processes on a real etcd: worker
// processes (examples/_discovery_worker.ts) under Deno, Bun and Node are
// killed, stopped and continued; etcd itself is stopped and started. Lease
// TTL 1 s (the test etcd's minimum), so each case takes a few seconds.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { json } from "../../src/codec/json.ts";
import { EtcdRegistry } from "../../src/discovery/etcd.ts";
import type { Master } from "../../src/discovery/types.ts";
import { type RuntimeName, type ScriptChild, spawnScript } from "../_runtimes.ts";
import { type EtcdServer, noEtcd, sayWhyIgnored, startEtcd } from "./_etcd.ts";
import { type Collector, observer, table, watcher } from "./conformance.ts";

sayWhyIgnored("tests/discovery/faults_test.ts");

const WORKER = new URL("../../examples/_discovery_worker.ts", import.meta.url).pathname;
const RUNTIMES: RuntimeName[] = ["deno", "bun", "node"];
const TTL = 1000;
const KEEPALIVE = TTL / 3;
// etcd checks for expired leases every 500 ms, and the test machine is
// shared: under load (tools/loaded_test.sh) processes wait seconds for a core,
// so the takeover bound allows that (a failover that never happens still fails).
const SLACK = 6000;
const quiet = { error() {}, warn() {} };

async function workers(
  etcd: EtcdServer,
  ns: string,
  extra: (rt: RuntimeName) => string[],
): Promise<Map<RuntimeName, ScriptChild>> {
  const children = new Map<RuntimeName, ScriptChild>();
  try {
    await Promise.all(RUNTIMES.map(async (rt) => {
      const child = await spawnScript(rt, WORKER, [
        etcd.endpoint,
        ns,
        `w/${rt}`,
        "--ttl",
        String(TTL),
        ...extra(rt),
      ]);
      children.set(rt, child);
      await child.waitFor(/^listening /m, 30_000);
    }));
  } catch (err) {
    await Promise.all([...children.values()].map((c) => c.stop()));
    throw err;
  }
  return children;
}

function registry(etcd: EtcdServer, ns: string): EtcdRegistry {
  return new EtcdRegistry({
    endpoints: etcd.endpoint,
    namespace: ns,
    logger: quiet,
    retryMin: 20,
    retryMax: 200,
    requestTimeout: 1000,
  });
}

Deno.test({
  name:
    "discovery faults: kill -9 the master's process, twice: the next takes over within TTL + one keepalive (plus slack for etcd's expiry sweep and load), fences only grow",
  ignore: noEtcd,
  async fn() {
    await using etcd = await startEtcd();
    const ns = `kill${Date.now()}/`;
    await using r = registry(etcd, ns);
    const children = await workers(etcd, ns, () => ["--campaign", "g"]);
    const o: Collector<Master | null> = observer(r, "g");
    try {
      const took: number[] = [];
      for (let round = 0; round < 2; round++) {
        await o.until((m) => m.at(-1) != null, 20_000, "a master");
        const master = o.items.at(-1)!;
        const rt = master.id.slice(2) as RuntimeName;
        const child = children.get(rt)!;
        await child.waitFor(new RegExp(`^master ${master.fence}$`, "m"), 5000);
        const killed = Date.now();
        child.signal("SIGKILL");
        await o.until(
          (m) => m.at(-1) != null && m.at(-1)!.id !== master.id,
          TTL + KEEPALIVE + SLACK + 5000,
          "the next master",
        );
        took.push(Date.now() - killed);
        const next = o.items.at(-1)!;
        assert.ok(next.fence > master.fence, `${next.fence} > ${master.fence}`);
        await children.get(next.id.slice(2) as RuntimeName)!
          .waitFor(new RegExp(`^master ${next.fence}$`, "m"), 5000);
      }
      const fences = o.items.filter((m) => m !== null).map((m) => m!.fence);
      for (let i = 1; i < fences.length; i++) assert.ok(fences[i]! > fences[i - 1]!);
      console.log(`master switch after kill -9: ${took.join(" ms, ")} ms (TTL ${TTL} ms)`);
      for (const t of took) assert.ok(t <= TTL + KEEPALIVE + SLACK, `switch took ${t} ms`);
    } finally {
      await o.stop();
      await Promise.all([...children.values()].map((c) => c.stop()));
    }
  },
});

Deno.test({
  name:
    "discovery faults: SIGSTOP a registered instance: gone from every watcher at expiry; SIGCONT: back under a new lease",
  ignore: noEtcd,
  async fn() {
    await using etcd = await startEtcd();
    const ns = `stop${Date.now()}/`;
    await using r1 = registry(etcd, ns);
    await using r2 = registry(etcd, ns);
    const children = await workers(etcd, ns, () => ["--register"]);
    const watchers = [watcher(r1, "w/"), watcher(r2, "w/")];
    try {
      const all = RUNTIMES.map((rt) => `w/${rt}`);
      for (const w of watchers) {
        await w.until((e) => all.every((id) => table(e).has(id)), 20_000, "all three");
      }
      // Stop two at once, then the third while the others run again.
      for (const stopped of [["bun", "node"], ["deno"]] as RuntimeName[][]) {
        const before = new Map(
          stopped.map((rt) => [rt, table(watchers[0]!.items).get(`w/${rt}`)!]),
        );
        for (const rt of stopped) children.get(rt)!.signal("SIGSTOP");
        try {
          for (const w of watchers) {
            await w.until(
              (e) => stopped.every((rt) => !table(e).has(`w/${rt}`)),
              TTL + SLACK + 5000,
              `${stopped} gone`,
            );
            const left = RUNTIMES.filter((rt) => !stopped.includes(rt));
            assert.ok(left.every((rt) => table(w.items).has(`w/${rt}`)), "the others stay");
          }
        } finally {
          for (const rt of stopped) children.get(rt)!.signal("SIGCONT");
        }
        for (const w of watchers) {
          await w.until(
            (e) => stopped.every((rt) => table(e).has(`w/${rt}`)),
            TTL + SLACK + 5000,
            `${stopped} back`,
          );
          for (const rt of stopped) {
            const back = table(w.items).get(`w/${rt}`)!;
            assert.ok(back.revision > before.get(rt)!.revision, "written again");
            assert.equal(back.metadata?.runtime, rt);
          }
        }
      }
    } finally {
      for (const w of watchers) await w.stop();
      await Promise.all([...children.values()].map((c) => c.stop()));
    }
  },
});

Deno.test({
  name:
    "discovery faults: stop etcd and start it again: calls between connected nodes keep working meanwhile, instances re-register, watchers resync, no stale member",
  ignore: noEtcd,
  async fn() {
    await using etcd = await startEtcd();
    const ns = `restart${Date.now()}/`;
    await using r = registry(etcd, ns);
    const children = await workers(etcd, ns, () => ["--register"]);
    const w = watcher(r, "w/");
    await using client = new Cluster({ ...json({ commands: { whoami: 1 } }), timeout: 2000 });
    try {
      const all = RUNTIMES.map((rt) => `w/${rt}`);
      await w.until((e) => all.every((id) => table(e).has(id)), 20_000, "all three");
      const peers = ["deno", "bun"].map((rt) =>
        client.connect(table(w.items).get(`w/${rt}`)!.address)
      );
      const whoami = () => Promise.all(peers.map((p) => client.call(p, "whoami", {})));
      assert.deepEqual((await whoami()).map((b) => (b as { runtime: string }).runtime), [
        "deno",
        "bun",
      ]);
      await etcd.stop();
      // Discovery is not on the call path: connected nodes keep answering while etcd is down.
      assert.deepEqual((await whoami()).map((b) => (b as { runtime: string }).runtime), [
        "deno",
        "bun",
      ]);
      // While etcd is down, one instance dies for good; the others outlive their leases.
      await children.get("node")!.stop();
      await new Promise((resolve) => setTimeout(resolve, TTL + 500));
      assert.equal((await whoami()).length, 2, "still answering after the leases ran out");
      await etcd.start();
      await w.until(
        (e) => !table(e).has("w/node") && table(e).has("w/deno") && table(e).has("w/bun"),
        TTL + SLACK + 10_000,
        "the dead one gone, the live ones present",
      );
      // The live ones stay (re-registered or renewed), the dead one stays gone.
      await new Promise((resolve) => setTimeout(resolve, TTL + 500));
      assert.deepEqual([...table(w.items).keys()].sort(), ["w/bun", "w/deno"]);
      // A fresh watcher agrees.
      const fresh = watcher(r, "w/");
      await fresh.until((e) => e.length >= 1, 5000, "snapshot");
      await fresh.stop();
      assert.deepEqual([...table(fresh.items).keys()].sort(), ["w/bun", "w/deno"]);
    } finally {
      await w.stop();
      await Promise.all([...children.values()].map((c) => c.stop()));
    }
  },
});
