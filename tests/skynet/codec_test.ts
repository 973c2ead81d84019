import assert from "node:assert/strict";
import { runScript } from "../_runtimes.ts";
import { cases } from "./_codec_cases.ts";

for (const { name, fn } of cases) Deno.test(name, fn);

const runner = new URL("./_runner.ts", import.meta.url).pathname;

for (const runtime of ["bun", "node"] as const) {
  Deno.test(`skynet value format: the same cases pass under ${runtime}`, async () => {
    const result = await runScript(runtime, runner, ["codec"]);
    assert.equal(result.code, 0, `${runtime} said:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^${cases.length} passed, 0 failed$`, "m"));
  });
}
