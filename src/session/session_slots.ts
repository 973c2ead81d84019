/**
 * {@linkcode SessionSlots}: a table of things keyed by their session id,
 * without a `Map`'s churn. Both the calls a connection waits on and the
 * requests it is serving live in one.
 *
 * @module
 */

import { MAX_SESSION } from "../wire/frame.ts";

/** Slots a table starts with; it doubles when full. */
const INITIAL_SLOTS = 16;

/**
 * Things keyed by their `session`, for tables with constant insert and
 * delete: an array indexed by `session & mask`, plus a small overflow map
 * for the rare entry whose slot is taken.
 *
 * Why not a `Map`: the sessions in flight on a connection at any moment are
 * mostly a window of consecutive ids, so an array holds them without
 * collisions at one store and one load per entry. With a `Map` for the
 * requests being served, a router at 256 requests in flight promoted
 * megabytes per scavenge and paused 6 to 15 ms every ~50 ms
 * (`--trace-gc-nvp`), with nothing retained in a heap snapshot; it went
 * away when the `Map` was replaced each time it emptied. Our reading: a
 * `Map` under constant insert and delete rehashes every few hundred
 * operations and V8 keeps each replaced table pointing at its successor
 * (for live iterators), so once a dead one was promoted, every later table
 * and its entries survived the young collections. Here a removed entry is
 * dropped from its slot at once, and the array is only replaced when it
 * doubles.
 *
 * Ids chosen by a peer may collide on purpose; colliding entries go to the
 * overflow map, so the table stays correct and only slower. The array never
 * has more slots than twice the most entries it held at once.
 *
 * Internal (no package entry exports it, so it has no doc example: doc
 * examples import the package by name); tests/session/session_slots_test.ts shows it at work.
 */
export class SessionSlots<T extends { readonly session: number }> {
  #slots: (T | undefined)[] = new Array(INITIAL_SLOTS).fill(undefined);
  #mask = INITIAL_SLOTS - 1;
  readonly #overflow = new Map<number, T>();
  #size = 0;
  #next: number;
  /** Where the counter wraps to after 2^31 - 1. */
  readonly #lowest: number;

  /**
   * @param firstId The first id {@linkcode SessionSlots.prototype.nextId} hands out.
   * @param lowestId The id the counter wraps to (an id below it is never handed out).
   */
  constructor(firstId = 0, lowestId = 0) {
    this.#next = firstId;
    this.#lowest = lowestId;
  }

  /**
   * Hands out an id for a new entry, for tables whose ids are their own: the
   * next of a 31-bit counter that wraps to the lowest id (0 unless set),
   * skipping ids still held (an entry can outlive 2^31 later ones).
   */
  nextId(): number {
    let id = this.#next;
    while (this.has(id)) id = id === MAX_SESSION ? this.#lowest : id + 1;
    this.#next = id === MAX_SESSION ? this.#lowest : id + 1;
    return id;
  }

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** True if an entry is held under `session`. */
  has(session: number): boolean {
    const entry = this.#slots[session & this.#mask];
    if (entry !== undefined && entry.session === session) return true;
    return this.#overflow.size > 0 && this.#overflow.has(session);
  }

  /** The entry held under `session`, if any. */
  get(session: number): T | undefined {
    const entry = this.#slots[session & this.#mask];
    if (entry !== undefined && entry.session === session) return entry;
    return this.#overflow.size > 0 ? this.#overflow.get(session) : undefined;
  }

  /** Adds `entry` under its session; the caller makes sure none is held there. */
  add(entry: T): void {
    if (this.#size >= this.#slots.length) this.#grow();
    this.#place(entry);
    this.#size++;
  }

  /** Removes and returns the entry under `session`, or undefined. */
  take(session: number): T | undefined {
    const i = session & this.#mask;
    let entry = this.#slots[i];
    if (entry !== undefined && entry.session === session) {
      this.#slots[i] = undefined;
    } else {
      if (this.#overflow.size === 0) return undefined;
      entry = this.#overflow.get(session);
      if (entry === undefined) return undefined;
      this.#overflow.delete(session);
    }
    this.#size--;
    return entry;
  }

  /** Removes `entry` if it is the one held under its session; returns whether it was. */
  delete(entry: T): boolean {
    const session = entry.session;
    const i = session & this.#mask;
    if (this.#slots[i] === entry) {
      this.#slots[i] = undefined;
    } else if (this.#overflow.size > 0 && this.#overflow.get(session) === entry) {
      this.#overflow.delete(session);
    } else {
      return false;
    }
    this.#size--;
    return true;
  }

  /** Every entry held (a copy: the table may change while it is used). */
  values(): T[] {
    const all: T[] = [];
    for (const entry of this.#slots) if (entry !== undefined) all.push(entry);
    for (const entry of this.#overflow.values()) all.push(entry);
    return all;
  }

  /** Drops every entry (the array shrinks back to its first size). */
  clear(): void {
    this.#slots = new Array(INITIAL_SLOTS).fill(undefined);
    this.#mask = INITIAL_SLOTS - 1;
    this.#overflow.clear();
    this.#size = 0;
  }

  #place(entry: T): void {
    const i = entry.session & this.#mask;
    if (this.#slots[i] === undefined) this.#slots[i] = entry;
    else this.#overflow.set(entry.session, entry);
  }

  #grow(): void {
    const old = this.#slots;
    const size = old.length * 2;
    this.#slots = new Array(size).fill(undefined);
    this.#mask = size - 1;
    const lapped = [...this.#overflow.values()];
    this.#overflow.clear();
    for (const entry of old) if (entry !== undefined) this.#place(entry);
    for (const entry of lapped) this.#place(entry);
  }
}
