// The router benchmark runs end to end in its quickest form, only to prove
// that it works (a benchmark is never a timed test: no figure is asserted).

import assert from "node:assert/strict";
import { describeResult, runScript } from "../_runtimes.ts";

const DRIVER = new URL("../../bench/router_loopback.ts", import.meta.url).pathname;

Deno.test("`bench/router_loopback.ts` measures direct, relayed and routed calls (plain, with keys, with TLS) at 1 and 256 in flight", async () => {
  const result = await runScript("deno", DRIVER, ["--warmup=20", "--duration=100"], 120_000);
  const context = describeResult(result);
  assert.equal(result.code, 0, context);
  for (const depth of [1, 256]) {
    for (const way of ["direct", "relay", "router", "router+keys", "router+tls"]) {
      assert.ok(result.stdout.includes(`| ${depth} | ${way} |`), context);
    }
  }
  assert.match(result.stdout, /^through the router: \d+% of direct throughput/m, context);
  assert.match(result.stdout, /^through the byte relay \(the floor\): \d+% of direct/m, context);
  assert.match(result.stdout, /^with key authentication: \d+% of the plain router's/m, context);
  assert.match(result.stdout, /^with mutual TLS: \d+% of the plain router's/m, context);
});
