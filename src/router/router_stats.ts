/**
 * A router's numbers per group (made when the router has `stats` on):
 * forwards, refusals and drops per group, and the latency of forwarded
 * calls (the round trip from the router to the target and back, one call
 * in `timeEvery` timed). A route is a group's traffic: calls by target id
 * count in the target's group, the others in the group they name.
 *
 * Cost: a forward adds one increment in a typed array at its group's
 * index, and a countdown for the timing; a timed call two clock reads and
 * a bucket search. Nothing is allocated per call.
 *
 * @module
 */

import { now } from "../_platform.ts";
import { DEFAULT_TIME_EVERY, LATENCY_BUCKETS_MS } from "../cluster/stats.ts";
import { MAX_GROUP } from "./service_id.ts";

/** One group's numbers, as the router's `stats` INFO answer gives them. */
export interface GroupStats {
  /** The group, 0 to 255. */
  group: number;
  /** Requests (calls and sends) forwarded to a member (a broadcast counts each member). */
  forwarded: number;
  /** Requests refused with a coded error (`unreachable`, `duplicate id`). */
  refused: number;
  /** One-way sends that could not be delivered. */
  dropped: number;
  /** Forwarded calls that failed at the target or on the way (an error answer, the target lost). */
  failed: number;
  /**
   * The timed forwarded calls' round trips through the router: counts per
   * bucket of `LATENCY_BUCKETS_MS` (plus one over the last bound) and
   * their sum in ms.
   */
  latency: { counts: number[]; sumMs: number };
}

const GROUPS = MAX_GROUP + 1;
const BUCKETS = LATENCY_BUCKETS_MS.length + 1;
const BOUNDS = Float64Array.from(LATENCY_BUCKETS_MS);

/** The counters of every group of one router. */
export class RouterGroupStats {
  readonly #forwarded = new Float64Array(GROUPS);
  readonly #refused = new Float64Array(GROUPS);
  readonly #dropped = new Float64Array(GROUPS);
  readonly #failed = new Float64Array(GROUPS);
  readonly #sumMs = new Float64Array(GROUPS);
  readonly #counts = new Float64Array(GROUPS * BUCKETS);
  /** Per group: forwarded calls until the next timed one. */
  readonly #skip = new Int32Array(GROUPS);
  readonly #every: number;
  /** Groups that have seen anything, so a snapshot lists only those. */
  readonly #seen = new Uint8Array(GROUPS);

  /** @param timeEvery Time one forwarded call in this many per group (the first included). */
  constructor(timeEvery: number = DEFAULT_TIME_EVERY) {
    this.#every = timeEvery;
  }

  /**
   * `n` requests forwarded to members of `group`. For a call, returns the
   * start time if this one is timed (pass it to {@linkcode answered}),
   * else -1.
   */
  forwarded(group: number, n = 1, call = false): number {
    this.#forwarded[group]! += n;
    this.#seen[group] = 1;
    if (!call) return -1;
    if (this.#skip[group]! > 0) {
      this.#skip[group]!--;
      return -1;
    }
    this.#skip[group] = this.#every - 1;
    return now();
  }

  /** A forwarded call to `group` was answered (`ok`) or failed; `start` from {@linkcode forwarded}. */
  answered(group: number, start: number, ok: boolean): void {
    if (!ok) this.#failed[group]!++;
    if (start < 0) return;
    const ms = now() - start;
    this.#sumMs[group]! += ms;
    let b = 0;
    while (b < BOUNDS.length && ms > BOUNDS[b]!) b++;
    this.#counts[group * BUCKETS + b]!++;
  }

  /** A request naming `group` was refused (a one-way send: and so dropped). */
  refused(group: number, dropped: boolean): void {
    this.#refused[group]!++;
    if (dropped) this.#dropped[group]!++;
    this.#seen[group] = 1;
  }

  /** A forwarded call that took the ordinary call path (its target was congested). */
  track(call: Promise<unknown>, group: number, start: number): void {
    call.then(
      () => this.answered(group, start, true),
      () => this.answered(group, start, false),
    );
  }

  /** A one-way send to `group` was dropped. */
  dropped(group: number): void {
    this.#dropped[group]!++;
    this.#seen[group] = 1;
  }

  /** The groups that have seen traffic, in order. */
  snapshot(): GroupStats[] {
    const out: GroupStats[] = [];
    for (let g = 0; g < GROUPS; g++) {
      if (this.#seen[g] === 0) continue;
      out.push({
        group: g,
        forwarded: this.#forwarded[g]!,
        refused: this.#refused[g]!,
        dropped: this.#dropped[g]!,
        failed: this.#failed[g]!,
        latency: {
          counts: Array.from(this.#counts.subarray(g * BUCKETS, (g + 1) * BUCKETS)),
          sumMs: this.#sumMs[g]!,
        },
      });
    }
    return out;
  }
}

/** What a router says about itself (`describe`), merged over its cluster's. */
export interface RouterDescription {
  /** `router`. */
  kind: "router";
  /** The ids of the services connected and registered, ascending. */
  services: number[];
  /** Each group the router knows, with its live members and its master. */
  groups: {
    group: number;
    /** Live members, ascending. */
    members: number[];
    /** The master and its fence; `id` -1: cleared (the fence stays). */
    master: { id: number; fence: number } | null;
  }[];
}

/** A router's `describe` answer from its tables. */
export function describeRouter(
  groups:
    readonly ({ live: number[]; master: { id: number; fence: number } | undefined } | undefined)[],
  ids: Iterable<number>,
): RouterDescription {
  const out: RouterDescription["groups"] = [];
  groups.forEach((g, group) => {
    if (g === undefined) return;
    out.push({
      group,
      members: [...g.live],
      master: g.master === undefined ? null : { ...g.master },
    });
  });
  return { kind: "router", services: [...ids].sort((a, b) => a - b), groups: out };
}
