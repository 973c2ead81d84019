// Masters from a discovery registry: the router follows each group's
// election through Registry.observe, applying only higher fences. The first
// test drives observe() from an in-test queue (to deliver a stale fence and
// a bad id, which a real registry never sends); the last uses the real
// in-process MemoryRegistry with two routers.

import assert from "node:assert/strict";
import type { Master, Registry } from "../../src/discovery/types.ts";
import {
  master,
  masterElection,
  type MasterObserver,
  parseServiceInstanceId,
  registryMasters,
  serviceId,
  serviceInstanceId,
} from "../../src/router/mod.ts";
import { closeAll, startRouter, startServices, until } from "./_fixture.ts";

/** observe() only: yields what `push` is given for one election, until aborted. */
function observingRegistry(election: string) {
  const queue: (Master | null)[] = [];
  let wake: (() => void) | undefined;
  let observers = 0;
  const registry = {
    async *observe(group: string, options?: { signal?: AbortSignal }) {
      assert.equal(group, election);
      observers++;
      const signal = options?.signal;
      const aborted = new Promise<void>((resolve) =>
        signal?.addEventListener("abort", () => resolve(), { once: true })
      );
      try {
        for (;;) {
          while (queue.length > 0) yield queue.shift()!;
          if (signal?.aborted) return;
          await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
          if (signal?.aborted) return;
        }
      } finally {
        observers--;
      }
    },
  } as unknown as Registry;
  return {
    registry,
    push(m: Master | null) {
      queue.push(m);
      wake?.();
    },
    observers: () => observers,
  };
}

const one = serviceId(2, 1);
const two = serviceId(2, 2);
const at = (id: number, fence: bigint): Master => ({
  id: serviceInstanceId(id),
  address: "127.0.0.1:1",
  group: masterElection(id >>> 16),
  fence,
});

Deno.test("router: masters from a registry's election, applied only with a higher fence", async () => {
  const source = observingRegistry("svc-2");
  const errors: Error[] = [];
  const { router, address } = await startRouter({
    masters: registryMasters(source.registry, { groups: [2], onError: (e) => errors.push(e) }),
  });
  const members = await startServices([one, two], [address]);
  const [caller] = await startServices([serviceId(1, 1)], [address]);
  const who = async () => ((await caller!.service.call(master(2), "who")) as { id: number }).id;
  try {
    assert.equal(source.observers(), 1);
    source.push(null);
    source.push(at(one, 10n));
    await until(() => router.master(2)?.id === one, 2000, "the first master");
    assert.equal(await who(), one);
    source.push(at(two, 12n));
    await until(() => router.master(2)?.id === two, 2000, "the second master");
    assert.equal(await who(), two);
    // a stale claim delivered late does not win
    source.push(at(one, 11n));
    source.push({ ...at(one, 13n), id: "nodes/alpha" });
    await until(() => errors.length === 1, 2000, "the bad master id to be reported");
    assert.deepEqual(router.master(2), { id: two, fence: 12 });
    assert.equal(await who(), two);
    assert.match(errors[0]!.message, /nodes\/alpha/);
  } finally {
    await closeAll(caller!.service, ...members.map((m) => m.service), router);
  }
  await until(() => source.observers() === 0, 2000, "the observation to end on close");
});

Deno.test("serviceInstanceId/parseServiceInstanceId round-trip and reject other ids", () => {
  assert.equal(serviceInstanceId(serviceId(3, 7)), "svc/3/7");
  assert.equal(parseServiceInstanceId("svc/3/7"), serviceId(3, 7));
  assert.equal(masterElection(3), "svc-3");
  for (const bad of ["svc/256/1", "svc/1/65536", "svc/1", "nodes/a", "svc/1/2/3", "svc/-1/2"]) {
    assert.equal(parseServiceInstanceId(bad), undefined, bad);
  }
  assert.throws(() => masterElection(256), RangeError);
  assert.throws(() => serviceInstanceId(0x1000000), RangeError);
});

// Every Registry of the discovery contract is a MasterObserver.
const _fits = (registry: Registry): MasterObserver => registry;
void _fits;

Deno.test("router: two routers follow a MemoryRegistry election; a resign moves both to the next master", async () => {
  const { MemoryRegistry } = await import("../../src/discovery/memory.ts");
  const registry = new MemoryRegistry();
  const a = await startRouter({ masters: registryMasters(registry, { groups: [2] }) });
  const b = await startRouter({ masters: registryMasters(registry, { groups: [2] }) });
  const members = await startServices([one, two], [a.address, b.address]);
  const [viaA] = await startServices([serviceId(1, 1)], [a.address]);
  const [viaB] = await startServices([serviceId(1, 2)], [b.address]);
  const who = async (caller: typeof viaA) =>
    ((await caller!.service.call(master(2), "who")) as { id: number }).id;
  try {
    const first = await registry.campaign(masterElection(2), {
      id: serviceInstanceId(one),
      address: "127.0.0.1:1",
    });
    const second = registry.campaign(masterElection(2), {
      id: serviceInstanceId(two),
      address: "127.0.0.1:2",
    });
    await until(
      () => a.router.master(2)?.id === one && b.router.master(2)?.id === one,
      3000,
      "2.1",
    );
    assert.deepEqual([await who(viaA), await who(viaB)], [one, one]);
    await first.resign();
    const leadership = await second;
    await until(
      () => a.router.master(2)?.id === two && b.router.master(2)?.id === two,
      3000,
      "2.2",
    );
    assert.deepEqual([await who(viaA), await who(viaB)], [two, two]);
    assert.ok(a.router.master(2)!.fence > Number(first.master.fence));
    assert.equal(a.router.master(2)!.fence, Number(leadership.master.fence));
    await leadership.resign();
  } finally {
    await closeAll(
      viaA!.service,
      viaB!.service,
      ...members.map((m) => m.service),
      a.router,
      b.router,
    );
    await registry.close();
  }
});

Deno.test("router: a master source that fails is logged once, through the fault log", async () => {
  const lines: { level: string; message: string; detail: unknown }[] = [];
  const log = (level: string) => (message: string, detail?: unknown) =>
    lines.push({ level, message, detail });
  const failure = new Error("registry unreachable");
  const { router } = await startRouter({
    masters: { watch: () => Promise.reject(failure) },
    logger: { error: log("error"), warn: log("warn"), info: log("info") },
  });
  try {
    await until(() => lines.some((l) => l.message.startsWith("Master source failed")), 2000);
    const failed = lines.filter((l) => l.message.startsWith("Master source failed"));
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.level, "warn");
    assert.equal(failed[0]!.detail, failure);
  } finally {
    await router.close();
  }
});
