// Runs the msgpack codec's cases under whichever runtime starts this file
// (Bun or Node, from msgpack_test.ts) and prints one summary line.

import { cases } from "./_msgpack_cases.ts";

let passed = 0;
let failed = 0;
for (const { name, fn } of cases) {
  try {
    fn();
    passed++;
  } catch (error) {
    failed++;
    console.error(`FAIL ${name}:`, error);
  }
}
console.log(`${passed} passed, ${failed} failed`);
if (failed > 0) throw new Error(`${failed} msgpack case(s) failed`);
