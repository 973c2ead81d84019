// Every port of a silly cluster documentation example (examples/cluster_*.ts)
// runs under Deno, Bun and Node, and exits 0 by itself (each checks its own
// results and closes everything).

import assert from "node:assert/strict";
import { runScript, type RuntimeName } from "./_runtimes.ts";

const EXAMPLES = [
  "cluster_simple_rpc.ts",
  "cluster_multi_node.ts",
  "cluster_broadcast.ts",
  "cluster_load_balance.ts",
  "cluster_listen.ts",
  "cluster_connect.ts",
  "cluster_call.ts",
  "cluster_send.ts",
  "cluster_close.ts",
  "typed_commands.ts",
  "router_mail.ts",
  "stats_http.ts",
  "nodes_cluster.ts",
  "otel_spans.ts",
];
const RUNTIMES: RuntimeName[] = ["deno", "bun", "node"];
const DIR = new URL("../examples/", import.meta.url);
// A hang guard per example (a busy machine is slow, not failing).
const LIMIT_MS = 300_000;

Deno.test("examples: every examples/cluster_*.ts is in the list this test runs", () => {
  const found = [...Deno.readDirSync(DIR)]
    .map((entry) => entry.name)
    .filter((name) => /^cluster_.*\.ts$/.test(name))
    .sort();
  assert.deepEqual(found, EXAMPLES.filter((name) => name.startsWith("cluster_")).sort());
});

for (const example of EXAMPLES) {
  for (const runtime of RUNTIMES) {
    Deno.test(`examples: ${example} exits 0 under ${runtime}`, async () => {
      const result = await runScript(runtime, new URL(example, DIR).pathname, [], LIMIT_MS);
      assert.equal(
        result.code,
        0,
        `${example} under ${runtime} exited ${result.code}\n` +
          `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
      );
      assert.match(result.stdout, /^all checks passed$/m);
    });
  }
}
