import assert from "node:assert/strict";
import { MemoryRegistry } from "../../src/discovery/memory.ts";
import type { Registry } from "../../src/discovery/types.ts";
import { runConformance, table, watcher } from "./conformance.ts";

const quiet = { error() {}, warn() {} };

Deno.test("MemoryRegistry passes the discovery conformance suite", async (t) => {
  await runConformance(t, {
    ttl: 300,
    slack: 200,
    registries() {
      const a = new MemoryRegistry({ logger: quiet });
      return Promise.resolve([a, a.client(), a.client()] as [Registry, Registry, Registry]);
    },
  });
});

Deno.test("MemoryRegistry watch() that falls behind resynchronises with a snapshot", async () => {
  await using a = new MemoryRegistry({ logger: quiet, history: 4 });
  await using b = a.client();
  const iterator = b.watch("n/")[Symbol.asyncIterator]();
  const first = await iterator.next();
  assert.equal(first.value?.type, "snapshot");
  // Ten changes while the watcher reads nothing: more than it may have pending.
  const regs = [];
  for (let i = 0; i < 10; i++) {
    regs.push(await a.register({ id: `n/${i}`, address: "127.0.0.1:1" }));
  }
  await regs[0]!.close();
  const seen = [first.value!];
  for (let i = 0; i < 20; i++) {
    const next = await iterator.next();
    seen.push(next.value!);
    if (table(seen).size === 9 && next.value?.type === "snapshot") break;
  }
  await iterator.return(undefined);
  const snapshots = seen.filter((e) => e.type === "snapshot");
  assert.equal(snapshots.length, 2, "a second snapshot after falling behind");
  assert.deepEqual(
    [...table(seen).keys()].sort(),
    [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => `n/${i}`),
  );
  for (const r of regs) await r.close();
});

Deno.test("MemoryRegistry rejects bad options naming them", () => {
  assert.throws(() => new MemoryRegistry({ history: 0 }), /history/);
  assert.throws(() => new MemoryRegistry({ namespace: "" }), /namespace/);
  assert.throws(() => new MemoryRegistry({ retryMin: -1 }), /retryMin/);
});

Deno.test("MemoryRegistry watchers of a prefix see a change of another client at once", async () => {
  await using a = new MemoryRegistry({ logger: quiet });
  await using b = a.client();
  const w = watcher(b, "");
  await w.until((e) => e.length === 1, 1000, "snapshot");
  await a.register({ id: "z", address: "127.0.0.1:1" });
  await w.until((e) => table(e).has("z"), 1000, "z");
  await w.stop();
});
