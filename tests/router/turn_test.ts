// The router's fairness turn (`maxRequestsPerTurn`, default 256 forwards):
// checked at construction like the cluster's option, and whatever its size a
// pipelined burst from one service reaches its target whole and in order.

import assert from "node:assert/strict";
import { raw } from "../../src/codec/raw.ts";
import { Router } from "../../src/router/router.ts";
import { target } from "../../src/router/route.ts";
import { Service } from "../../src/router/service.ts";
import { closeAll, QUIET, startRouter } from "./_fixture.ts";
import { until } from "../_wait.ts";

Deno.test("router: a bad maxRequestsPerTurn is refused at construction, naming the option", () => {
  assert.throws(() => new Router({ maxRequestsPerTurn: 0 }), /maxRequestsPerTurn/);
  assert.throws(() => new Router({ maxRequestsPerTurn: 1.5 }), RangeError);
  assert.throws(
    () => new Router({ maxRequestsPerTurn: "64" as unknown as number }),
    (error: unknown) => error instanceof TypeError && /maxRequestsPerTurn/.test(error.message),
  );
});

for (const perTurn of [1, 7, undefined, Infinity]) {
  Deno.test(`router: 3,000 pipelined calls and 1,000 sends, ${perTurn ?? "the default"} per turn, all forwarded in order`, async () => {
    const { router, address } = await startRouter(
      perTurn === undefined ? {} : { maxRequestsPerTurn: perTurn },
    );
    const codec = raw();
    const seen: number[] = [];
    const echo = new Service({
      id: 0x20001,
      routers: [address],
      ...codec,
      logger: QUIET,
      call: (_source, _cmd, body) => {
        const bytes = body as Uint8Array;
        seen.push(new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true));
        return bytes.slice();
      },
    });
    const caller = new Service({ id: 0x10001, routers: [address], ...codec, logger: QUIET });
    try {
      await echo.start();
      await caller.start();
      const numbered = (n: number) => {
        const body = new Uint8Array(24);
        new DataView(body.buffer).setUint32(0, n, true);
        return body;
      };
      const to = target(0x20001);
      const calls: Promise<unknown>[] = [];
      for (let n = 0; n < 4000; n++) {
        // every fourth a one-way send, in the same stream
        if (n % 4 === 3) await caller.send(to, 1, numbered(n));
        else calls.push(caller.call(to, 1, numbered(n), { timeout: 120_000 }));
      }
      const replies = await Promise.all(calls);
      assert.equal(replies.length, 3000);
      replies.forEach((reply, i) => {
        const n = i + Math.floor(i / 3);
        const got = new DataView((reply as Uint8Array).buffer, (reply as Uint8Array).byteOffset, 4);
        assert.equal(got.getUint32(0, true), n, `reply ${i}`);
      });
      // the last sends may still be on their way
      await until(() => seen.length >= 4000, 0, "every send at the target");
      assert.equal(seen.length, 4000);
      assert.deepEqual(seen, Array.from({ length: 4000 }, (_, n) => n));
      assert.equal(router.stats.forwarded, 4000);
      assert.equal(router.stats.dropped, 0);
    } finally {
      await closeAll(caller, echo, router);
    }
  });
}
