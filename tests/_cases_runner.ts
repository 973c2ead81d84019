// Runs the `cases` (`{ name, fn }[]`, fn sync or async) exported by the
// module given as the first argument (an absolute path) under whichever
// runtime starts this file (Bun or Node, from a Deno test that also runs
// them itself), and prints one summary line: "N passed, N failed".

import process from "node:process";

const path = process.argv[2];
if (path === undefined) throw new Error("usage: _cases_runner.ts /absolute/path/to/_cases.ts");
const { cases } = await import(`file://${path}`) as {
  cases: { name: string; fn: () => void | Promise<void> }[];
};
let passed = 0;
let failed = 0;
for (const { name, fn } of cases) {
  try {
    await fn();
    passed++;
  } catch (error) {
    failed++;
    console.error(`FAIL ${name}:`, error);
  }
}
console.log(`${passed} passed, ${failed} failed`);
if (failed > 0) throw new Error(`${failed} case(s) failed`);
