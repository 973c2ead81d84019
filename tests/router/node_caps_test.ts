// The router's node-wide caps (`maxHandlersPerNode`, `maxWaitingBytesPerNode`):
// checked at construction like the cluster's options; with a cap of 4, the
// forwards waiting for their target hold the slots (the target never has
// more than 4 at once), and a pipelined burst
// from two callers still reaches its target whole, each caller's in order.

import assert from "node:assert/strict";
import { raw } from "../../src/codec/raw.ts";
import { Router } from "../../src/router/router.ts";
import { target } from "../../src/router/route.ts";
import { Service } from "../../src/router/service.ts";
import { closeAll, QUIET, startRouter } from "./_fixture.ts";

Deno.test("router: bad maxHandlersPerNode and maxWaitingBytesPerNode are refused at construction, naming the option", () => {
  assert.throws(() => new Router({ maxHandlersPerNode: 0 }), /maxHandlersPerNode/);
  assert.throws(() => new Router({ maxWaitingBytesPerNode: 1.5 }), RangeError);
  assert.throws(
    () => new Router({ maxWaitingBytesPerNode: "64" as unknown as number }),
    (error: unknown) => error instanceof TypeError && /maxWaitingBytesPerNode/.test(error.message),
  );
});

Deno.test("router: with maxHandlersPerNode 4, 2 x 1,000 pipelined calls are all forwarded, each caller's in order", async () => {
  const { router, address } = await startRouter({ maxHandlersPerNode: 4 });
  const codec = raw();
  const seen: number[] = [];
  let running = 0;
  let most = 0;
  const echo = new Service({
    id: 0x20001,
    routers: [address],
    ...codec,
    logger: QUIET,
    call: async (_source, _cmd, body) => {
      const bytes = body as Uint8Array;
      seen.push(new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true));
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, 0));
      running--;
      return bytes.slice();
    },
  });
  const callers = [0x10001, 0x10002].map((id) =>
    new Service({ id, routers: [address], ...codec, logger: QUIET })
  );
  try {
    await echo.start();
    for (const caller of callers) await caller.start();
    const numbered = (n: number) => {
      const body = new Uint8Array(24);
      new DataView(body.buffer).setUint32(0, n, true);
      return body;
    };
    const to = target(0x20001);
    const calls = callers.flatMap((caller, k) =>
      Array.from(
        { length: 1000 },
        (_, i) => caller.call(to, 1, numbered(k * 10_000 + i), { timeout: 60_000 }),
      )
    );
    const replies = await Promise.all(calls);
    replies.forEach((reply, j) => {
      const expected = Math.floor(j / 1000) * 10_000 + (j % 1000);
      const got = new DataView((reply as Uint8Array).buffer, (reply as Uint8Array).byteOffset, 4);
      assert.equal(got.getUint32(0, true), expected, `reply ${j}`);
    });
    assert.equal(seen.length, 2000);
    for (const k of [0, 1]) {
      const mine = seen.filter((n) => Math.floor(n / 10_000) === k);
      assert.deepEqual(mine, Array.from({ length: 1000 }, (_, i) => k * 10_000 + i));
    }
    assert.equal(router.stats.forwarded, 2000);
    // The forwards in flight hold the router's slots: the target never sees more at once.
    assert.ok(most >= 1 && most <= 4, `${most} at once at the target`);
  } finally {
    await closeAll(...callers, echo, router);
  }
});
