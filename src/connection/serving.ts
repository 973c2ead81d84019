/**
 * {@linkcode Serving}: the requests a connection is handling, and the
 * requests read from it that wait for a free slot (the per-connection
 * in-flight limit).
 *
 * @module
 */

import { SessionSlots } from "../session/session_slots.ts";
import type { Frame } from "../wire/frame.ts";

/**
 * A request being handled, as the connection tracks it (the cluster's
 * `ServedRequest` is one): its session, and how to abort it when the caller
 * cancels or the connection closes.
 */
export interface ServedRequest {
  /** The request's session id. */
  readonly session: number;
  /** Aborts the request's handler (its signal). */
  abort(reason: unknown): void;
}

/** What a waiting request costs besides its payload (the frame object), roughly. */
export const FRAME_COST = 64;

/** Where the bytes of waiting requests are also counted: the node's (`RequestBudget`). */
export interface WaitingAccount {
  /** Bytes of requests waiting, on every connection that shares the account. */
  waitingBytes: number;
}

/**
 * Requests being handled on one connection (async handlers still running),
 * by session, and the requests that wait for one to finish.
 *
 * A session id is tracked once per request, never overwritten: in weft mode
 * the channel refuses a request whose session is already being served; in
 * silly mode (where no error can be answered and silly itself does not
 * look) a duplicate is kept beside the first, so that a close aborts both.
 */
export class Serving {
  /** Not a `Map`: see {@linkcode SessionSlots} for what its churn cost. */
  readonly #bySession = new SessionSlots<ServedRequest>();
  /** Silly mode: requests whose session was already being served. */
  #duplicates: Set<ServedRequest> | null = null;
  /** Requests read but not dispatched yet, oldest first (copies; null: dropped). */
  #waiting: (Frame | null)[] = [];
  #head = 0;
  /** Entries of `#waiting` past `#head` that were dropped. */
  #dropped = 0;
  /** About the memory the waiting requests hold, in bytes. */
  waitingBytes = 0;
  /** The node's account, which counts these bytes too. */
  readonly #account: WaitingAccount;

  /**
   * The requests of one connection.
   *
   * @param account Where waiting bytes are also counted (the node's; a private one by default).
   */
  constructor(account: WaitingAccount = { waitingBytes: 0 }) {
    this.#account = account;
  }

  /** Requests being handled. */
  get size(): number {
    return this.#bySession.size + (this.#duplicates?.size ?? 0);
  }

  /** Requests read and waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length - this.#head - this.#dropped;
  }

  /** True if a request under `session` is being handled. */
  has(session: number): boolean {
    return this.#bySession.has(session);
  }

  /** The request being handled under `session`, if any (the first one). */
  get(session: number): ServedRequest | undefined {
    return this.#bySession.get(session);
  }

  /** Tracks a running request (beside an earlier one of the same session, if any). */
  add(context: ServedRequest): void {
    if (this.#bySession.has(context.session)) {
      (this.#duplicates ??= new Set()).add(context);
    } else {
      this.#bySession.add(context);
    }
  }

  /** Forgets a request that finished. */
  delete(context: ServedRequest): void {
    if (!this.#bySession.delete(context)) this.#duplicates?.delete(context);
  }

  /** Every request being handled. */
  *values(): IterableIterator<ServedRequest> {
    yield* this.#bySession.values();
    if (this.#duplicates !== null) yield* this.#duplicates;
  }

  /** Forgets everything: running requests and waiting ones. */
  clear(): void {
    this.#bySession.clear();
    this.#duplicates = null;
    this.#waiting = [];
    this.#head = 0;
    this.#dropped = 0;
    this.#account.waitingBytes -= this.waitingBytes;
    this.waitingBytes = 0;
  }

  /** Queues a copy of `frame` (its payload is only valid during the callback). */
  defer(frame: Frame): void {
    this.#waiting.push({ ...frame, payload: frame.payload.slice() });
    const cost = frame.payload.length + FRAME_COST;
    this.waitingBytes += cost;
    this.#account.waitingBytes += cost;
  }

  /** The oldest waiting request, removed. */
  shift(): Frame | undefined {
    const waiting = this.#waiting;
    let frame: Frame | null = null;
    while (frame === null && this.#head < waiting.length) {
      frame = waiting[this.#head]!;
      waiting[this.#head++] = null;
      if (frame === null) this.#dropped--;
    }
    if (this.#head === waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    }
    if (frame === null) return undefined;
    this.#unwait(frame);
    return frame;
  }

  /**
   * Drops a waiting request (its caller cancelled); true if there was one.
   * Its place is left empty rather than spliced out: a storm of cancels
   * for the oldest waiting requests costs one step each, not a move of the
   * whole queue.
   */
  dropWaiting(session: number): boolean {
    const waiting = this.#waiting;
    for (let i = this.#head; i < waiting.length; i++) {
      const frame = waiting[i];
      if (frame != null && frame.session === session) {
        waiting[i] = null;
        this.#dropped++;
        this.#unwait(frame);
        // The oldest went: step past the empty places, so the next scan starts at a request.
        while (this.#head < waiting.length && waiting[this.#head] === null) {
          this.#head++;
          this.#dropped--;
        }
        if (this.#head === waiting.length) {
          this.#waiting = [];
          this.#head = 0;
        }
        return true;
      }
    }
    return false;
  }

  /** `frame` no longer waits: its bytes are no longer counted. */
  #unwait(frame: Frame): void {
    const cost = frame.payload.length + FRAME_COST;
    this.waitingBytes -= cost;
    this.#account.waitingBytes -= cost;
  }
}
