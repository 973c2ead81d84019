/**
 * The well-behaved side of the attack tests: the commands of the good
 * services, and a caller that measures its calls/s and checks every answer.
 * The only timing-derived assertion of these tests is `keepsItsRate`: the
 * rate during an attack is at least half the rate just before it (the best
 * of a few tries, so one slow moment of a loaded machine does not fail it).
 */

import assert from "node:assert/strict";
import type { Route } from "../../src/router/route.ts";
import type { Service } from "../../src/router/service.ts";

/** The good services' commands. */
export const TARGET_COMMANDS = { who: 1, claim: 2 };

/** A good answer: which service answered, and its token. */
export interface WhoAnswer {
  id: number;
  token: string;
  echo: unknown;
}

/**
 * Calls `count` times (`depth` in flight), cycling through `routes`, and
 * returns calls/s. Every answer must come from a service in `tokens` with
 * its token, and echo its body; `allowed(route, id)` says whether `id` may
 * answer `route`.
 *
 * @throws {AssertionError} At the first wrong answer or failed call.
 */
export async function measure(
  caller: Service,
  routes: readonly Route[],
  tokens: ReadonlyMap<number, string>,
  allowed: (route: Route, id: number) => boolean,
  count = 3000,
  depth = 8,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  async function lane(): Promise<void> {
    while (next < count) {
      const i = next++;
      const route = routes[i % routes.length]!;
      const answer = (await caller.call(route, TARGET_COMMANDS.who, i)) as WhoAnswer;
      assert.equal(answer.echo, i, "the answer echoes its own call");
      assert.equal(tokens.get(answer.id), answer.token, `a forged answer from ${answer.id}`);
      assert.ok(allowed(route, answer.id), `${answer.id} answered route ${route.mode}/${route.to}`);
    }
  }
  await Promise.all(Array.from({ length: depth }, lane));
  return count / ((performance.now() - started) / 1000);
}

/**
 * Asserts the rate during an attack is at least half of `before`: up to
 * `tries` measurements, the best counts. Returns the ratio.
 */
export async function keepsItsRate(
  before: number,
  during: () => Promise<number>,
  what: string,
  tries = 3,
): Promise<number> {
  let best = 0;
  for (let i = 0; i < tries && best < before * 0.5; i++) best = Math.max(best, await during());
  const ratio = best / before;
  console.log(
    `${what}: ${before.toFixed(0)} calls/s before, ${best.toFixed(0)} during (${
      (ratio * 100).toFixed(0)
    }%)`,
  );
  assert.ok(
    ratio >= 0.5,
    `${what}: ${best.toFixed(0)} calls/s during the attack against ${before.toFixed(0)} before (${
      (ratio * 100).toFixed(0)
    }%)`,
  );
  return ratio;
}
