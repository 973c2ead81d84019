/**
 * {@linkcode SlotTable}: a group's fixed slots as a router keeps them (the
 * function is `slotOwner` in hash.ts). A member that leaves keeps its slot
 * for `grace` milliseconds, so that its keys come back to it when it
 * returns; after that, or once more than `maxDead` slots are dead (the
 * oldest first), the slot is forgotten. So the table holds the live
 * members and at most `maxDead` dead ones however many ids the group ever
 * had, and finding a key's owner is one division and one array read (plus
 * a rendezvous over the live members for a key whose slot is dead): its
 * cost does not grow with the group's history.
 *
 * Internal (no package entry exports it, so no doc example: doc examples
 * import the package by name); tests/router/slots_test.ts shows it at work.
 *
 * @module
 */

import { now } from "../_platform.ts";
import { rendezvousOwner } from "./hash.ts";

/** Default `slotGrace` of a router: 5 minutes. */
export const DEFAULT_SLOT_GRACE = 300_000;

/** Default `maxDeadSlots` of a router: dead slots kept per group. */
export const DEFAULT_MAX_DEAD_SLOTS = 256;

/** Options of {@linkcode SlotTable}. */
export interface SlotTableOptions {
  /** Milliseconds a dead member keeps its slot. */
  grace: number;
  /** Dead slots kept at most; past it the oldest is forgotten. */
  maxDead: number;
  /** Monotonic milliseconds (tests pass their own). */
  clock?: () => number;
}

/** The index of the first element of the ascending `list` not below `id`. */
export function lowerBound(list: readonly number[], id: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One group's fixed slots: live members and recently dead ones, sorted by id. */
export class SlotTable {
  readonly #grace: number;
  readonly #maxDead: number;
  readonly #clock: () => number;
  /** The ids holding a slot, ascending. */
  readonly #ids: number[] = [];
  /** Whether each slot's member is live (parallel to #ids). */
  readonly #alive: boolean[] = [];
  /** Dead ids and when they died, oldest first (a Map keeps insertion order). */
  readonly #dead = new Map<number, number>();
  /** When the oldest dead slot's grace ends (Infinity: none dead). */
  #nextExpiry = Infinity;

  /** @param options The grace period and the bound on dead slots. */
  constructor(options: SlotTableOptions) {
    this.#grace = options.grace;
    this.#maxDead = options.maxDead;
    this.#clock = options.clock ?? now;
  }

  /** Slots held now (live and dead). */
  get size(): number {
    return this.#ids.length;
  }

  /** Dead slots held now. */
  get dead(): number {
    return this.#dead.size;
  }

  /** The ids holding slots, ascending. */
  ids(): number[] {
    return [...this.#ids];
  }

  /** `id` is live: it takes back its slot, or gets a new one. */
  join(id: number): void {
    this.#expire();
    const at = lowerBound(this.#ids, id);
    if (this.#ids[at] === id) {
      this.#alive[at] = true;
      this.#dead.delete(id);
      this.#schedule();
      return;
    }
    this.#ids.splice(at, 0, id);
    this.#alive.splice(at, 0, true);
  }

  /** `id` left: it keeps its slot for the grace period (within `maxDead`). */
  leave(id: number): void {
    const at = lowerBound(this.#ids, id);
    if (this.#ids[at] !== id || !this.#alive[at]) return;
    this.#alive[at] = false;
    this.#dead.set(id, this.#clock());
    while (this.#dead.size > this.#maxDead) this.#forget(this.#dead.keys().next().value!);
    this.#schedule();
    this.#expire();
  }

  /**
   * The owner of key hash `k`.
   *
   * @param k The key's hash.
   * @param live The group's live members (for a key whose slot is dead).
   * @returns The owner, or undefined when no member is live.
   */
  owner(k: number, live: readonly number[]): number | undefined {
    // A clock read only while slots are dead; no allocation on this path.
    if (this.#nextExpiry !== Infinity && this.#clock() >= this.#nextExpiry) this.#expire();
    const n = this.#ids.length;
    if (n === 0) return undefined;
    const at = k % n;
    return this.#alive[at] ? this.#ids[at] : rendezvousOwner(k, live);
  }

  /** Forgets dead slots whose grace is over. */
  #expire(): void {
    if (this.#dead.size === 0) return;
    const t = this.#clock();
    for (const [id, died] of this.#dead) {
      if (t - died < this.#grace) break;
      this.#forget(id);
    }
    this.#schedule();
  }

  #schedule(): void {
    const first = this.#dead.values().next();
    this.#nextExpiry = first.done ? Infinity : first.value + this.#grace;
  }

  #forget(id: number): void {
    this.#dead.delete(id);
    const at = lowerBound(this.#ids, id);
    if (this.#ids[at] !== id) return;
    this.#ids.splice(at, 1);
    this.#alive.splice(at, 1);
  }
}
