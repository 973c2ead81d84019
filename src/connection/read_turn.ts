/**
 * {@linkcode ReadTurn}: fairness between connections, paid for only when
 * there is someone to be fair to.
 *
 * A connection runs the requests one read delivered in a turn; when its
 * turn is over the rest wait (in order, in the connection's queue of
 * waiting requests), reading pauses, and the next turn runs on a later
 * macrotask, after the event loop served other connections' reads. So one
 * peer that pipelines a flood (of valid or bad requests) delays another
 * peer's call by at most one turn, not by everything one read held.
 *
 * How long a turn is depends on whether another connection of this process
 * is being read (`Readers`, readers.ts: a read of another connection
 * within the last second):
 *
 * - **contended**: at most `maxRequestsPerTurn` requests (32) per read, as
 *   before; the clock is never read;
 * - **alone**: until `soloTurnTime` (1 ms) passed since the read (or the
 *   macrotask) began the turn, the clock read every `maxRequestsPerTurn`
 *   requests. A lone connection's pipelined batch runs whole and is
 *   answered in one write; a lone flood still yields every millisecond, so
 *   that the event loop looks at its other sockets and timers, and from the
 *   first read of another connection on, turns are counted again.
 *
 * Cutting a batch is what fairness costs: its responses go out in several
 * writes, each waking the peer (on one core, a context switch each), and
 * the peer's next requests then come in smaller batches too. Counted turns
 * for a lone connection cost 0.63-0.70x of the throughput on Node and Bun
 * at 100 and 256 in flight (issue 20), for nobody's benefit.
 *
 * How soon a yield lets the runtime see another socket is the runtime's:
 * Node and Bun poll their sockets on every turn of the event loop; Deno,
 * busy with macrotasks, only every so many (a client beside a flood is read
 * about once per 60 turns, counted or not). So on Deno a connection that
 * starts to be read beside a lone flood may wait tens of lone turns (tens
 * of milliseconds of the flood's work) for its first read, against as many
 * counted turns (a few milliseconds) when turns were always counted; from
 * its first read on, the flood's turns are counted and it is served as
 * before.
 *
 * @module
 */

import { now } from "../_platform.ts";
import { nextReaderId, processReaders, type Readers } from "./readers.ts";

/** Default requests one connection runs per read turn while other connections are read. */
export const DEFAULT_MAX_REQUESTS_PER_TURN = 32;

/** Default milliseconds a connection read alone runs its requests before it yields. */
export const DEFAULT_SOLO_TURN_TIME = 1;

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
 * Validates the `soloTurnTime` option: milliseconds, 0 or more (0: turns
 * are always counted, as if other connections were read; `Infinity`: a
 * lone connection never yields).
 *
 * @throws {TypeError} If it is not a number.
 * @throws {RangeError} If it is negative or NaN.
 */
export function checkSoloTurnTime(value: unknown): number {
  if (value === undefined) return DEFAULT_SOLO_TURN_TIME;
  if (typeof value !== "number") {
    throw new TypeError(
      `Invalid option soloTurnTime: expected a number of milliseconds, got ${typeof value}`,
    );
  }
  if (!(value >= 0)) {
    throw new RangeError(`Invalid option soloTurnTime: expected 0 ms or more, got ${value}`);
  }
  return value;
}

/**
 * One connection's turns: counts its requests, tells when its turn is
 * over, and schedules the next.
 *
 * @example Contended: three requests per turn; the fourth waits for the next turn
 * ```ts
 * import { ReadTurn } from "./read_turn.ts";
 * import { Readers } from "./readers.ts";
 *
 * const readers = new Readers();
 * readers.read(1_000_000, 0); // another connection
 * const turn = new ReadTurn(3, 1, () => 0, readers);
 * turn.begin(0);
 * const ran = [1, 2, 3, 4].map(() => turn.take());
 * if (JSON.stringify(ran) !== "[true,true,true,false]") throw new Error("unexpected result");
 * await new Promise<void>((resolve) => turn.schedule(resolve));
 * if (!turn.take()) throw new Error("a new turn has a new budget");
 * ```
 *
 * @example Alone: the turn lasts until its time is up, the clock read every 3 requests
 * ```ts
 * import { ReadTurn } from "./read_turn.ts";
 * import { Readers } from "./readers.ts";
 *
 * let clock = 0;
 * const turn = new ReadTurn(3, 1, () => clock, new Readers());
 * turn.begin(0);
 * for (let i = 0; i < 7; i++) if (!turn.take()) throw new Error("alone, under 1 ms: runs on");
 * clock = 1;
 * const ran = [1, 2, 3].map(() => turn.take());
 * if (JSON.stringify(ran) !== "[true,true,false]") throw new Error("the clock is read at the 10th");
 * ```
 */
export class ReadTurn {
  /** Requests per contended turn; also how often a lone turn reads the clock. */
  readonly budget: number;
  /** Milliseconds a lone turn lasts (0: every turn is counted). */
  readonly soloTime: number;
  /** Requests run in this turn. */
  used = 0;
  /** Turns that ended with requests waiting (a connection that was throttled). */
  throttled = 0;
  readonly #id = nextReaderId();
  readonly #clock: () => number;
  readonly #readers: Readers;
  /** `used` at which the turn ends (contended) or the clock is read (alone). */
  #limit: number;
  /** Counted until a read says otherwise. */
  #contended = true;
  /** When this turn began (its read, or its macrotask). */
  #start = 0;
  #over = false;
  #handle: unknown = undefined;
  #scheduled = false;

  /**
   * A connection's turns.
   *
   * @param budget Requests per contended turn (`Infinity`: no limit, and a
   *   lone turn never reads the clock: no fairness at all).
   * @param soloTime Milliseconds a lone turn lasts (0: always counted).
   * @param clock Milliseconds from a monotonic clock.
   * @param readers Whether other connections are read (the process's by default).
   */
  constructor(
    budget: number = DEFAULT_MAX_REQUESTS_PER_TURN,
    soloTime: number = DEFAULT_SOLO_TURN_TIME,
    clock: () => number = now,
    readers: Readers = processReaders,
  ) {
    this.budget = budget;
    this.soloTime = soloTime;
    this.#clock = clock;
    this.#readers = readers;
    this.#limit = budget;
  }

  /** A read arrived at `t` (ms, the clock's): a new turn. */
  begin(t: number): void {
    this.used = 0;
    this.#limit = this.budget;
    this.#over = false;
    this.#contended = this.#readers.read(this.#id, t) || this.soloTime === 0;
    this.#start = t;
  }

  /** True while the turn is contended (counted). */
  get contended(): boolean {
    return this.#contended;
  }

  /** Counts one request; false if this turn is over (the request must wait). */
  take(): boolean {
    if (this.used >= this.#limit) {
      if (this.#contended || this.#clock() - this.#start >= this.soloTime) {
        this.#over = true;
        return false;
      }
      this.#limit += this.budget;
    }
    this.used++;
    return true;
  }

  /** True once {@linkcode take} refused a request in this turn. */
  get over(): boolean {
    return this.#over;
  }

  /** True while a next turn is scheduled. */
  get scheduled(): boolean {
    return this.#scheduled;
  }

  /** Runs `next` on a later macrotask, in a fresh turn (once, however often called). */
  schedule(next: () => void): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.throttled++;
    this.#handle = later(() => {
      this.#scheduled = false;
      this.#handle = undefined;
      const t = this.#clock();
      this.used = 0;
      this.#limit = this.budget;
      this.#over = false;
      this.#contended = this.#readers.contended(this.#id, t) || this.soloTime === 0;
      this.#start = t;
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
