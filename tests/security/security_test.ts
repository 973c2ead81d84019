// The security cases (cases.ts) on Deno, case by case under the
// sanitizers, and under Bun and Node as child processes (run_cases.ts).

import assert from "node:assert/strict";
import { describeResult, runScript } from "../_runtimes.ts";
import { transport } from "../../src/transport/deno.ts";
import { makeCerts } from "./_certs.ts";
import { securityCases } from "./cases.ts";

const certs = await makeCerts();

for (const c of securityCases) {
  Deno.test({
    name: `security (deno): ${c.name}`,
    sanitizeOps: true,
    sanitizeResources: true,
    fn: () => c.fn({ transport, certs }),
  });
}

for (const runtime of ["bun", "node"] as const) {
  Deno.test(`security (${runtime}): every case passes on its own adapter`, async () => {
    const runner = new URL("./run_cases.ts", import.meta.url).pathname;
    const result = await runScript(runtime, runner, [certs.dir], 900_000);
    const output = describeResult(result);
    assert.equal(result.code, 0, output);
    assert.match(
      result.stdout,
      new RegExp(`^${securityCases.length} passed, 0 failed$`, "m"),
      output,
    );
  });
}
