/**
 * The well-behaved side of the attack tests: the commands of the good
 * services, and a caller that measures its calls/s and checks every answer.
 * The only timing-derived assertion of these tests is `keepsItsRate`: the
 * rate during an attack (the best of up to five 400 ms windows) is at least
 * half the rate just before it (the median of three): one slow moment of a
 * loaded machine does not fail it, an attack that halves the rate does.
 */

import assert from "node:assert/strict";
import type { Route } from "../../src/router/route.ts";
import type { Service } from "../../src/router/service.ts";

/**
 * The bound on the trust tests' waits for their child processes (startup,
 * an attack getting going): a hang guard. On a loaded machine a reniced
 * attacker opening 1,000 connections took over 30 s.
 */
export const HANG_GUARD = 120_000;

/** The good services' commands. */
export const TARGET_COMMANDS = { who: 1, claim: 2 };

/** A good answer: which service answered, and its token. */
export interface WhoAnswer {
  id: number;
  token: string;
  echo: unknown;
}

/**
 * Calls for `durationMs` (`depth` in flight), cycling through `routes`, and
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
  durationMs = 400,
  depth = 8,
): Promise<number> {
  return await callsPerSecond(
    async (i) => {
      const route = routes[i % routes.length]!;
      const answer = (await caller.call(route, TARGET_COMMANDS.who, i)) as WhoAnswer;
      assert.equal(answer.echo, i, "the answer echoes its own call");
      assert.equal(tokens.get(answer.id), answer.token, `a forged answer from ${answer.id}`);
      assert.ok(allowed(route, answer.id), `${answer.id} answered route ${route.mode}/${route.to}`);
    },
    durationMs,
    depth,
  );
}

/** Runs `call(i)` for `durationMs`, `depth` at a time (at most 1,000,000 calls); calls/s. */
export async function callsPerSecond(
  call: (i: number) => Promise<void>,
  durationMs = 400,
  depth = 8,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  const end = started + durationMs;
  async function lane(): Promise<void> {
    while (performance.now() < end && next < 1_000_000) await call(next++);
  }
  await Promise.all(Array.from({ length: depth }, lane));
  return next / ((performance.now() - started) / 1000);
}

/** The median of three measurements: the rate before an attack. */
export async function baseline(rate: () => Promise<number>): Promise<number> {
  const samples = [await rate(), await rate(), await rate()].sort((a, b) => a - b);
  return samples[1]!;
}

/** An attacker process that can be paused (SIGSTOP) and resumed (SIGCONT). */
export interface Pausable {
  signal(signal: "SIGSTOP" | "SIGCONT"): void;
}

/**
 * Asserts the rate during an attack is at least half the rate without it.
 * Up to `tries` rounds: a 400 ms window with the attack running, compared
 * with `before` (the median of three windows before the attack began);
 * failing that, with a window right after it while the attacker is paused
 * (SIGSTOP: its connections stay, its activity stops). The machine is
 * shared, and other work on it can halve every rate for seconds; a rate
 * measured next to the attack's own, with only the attacker's activity
 * taken away, says what the attack costs. Returns the ratio that passed.
 */
export async function keepsItsRate(
  rate: () => Promise<number>,
  before: number,
  what: string,
  attacker?: Pausable,
  tries = 5,
): Promise<number> {
  const seen: string[] = [];
  for (let i = 0; i < tries; i++) {
    const during = await rate();
    let reference = before;
    let ratio = during / reference;
    if (ratio < 0.5 && attacker !== undefined) {
      attacker.signal("SIGSTOP");
      try {
        reference = await rate();
      } finally {
        attacker.signal("SIGCONT");
      }
      ratio = during / reference;
    }
    seen.push(`${during.toFixed(0)}/${reference.toFixed(0)}`);
    if (ratio >= 0.5) {
      console.log(
        `${what}: ${during.toFixed(0)} calls/s during the attack, ${
          reference.toFixed(0)
        } without (${(ratio * 100).toFixed(0)}%)`,
      );
      return ratio;
    }
  }
  assert.fail(
    `${what}: under half the rate without the attack in ${tries} tries (during/without: ${
      seen.join(", ")
    } calls/s)`,
  );
}
