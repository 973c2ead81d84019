// Hashing through real routers: two routers agree on 10,000 keys, and keys
// stay put when a member leaves and come back when it returns, in both
// hashing modes.

import assert from "node:assert/strict";
import { hash, keyHash, rendezvousOwner, serviceId, slotOwner } from "../../src/router/mod.ts";
import type { Service } from "../../src/router/service.ts";
import { closeAll, makeService, startRouter, startServices, until } from "./_fixture.ts";

const GROUP = 3;
const ids = [1, 2, 3, 4, 5].map((index) => serviceId(GROUP, index));

/** The member each key reaches through `caller`, 500 calls in flight at a time. */
async function owners(
  caller: Service,
  keys: (string | number)[],
  slots: boolean,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500).map((key) =>
      caller.call(hash(GROUP, key, { slots }), "who") as Promise<{ id: number }>
    );
    for (const reply of await Promise.all(batch)) out.push(reply.id);
  }
  return out;
}

Deno.test("router: two routers with the same members send 10,000 keys to the same owners, both modes", async () => {
  const a = await startRouter();
  const b = await startRouter();
  const members = await startServices(ids, [a.address, b.address]);
  // one caller per router, so each router is the one in use
  const [viaA] = await startServices([serviceId(1, 1)], [a.address]);
  const [viaB] = await startServices([serviceId(1, 2)], [b.address]);
  try {
    const keys: (string | number)[] = [];
    for (let i = 0; i < 10_000; i++) keys.push(i % 2 === 0 ? `account-${i}` : i * 7919);
    for (const slots of [false, true]) {
      const fromA = await owners(viaA!.service, keys, slots);
      const fromB = await owners(viaB!.service, keys, slots);
      assert.deepEqual(fromA, fromB, `routers disagree (slots: ${slots})`);
      // and both agree with the specified functions
      const expected = keys.map((key) =>
        slots ? slotOwner(keyHash(key), ids, () => true)! : rendezvousOwner(keyHash(key), ids)!
      );
      assert.deepEqual(fromA, expected);
      // every member owns some keys
      assert.equal(new Set(fromA).size, ids.length);
    }
  } finally {
    await closeAll(
      viaA!.service,
      viaB!.service,
      ...members.map((m) => m.service),
      a.router,
      b.router,
    );
  }
});

for (const slots of [false, true]) {
  Deno.test(`router: ${slots ? "fixed-slot" : "rendezvous"} keys stay when a member leaves and return when it comes back`, async () => {
    const { router, address } = await startRouter();
    const members = await startServices(ids, [address]);
    const [caller] = await startServices([serviceId(1, 1)], [address]);
    let back: Service | undefined;
    try {
      const keys = Array.from({ length: 2000 }, (_, i) => `key-${i}`);
      const before = await owners(caller!.service, keys, slots);
      const leaving = ids[2]!;
      await members[2]!.service.close();
      await until(() => !router.members(GROUP).includes(leaving), 5000, "the member to leave");
      const during = await owners(caller!.service, keys, slots);
      let moved = 0;
      for (let i = 0; i < keys.length; i++) {
        if (before[i] === leaving) {
          assert.notEqual(during[i], leaving);
          moved++;
        } else {
          assert.equal(during[i], before[i], `key ${keys[i]} moved though its owner stayed`);
        }
      }
      assert.ok(moved > 0, "the leaving member owned no key");
      // Both modes spread a dead member's keys over the others (fixed slots
      // no longer give them all to the next slot, as luabus does).
      const takers = new Set(during.filter((_, i) => before[i] === leaving));
      assert.ok(takers.size > 1, `only ${[...takers]} took the keys`);
      back = makeService(leaving, [address]).service;
      await back.start();
      const after = await owners(caller!.service, keys, slots);
      assert.deepEqual(after, before, "keys did not all return to their owner");
    } finally {
      await closeAll(back, caller!.service, ...members.map((m) => m.service), router);
    }
  });
}
