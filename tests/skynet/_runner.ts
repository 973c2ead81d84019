// Runs the skynet codec and packet cases under whichever runtime starts
// this file (Bun or Node, from codec_test.ts and packet_test.ts) and
// prints one summary line.

import process from "node:process";
import { cases as codecCases } from "./_codec_cases.ts";
import { cases as packetCases } from "./_packet_cases.ts";

const which = process.argv[2] === "packet" ? packetCases : codecCases;
let passed = 0;
let failed = 0;
for (const { name, fn } of which) {
  try {
    fn();
    passed++;
  } catch (error) {
    failed++;
    console.error(`FAIL ${name}:`, error);
  }
}
console.log(`${passed} passed, ${failed} failed`);
if (failed > 0) throw new Error(`${failed} skynet case(s) failed`);
