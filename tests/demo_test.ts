// The README's main-job command, `deno task demo`, once: a Deno, a Bun and a
// Node node call each other and the demo prints its table.

import assert from "node:assert/strict";
import { runScript } from "./_runtimes.ts";

const DEMO = new URL("../examples/demo.ts", import.meta.url).pathname;
const LIMIT_MS = 120_000;

Deno.test("examples/demo.ts: three runtimes call each other and the table shows all of them", async () => {
  const result = await runScript("deno", DEMO, [], LIMIT_MS);
  const output = `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  assert.equal(result.code, 0, output);
  // One row per ordered pair: caller, callee, the runtime that answered, replies.
  const rows = [
    ...result.stdout.matchAll(/^(deno|bun|node)\s+(deno|bun|node) \S+\s+(\w+)\s+(\d+)\/(\d+)\s/gm),
  ];
  assert.equal(rows.length, 6, output);
  const pairs = new Set(rows.map((row) => `${row[1]}->${row[2]}`));
  assert.equal(pairs.size, 6, output);
  for (const row of rows) {
    assert.equal(row[3], row[2], `the callee's own runtime answered: ${row[0]}`);
    assert.equal(row[4], row[5], `every call got its reply: ${row[0]}`);
  }
  for (const runtime of ["deno", "bun", "node"]) {
    assert.ok(rows.some((row) => row[1] === runtime), `${runtime} calls\n${output}`);
    assert.ok(rows.some((row) => row[3] === runtime), `${runtime} answers\n${output}`);
  }
});
