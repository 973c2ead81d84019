/**
 * Runs every cluster behaviour case over the adapter of the runtime running
 * this script (picked by `defaultTransport()`), one case at a time, each
 * bounded in time: the common cases (cases.ts) in both protocols, weft and
 * silly, then weft mode's own (weft_cases.ts), as cluster_test.ts does on
 * Deno. Prints one line per case and a final
 * `N passed, N failed` line; exits non-zero if any case failed.
 *
 * ```sh
 * bun tests/cluster/run_cases.ts
 * node24 tests/cluster/run_cases.ts
 * deno run -A tests/cluster/run_cases.ts
 * ```
 *
 * An optional argument filters cases by a substring of their name.
 */

import { cases } from "./cases.ts";
import { weftCases } from "./weft_cases.ts";
import { limitCases, weftLimitCases } from "./limits_cases.ts";
import { tracingCases, weftTracingCases } from "./tracing_cases.ts";
import { defaultTransport } from "../../src/transport/detect.ts";

declare const process: {
  argv: string[];
  exit(code: number): never;
  on(event: "unhandledRejection", listener: (reason: unknown) => void): void;
};

// A hang guard per case (a loaded machine is slow, not failing).
const CASE_LIMIT = 120_000;

/** Rejects if `promise` does not settle within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

// A promise a case left rejected with no handler would end the whole run
// (Node's default); count it as a failure of the case that just ran instead.
const stray: unknown[] = [];
process.on("unhandledRejection", (reason) => stray.push(reason));
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

const filter = process.argv[2];
const transport = await defaultTransport();
let passed = 0;
let failed = 0;
const runs = [
  ...[...cases, ...limitCases, ...tracingCases].map((c) => ({
    ...c,
    name: `(weft) ${c.name}`,
    protocol: "weft" as const,
  })),
  ...[...cases, ...limitCases, ...tracingCases].map((c) => ({
    ...c,
    name: `(silly) ${c.name}`,
    protocol: "silly" as const,
  })),
  ...[...weftCases, ...weftLimitCases, ...weftTracingCases].map((c) => ({
    ...c,
    protocol: "weft" as const,
  })),
];
for (const c of runs) {
  if (filter !== undefined && !c.name.includes(filter)) continue;
  const started = performance.now();
  try {
    await within(c.fn({ transport, host: "127.0.0.1", protocol: c.protocol }), CASE_LIMIT, c.name);
    await tick();
    if (stray.length > 0) {
      const reasons = stray.splice(0).map((r) => String((r as Error)?.stack ?? r)).join("\n");
      throw new Error(`unhandled rejection(s) during or right after the case:\n${reasons}`);
    }
    passed++;
    console.log(
      `ok - ${transport.name}: ${c.name} (${Math.round(performance.now() - started)} ms)`,
    );
  } catch (error) {
    failed++;
    console.log(`not ok - ${transport.name}: ${c.name}`);
    console.log(String((error as Error)?.stack ?? error).replace(/^/gm, "    "));
  }
}
console.log(`${passed} passed, ${failed} failed`);
// Exit explicitly: a case that timed out may have left a socket behind.
process.exit(failed === 0 ? 0 : 1);
