// Bodies of every size cross a router intact, many in flight at once: small
// ones (built and answered in the router's and service's reused buffers),
// ones around the reused buffers' limit, and ones large enough to go in
// parts (which are queued by reference, so must never be lent or reused).

import assert from "node:assert/strict";
import { raw } from "../../src/codec/raw.ts";
import { target } from "../../src/router/route.ts";
import { Service } from "../../src/router/service.ts";
import { closeAll, QUIET, startRouter } from "./_fixture.ts";

Deno.test("router: calls of 0 B to 200 KiB, 120 in flight, each answered with its own bytes", async () => {
  const { router, address } = await startRouter();
  const codec = raw();
  const echo = new Service({
    id: 0x20001,
    routers: [address],
    ...codec,
    logger: QUIET,
    // answer with the body reversed, so an answer cannot be the request's own buffer
    call: (_source, _cmd, body) => (body as Uint8Array).slice().reverse(),
  });
  const caller = new Service({ id: 0x10001, routers: [address], ...codec, logger: QUIET });
  try {
    await echo.start();
    await caller.start();
    const sizes = [0, 1, 100, 490, 505, 511, 512, 600, 1023, 1025, 2000, 40_000, 200_000];
    const bodies = Array.from({ length: 120 }, (_, i) => {
      const body = new Uint8Array(sizes[i % sizes.length]!);
      for (let j = 0; j < body.length; j++) body[j] = (i * 31 + j * 7) & 0xff;
      return body;
    });
    const replies = await Promise.all(
      bodies.map((body) => caller.call(target(0x20001), 1, body, { timeout: 30_000 })),
    );
    for (let i = 0; i < bodies.length; i++) {
      const want = bodies[i]!.slice().reverse();
      const got = replies[i] as Uint8Array | undefined;
      assert.equal(got?.length ?? 0, want.length, `reply ${i} length`);
      if (want.length > 0) assert.deepEqual(got, want, `reply ${i} (${want.length} bytes)`);
    }
    assert.ok(router.stats.forwarded >= bodies.length);
  } finally {
    await closeAll(caller, echo, router);
  }
});
