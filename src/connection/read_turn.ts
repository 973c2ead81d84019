/**
 * {@linkcode ReadTurn}: fairness between connections. A connection runs at
 * most `maxRequestsPerTurn` requests from what one read delivered; the rest
 * wait (in order, in the connection's queue of waiting requests), reading
 * pauses, and the next batch runs on a later macrotask, after the event
 * loop served other connections' reads. So one peer that pipelines a flood
 * (of valid or bad requests) delays another peer's call by at most one
 * batch, not by everything one read held.
 *
 * @module
 */

/** Default requests one connection runs per read turn. */
export const DEFAULT_MAX_REQUESTS_PER_TURN = 32;

type Immediate = (callback: () => void) => unknown;
type ClearImmediate = (handle: unknown) => void;

const g = globalThis as unknown as { setImmediate?: Immediate; clearImmediate?: ClearImmediate };
// setImmediate (Node, Bun, Deno) runs after pending I/O and is never clamped
// as nested timers are; setTimeout(0) elsewhere.
const later: Immediate = typeof g.setImmediate === "function"
  ? g.setImmediate.bind(globalThis)
  : (callback) => setTimeout(callback, 0);
const cancel: ClearImmediate = typeof g.clearImmediate === "function"
  ? g.clearImmediate.bind(globalThis)
  : (handle) => clearTimeout(handle as number);

/**
 * Validates the `maxRequestsPerTurn` option: an integer of 1 or more, or
 * `Infinity` (no fairness: a read's requests all run at once).
 *
 * @throws {TypeError} If it is not a number.
 * @throws {RangeError} If it is below 1 or not an integer.
 */
export function checkMaxRequestsPerTurn(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_REQUESTS_PER_TURN;
  if (typeof value !== "number") {
    throw new TypeError(
      `Invalid option maxRequestsPerTurn: expected a number, got ${typeof value}`,
    );
  }
  if (!(value === Infinity || (Number.isInteger(value) && value >= 1))) {
    throw new RangeError(
      `Invalid option maxRequestsPerTurn: expected a positive integer or Infinity, got ${value}`,
    );
  }
  return value;
}

/**
 * Counts one connection's requests in the current turn and schedules the
 * next turn.
 *
 * Its example runs as a test in tests/connection/doc_examples_test.ts.
 */
export class ReadTurn {
  /** Requests per turn. */
  readonly budget: number;
  /** Requests run in this turn. */
  used = 0;
  /** Turns that ran out of budget (a connection that was throttled). */
  throttled = 0;
  #handle: unknown = undefined;
  #scheduled = false;

  /**
   * A turn counter with `budget` requests per turn.
   *
   * @param budget Requests per turn (`Infinity`: no limit).
   */
  constructor(budget: number = DEFAULT_MAX_REQUESTS_PER_TURN) {
    this.budget = budget;
  }

  /** A new read arrived: a new turn. */
  reset(): void {
    this.used = 0;
  }

  /** Counts one request; false if this turn's budget is spent (the request must wait). */
  take(): boolean {
    if (this.used >= this.budget) return false;
    this.used++;
    return true;
  }

  /** True while a next turn is scheduled. */
  get scheduled(): boolean {
    return this.#scheduled;
  }

  /** Runs `next` on a later macrotask with a fresh budget (once, however often called). */
  schedule(next: () => void): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.throttled++;
    this.#handle = later(() => {
      this.#scheduled = false;
      this.#handle = undefined;
      this.used = 0;
      next();
    });
  }

  /** Cancels a scheduled turn (the connection closed). */
  stop(): void {
    if (!this.#scheduled) return;
    this.#scheduled = false;
    cancel(this.#handle);
    this.#handle = undefined;
  }
}
