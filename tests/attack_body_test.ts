// bench/attack_body.ts runs end to end in its quickest mode, only to prove
// that it works: a benchmark is never a timed test, so no figure is
// asserted, only that the report has its rows. The same for issue 22's
// attacks in bench/attack_body.ts and bench/attack.ts.

import assert from "node:assert/strict";
import { describeResult, runScript } from "./_runtimes.ts";

const SCRIPT = new URL("../bench/attack_body.ts", import.meta.url).pathname;
const ATTACK = new URL("../bench/attack.ts", import.meta.url).pathname;

Deno.test("`bench/attack_body.ts` measures bodies, length prefixes, logs and a flood", async () => {
  const result = await runScript("deno", SCRIPT, [
    "--runtimes=deno",
    "--connections=20",
    "--garbage=10",
    "--duration=200",
    "--body-mib=1",
    "--repeat=1",
  ], 120_000);
  const context = describeResult(result);
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

Deno.test("`bench/attack_body.ts` and `bench/attack.ts` measure issue 22's attacks beside a good client", async () => {
  const body = await runScript("deno", SCRIPT, [
    "--runtimes=deno",
    "--parts=issue22",
    "--partials=4",
    "--announced=20",
    "--refusals=2000",
    "--exceptions=1000",
  ], 180_000);
  const bodyContext = describeResult(body);
  assert.equal(body.code, 0, bodyContext);
  // partials, announced, and three refusal rows (authorize twice, exceptions).
  const bodyRows = body.stdout.split("\n").filter((l) => l.startsWith("| deno |"));
  assert.equal(bodyRows.length, 5, bodyContext);
  const attack = await runScript("deno", ATTACK, [
    "--runtimes=deno",
    "--parts=issue22",
    "--storm=2000",
    "--idle=20",
    "--handler-conns=3",
  ], 180_000);
  const context = describeResult(attack);
  assert.equal(attack.code, 0, context);
  // timeouts, hang-ups (weft, silly), lockout, handlers.
  const rows = attack.stdout.split("\n").filter((l) => l.startsWith("| deno |"));
  assert.equal(rows.length, 5, context);
});
