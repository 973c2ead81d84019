// Who may be what at a router, in one process over real loopback sockets:
// the policy (announce, claim), claims checked against a registry's
// election, the refusals' codes, counters and rate-limited log lines, and
// fixed-slot hashing after id churn. The same attacks from other processes,
// on every runtime, are in attacks_router_test.ts.

import assert from "node:assert/strict";
import { MemoryRegistry } from "../../src/discovery/memory.ts";
import { isWeftError } from "../../src/errors.ts";
import {
  hash,
  master,
  masterElection,
  registryMasters,
  routerPolicy,
  serviceId,
  serviceInstanceId,
  target,
} from "../../src/router/mod.ts";
import { SlotTable } from "../../src/router/slots.ts";
import { slotOwner } from "../../src/router/hash.ts";
import { closeAll, makeService, rejection, startRouter, until } from "../router/_fixture.ts";
import { authAs } from "./_keys.ts";

const policy = routerPolicy({
  good: { announce: [{ group: 1 }, { group: 2 }], master: [2] },
  intruder: { announce: [{ group: 9 }] },
});

function lines() {
  const warnings: string[] = [];
  return { warnings, logger: { error: () => {}, warn: (m: string) => warnings.push(m) } };
}

Deno.test("router policy: an identity announces only its ids; others get forbidden, counted, logged within the limit", async () => {
  const log = lines();
  const { router, address } = await startRouter({
    ...authAs("router"),
    policy,
    logger: log.logger,
    faultLogLimit: 3,
  });
  const routers = [address];
  const good = makeService(serviceId(2, 1), routers, authAs("good")).service;
  const caller = makeService(serviceId(1, 1), routers, authAs("good")).service;
  try {
    await good.start();
    await caller.start();
    // Outside its ranges, a valid key is refused; even for a live id (no duplicate id leak).
    for (const id of [serviceId(2, 5), serviceId(2, 1), serviceId(1, 7)]) {
      const error = await rejection(makeService(id, routers, authAs("intruder")).service.start());
      assert.equal(error.code, "forbidden", `${id.toString(16)}: ${error.message}`);
      assert.match(error.message, /key id intruder/);
    }
    for (let i = 0; i < 20; i++) {
      await rejection(
        makeService(serviceId(2, 100 + i), routers, authAs("intruder")).service.start(),
      );
    }
    assert.equal(router.stats.forbidden, 23);
    assert.ok(router.stats.refused >= 23);
    const refusedLines = log.warnings.filter((m) => /Refused service id/.test(m));
    assert.ok(refusedLines.length >= 1 && refusedLines.length <= 6, refusedLines.join("\n"));
    assert.ok(refusedLines.every((m) => m.includes('"key id intruder"')), refusedLines[0]);
    // Its own range is allowed.
    const own = makeService(serviceId(9, 1), routers, authAs("intruder")).service;
    await own.start();
    await own.close();
    // No key at all: the handshake fails; nothing is announced.
    const stranger = makeService(serviceId(9, 2), routers).service;
    const none = await rejection(stranger.start());
    await stranger.close(); // it would retry in the background
    assert.equal(none.code, "unreachable");
    assert.ok(isWeftError((none as Error).cause, "authentication failed"), String(none.cause));
    // The good service answers as before.
    assert.equal(
      ((await caller.call(target(serviceId(2, 1)), "who")) as { id: number }).id,
      0x20001,
    );
    assert.deepEqual(router.members(2), [serviceId(2, 1)]);
  } finally {
    await closeAll(caller, good, router);
  }
});

Deno.test("router policy: a claim from an identity not allowed is refused with forbidden and never raises the fence", async () => {
  const { router, address } = await startRouter({ ...authAs("router"), policy });
  const routers = [address];
  const intruder = makeService(serviceId(9, 1), routers, authAs("intruder")).service;
  const good = makeService(serviceId(2, 1), routers, authAs("good")).service;
  const caller = makeService(serviceId(1, 1), routers, authAs("good")).service;
  try {
    for (const s of [intruder, good, caller]) await s.start();
    const refused = await rejection(intruder.claimMaster(1e300));
    assert.equal(refused.code, "forbidden");
    assert.equal(router.master(9), undefined);
    assert.equal(await good.claimMaster(5), true);
    assert.deepEqual(router.master(2), { id: serviceId(2, 1), fence: 5 });
    assert.equal(((await caller.call(master(2), "who")) as { id: number }).id, serviceId(2, 1));
    assert.equal(router.stats.forbidden, 1);
  } finally {
    await closeAll(caller, good, intruder, router);
  }
});

Deno.test("router with a registry as master source: only the elected member with the registry's fence may claim; a fence from nowhere gets not master and never raises the fence", async () => {
  await using registry = new MemoryRegistry();
  const errors: Error[] = [];
  const { router, address } = await startRouter({
    ...authAs("router"),
    policy: routerPolicy({ good: { announce: [{ group: 1 }, { group: 2 }], master: [2] } }),
    masters: registryMasters(registry, { groups: [2], onError: (e) => errors.push(e) }),
  });
  const routers = [address];
  const one = makeService(serviceId(2, 1), routers, authAs("good")).service;
  const two = makeService(serviceId(2, 2), routers, authAs("good")).service;
  const caller = makeService(serviceId(1, 1), routers, authAs("good")).service;
  try {
    for (const s of [one, two, caller]) await s.start();
    // Nobody elected yet: a claim is refused.
    assert.equal((await rejection(two.claimMaster(1e300))).code, "not master");
    assert.equal(router.master(2), undefined);
    const leadership = await registry.campaign(masterElection(2), {
      id: serviceInstanceId(serviceId(2, 1)),
      address: "127.0.0.1:1",
    });
    const fence = Number(leadership.master.fence);
    await until(() => router.master(2)?.fence === fence, 3000, "the registry's master");
    // Another member, or the elected one with another fence: not master.
    for (const [service, claim] of [[two, 1e300], [two, fence], [one, fence + 1]] as const) {
      const error = await rejection(service.claimMaster(claim));
      assert.equal(error.code, "not master", error.message);
    }
    assert.deepEqual(router.master(2), { id: serviceId(2, 1), fence });
    // The elected member with the registry's fence: accepted (nothing changes).
    assert.equal(await one.claimMaster(fence), true);
    assert.equal(((await caller.call(master(2), "who")) as { id: number }).id, serviceId(2, 1));
    assert.equal(router.stats.forbidden, 4);
    // The next election still wins: the fence was never raised.
    await leadership.resign();
    const next = await registry.campaign(masterElection(2), {
      id: serviceInstanceId(serviceId(2, 2)),
      address: "127.0.0.1:2",
    });
    await until(() => router.master(2)?.id === serviceId(2, 2), 3000, "the next master");
    assert.equal(((await caller.call(master(2), "who")) as { id: number }).id, serviceId(2, 2));
    await next.resign();
    assert.deepEqual(errors, []);
  } finally {
    await closeAll(caller, two, one, router);
  }
});

Deno.test("router fixed slots after id churn: the table stays bounded and keys spread evenly over the live members", async () => {
  const { router, address } = await startRouter({ maxDeadSlots: 16 });
  const routers = [address];
  const live = [1, 2, 3].map((i) => makeService(serviceId(2, i), routers).service);
  const caller = makeService(serviceId(1, 1), routers).service;
  try {
    for (const s of [...live, caller]) await s.start();
    // 400 services come and go under new indexes (restarts under new ids).
    for (let i = 0; i < 400; i++) {
      const churned = makeService(serviceId(2, 1000 + i), routers).service;
      await churned.start();
      await churned.close();
    }
    await until(() => router.members(2).length === 3, 5000, "the churned ids to leave");
    const counts = new Map<number, number>();
    const keys = 3000;
    for (let k = 0; k < keys; k++) {
      const { id } = (await caller.call(hash(2, k, { slots: true }), "who")) as { id: number };
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), [0x20001, 0x20002, 0x20003]);
    for (const [id, n] of counts) {
      // Even: a third each, give or take (luabus's next-slot rule gave one of them ~all).
      assert.ok(n > keys * 0.2 && n < keys * 0.47, `${id.toString(16)} owns ${n} of ${keys}`);
    }
  } finally {
    await closeAll(caller, ...live, router);
  }
});

Deno.test("SlotTable: equals slotOwner over its slots, keeps at most maxDead dead slots, forgets them after the grace", () => {
  let clock = 0;
  const table = new SlotTable({ grace: 1000, maxDead: 4, clock: () => clock });
  const alive = new Set<number>();
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let step = 0; step < 2000; step++) {
    const id = 1 + Math.floor(rand() * 40);
    if (alive.has(id) && rand() < 0.5) {
      alive.delete(id);
      table.leave(id);
    } else {
      alive.add(id);
      table.join(id);
    }
    if (step % 97 === 0) clock += 300;
    assert.ok(table.dead <= 4, `${table.dead} dead slots`);
    assert.equal(table.size, alive.size + table.dead);
    const slots = table.ids();
    const live = [...alive].sort((a, b) => a - b);
    for (let k = 0; k < 50; k++) {
      const key = Math.floor(rand() * 2 ** 32);
      assert.equal(table.owner(key, live), slotOwner(key, slots, (x) => alive.has(x)));
    }
  }
  // A member that comes back within the grace takes back its slot.
  const back = new SlotTable({ grace: 1000, maxDead: 4, clock: () => clock });
  for (const id of [10, 20, 30]) back.join(id);
  back.leave(20);
  clock += 999;
  back.join(20);
  assert.deepEqual(back.ids(), [10, 20, 30]);
  assert.equal(back.dead, 0);
  // After the grace, the slot is gone.
  back.leave(30);
  clock += 1000;
  assert.equal(back.owner(2, [10, 20]), [10, 20][2 % 2]);
  assert.deepEqual(back.ids(), [10, 20]);
});
