// Runs the Lua config cases (and one limit) under Bun or Node, from
// lua_config_test.ts; prints one summary line.

import { isDeepStrictEqual } from "node:util";
import process from "node:process";
import { loadConfig, runLuaConfig } from "../../src/nodes/mod.ts";
import { configCases, type ConfigOutcome } from "./_lua_config_cases.ts";

const sorted = (o: ConfigOutcome) =>
  "nodes" in o ? { ...o, nodes: [...o.nodes].sort((a, b) => (a[0] < b[0] ? -1 : 1)) } : o;

let passed = 0;
let failed = 0;
for (const c of configCases) {
  let got: ConfigOutcome;
  try {
    const table = await loadConfig(c.text);
    got = { nodes: [...table.nodes], nowaiting: table.nowaiting };
  } catch (error) {
    const line = /: line (\d+): /.exec((error as Error).message);
    got = { refusedAt: line === null ? -1 : Number(line[1]) };
  }
  if (isDeepStrictEqual(sorted(got), sorted(c.weft))) passed++;
  else {
    failed++;
    console.error(`FAIL ${c.name}: ${JSON.stringify(got)}`);
  }
}
try {
  await runLuaConfig("while true do end", { timeout: 50 });
  failed++;
  console.error("FAIL the endless loop was not stopped");
} catch (error) {
  if (/option timeout/.test((error as Error).message)) passed++;
  else {
    failed++;
    console.error(`FAIL the endless loop: ${error}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
if (failed > 0) process.exitCode = 1;
