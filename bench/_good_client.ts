// The well-behaved process of the hostile-peer benchmarks (bench/attack.ts,
// bench/attack_body.ts): calls `echo` (cmd 1, raw codec) on one node, one
// call in flight, and prints `at MS CALLS FAILED` (Date.now() and running
// totals) every 100 ms, so the driver can count the calls completed in any
// window (alone, or beside an attack). A call that fails is counted and the
// next waits 10 ms. Exits after `--duration` ms (a bound: the driver stops
// it by its pid first). Runs under Deno, Bun and Node.
//
//   deno run -A bench/_good_client.ts HOST:PORT [--protocol=weft|silly] [--duration=600000]

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { args, exit, options } from "./_common.ts";

const { flags, positional } = options(args);
const address = positional[0]!;
const duration = Math.min(Number(flags.get("duration") ?? 600_000), 3_600_000);
const protocol = flags.get("protocol") === "silly" ? "silly" : "weft";

const cluster = new Cluster({
  codec: raw(),
  protocol,
  logger: { error() {}, warn() {} },
  timeout: 2000,
});
const peer = cluster.connect(address);
const body = new TextEncoder().encode("good");
let calls = 0;
let failed = 0;
const report = setInterval(() => console.log(`at ${Date.now()} ${calls} ${failed}`), 100);
const end = Date.now() + duration;
console.log("calling");
for (let i = 0; i < 1_000_000_000 && Date.now() < end; i++) {
  try {
    await cluster.call(peer, 1, body);
    calls++;
  } catch {
    failed++;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
clearInterval(report);
await cluster.close();
exit(0);
