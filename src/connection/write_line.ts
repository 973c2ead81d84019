/**
 * {@linkcode WriteLine}: the order in which requests that found their
 * connection congested may write. Each waits its turn at the head of the
 * line, then for the connection to drain, writes, and lets the next one go:
 * a request never overtakes one made before it, whether the connection is
 * congested again when a waiter resumes or drains between two requests of
 * one synchronous run. Requests on an uncongested connection with nobody in
 * line write at once and never touch it.
 *
 * @module
 */

/** One request waiting in a {@linkcode WriteLine}. */
export interface WriteTicket {
  /** Resolves when this request is at the head of the line. */
  readonly turn: Promise<void>;
}

interface Entry extends WriteTicket {
  resolve: () => void;
  prev: Entry | null;
  next: Entry | null;
  gone: boolean;
}

/**
 * A first-in, first-out line of requests waiting to write on one connection
 * (a linked list: a waiter that times out leaves from anywhere in O(1)).
 *
 * Its example runs as a test in tests/connection/doc_examples_test.ts.
 */
export class WriteLine {
  /** Requests in line (0: a request may write at once if the connection is not congested). */
  size = 0;
  #head: Entry | null = null;
  #tail: Entry | null = null;

  /** Joins the line at its end; the ticket's `turn` resolves at its head. */
  enter(): WriteTicket {
    let resolve!: () => void;
    const turn = new Promise<void>((r) => resolve = r);
    const entry: Entry = { turn, resolve, prev: this.#tail, next: null, gone: false };
    if (this.#tail === null) {
      this.#head = entry;
      resolve();
    } else {
      this.#tail.next = entry;
    }
    this.#tail = entry;
    this.size++;
    return entry;
  }

  /**
   * Leaves the line (after writing, or giving up: a timeout, an abort, a
   * close); if `ticket` was at the head, the next one's turn comes. Leaving
   * twice is harmless.
   */
  leave(ticket: WriteTicket): void {
    const entry = ticket as Entry;
    if (entry.gone) return;
    entry.gone = true;
    this.size--;
    if (entry.prev !== null) entry.prev.next = entry.next;
    else this.#head = entry.next;
    if (entry.next !== null) entry.next.prev = entry.prev;
    else this.#tail = entry.prev;
    // The head left: the next one's turn (it resumes after this request wrote).
    if (entry.prev === null && this.#head !== null) this.#head.resolve();
    entry.prev = entry.next = null;
  }
}
