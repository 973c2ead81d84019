/**
 * Runs the security cases (cases.ts) on the runtime running this script,
 * over its own adapter, one at a time and each bounded in time; prints one
 * line per case and `N passed, N failed`, and exits non-zero on a failure.
 *
 * ```sh
 * bun tests/security/run_cases.ts CERTDIR
 * node24 tests/security/run_cases.ts CERTDIR
 * ```
 */

import { defaultTransport } from "../../src/transport/detect.ts";
import { readCerts } from "./_certs.ts";
import { securityCases } from "./cases.ts";

declare const process: { argv: string[]; exit(code: number): never };

// A hang guard per case (a loaded machine is slow, not failing).
const CASE_LIMIT = 120_000;
const certs = readCerts(process.argv[2]!);
const transport = await defaultTransport();
let passed = 0;
let failed = 0;
for (const c of securityCases) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result after ${CASE_LIMIT} ms`)), CASE_LIMIT);
  });
  try {
    await Promise.race([c.fn({ transport, certs }), limit]);
    passed++;
    console.log(`ok - ${transport.name}: ${c.name}`);
  } catch (error) {
    failed++;
    console.log(`not ok - ${transport.name}: ${c.name}`);
    console.log(String((error as Error)?.stack ?? error).replace(/^/gm, "    "));
  } finally {
    clearTimeout(timer);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
