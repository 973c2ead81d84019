// CPU time per call with the router, the target service and the caller in
// one process on the memory transport (no sockets, no scheduling between
// processes), direct and through a router: figures that a busy machine
// disturbs less than the loopback benchmark's throughput. 256 calls in
// flight, raw 32-byte echo.
//
//   deno run -A bench/router_cpu.ts     bun bench/router_cpu.ts     node bench/router_cpu.ts

import process from "node:process";
import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { Router } from "../src/router/router.ts";
import { Service } from "../src/router/service.ts";
import { target } from "../src/router/route.ts";
import { transport } from "../src/transport/memory.ts";

const codec = raw();
const echo = (_a: unknown, _c: number, body: unknown) => body;
const router = new Router({ transport });
const l = await router.listen("127.0.0.1:0");
const routers = [`127.0.0.1:${l.address.port}`];
const t = new Service({ id: 0x20001, routers, ...codec, transport, call: echo });
const c = new Service({ id: 0x10001, routers, ...codec, transport });
await t.start();
await c.start();
const server = new Cluster({ ...codec, transport, call: echo });
const sl = await server.listen("127.0.0.1:0");
const client = new Cluster({ ...codec, transport });
const peer = client.connect(`127.0.0.1:${sl.address.port}`);
const body = new Uint8Array(32);
const to = target(0x20001);
const ways = {
  direct: () => client.call(peer, 1, body),
  router: () => c.call(to, 1, body),
};

async function run(call: () => Promise<unknown>, n: number) {
  let done = 0;
  async function lane() {
    while (done < n) {
      done++;
      await call();
    }
  }
  await Promise.all(Array.from({ length: 256 }, lane));
}

const best = { direct: Infinity, router: Infinity };
for (let r = 0; r < 5; r++) {
  for (const way of ["direct", "router"] as const) {
    await run(ways[way], 20_000);
    const u0 = process.cpuUsage();
    await run(ways[way], 200_000);
    const u = process.cpuUsage(u0);
    best[way] = Math.min(best[way], (u.user + u.system) / 200_000);
  }
}
console.log(
  `CPU us per call, 256 in flight, one process: direct ${
    best.direct.toFixed(2)
  }, through a router ${best.router.toFixed(2)} (${(best.router / best.direct).toFixed(2)}x)`,
);
await client.close();
await server.close();
await c.close();
await t.close();
await router.close();
