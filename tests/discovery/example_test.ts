// examples/discovery_failover.ts (a master killed with kill -9, another
// takes over) runs to the end with every check passing.

import assert from "node:assert/strict";
import { runScript } from "../_runtimes.ts";
import { noEtcd, sayWhyIgnored } from "./_etcd.ts";

sayWhyIgnored("tests/discovery/example_test.ts");

Deno.test({
  name: "examples: discovery_failover.ts exits 0 with every check passed",
  ignore: noEtcd,
  async fn() {
    const script = new URL("../../examples/discovery_failover.ts", import.meta.url).pathname;
    const result = await runScript("deno", script, [], 300_000);
    assert.equal(
      result.code,
      0,
      `exited ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
    assert.match(result.stdout, /^all checks passed$/m);
    assert.match(result.stdout, /switched to orders\/\w+ in \d+ ms/);
  },
});
