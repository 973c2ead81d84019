// The examples' self-check: each check prints one line; finish() prints the
// verdict and exits 1 if any check failed, so the test suite (and a reader)
// can tell a run that worked from one that did not.

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
