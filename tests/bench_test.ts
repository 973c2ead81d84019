// The loopback benchmark's driver runs end to end, in its quickest mode,
// only to prove that it works: a benchmark is never a timed test, so no
// figure is asserted, only that the report has its rows.

import assert from "node:assert/strict";
import { describeResult, runScript } from "./_runtimes.ts";

const DRIVER = new URL("../bench/rpc_loopback.ts", import.meta.url).pathname;

Deno.test({
  name:
    "`bench/rpc_loopback.ts` runs weft (over TCP and TLS), the promise floor, the ceiling and a burst, and reports memory",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const result = await runScript("deno", DRIVER, [
      "--quick",
      "--runtimes=deno",
      "--placements=one",
      "--payloads=32",
      "--depths=1,256",
      "--bursts=64",
      "--warmup=20",
      "--duration=100",
      "--conns=20",
      "--sample=10",
      "--pending=100",
      "--tls=true",
    ], 120_000);
    const context = describeResult(result);
    assert.equal(result.code, 0, context);
    assert.match(result.stdout, /^Machine: \d+ CPUs/m, context);
    const rows = result.stdout.split("\n").filter((l) =>
      l.startsWith("| deno → deno | one core | 32 B |")
    );
    // Two rows against the floor and the ceiling, two of TLS against TCP.
    assert.equal(rows.length, 4, context);
    for (const row of rows) assert.doesNotMatch(row, /failed/, context);
    const main = rows.map((row) => row.split("|").map((c) => c.trim()).slice(1, -1))
      .filter((cells) => cells.length === 13);
    assert.equal(main.length, 2, context);
    for (const cells of main) {
      // weft, promise floor and ceiling rates, then the three ratios.
      for (const cell of cells.slice(4, 7)) assert.match(cell, /^[\d.]+( [kM])?$/, context);
      for (const cell of cells.slice(7, 10)) assert.match(cell, /^\d+\.\d\d$/, context);
    }
    // The burst case: 64 held calls answered in one batch, with a rate.
    assert.match(
      result.stdout,
      /^\| deno → deno \| one core \| 64 \| 64\.5 KiB \| [\d.]+( [kM])? \|/m,
      context,
    );
    assert.match(result.stdout, /^\| deno \| [\d.]+ (B|KiB|MiB), /m, context);
  },
});

const MIXED = new URL("../bench/mixed.ts", import.meta.url).pathname;

Deno.test({
  name:
    "`bench/mixed.ts` runs a heavy and a light client alone and together against one server and reports both rows",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const result = await runScript("deno", MIXED, [
      "--runtime=deno",
      "--heavy=32",
      "--rounds=1",
      "--duration=100",
    ], 120_000);
    const context = describeResult(result);
    assert.equal(result.code, 0, context);
    const rows = result.stdout.split("\n").filter((l) => /^\| (heavy|light) /.test(l));
    assert.equal(rows.length, 2, context);
    for (const row of rows) {
      const cells = row.split("|").map((c) => c.trim()).slice(1, -1);
      assert.match(cells[1]!, /^\d+$/, context);
      assert.ok(Number(cells[1]) > 0, `no calls alone: ${context}`);
      assert.match(cells[3]!, /^\d+\.\d\d$/, context);
    }
  },
});
