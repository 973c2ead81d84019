// The cost of trust per routed call as CPU time, which a busy machine
// disturbs less than loopback throughput: three routers in one process
// (plain, key authentication, mutual TLS), each with a target service (2.1)
// and a caller (1.1) over real loopback sockets; 256 calls in flight, raw
// 32-byte echo; the three alternate, five rounds, best round of each. The
// caller, router and target of a way share the process, so each call's CPU
// is counted three times over (caller, router, target), as it would be
// across three processes.
//
//   deno run -A bench/router_trust_cpu.ts [--calls=100000]

import process from "node:process";
import { raw } from "../src/codec/raw.ts";
import { Router } from "../src/router/router.ts";
import { Service } from "../src/router/service.ts";
import { target } from "../src/router/route.ts";
import { makeCerts } from "../tests/security/_certs.ts";
import { args, options } from "./_common.ts";
import { type TrustMode, trustOptions } from "./_trust.ts";

const { flags } = options(args);
const calls = Number(flags.get("calls") ?? 100_000);
const certDir = (await makeCerts()).dir;
const codec = raw();
const echo = (_s: number, _c: number, body: unknown) => body;
const body = new Uint8Array(32);
const to = target(0x20001);
const modes: TrustMode[] = ["plain", "keys", "tls"];
const ways = new Map<TrustMode, { router: Router; services: Service[] }>();
for (const mode of modes) {
  const router = new Router(trustOptions(mode, "server", certDir));
  const l = await router.listen("127.0.0.1:0");
  const routers = [`127.0.0.1:${l.address.port}`];
  const client = trustOptions(mode, "client", certDir);
  const t = new Service({ id: 0x20001, routers, ...codec, ...client, call: echo });
  const c = new Service({ id: 0x10001, routers, ...codec, ...client });
  await t.start();
  await c.start();
  ways.set(mode, { router, services: [c, t] });
}

async function run(caller: Service, n: number): Promise<void> {
  let next = 0;
  async function lane() {
    while (next++ < n) await caller.call(to, 1, body);
  }
  await Promise.all(Array.from({ length: 256 }, lane));
}

const best = new Map<TrustMode, number>(modes.map((m) => [m, Infinity]));
for (let round = 0; round < 5; round++) {
  for (const mode of modes) {
    const caller = ways.get(mode)!.services[0]!;
    await run(caller, Math.min(20_000, calls / 5));
    const u0 = process.cpuUsage();
    await run(caller, calls);
    const u = process.cpuUsage(u0);
    best.set(mode, Math.min(best.get(mode)!, (u.user + u.system) / calls));
  }
}
const plain = best.get("plain")!;
console.log(
  `CPU µs per routed call (caller + router + target in one process, real loopback sockets, 256 in flight, best of 5): plain ${
    plain.toFixed(2)
  }, key authentication ${best.get("keys")!.toFixed(2)} (${
    (best.get("keys")! / plain).toFixed(2)
  }x), mutual TLS ${best.get("tls")!.toFixed(2)} (${(best.get("tls")! / plain).toFixed(2)}x)`,
);
for (const { router, services } of ways.values()) {
  for (const s of services) await s.close();
  await router.close();
}
