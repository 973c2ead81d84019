// The registry served over weft across real processes: a registry node
// (examples/registry_node.ts) under Node; worker processes
// (examples/_discovery_worker.ts) under Deno and Bun register and campaign
// and watch through it; two more watchers in this (Deno) process. kill -9
// the master's process: its registration disappears from every watcher when
// its lease expires, and the other worker takes over with a higher fence.
// kill -9 the registry node and start it again on its port: the workers
// re-register, every watcher resynchronises.

import assert from "node:assert/strict";
import { RemoteRegistry } from "../../src/discovery/remote.ts";
import type { Master } from "../../src/discovery/types.ts";
import { type RuntimeName, type ScriptChild, spawnScript } from "../_runtimes.ts";
import { type Collector, observer, table, watcher } from "./conformance.ts";

const SERVER = new URL("../../examples/registry_node.ts", import.meta.url).pathname;
const WORKER = new URL("../../examples/_discovery_worker.ts", import.meta.url).pathname;
const TTL = 1000;
const KEEPALIVE = TTL / 3;
// The test machine is shared: room for a slow keepalive and watch round trip.
const SLACK = 1500;
const quiet = { error() {}, warn() {} };

/**
 * One worker per runtime, named `w/<runtime>`, with `flags` after its
 * address, namespace, name and TTL; each is pushed onto `children` (for the
 * test to stop) and has registered once this resolves.
 */
async function startWorkers(
  children: ScriptChild[],
  runtimes: RuntimeName[],
  address: string,
  ns: string,
  flags: string[],
): Promise<Map<RuntimeName, ScriptChild>> {
  const workers = new Map<RuntimeName, ScriptChild>();
  await Promise.all(runtimes.map(async (rt) => {
    const child = await spawnScript(rt, WORKER, [
      address,
      ns,
      `w/${rt}`,
      "--ttl",
      String(TTL),
      ...flags,
    ]);
    children.push(child);
    workers.set(rt, child);
    await child.waitFor(/^registered$/m, 30_000);
  }));
  return workers;
}

Deno.test("remote registry across processes: node on Node, workers on Deno and Bun; kill -9 the master: its lease expires, it leaves every watcher, the other takes over with a higher fence", async () => {
  const children: ScriptChild[] = [];
  const ns = `x${Date.now()}/`;
  try {
    const server = await spawnScript("node", SERVER, ["127.0.0.1:0"]);
    children.push(server);
    const address = (await server.waitFor(/^registry listening (\S+)$/m, 30_000))[1]!;
    const workers = await startWorkers(children, ["deno", "bun"], address, ns, [
      "--register",
      "--campaign",
      "g",
      "--watch",
      "w/",
    ]);
    const options = { address, namespace: ns, logger: quiet, retryMin: 20, retryMax: 200 };
    await using r1 = new RemoteRegistry(options);
    await using r2 = new RemoteRegistry(options);
    const watchers = [watcher(r1, "w/"), watcher(r2, "w/")];
    const o: Collector<Master | null> = observer(r2, "g");
    try {
      for (const w of watchers) {
        await w.until((e) => table(e).has("w/deno") && table(e).has("w/bun"), 20_000, "both");
      }
      await o.until((m) => m.at(-1) != null, 20_000, "a master");
      const master = o.items.at(-1)!;
      const rt = master.id.slice(2) as RuntimeName;
      const other: RuntimeName = rt === "deno" ? "bun" : "deno";
      await workers.get(rt)!.waitFor(new RegExp(`^master ${master.fence}$`, "m"), 5000);
      const killed = Date.now();
      workers.get(rt)!.signal("SIGKILL");
      await o.until(
        (m) => m.at(-1) != null && m.at(-1)!.id === `w/${other}`,
        TTL + KEEPALIVE + SLACK + 5000,
        "the next master",
      );
      const took = Date.now() - killed;
      const next = o.items.at(-1)!;
      assert.ok(next.fence > master.fence, `${next.fence} > ${master.fence}`);
      await workers.get(other)!.waitFor(new RegExp(`^master ${next.fence}$`, "m"), 5000);
      const gone: number[] = [];
      for (const w of watchers) {
        await w.until((e) => !table(e).has(`w/${rt}`), TTL + KEEPALIVE + SLACK + 5000, "expiry");
        gone.push(Date.now() - killed);
        assert.ok(table(w.items).has(`w/${other}`), "the living worker stays");
      }
      // The watcher in the other runtime's process sees it go too.
      await workers.get(other)!.waitFor(new RegExp(`^members w/${other}$`, "m"), 5000);
      assert.match(workers.get(other)!.stdout(), /^members w\/bun,w\/deno$/m);
      const fences = o.items.filter((m) => m !== null).map((m) => m!.fence);
      for (let i = 1; i < fences.length; i++) assert.ok(fences[i]! > fences[i - 1]!);
      console.log(
        `remote registry: master switch after kill -9 ${took} ms, gone from watchers after ${
          gone.join(" ms, ")
        } ms (TTL ${TTL} ms)`,
      );
      assert.ok(took <= TTL + KEEPALIVE + SLACK, `switch took ${took} ms`);
    } finally {
      for (const w of watchers) await w.stop();
      await o.stop();
    }
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
});

Deno.test("remote registry across processes: kill -9 the registry node (on Bun) and start it again (on Node) on the same port: workers on Deno and Node re-register, every watcher resynchronises", async () => {
  const children: ScriptChild[] = [];
  const ns = `r${Date.now()}/`;
  try {
    const first = await spawnScript("bun", SERVER, ["127.0.0.1:0"]);
    children.push(first);
    const address = (await first.waitFor(/^registry listening (\S+)$/m, 30_000))[1]!;
    const workers = await startWorkers(children, ["deno", "node"], address, ns, [
      "--register",
      "--watch",
      "w/",
    ]);
    await using r = new RemoteRegistry({
      address,
      namespace: ns,
      logger: quiet,
      retryMin: 20,
      retryMax: 200,
    });
    const w = watcher(r, "w/");
    try {
      const both = (e: Parameters<typeof table>[0]) =>
        table(e).has("w/deno") && table(e).has("w/node");
      await w.until(both, 20_000, "both");
      const snapshots = () => w.items.filter((e) => e.type === "snapshot").length;
      const before = snapshots();
      const BOTH = "members w/deno,w/node";
      const lines = (out: string) => out.split("\n").filter((l) => l === BOTH).length;
      const printed = new Map([...workers].map(([rt, c]) => [rt, lines(c.stdout())]));
      first.signal("SIGKILL");
      await first.exited(5000);
      const second = await spawnScript("node", SERVER, [address]);
      children.push(second);
      await second.waitFor(/^registry listening /m, 30_000);
      const restarted = Date.now();
      // The new node is empty: each worker's keepalive finds its lease gone and re-registers.
      await w.until((e) => snapshots() > before && both(e), 20_000, "a resync with both again");
      const took = Date.now() - restarted;
      for (const [rt, child] of workers) {
        await child.until(
          (out) => lines(out) > printed.get(rt)!,
          20_000,
          "both members again after the restart",
        );
      }
      console.log(`remote registry: both workers back ${took} ms after the registry restarted`);
    } finally {
      await w.stop();
    }
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
});
