// The examples' self-check: each check prints one line; finish() prints the
// verdict and exits 1 if any check failed, so the test suite (and a reader)
// can tell a run that worked from one that did not.

import { isWeftError } from "../src/errors.ts";

declare const process: { exit(code: number): never };

const failures: string[] = [];

/** Prints `ok - what` or `FAIL - what`, and remembers a failure. */
export function check(ok: boolean, what: string): void {
  console.log(`${ok ? "ok" : "FAIL"} - ${what}`);
  if (!ok) failures.push(what);
}

/** Prints the verdict; exits 1 if any check failed. */
export function finish(): void {
  if (failures.length > 0) {
    console.log(`${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log("all checks passed");
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `condition()` holds, looking every 5 ms, for at most
 * `limitMs` (generous: a busy machine is slow, not failing; the check that
 * follows says whether it happened).
 */
export async function until(condition: () => boolean, limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!condition() && Date.now() < end) await sleep(5);
}

/** The WeftError code a promise rejects with, or "no error". */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "no error";
  } catch (error) {
    return isWeftError(error) ? error.code : String(error);
  }
}
