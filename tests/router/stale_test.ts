// A service that takes its router for dead while the router still holds its
// connection (a path that stops carrying bytes both ways, as a partition
// does): the service reconnects and re-registers, the router refuses it as
// a duplicate id until its own heartbeats drop the stale connection, and the
// service keeps trying until it is back. Real loopback sockets; the path is
// a byte relay in the test's process that can be made to swallow bytes.

import assert from "node:assert/strict";
import { serviceId, target } from "../../src/router/mod.ts";
import { transport } from "../../src/transport/deno.ts";
import type { Connection, Listener } from "../../src/transport/types.ts";
import { closeAll, makeService, startRouter, until } from "./_fixture.ts";

/** A relay to `to`; `swallow()` makes every pair open now drop its bytes (both ways), not close. */
async function relay(to: string): Promise<{
  address: string;
  swallow(): void;
  close(): Promise<void>;
}> {
  const pairs: { swallowed: boolean; ends: Connection[] }[] = [];
  const listener: Listener = await transport.listen("127.0.0.1:0", (inbound) => {
    const pair = { swallowed: false, ends: [inbound] as Connection[] };
    pairs.push(pair);
    transport.connect(to).then((outbound) => {
      pair.ends.push(outbound);
      const pipe = (from: Connection, into: Connection) =>
        from.start({
          data: (chunk) => {
            if (!pair.swallowed && !into.isClosed) into.write(chunk.slice());
          },
          // The path is cut, not closed: a swallowed pair stays open.
          close: () => {
            if (!pair.swallowed) void into.close();
          },
        });
      pipe(inbound, outbound);
      pipe(outbound, inbound);
    }, () => void inbound.close());
  });
  return {
    address: `127.0.0.1:${listener.address.port}`,
    swallow: () => {
      for (const pair of pairs) pair.swallowed = true;
    },
    close: async () => {
      await listener.close();
      for (const pair of pairs) for (const end of pair.ends) await end.close();
    },
  };
}

Deno.test("router: a service cut off while the router still holds its connection re-registers once the router drops it", async () => {
  // The router finds a silent connection dead within 2 x 300 ms; the
  // service, within 2 x 100 ms: it comes back first and meets its own
  // stale registration.
  const { router, address } = await startRouter({ heartbeatInterval: 300, heartbeatMisses: 2 });
  const path = await relay(address);
  const lost: (string | undefined)[] = [];
  const { service: mail } = makeService(serviceId(2, 1), [path.address], {
    heartbeatInterval: 100,
    heartbeatMisses: 2,
    retryInterval: 50,
    onRouter: (router) => lost.push(router),
  });
  const { service: game } = makeService(serviceId(1, 1), [address]);
  try {
    await mail.start();
    await game.start();
    assert.equal(
      ((await game.call(target(serviceId(2, 1)), "who")) as { id: number }).id,
      serviceId(2, 1),
    );
    path.swallow();
    await until(() => lost.includes(undefined), 5000, "the service to take its router for dead");
    // Its new connection is refused (duplicate id) until the router drops
    // the old one; then the service is back without anyone's help.
    await until(() => mail.router === path.address, 10_000, "the service to be registered again");
    assert.equal(
      ((await game.call(target(serviceId(2, 1)), "who")) as { id: number }).id,
      serviceId(2, 1),
    );
    assert.ok(router.stats.refused >= 1, "the stale registration was never met");
  } finally {
    await closeAll(game, mail, router);
    await path.close();
  }
});
