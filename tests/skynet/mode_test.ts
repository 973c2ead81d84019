import assert from "node:assert/strict";
import { runScript } from "../_runtimes.ts";
import { cases } from "./_mode_cases.ts";

for (const { name, fn } of cases) Deno.test(name, fn);

const runner = new URL("../_cases_runner.ts", import.meta.url).pathname;
const module = new URL("./_mode_cases.ts", import.meta.url).pathname;

for (const runtime of ["bun", "node"] as const) {
  Deno.test(`skynet mode: the same cases pass under ${runtime} (fixtures and loopback)`, async () => {
    const result = await runScript(runtime, runner, [module], 120_000);
    assert.equal(result.code, 0, `${runtime} said:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^${cases.length} passed, 0 failed$`, "m"));
  });
}
