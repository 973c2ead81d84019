// The router benchmark runs end to end in its quickest form, only to prove
// that it works (a benchmark is never a timed test: no figure is asserted).

import assert from "node:assert/strict";
import { runScript } from "../_runtimes.ts";

const DRIVER = new URL("../../bench/router_loopback.ts", import.meta.url).pathname;

Deno.test("`bench/router_loopback.ts` measures direct and routed calls at 1 and 256 in flight", async () => {
  const result = await runScript("deno", DRIVER, ["--warmup=20", "--duration=100"], 120_000);
  const context = `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  assert.equal(result.code, 0, context);
  for (const row of ["| 1 | direct |", "| 1 | router |", "| 256 | direct |", "| 256 | router |"]) {
    assert.ok(result.stdout.includes(row), context);
  }
  assert.match(result.stdout, /^through the router: \d+% of direct throughput/m, context);
});
