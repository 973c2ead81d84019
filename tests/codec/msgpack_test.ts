import assert from "node:assert/strict";
import { runScript } from "../_runtimes.ts";
import { cases } from "./_msgpack_cases.ts";

for (const { name, fn } of cases) Deno.test(name, fn);

const runner = new URL("./_msgpack_runner.ts", import.meta.url).pathname;

for (const runtime of ["bun", "node"] as const) {
  Deno.test(`\`msgpack()\` resolves @msgpack/msgpack and passes its cases under ${runtime}`, async () => {
    const result = await runScript(runtime, runner);
    assert.equal(result.code, 0, `${runtime} said:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^${cases.length} passed, 0 failed$`, "m"));
  });
}
