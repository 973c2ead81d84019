// skynet's Lua configs read by a real Lua (src/nodes/lua_config.ts): the
// table of cases in _lua_config_cases.ts against weft's loader, and, where
// tests/skynet/capture.ts recorded them, against what skynet's own loader
// made of each case; the limits; the same cases under Bun and Node.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { isWeftError } from "../../src/errors.ts";
import { loadConfig, Nodes, type NodeTable, runLuaConfig } from "../../src/nodes/mod.ts";
import { transport } from "../../src/transport/deno.ts";
import { runScript } from "../_runtimes.ts";
import { configCases, type ConfigOutcome } from "./_lua_config_cases.ts";
import { MemoryLogger } from "../cluster/cases.ts";

async function outcomeOf(text: string): Promise<ConfigOutcome & { message?: string }> {
  let table: NodeTable;
  try {
    table = await loadConfig(text);
  } catch (error) {
    assert.ok(isWeftError(error, "bad config"), String(error));
    const line = /: line (\d+): /.exec(error.message);
    assert.ok(line, `the refusal names the line: ${error.message}`);
    return { refusedAt: Number(line[1]), message: error.message };
  }
  return { nodes: [...table.nodes], nowaiting: table.nowaiting };
}

const sorted = (o: ConfigOutcome) =>
  "nodes" in o ? { ...o, nodes: [...o.nodes].sort((a, b) => (a[0] < b[0] ? -1 : 1)) } : o;

for (const c of configCases) {
  Deno.test(`loadConfig(): ${c.name}`, async () => {
    const { message: _message, ...got } = await outcomeOf(c.text);
    assert.deepEqual(sorted(got), sorted(c.weft));
  });
}

Deno.test("loadConfig(): entries come in line order (of each key's last assignment)", async () => {
  const table = await loadConfig('b = "127.0.0.1:2"\na = "127.0.0.1:1"\nb = false\n');
  assert.deepEqual([...table.nodes.keys()], ["a", "b"]);
});

interface Recorded {
  name: string;
  text: string;
  outcome: ConfigOutcome;
  log?: string;
}

let recorded: { skynet: string; configs: Recorded[] } | undefined;
try {
  recorded = JSON.parse(
    readFileSync(new URL("../skynet/fixtures/configs.json", import.meta.url), "utf8"),
  );
} catch {
  recorded = undefined;
}

Deno.test("skynet's own loader (recorded by tests/skynet/capture.ts) gives each case's table, or refuses it", () => {
  assert.ok(recorded, "tests/skynet/fixtures/configs.json is committed");
  const configs: Recorded[] = recorded.configs;
  assert.equal(configs.length, configCases.length, "every case was run through skynet");
  for (const c of configCases) {
    const r: Recorded | undefined = configs.find((x) => x.name === c.name);
    assert.ok(r, `recorded: ${c.name}`);
    assert.equal(r.text, c.text, `the recorded text is the case's: ${c.name}`);
    const expected = c.skynet ?? c.weft;
    if ("refusedAt" in expected) {
      assert.ok(
        "refusedAt" in r.outcome,
        `${c.name}: skynet refused it (${JSON.stringify(r.outcome)})`,
      );
      assert.equal(r.outcome.refusedAt, expected.refusedAt, `${c.name}: the line skynet named`);
    } else {
      assert.deepEqual(sorted(r.outcome), sorted(expected), c.name);
    }
  }
});

Deno.test("runLuaConfig(): a config that loops or allocates without end is refused by the limits", async () => {
  const loop = await runLuaConfig("while true do end", { timeout: 50 }).catch((e) => e);
  assert.ok(isWeftError(loop, "bad config"));
  assert.match(loop.message, /ran longer than 50 ms \(option timeout\)/);
  const big = await runLuaConfig('local s = ("x"):rep(1e9)', { memory: 1 << 20 }).catch((e) => e);
  assert.ok(isWeftError(big, "bad config"));
  assert.match(big.message, /allocated more than 1048576 bytes \(option memory\)/);
  const grow = await runLuaConfig("local t = {} for i = 1, 1e9 do t[i] = i end", {
    timeout: 2000,
    memory: 1 << 20,
  }).catch((e) => e);
  assert.ok(isWeftError(grow, "bad config"));
  assert.match(grow.message, /option (memory|timeout)/);
  const deep = await runLuaConfig("local function f() return 1 + f() end f()").catch((e) => e);
  assert.ok(isWeftError(deep, "bad config") && /stack overflow|option memory/.test(deep.message));
  await assert.rejects(runLuaConfig("", { timeout: 0 }), RangeError);
  // After all that, the loader still works.
  assert.deepEqual(await runLuaConfig('db = "127.0.0.1:1"'), [
    { key: "db", value: "127.0.0.1:1", line: 1 },
  ]);
});

Deno.test("Nodes: reload takes Lua text (run as skynet runs it); Lua text to the constructor is a TypeError", async () => {
  assert.throws(
    () => new Nodes({ transport, config: 'db = "127.0.0.1:1"' }),
    (e: unknown) => e instanceof TypeError && /loadConfig/.test(e.message),
  );
  await using nodes = new Nodes({ transport, logger: new MemoryLogger() });
  await nodes.reload('local h = "127.0.0.1"\ndb = h .. ":1"\ndb2 = false\n__nowaiting = 1\n', {
    probe: false,
  });
  assert.deepEqual([...nodes.nodes()], [["db", "127.0.0.1:1"], ["db2", false]]);
  const refused = await nodes.reload('db = "127.0.0.1:2"\nx = {}\n').catch((e) => e);
  assert.ok(isWeftError(refused, "bad config") && /line 2/.test(refused.message));
  assert.deepEqual([...nodes.nodes()], [["db", "127.0.0.1:1"], ["db2", false]]);
  // __nowaiting = 1 is on: an absent node fails at once.
  const absent = await nodes.call("ghost", "s", "c", null, { timeout: 5000 }).catch((e) => e);
  assert.ok(isWeftError(absent, "unknown node"));
});

const runner = new URL("./_lua_config_runner.ts", import.meta.url).pathname;
for (const runtime of ["bun", "node"] as const) {
  Deno.test(`loadConfig(): the table of cases under ${runtime}`, async () => {
    const result = await runScript(runtime, runner);
    assert.equal(result.code, 0, `${runtime} said:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^${configCases.length + 1} passed, 0 failed$`, "m"));
  });
}
