// Every routing mode, for calls and for sends, through a real router on
// loopback; errors, cancellation and deadlines across the router; bad input.

import assert from "node:assert/strict";
import { RemoteError, WeftError } from "../../src/errors.ts";
import {
  broadcast,
  type BroadcastOutcome,
  hash,
  keyHash,
  master,
  random,
  rendezvousOwner,
  serviceId,
  slotOwner,
  target,
} from "../../src/router/mod.ts";
import { closeAll, rejection, startRouter, startServices, until } from "./_fixture.ts";

const MAIL = 2;
const GAME = 1;
const mailIds = [serviceId(MAIL, 1), serviceId(MAIL, 2), serviceId(MAIL, 3)];
const gameId = serviceId(GAME, 1);

Deno.test("router: target, random, hash, broadcast and master calls reach the right members", async () => {
  const { router, address } = await startRouter();
  const mail = await startServices(mailIds, [address]);
  const [game] = await startServices([gameId], [address]);
  const caller = game!.service;
  try {
    // target
    for (const id of mailIds) {
      assert.equal(((await caller.call(target(id), "who")) as { id: number }).id, id);
      assert.equal(((await caller.call(id, "who")) as { id: number }).id, id);
    }
    const who = (await caller.call(target(mailIds[0]!), "who")) as { source: number };
    assert.equal(who.source, gameId, "the target learns the source id");
    // random: only members, and (over 60 calls) more than one of them
    const seen = new Set<number>();
    for (let i = 0; i < 60; i++) {
      seen.add(((await caller.call(random(MAIL), "who")) as { id: number }).id);
    }
    assert.ok([...seen].every((id) => mailIds.includes(id)));
    assert.ok(seen.size > 1, `random went to ${[...seen]}`);
    // hash, both modes: the owner the specified functions compute
    for (const key of ["alice", "bob", "carol", 7, 123456789]) {
      const k = keyHash(key);
      const r = (await caller.call(hash(MAIL, key), "who")) as { id: number };
      assert.equal(r.id, rendezvousOwner(k, mailIds));
      const s = (await caller.call(hash(MAIL, key, { slots: true }), "who")) as { id: number };
      assert.equal(s.id, slotOwner(k, mailIds, () => true));
    }
    // broadcast: one outcome per member (the sender excluded unless asked)
    const outcomes = (await caller.call(broadcast(MAIL), "who")) as BroadcastOutcome[];
    assert.deepEqual(outcomes.map((o) => o.id), mailIds);
    assert.ok(outcomes.every((o) => o.ok && (o.value as { id: number }).id === o.id));
    const sender = mail[0]!.service;
    const others = (await sender.call(broadcast(MAIL), "who")) as BroadcastOutcome[];
    assert.deepEqual(others.map((o) => o.id), mailIds.slice(1));
    const all = (await sender.call(broadcast(MAIL, { self: true }), "who")) as BroadcastOutcome[];
    assert.deepEqual(all.map((o) => o.id), mailIds);
    // a broadcast with a failing member: one error outcome, the others fine
    const failing =
      (await caller.call(broadcast(MAIL), "fail", { code: "E1" })) as BroadcastOutcome[];
    assert.equal(failing.length, 3);
    for (const o of failing) {
      assert.ok(!o.ok);
      assert.ok(o.error instanceof RemoteError);
      assert.equal((o.error as RemoteError).remote.code, "E1");
    }
    // master: manual setMaster with fencing
    assert.equal(router.setMaster(MAIL, mailIds[1], 5), true);
    assert.equal(((await caller.call(master(MAIL), "who")) as { id: number }).id, mailIds[1]);
    assert.equal(router.setMaster(MAIL, mailIds[2], 5), false, "same fence: not applied");
    assert.equal(router.setMaster(MAIL, mailIds[2], 4), false, "lower fence: not applied");
    assert.equal(((await caller.call(master(MAIL), "who")) as { id: number }).id, mailIds[1]);
    assert.equal(router.setMaster(MAIL, mailIds[2], 6), true);
    assert.equal(((await caller.call(master(MAIL), "who")) as { id: number }).id, mailIds[2]);
    // master claimed by a service (luabus's lease heartbeat), fenced the same way
    assert.equal(await mail[0]!.service.claimMaster(5), false, "a stale claim is refused");
    assert.equal(await mail[0]!.service.claimMaster(7), true);
    assert.equal(((await caller.call(master(MAIL), "who")) as { id: number }).id, mailIds[0]);
    assert.deepEqual(router.master(MAIL), { id: mailIds[0], fence: 7 });
  } finally {
    await closeAll(caller, ...mail.map((m) => m.service), router);
  }
});

Deno.test("router: target, random, hash, broadcast and master sends arrive, in order per target", async () => {
  const { router, address } = await startRouter();
  const mail = await startServices(mailIds, [address]);
  const [game] = await startServices([gameId], [address]);
  const caller = game!.service;
  const count = (i: number) => mail[i]!.received.count;
  try {
    router.setMaster(MAIL, mailIds[2], 1);
    const N = 200;
    for (let n = 0; n < N; n++) await caller.send(target(mailIds[0]!), "note", { n });
    await until(() => count(0) === N, 5000, "target sends");
    assert.ok(mail[0]!.received.ordered, "sends to one target keep their order");
    for (let n = 0; n < N; n++) await caller.send(master(MAIL), "note", { n: N + n });
    await until(() => count(2) === N, 5000, "master sends");
    const owner = mailIds.indexOf(rendezvousOwner(keyHash("alice"), mailIds)!);
    const before = count(owner);
    for (let n = 0; n < 10; n++) await caller.send(hash(MAIL, "alice"), "note", { n: 1000 + n });
    await until(() => count(owner) === before + 10, 5000, "hash sends");
    const slot = mailIds.indexOf(slotOwner(keyHash("alice"), mailIds, () => true)!);
    const beforeSlot = count(slot);
    await caller.send(hash(MAIL, "alice", { slots: true }), "note", { n: 5000 });
    await until(() => count(slot) === beforeSlot + 1, 5000, "fixed-slot send");
    const total = () => mail.reduce((sum, m) => sum + m.received.count, 0);
    const beforeRandom = total();
    for (let n = 0; n < 10; n++) await caller.send(random(MAIL), "note", { n: 9000 + n });
    await until(() => total() === beforeRandom + 10, 5000, "random sends");
    const counts = mail.map((m) => m.received.count);
    await caller.send(broadcast(MAIL), "note", { n: 99999 });
    await until(() => mail.every((m, i) => m.received.count === counts[i]! + 1), 5000, "broadcast");
    // a broadcast send from a member: the others get it, the sender too only if asked
    const sender = mail[0]!.service;
    const c2 = mail.map((m) => m.received.count);
    await sender.send(broadcast(MAIL), "note", { n: 1 });
    await sender.send(broadcast(MAIL, { self: true }), "note", { n: 2 });
    await until(
      () => mail[1]!.received.count === c2[1]! + 2 && mail[0]!.received.count === c2[0]! + 1,
      5000,
      "broadcast from a member",
    );
    assert.equal(router.stats.dropped, 0);
  } finally {
    await closeAll(caller, ...mail.map((m) => m.service), router);
  }
});

Deno.test("router: unreachable target, empty group and missing master are answered at once", async () => {
  const { router, address } = await startRouter();
  const [game] = await startServices([gameId], [address]);
  const caller = game!.service;
  try {
    // With a one-minute timeout, a dropped call would hang this test: these must be answered.
    const options = { timeout: 60_000 };
    let error = await rejection(caller.call(target(serviceId(9, 9)), "who", undefined, options));
    assert.ok(error instanceof WeftError);
    assert.equal(error.code, "unreachable");
    assert.match(error.message, /9\.9/);
    // the router had nowhere to send it: it never ran
    assert.equal(error.mayHaveRun, false);
    error = await rejection(caller.call(random(9), "who", undefined, options));
    assert.equal(error.code, "unreachable");
    assert.match(error.message, /group 9/);
    error = await rejection(caller.call(hash(9, "k"), "who", undefined, options));
    assert.equal(error.code, "unreachable");
    error = await rejection(caller.call(broadcast(9), "who", undefined, options));
    assert.equal(error.code, "unreachable");
    error = await rejection(caller.call(master(GAME), "who", undefined, options));
    assert.equal(error.code, "unreachable");
    assert.match(error.message, /group 1 has no master/);
    router.setMaster(9, serviceId(9, 1), 1);
    error = await rejection(caller.call(master(9), "who", undefined, options));
    assert.equal(error.code, "unreachable");
    assert.match(error.message, /master 9\.1 of group 9 is not connected/);
    // sends to nowhere are dropped and counted, not an error at the sender
    await caller.send(target(serviceId(9, 9)), "note", { n: 1 });
    await until(() => router.stats.dropped === 1, 2000, "the dropped send");
  } finally {
    await closeAll(caller, router);
  }
});

Deno.test("router: a duplicate live id is refused with duplicate id; the first keeps working", async () => {
  const { router, address } = await startRouter();
  const [first] = await startServices([mailIds[0]!], [address]);
  const [game] = await startServices([gameId], [address]);
  const { makeService } = await import("./_fixture.ts");
  const second = makeService(mailIds[0]!, [address]).service;
  try {
    const error = await rejection(second.start());
    assert.ok(error instanceof WeftError);
    assert.equal(error.code, "duplicate id");
    assert.match(error.message, /2\.1/);
    assert.equal(((await game!.service.call(mailIds[0]!, "who")) as { id: number }).id, mailIds[0]);
    // once the first has gone, the id is free again
    await first!.service.close();
    await until(() => router.members(MAIL).length === 0, 5000, "the first to leave");
    const third = makeService(mailIds[0]!, [address]).service;
    await third.start();
    assert.equal(((await game!.service.call(mailIds[0]!, "who")) as { id: number }).id, mailIds[0]);
    await third.close();
  } finally {
    await closeAll(second, game!.service, first!.service, router);
  }
});

Deno.test("router: remote errors, cancellation, deadlines and chained calls cross the router", async () => {
  const { router, address } = await startRouter();
  const mail = await startServices(mailIds, [address]);
  const [game] = await startServices([gameId], [address]);
  const caller = game!.service;
  try {
    // a remote error arrives as on a direct connection
    const error = await rejection(caller.call(mailIds[0]!, "fail", { code: "E_MAIL" }));
    assert.ok(error instanceof RemoteError);
    assert.equal(error.remote.code, "E_MAIL");
    assert.match(error.remote.message, /failing as asked by 65537/);
    // the deadline travels: the handler sees at most the caller's timeout
    await caller.call(mailIds[0]!, "sleep", { ms: 1 }, { timeout: 3000 });
    const last = (await caller.call(mailIds[0]!, "last")) as { remaining: number };
    assert.ok(last.remaining > 0 && last.remaining <= 3000, `remaining ${last.remaining}`);
    // a timeout at the caller cancels the handler at the target
    const timedOut = await rejection(
      caller.call(mailIds[1]!, "sleep", { ms: 10_000 }, { timeout: 100 }),
    );
    assert.equal(timedOut.code, "timeout");
    await until(() => mail[1]!.received.last?.aborted === true, 3000, "the target's abort");
    // an abort at the caller cancels the handler at the target
    const controller = new AbortController();
    const aborted = caller.call(mailIds[2]!, "sleep", { ms: 10_000 }, {
      signal: controller.signal,
    });
    await until(() => mail[2]!.received.last !== undefined, 3000, "the call to start");
    controller.abort(new Error("never mind"));
    assert.equal((await rejection(aborted)).code, "aborted");
    await until(() => mail[2]!.received.last?.aborted === true, 3000, "the target's abort");
    // a chained call (context) reaches a third service with the source it came through
    const chained = (await caller.call(mailIds[0]!, "chain", { to: mailIds[1] })) as {
      id: number;
      source: number;
    };
    assert.deepEqual([chained.id, chained.source], [mailIds[1], mailIds[0]]);
    // a target lost while the call waits: closed, at once
    const pending = caller.call(mailIds[2]!, "sleep", { ms: 10_000 }, { timeout: 60_000 });
    await until(() => mail[2]!.received.last?.aborted === false, 3000, "the call to start");
    await mail[2]!.service.close();
    const lost = await rejection(pending);
    assert.equal(lost.code, "closed", String(lost));
  } finally {
    await closeAll(caller, ...mail.map((m) => m.service), router);
  }
});
