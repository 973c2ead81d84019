// Runs the skynet mode's cases (fixtures and loopback) under whichever
// runtime starts this file (Bun or Node, from mode_test.ts) and prints one
// summary line.

import { cases } from "./_mode_cases.ts";

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
if (failed > 0) throw new Error(`${failed} skynet mode case(s) failed`);
