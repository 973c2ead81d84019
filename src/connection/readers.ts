/**
 * {@linkcode Readers}: whether a connection is read alone, the signal that
 * tells a read turn whether there is anyone to be fair to (see
 * read_turn.ts).
 *
 * A JavaScript runtime cannot tell whether another socket has bytes
 * waiting; what it can tell is who was read lately. The connections of a
 * process share one event loop, so whether one of them is read alone is a
 * question about all of them (a client's connections reading responses
 * included, and every cluster of the process): one {@linkcode Readers}
 * per process ({@linkcode processReaders}) remembers which connection read
 * last, and when reads last came from two different connections. A
 * connection is *contended* while another one read within the last
 * {@linkcode CONTENTION_WINDOW} ms, *alone* otherwise. O(1) per read: one
 * comparison, one store when the reader changes.
 *
 * @module
 */

/**
 * Milliseconds after two different connections were read one after the
 * other during which both count as contended. Long beside a turn (a
 * millisecond or less) so that a client with one call in flight, whose
 * next request comes only after its answer travelled, still counts between
 * its calls; short enough that a connection left alone for a second is
 * treated as alone again.
 */
export const CONTENTION_WINDOW = 1000;

/**
 * Who read last, and when the reader last changed. Readers are numbers
 * (each connection's turn has its own, from {@linkcode nextReaderId}), so
 * that nothing here keeps a closed connection alive.
 *
 * @example A second connection's read makes both contended, for the window
 * ```ts
 * import { Readers } from "./readers.ts";
 *
 * const readers = new Readers(1000);
 * if (readers.read(1, 0)) throw new Error("the first connection is alone");
 * if (!readers.read(2, 10)) throw new Error("2 read after 1: contended");
 * if (!readers.read(1, 20)) throw new Error("1 read after 2: contended");
 * if (readers.read(1, 1020 + 1)) throw new Error("2 was quiet for the window: 1 is alone");
 * ```
 */
export class Readers {
  /** Milliseconds a change of reader keeps them contended. */
  readonly window: number;
  #last = 0;
  #switchedAt = -Infinity;

  /**
   * A record of reads.
   *
   * @param window See {@linkcode CONTENTION_WINDOW}.
   */
  constructor(window: number = CONTENTION_WINDOW) {
    this.window = window;
  }

  /**
   * `reader` (a non-zero id) read at `t` (ms, monotonic); true if another
   * reader read within the window (contended).
   */
  read(reader: number, t: number): boolean {
    if (this.#last !== reader) {
      if (this.#last !== 0) this.#switchedAt = t;
      this.#last = reader;
    }
    return t - this.#switchedAt < this.window;
  }

  /**
   * True if, at `t`, another reader than `reader` read last, or within the
   * window (asked at the start of a later turn, which is not a read).
   */
  contended(reader: number, t: number): boolean {
    return (this.#last !== 0 && this.#last !== reader) || t - this.#switchedAt < this.window;
  }
}

/** The readers of this process (see the module's comment: one event loop, one record). */
export const processReaders: Readers = new Readers();

let lastReaderId = 0;

/** A reader id not given before in this process (1, 2, ...). */
export function nextReaderId(): number {
  return ++lastReaderId;
}
