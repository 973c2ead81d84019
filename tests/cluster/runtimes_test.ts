// The cluster's behaviour cases (cases.ts) under Bun and Node, each with its
// own adapter: run_cases.ts runs them in a child process of that runtime.

import assert from "node:assert/strict";
import { describeResult, runScript, type RuntimeName } from "../_runtimes.ts";

const RUNNER = new URL("./run_cases.ts", import.meta.url).pathname;
// The whole run's hang guard (each case has its own, 120 s).
const LIMIT_MS = 900_000;

for (const runtime of ["bun", "node"] as RuntimeName[]) {
  Deno.test(`Cluster (${runtime}) every behaviour case passes on its own adapter`, async () => {
    const result = await runScript(runtime, RUNNER, [], LIMIT_MS);
    const output = describeResult(result);
    assert.equal(result.code, 0, `cases failed under ${runtime}: ${output}`);
    assert.match(result.stdout, /^\d+ passed, 0 failed$/m, output);
    assert.doesNotMatch(result.stdout, /^0 passed/m, output);
  });
}
