// Members from a discovery registry: two routers follow the services
// registered under svc/ (registryMembers); a connected service is a live
// member only while registered, so both routers agree on each group, and a
// service whose registration ends leaves both at once. Run on the
// in-process MemoryRegistry and on a served registry (RemoteRegistry over
// loopback).

import assert from "node:assert/strict";
import { MemoryRegistry } from "../../src/discovery/memory.ts";
import { RemoteRegistry, serveRegistry } from "../../src/discovery/remote.ts";
import type { Registry } from "../../src/discovery/types.ts";
import {
  hash,
  type MemberWatcher,
  random,
  registerService,
  registryMembers,
  serviceId,
  type ServiceRegistrar,
  target,
} from "../../src/router/mod.ts";
import { closeAll, QUIET, rejection, startRouter, startServices, until } from "./_fixture.ts";

// Every Registry of the discovery contract is a MemberWatcher and a ServiceRegistrar.
const _fits = (registry: Registry): MemberWatcher => registry;
const _registrar = (registry: Registry): ServiceRegistrar<{ close(): Promise<void> }> => registry;
void _fits;
void _registrar;

const one = serviceId(2, 1);
const two = serviceId(2, 2);
const caller = serviceId(1, 1);

async function membersFollowRegistry(registry: Registry): Promise<void> {
  const errors: Error[] = [];
  const members = () => registryMembers(registry, { onError: (e) => errors.push(e) });
  const a = await startRouter({ members: members() });
  const b = await startRouter({ members: members() });
  const routers = [a.address, b.address];
  const services = await startServices([one, two], routers);
  const [viaA] = await startServices([caller], [a.address]);
  const [viaB] = await startServices([caller + 1], [b.address]);
  const both = (ids: number[]) =>
    JSON.stringify(a.router.members(2)) === JSON.stringify(ids) &&
    JSON.stringify(b.router.members(2)) === JSON.stringify(ids);
  const who = async (via: typeof viaA, route = random(2)) =>
    ((await via!.service.call(route, "who")) as { id: number }).id;
  const registrations = [];
  try {
    // Connected but not registered: not a member, not a target.
    assert.deepEqual(a.router.members(2), []);
    const early = await rejection(viaA!.service.call(target(one), "who"));
    assert.equal(early.code, "unreachable");
    registrations.push(await registerService(registry, one, "127.0.0.1:1", { ttl: 2000 }));
    await until(() => both([one]), 3000, "2.1 to be a member on both routers");
    assert.equal(await who(viaA), one);
    assert.equal(await who(viaB, target(one)), one);
    const second = await registerService(registry, two, "127.0.0.1:2", { ttl: 2000 });
    registrations.push(second);
    await until(() => both([one, two]), 3000, "2.2 to join on both routers");
    // Both routers agree on the owner of each key.
    for (let key = 0; key < 20; key++) {
      assert.equal(await who(viaA, hash(2, key)), await who(viaB, hash(2, key)), `key ${key}`);
    }
    // 2.1 leaves the registry while its connections stay open: it leaves both routers.
    await registrations.shift()!.close();
    await until(() => both([two]), 3000, "2.1 to leave both routers");
    assert.notEqual(services[0]!.service.router, undefined, "2.1 is still connected");
    const gone = await rejection(viaA!.service.call(target(one), "who"));
    assert.equal(gone.code, "unreachable");
    for (let i = 0; i < 5; i++) assert.equal(await who(viaB), two);
    // A registered service whose connection closes is not a member either.
    await services[1]!.service.close();
    await until(() => both([]), 3000, "2.2 to leave when its connection closes");
    assert.deepEqual(errors, []);
  } finally {
    for (const r of registrations) await r.close();
    await closeAll(
      viaA!.service,
      viaB!.service,
      ...services.map((s) => s.service),
      a.router,
      b.router,
    );
  }
}

Deno.test("router: members from a MemoryRegistry, two routers agreeing", async () => {
  await using registry = new MemoryRegistry();
  await membersFollowRegistry(registry);
});

Deno.test("router: members from a served registry (RemoteRegistry over loopback)", async () => {
  await using server = await serveRegistry("127.0.0.1:0", { cluster: { logger: QUIET } });
  await using registry = new RemoteRegistry({
    address: server.address,
    logger: QUIET,
    retryMin: 20,
    retryMax: 200,
    requestTimeout: 1000,
  });
  await membersFollowRegistry(registry);
});

Deno.test("router: an instance under svc/ that is not a service id is reported and ignored", async () => {
  await using registry = new MemoryRegistry();
  const errors: Error[] = [];
  const { router } = await startRouter({
    members: registryMembers(registry, { onError: (e) => errors.push(e) }),
  });
  try {
    await using _bad = await registry.register({ id: "svc/x", address: "127.0.0.1:1" });
    await until(() => errors.length === 1, 3000, "the bad id to be reported");
    assert.match(errors[0]!.message, /svc\/x/);
    assert.throws(() => registerService(registry, 0x1000000, "127.0.0.1:1"), RangeError);
  } finally {
    await router.close();
  }
});

Deno.test("router: a service with the registry option registers on start and leaves on close", async () => {
  await using registry = new MemoryRegistry();
  const a = await startRouter({ members: registryMembers(registry) });
  const [mail] = await startServices([one], [a.address], {
    registry: { registry, address: "127.0.0.1:9", ttl: 2000 },
  });
  const [viaA] = await startServices([caller], [a.address]);
  try {
    await until(() => a.router.members(2).length === 1, 3000, "2.1 to register itself");
    assert.equal(((await viaA!.service.call(random(2), "who")) as { id: number }).id, one);
    const seen: string[] = [];
    for await (const event of registry.watch("svc/")) {
      if (event.type === "snapshot") seen.push(...event.members.map((m) => m.address));
      break;
    }
    assert.deepEqual(seen, ["127.0.0.1:9"]);
    await mail!.service.close();
    await until(() => a.router.members(2).length === 0, 3000, "2.1 to leave");
    const left = await rejection(viaA!.service.call(random(2), "who"));
    assert.equal(left.code, "unreachable");
  } finally {
    await closeAll(viaA!.service, mail!.service, a.router);
  }
});
