// Router loss, mixed runtimes: two routers (Node and Bun) as child
// processes, services under Bun and Node, the caller in Deno. kill -9 of the
// router in use with 1,000 calls in flight: every call settles (none
// hangs), the caller switches to the other router at once, new calls
// succeed. SIGSTOP of the router in use: calls reject with `closed` within
// one heartbeat window.

import assert from "node:assert/strict";
import { random, serviceId, target } from "../../src/router/mod.ts";
import { makeService, until } from "./_fixture.ts";
import { type Child, spawnRouter, spawnService, stopAll } from "./_children.ts";

const members = [serviceId(2, 1), serviceId(2, 2)];

/** Settles every promise, or throws if any is still pending after `limitMs`. */
async function allSettle<T>(promises: Promise<T>[], limitMs: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`calls still pending after ${limitMs} ms`)), limitMs);
  });
  try {
    return await Promise.race([Promise.allSettled(promises), limit]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("router: kill -9 of the router in use with 1,000 calls in flight (Node and Bun routers, mixed services)", async () => {
  const children: Child[] = [];
  const switches: (string | undefined)[] = [];
  let service: ReturnType<typeof makeService>["service"] | undefined;
  try {
    const a = await spawnRouter("node", ["--heartbeat", "500"]);
    children.push(a);
    const b = await spawnRouter("bun", ["--heartbeat", "500"]);
    children.push(b);
    children.push(await spawnService("bun", members[0]!, [a.address, b.address]));
    children.push(await spawnService("node", members[1]!, [a.address, b.address]));
    service = makeService(serviceId(1, 1), [a.address, b.address], {
      onRouter: (address) => switches.push(address),
    }).service;
    await service.start();
    await until(() => service!.routers.length === 2, 5000, "both routers");
    const inUse = service.router!;
    const dead = inUse === a.address ? a : b;
    const other = inUse === a.address ? b : a;
    // both runtimes answer through the router in use
    const who = await Promise.all(members.map((id) => service!.call(target(id), "who")));
    assert.deepEqual(who.map((w) => (w as { runtime: string }).runtime), ["bun", "node"]);
    // 1,000 calls in flight, then kill -9 the router they go through
    const calls = Array.from(
      { length: 1000 },
      (_, i) => service!.call(random(2), "sleep", { ms: 2000 + (i % 10) }, { timeout: 60_000 }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    dead.child.signal("SIGKILL");
    const outcomes = await allSettle(calls, 10_000);
    const failed = outcomes.filter((o) => o.status === "rejected");
    assert.equal(failed.length, 1000, "every call through the dead router fails");
    for (const o of failed) {
      assert.equal(
        (o as PromiseRejectedResult).reason.code,
        "closed",
        String((o as PromiseRejectedResult).reason),
      );
      // sent through the router before it died: the handler may have run
      assert.equal((o as PromiseRejectedResult).reason.mayHaveRun, true);
    }
    // the service switched at once, to the other router
    assert.equal(service.router, other.address);
    assert.deepEqual(switches.slice(-1), [other.address]);
    // new calls succeed, through the other router
    const again = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => service!.call(target(members[i % 2]!), "who")),
    );
    assert.ok(again.every((w, i) => (w as { id: number }).id === members[i % 2]));
  } finally {
    await service?.close();
    await stopAll(children);
  }
});

Deno.test("router: SIGSTOP of the router in use: its calls reject with closed within one heartbeat window, new calls go through the other", async () => {
  const children: Child[] = [];
  let service: ReturnType<typeof makeService>["service"] | undefined;
  try {
    const a = await spawnRouter("deno", ["--heartbeat", "300"]);
    children.push(a);
    const b = await spawnRouter("node", ["--heartbeat", "300"]);
    children.push(b);
    children.push(await spawnService("node", members[0]!, [a.address, b.address]));
    service = makeService(serviceId(1, 1), [a.address, b.address], {
      heartbeatInterval: 300,
      heartbeatMisses: 2,
    }).service;
    await service.start();
    await until(() => service!.routers.length === 2, 5000, "both routers");
    const frozen = service.router === a.address ? a : b;
    const calls = Array.from(
      { length: 100 },
      () => service!.call(members[0]!, "sleep", { ms: 30_000 }, { timeout: 60_000 }),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stopped = performance.now();
    frozen.child.signal("SIGSTOP");
    // one heartbeat window: interval * (misses + 1) = 900 ms, with slack for a busy machine
    const outcomes = await allSettle(calls, 5000);
    const took = performance.now() - stopped;
    assert.ok(outcomes.every((o) => o.status === "rejected" && o.reason.code === "closed"));
    assert.notEqual(service.router, frozen.address);
    const who = (await service.call(members[0]!, "who")) as { id: number };
    assert.equal(who.id, members[0]);
    console.log(`calls through the frozen router rejected after ${took.toFixed(0)} ms`);
  } finally {
    await service?.close();
    await stopAll(children);
  }
});
