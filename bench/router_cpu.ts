// CPU time per routed call with the router, the target service and the
// caller in one process on the memory transport (no sockets, no scheduling
// between processes): a figure that a busy machine disturbs less than the
// loopback benchmark's throughput. 256 calls in flight, raw 32-byte echo.
//
//   deno run -A bench/router_cpu.ts     bun bench/router_cpu.ts     node bench/router_cpu.ts
import process from "node:process";
import { raw } from "../src/codec/raw.ts";
import { Router } from "../src/router/router.ts";
import { Service } from "../src/router/service.ts";
import { target } from "../src/router/route.ts";
import { transport } from "../src/transport/memory.ts";
const router = new Router({ transport });
const l = await router.listen("127.0.0.1:0");
const routers = [`127.0.0.1:${l.address.port}`];
const codec = raw();
const t = new Service({ id: 0x20001, routers, ...codec, transport, call: (_s, _c, b) => b });
const c = new Service({ id: 0x10001, routers, ...codec, transport });
await t.start();
await c.start();
const body = new Uint8Array(32);
const to = target(0x20001);
async function run(n: number) {
  let done = 0;
  async function lane() {
    while (done < n) {
      done++;
      await c.call(to, 1, body);
    }
  }
  await Promise.all(Array.from({ length: 256 }, lane));
}
await run(200_000);
const best: number[] = [];
for (let r = 0; r < 5; r++) {
  const u0 = process.cpuUsage();
  await run(200_000);
  const u = process.cpuUsage(u0);
  best.push((u.user + u.system) / 200_000);
}
console.log(
  `cpu us per routed call (all three in one process): ${Math.min(...best).toFixed(2)} (runs ${
    best.map((x) => x.toFixed(2)).join(" ")
  })`,
);
await c.close();
await t.close();
await router.close();
