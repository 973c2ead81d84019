// Service ids and the hash functions, against fixed values.

import assert from "node:assert/strict";
import {
  fmix32,
  fnv1a32,
  formatServiceId,
  groupOf,
  hash,
  keyHash,
  rendezvousOwner,
  serviceId,
  slotOwner,
  splitServiceId,
  target,
} from "../../src/router/mod.ts";

Deno.test("serviceId()/splitServiceId() check their ranges", () => {
  assert.equal(serviceId(0, 0), 0);
  assert.equal(serviceId(255, 65535), 0xffffff);
  assert.deepEqual(splitServiceId(serviceId(2, 3)), { group: 2, index: 3 });
  assert.equal(groupOf(serviceId(7, 1)), 7);
  assert.equal(formatServiceId(serviceId(2, 3)), "2.3");
  assert.throws(() => serviceId(256, 0), /Invalid group/);
  assert.throws(() => serviceId(-1, 0), RangeError);
  assert.throws(() => serviceId(1, 65536), /Invalid index/);
  assert.throws(() => serviceId(1.5, 0), RangeError);
  assert.throws(() => splitServiceId(0x1000000), RangeError);
  assert.throws(() => target(-1), /target id/);
  assert.throws(() => hash(300, "k"), RangeError);
  assert.throws(() => hash(1, 1.5), TypeError);
  assert.throws(() => hash(1, {} as string), TypeError);
});

Deno.test("keyHash() is FNV-1a 32 over UTF-8 for strings, the integer itself for integers", () => {
  // FNV-1a 32 reference values
  assert.equal(fnv1a32(new Uint8Array()), 0x811c9dc5);
  assert.equal(keyHash("a"), 0xe40c292c);
  assert.equal(keyHash("foobar"), 0xbf9cf968);
  assert.equal(keyHash("é"), fnv1a32(new Uint8Array([0xc3, 0xa9])));
  assert.equal(keyHash(42), 42);
  assert.equal(keyHash(0xffffffff), 0xffffffff);
  assert.throws(() => keyHash(2 ** 32), TypeError);
  // MurmurHash3 fmix32 reference values
  assert.equal(fmix32(0), 0);
  assert.equal(fmix32(1), 0x514e28b7);
});

Deno.test("rendezvousOwner() and slotOwner() follow the specification", () => {
  const ids = [10, 20, 30];
  const k = keyHash("alice");
  const weights = ids.map((id) => fmix32((k ^ fmix32(id)) >>> 0));
  const best = ids[weights.indexOf(Math.max(...weights))];
  assert.equal(rendezvousOwner(k, ids), best);
  assert.equal(rendezvousOwner(k, [...ids].reverse()), best, "order does not matter");
  assert.equal(rendezvousOwner(k, []), undefined);
  assert.equal(slotOwner(4, ids, () => true), 20); // 4 % 3 = 1
  // A dead slot's keys: rendezvous over the live members (not all to the next slot).
  assert.equal(slotOwner(4, ids, (id) => id !== 20), rendezvousOwner(4, [10, 30]));
  assert.equal(slotOwner(5, ids, (id) => id !== 30), rendezvousOwner(5, [10, 20]));
  assert.equal(slotOwner(5, ids, () => false), undefined);
});

Deno.test("Service.call()/send() reject a bad route before sending", async () => {
  const { Service } = await import("../../src/router/service.ts");
  const { json } = await import("../../src/codec/json.ts");
  const service = new Service({ id: 1, routers: ["127.0.0.1:9"], ...json() });
  try {
    await assert.rejects(service.call("2.1" as unknown as number, 1), TypeError);
    await assert.rejects(service.send({ mode: 1, to: 2 } as never, 1), TypeError);
    await assert.rejects(service.call(0x1000000, 1), RangeError);
    // a good route without a router: unreachable at once
    await assert.rejects(
      service.call(target(1), 1),
      (e: Error & { code?: string }) => e.code === "unreachable",
    );
  } finally {
    await service.close();
  }
  assert.throws(() => new Service({ id: -1, routers: ["a:1"], ...json() }), /option id/);
  assert.throws(() => new Service({ id: 1, routers: [], ...json() }), /option routers/);
  assert.throws(() => new Service({ id: 1, routers: ["a:1", "a:1"], ...json() }), /twice/);
  assert.throws(
    () => new Service({ id: 1, routers: ["a:1"], ...json(), retryInterval: 0 }),
    /retryInterval/,
  );
});
