// Every mode across runtimes: a router under Bun, then under Node, with
// member services under Bun, Node and Deno (child processes) and the caller
// in this Deno process.

import assert from "node:assert/strict";
import {
  broadcast,
  type BroadcastOutcome,
  hash,
  keyHash,
  master,
  random,
  rendezvousOwner,
  type Route,
  serviceId,
  slotOwner,
  target,
} from "../../src/router/mod.ts";
import type { RuntimeName } from "../_runtimes.ts";
import { makeService } from "./_fixture.ts";
import { type Child, spawnRouter, spawnService, stopAll } from "./_children.ts";

const RUNTIMES: RuntimeName[] = ["bun", "node", "deno"];
const ids = RUNTIMES.map((_, i) => serviceId(2, i + 1));

for (const routerRuntime of ["bun", "node"] as const) {
  Deno.test(`router: every mode, router under ${routerRuntime}, services under Bun, Node and Deno`, async () => {
    const children: Child[] = [];
    let caller: ReturnType<typeof makeService>["service"] | undefined;
    try {
      const router = await spawnRouter(routerRuntime, ["--master", `2=${ids[1]}@1`]);
      children.push(router);
      for (let i = 0; i < RUNTIMES.length; i++) {
        children.push(await spawnService(RUNTIMES[i]!, ids[i]!, [router.address]));
      }
      caller = makeService(serviceId(1, 1), [router.address]).service;
      await caller.start();
      const who = async (route: Route) =>
        (await caller!.call(route, "who")) as { id: number; runtime: string };
      for (let i = 0; i < ids.length; i++) {
        assert.deepEqual(await who(target(ids[i]!)), {
          id: ids[i],
          runtime: RUNTIMES[i],
          source: serviceId(1, 1),
        });
      }
      assert.ok(ids.includes((await who(random(2))).id));
      for (const key of ["alice", "bob", 42]) {
        assert.equal((await who(hash(2, key))).id, rendezvousOwner(keyHash(key), ids));
        assert.equal(
          (await who(hash(2, key, { slots: true }))).id,
          slotOwner(keyHash(key), ids, () => true),
        );
      }
      assert.equal((await who(master(2))).id, ids[1]);
      const outcomes = (await caller.call(broadcast(2), "who")) as BroadcastOutcome[];
      assert.deepEqual(
        outcomes.map((o) => o.ok && (o.value as { runtime: string }).runtime),
        RUNTIMES,
      );
      // sends in every mode, counted at the members
      await caller.send(target(ids[0]!), "note", { n: 0 });
      await caller.send(random(2), "note", { n: 1 });
      await caller.send(hash(2, "alice"), "note", { n: 2 });
      await caller.send(hash(2, "alice", { slots: true }), "note", { n: 3 });
      await caller.send(master(2), "note", { n: 4 });
      await caller.send(broadcast(2), "note", { n: 5 });
      let total = 0;
      for (let i = 0; i < 100 && total !== 8; i++) {
        const counts = (await caller.call(broadcast(2), "notes")) as BroadcastOutcome[];
        total = counts.reduce(
          (sum, o) => sum + (o.ok ? (o.value as { count: number }).count : 0),
          0,
        );
        if (total !== 8) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(total, 8, "5 single sends and a broadcast to 3");
      // a remote error from each runtime
      const failed = (await caller.call(broadcast(2), "fail", { code: "E" })) as BroadcastOutcome[];
      assert.ok(
        failed.every((o) =>
          !o.ok && (o.error as { remote?: { code?: string } }).remote?.code === "E"
        ),
      );
    } finally {
      await caller?.close();
      await stopAll(children);
    }
  });
}
