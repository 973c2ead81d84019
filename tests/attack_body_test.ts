// bench/attack_body.ts runs end to end in its quickest mode, only to prove
// that it works: a benchmark is never a timed test, so no figure is
// asserted, only that the report has its rows.

import assert from "node:assert/strict";
import { runScript } from "./_runtimes.ts";

const SCRIPT = new URL("../bench/attack_body.ts", import.meta.url).pathname;

Deno.test("`bench/attack_body.ts` measures bodies, length prefixes, logs and a flood", async () => {
  const result = await runScript("deno", SCRIPT, [
    "--runtimes=deno",
    "--connections=20",
    "--garbage=10",
    "--duration=200",
    "--body-mib=1",
    "--repeat=1",
  ], 120_000);
  const context = `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  assert.equal(result.code, 0, context);
  const rows = result.stdout.split("\n").filter((l) => l.startsWith("| deno |"));
  // 4 body rows, 1 prefix row, 1 log row, 3 flood rows.
  assert.equal(rows.length, 9, context);
  assert.match(
    result.stdout,
    /\| deno \| msgpack \| .* \| maxElements 1,000,000 \(default\) \| refused \(unmarshal failed\)/,
    context,
  );
});
