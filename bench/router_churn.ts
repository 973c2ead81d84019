// Fixed-slot routing after id churn (issue 21), against a fresh group, in
// one run: a router, group 2 (three services, nothing else ever) and group
// 3 (three services, and CHURN more that came and went under new indexes,
// as services restarting under new ids do), all in one process on the
// memory transport (no sockets: CPU time per call is the steady figure).
// Then fixed-slot calls (`hash(group, key, { slots: true })`, 256 in
// flight) to each group in turn, alternating, five rounds; CPU µs per call,
// the best round of each, and how group 3's keys spread over its members.
//
//   deno run -A bench/router_churn.ts [--churn=65000] [--calls=200000]
//   bun bench/router_churn.ts         node bench/router_churn.ts

import process from "node:process";
import { raw } from "../src/codec/raw.ts";
import { Router } from "../src/router/router.ts";
import { Service } from "../src/router/service.ts";
import { hash } from "../src/router/route.ts";
import { transport } from "../src/transport/memory.ts";
import { args, options } from "./_common.ts";

const { flags } = options(args);
const churn = Number(flags.get("churn") ?? 65_000);
const calls = Number(flags.get("calls") ?? 200_000);
const codec = raw();
const router = new Router({ transport, logger: { error() {}, warn() {} } });
const l = await router.listen("127.0.0.1:0");
const routers = [`127.0.0.1:${l.address.port}`];
const members = (group: number) =>
  [1, 2, 3].map((index) => {
    const id = (group << 16) | index;
    return new Service({
      id,
      routers,
      ...codec,
      transport,
      call: () => Uint8Array.of(index),
    });
  });
const fresh = members(2);
const churned = members(3);
const caller = new Service({ id: 0x10001, routers, ...codec, transport });
for (const s of [...fresh, ...churned, caller]) await s.start();

const started = performance.now();
for (let i = 0; i < churn; i++) {
  const gone = new Service({ id: (3 << 16) | (10 + i), routers, ...codec, transport });
  await gone.start();
  await gone.close();
}
const churnMs = performance.now() - started;
const body = new Uint8Array(32);

async function run(group: number, n: number, spread?: number[]): Promise<void> {
  let next = 0;
  async function lane() {
    while (next < n) {
      const key = next++;
      const answer = (await caller.call(hash(group, key, { slots: true }), 1, body, {
        timeout: 600_000,
      })) as Uint8Array;
      if (spread !== undefined) spread[answer[0]! - 1]!++;
    }
  }
  await Promise.all(Array.from({ length: 256 }, lane));
}

const best = { fresh: Infinity, churned: Infinity };
for (let round = 0; round < 5; round++) {
  for (const [name, group] of [["fresh", 2], ["churned", 3]] as const) {
    await run(group, Math.min(20_000, calls / 10));
    const u0 = process.cpuUsage();
    await run(group, calls);
    const u = process.cpuUsage(u0);
    best[name] = Math.min(best[name], (u.user + u.system) / calls);
  }
}
const spread = [0, 0, 0];
await run(3, 30_000, spread);
console.log(
  `fixed-slot routing, CPU µs per call (256 in flight, one process, best of 5): fresh group ${
    best.fresh.toFixed(2)
  }, after ${churn} churned ids ${best.churned.toFixed(2)} (${
    (best.churned / best.fresh).toFixed(2)
  }x; target <= 1.5x: ${best.churned / best.fresh <= 1.5 ? "met" : "NOT met"}); churn took ${
    (churnMs / 1000).toFixed(1)
  } s; 30,000 keys of the churned group: ${spread.join(" / ")}`,
);
for (const s of [caller, ...fresh, ...churned]) await s.close();
await router.close();
