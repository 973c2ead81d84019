// A hostile or broken peer talking to a router: malformed routing heads,
// ids and groups out of range, unknown modes, an unregistered or lying
// sender. Calls get a coded error; a malformed one-way send closes that
// connection only; other services are untouched.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { raw } from "../../src/codec/raw.ts";
import { RemoteError, type WeftError } from "../../src/errors.ts";
import { serviceId } from "../../src/router/mod.ts";
import { closeAll, QUIET, rejection, startRouter, startServices, until } from "./_fixture.ts";

function head(
  mode: number,
  source: number,
  to: number,
  opts: { version?: number; flags?: number } = {},
) {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  out[0] = opts.version ?? 1;
  out[1] = mode;
  out[2] = opts.flags ?? 0;
  view.setUint32(4, source, true);
  view.setUint32(8, to, true);
  return out;
}

Deno.test("router: bad routing heads get bad route; a malformed send closes only its connection", async () => {
  const { router, address } = await startRouter();
  const target = serviceId(2, 1);
  const [good] = await startServices([target], [address]);
  const [other] = await startServices([serviceId(1, 9)], [address]);
  const closed: WeftError[] = [];
  const rogue = new Cluster({
    ...raw(),
    logger: QUIET,
    close: (_peer, reason) => closed.push(reason),
  });
  const peer = rogue.connect(address);
  const me = serviceId(1, 1);
  const code = async (bytes: Uint8Array) => {
    const error = await rejection(rogue.call(peer, 1, bytes));
    assert.ok(error instanceof RemoteError, String(error));
    return [error.remote.code, error.remote.message];
  };
  try {
    // before registering
    assert.equal((await code(head(1, me, target)))[0], "bad route");
    assert.match((await code(head(1, me, target)))[1]!, /not registered/);
    // register, out of range
    assert.equal((await code(head(0, 0x01000000, 0)))[0], "bad route");
    assert.equal(await rogue.call(peer, 1, head(0, me, 0)), undefined, "registered");
    assert.equal((await code(new Uint8Array(5)))[0], "bad route");
    assert.match((await code(new Uint8Array(5)))[1]!, /routing head is 5 bytes/);
    assert.match((await code(head(1, me, target, { version: 9 })))[1]!, /version 9/);
    assert.match((await code(head(1, me, 0x01000000)))[1]!, /target id 16777216 is out of range/);
    assert.match((await code(head(2, me, 300)))[1]!, /group 300 is out of range/);
    assert.match((await code(head(42, me, 2)))[1]!, /unknown mode 42/);
    assert.match((await code(head(1, serviceId(1, 2), target)))[1]!, /source id 1\.2/);
    assert.match((await code(head(0, serviceId(1, 3), 0)))[1]!, /already registered as 1\.1/);
    // the connection still works after all that: a good call goes through
    const body = new Uint8Array([...head(1, me, target), ...new TextEncoder().encode("{}")]);
    const reply = new TextDecoder().decode((await rogue.call(peer, 2, body)) as Uint8Array);
    assert.equal(reply, "\u0000{}", "the router's reply prefix, then the echo");
    assert.ok(router.stats.refused >= 10);
    // a one-way send with a malformed head closes this connection, with a reason
    await rogue.send(peer, 1, new Uint8Array(3));
    await until(() => closed.length === 1, 5000, "the rogue connection to close");
    await until(() => !router.members(1).includes(me), 5000, "the rogue to be unregistered");
    // others are untouched
    assert.equal(((await other!.service.call(target, "who")) as { id: number }).id, target);
  } finally {
    await closeAll(rogue, other!.service, good!.service, router);
  }
});

Deno.test("router: a second connection claiming a live id is refused with duplicate id", async () => {
  const { router, address } = await startRouter();
  const id = serviceId(2, 1);
  const [live] = await startServices([id], [address]);
  const rogue = new Cluster({ ...raw(), logger: QUIET });
  try {
    const error = await rejection(rogue.call(rogue.connect(address), 1, head(0, id, 0)));
    assert.ok(error instanceof RemoteError);
    assert.equal(error.remote.code, "duplicate id");
    assert.deepEqual(router.members(2), [id]);
  } finally {
    await closeAll(rogue, live!.service, router);
  }
});
