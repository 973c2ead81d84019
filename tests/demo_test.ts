// The README's main-job command, `deno task demo`, once: a Deno, a Bun and a
// Node node call each other and the demo prints its table; then the router
// part (routers, services in groups, a master by lease, a master and a
// router killed) on the embedded registry, and on etcd when there is one.

import assert from "node:assert/strict";
import { describeResult, runScript, spawnScript } from "./_runtimes.ts";
import { noEtcd, sayWhyIgnored, startEtcd } from "./discovery/_etcd.ts";

const DEMO = new URL("../examples/demo.ts", import.meta.url).pathname;
// A hang guard: the demo takes about 10 s on a quiet machine, 30-60 s on a busy one.
const LIMIT_MS = 300_000;

Deno.test("examples/demo.ts: three runtimes call each other, then routers and a master survive kills; its dashboard is live meanwhile", async () => {
  const child = await spawnScript("deno", DEMO, []);
  let result;
  try {
    // The dashboard it prints the address of shows the routers while they run.
    const url = (await child.waitFor(/^dashboard: open (http:\S+) /m, LIMIT_MS))[1]!;
    let kinds = new Set<string>();
    for (let i = 0; i < 600 && !(kinds.has("router") && kinds.has("service")); i++) {
      const view = await (await fetch(`${url}api/view`)).json();
      kinds = new Set(
        (view.nodes as { kind: string; up: boolean }[]).filter((n) => n.up).map((n) => n.kind),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(kinds.has("router") && kinds.has("service"), `the dashboard showed ${[...kinds]}`);
    const code = await child.exited(LIMIT_MS);
    result = { code: code ?? -1, stdout: child.stdout(), stderr: await child.stop() };
  } finally {
    await child.stop();
  }
  checkRouterPart(
    result.stdout,
    describeResult(result),
  );
  const output = describeResult(result);
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

sayWhyIgnored("tests/demo_test.ts");

Deno.test({
  name: "examples/demo.ts --etcd: the same demo on etcd",
  ignore: noEtcd,
  async fn() {
    const etcd = await startEtcd();
    try {
      const result = await runScript("deno", DEMO, ["--etcd", etcd.endpoint], LIMIT_MS);
      const output = describeResult(result);
      assert.equal(result.code, 0, output);
      assert.match(result.stdout, /^registry: etcd at /m, output);
      checkRouterPart(result.stdout, output);
    } finally {
      await etcd.close();
    }
  },
});

/** The router part's report: every mode answered, both switches timed, the master changed. */
function checkRouterPart(stdout: string, output: string): void {
  // Named nodes, by name, from the registry's table: every pair, each answered by its callee.
  const named = [
    ...stdout.matchAll(/^(deno|bun|node)\s+(deno|bun|node)\s+(\d+)\/(\d+) (\S+)\s+-$/gm),
  ];
  assert.equal(new Set(named.map((row) => `${row[1]}->${row[2]}`)).size, 6, output);
  for (const row of named) {
    assert.equal(row[3], row[4], `every call by name answered: ${row[0]}`);
    assert.equal(row[5], row[2], `answered by the named node: ${row[0]}`);
  }
  for (const mode of ["target", "random", "hash", "broadcast", "master"]) {
    const row = new RegExp(`^${mode}\\s+(\\d+)\\s+(.*)$`, "m").exec(stdout);
    assert.ok(row !== null && Number(row[1]) > 0, `${mode} calls were answered\n${output}`);
  }
  const masterSwitch = /^master switch (\S+) \((\w+)\) -> (\S+) \((\w+)\): (\d+) ms/m.exec(stdout);
  assert.ok(masterSwitch !== null, `the master switch was timed\n${output}`);
  assert.notEqual(masterSwitch[1], masterSwitch[3], `another service became master\n${output}`);
  const routerSwitch = /^router switch (\S+) -> (\S+): (\d+) ms/m.exec(stdout);
  assert.ok(routerSwitch !== null, `the router switch was timed\n${output}`);
  assert.notEqual(
    routerSwitch[1],
    routerSwitch[2],
    `the client moved to the other router\n${output}`,
  );
  assert.match(stdout, /^-- kill -9 master .* pid \d+\)$/m, output);
  assert.match(stdout, /^-- kill -9 router .* pid \d+\)$/m, output);
}
