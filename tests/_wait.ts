/**
 * Waiting for events in tests, on any runtime (Deno, and the Bun and Node
 * children that run the shared cases). A test waits for what it expects to
 * happen, never for a time; the bound on a wait is a hang guard, which only
 * decides how long a failing test takes to say so. So every bound is at
 * least {@linkcode WAIT_FLOOR_MS}, whatever its caller wrote: on a loaded
 * machine (tools/loaded_test.sh runs the suite beside two CPU burners) a
 * test that is merely slow must not fail.
 */

/** The least time any wait for an event is given before the test fails. */
export const WAIT_FLOOR_MS = 30_000;

/** A wait's bound: `limitMs`, raised to {@linkcode WAIT_FLOOR_MS}. */
export function waitLimit(limitMs: number): number {
  return Math.max(limitMs, WAIT_FLOOR_MS);
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` every few milliseconds until it is true; throws naming
 * `what` once {@linkcode waitLimit}(`limitMs`) has passed.
 */
export async function until(check: () => boolean, limitMs = 0, what = "condition"): Promise<void> {
  const end = Date.now() + waitLimit(limitMs);
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await delay(2);
  }
}
