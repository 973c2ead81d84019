/**
 * The attack tests' router, on Deno, Bun or Node: `_router_node.ts`. Key
 * authentication (key id `router` of the test ring) and a policy: `good` may
 * announce groups 1 to 3 and claim master of group 2; `intruder` only group
 * 9; nobody else anything. Short deadlines so the tests run quickly
 * (heartbeats every 500 ms, the handshake within 2 s). Prints `listening
 * HOST:PORT`, then `stats {json}` every 200 ms, and each log line as `log
 * MS LEVEL MESSAGE` (MS: milliseconds since start).
 */

import { Router } from "../../src/router/router.ts";
import { routerPolicy } from "../../src/router/policy.ts";
import { formatAddress } from "../../src/transport/address.ts";
import { authAs } from "./_keys.ts";

const start = Date.now();
const line = (level: string) => (message: string) =>
  console.log(`log ${Date.now() - start} ${level} ${JSON.stringify(message)}`);
const router = new Router({
  ...authAs("router"),
  policy: routerPolicy({
    good: { announce: [{ group: 1 }, { group: 2 }, { group: 3 }], master: [2] },
    intruder: { announce: [{ group: 9 }] },
  }),
  heartbeatInterval: 500,
  handshakeTimeout: 2000,
  logger: { error: line("error"), warn: line("warn") },
});
const listener = await router.listen("127.0.0.1:0");
console.log(`listening ${formatAddress(listener.address)}`);
setInterval(() => {
  console.log(
    `stats ${
      JSON.stringify({
        ...router.stats,
        connections: listener.connections,
        listenerRefused: listener.refused,
        master2: router.master(2) ?? null,
        members2: router.members(2),
      })
    }`,
  );
}, 200);
