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

/** A request waiting for a slot: a copy of its frame, marked once dropped. */
interface WaitingFrame extends Frame {
  dropped: boolean;
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
  /** Requests read but not dispatched yet, oldest first (copies; null: taken). */
  #waiting: (WaitingFrame | null)[] = [];
  #head = 0;
  /** Entries of `#waiting` past `#head` that were dropped (still in place, marked). */
  #dropped = 0;
  /**
   * The waiting requests by session, oldest first where a session waits more
   * than once (a peer may reuse one): a cancel finds its request at once,
   * and a cancel for a session that does not wait costs one lookup, not a
   * scan of the queue (a peer could send such cancels by the thousand
   * beside a queue of a quarter of a million requests).
   */
  readonly #bySessionWaiting = new Map<number, WaitingFrame | WaitingFrame[]>();
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
    this.#bySessionWaiting.clear();
    this.#waiting = [];
    this.#head = 0;
    this.#dropped = 0;
    this.#account.waitingBytes -= this.waitingBytes;
    this.waitingBytes = 0;
  }

  /** Queues a copy of `frame` (its payload is only valid during the callback). */
  defer(frame: Frame): void {
    const copy: WaitingFrame = { ...frame, payload: frame.payload.slice(), dropped: false };
    this.#waiting.push(copy);
    const index = this.#bySessionWaiting;
    const earlier = index.get(frame.session);
    if (earlier === undefined) index.set(frame.session, copy);
    else if (Array.isArray(earlier)) earlier.push(copy);
    else index.set(frame.session, [earlier, copy]);
    const cost = frame.payload.length + FRAME_COST;
    this.waitingBytes += cost;
    this.#account.waitingBytes += cost;
  }

  /** The oldest waiting request, removed. */
  shift(): Frame | undefined {
    const waiting = this.#waiting;
    let frame: WaitingFrame | null = null;
    while (frame === null && this.#head < waiting.length) {
      frame = waiting[this.#head]!;
      waiting[this.#head++] = null;
      if (frame.dropped) {
        this.#dropped--;
        frame = null;
      }
    }
    if (this.#head === waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    }
    if (frame === null) return undefined;
    this.#unindex(frame.session);
    this.#unwait(frame);
    return frame;
  }

  /**
   * Drops a waiting request (its caller cancelled): the oldest one under
   * `session`; true if there was one. Its place in the queue is marked
   * rather than spliced out (a storm of cancels costs one step each, not a
   * move of the whole queue), and found through the session index.
   */
  dropWaiting(session: number): boolean {
    const frame = this.#unindex(session);
    if (frame === undefined) return false;
    frame.dropped = true;
    this.#dropped++;
    this.#unwait(frame);
    // Step past the dropped places at the head, so the queue empties when nothing waits.
    const waiting = this.#waiting;
    while (this.#head < waiting.length && waiting[this.#head]!.dropped) {
      waiting[this.#head++] = null;
      this.#dropped--;
    }
    if (this.#head === waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    }
    return true;
  }

  /** Removes the oldest waiting request of `session` from the index, and returns it. */
  #unindex(session: number): WaitingFrame | undefined {
    const index = this.#bySessionWaiting;
    const entry = index.get(session);
    if (entry === undefined || !Array.isArray(entry)) {
      index.delete(session);
      return entry;
    }
    const oldest = entry.shift()!;
    if (entry.length === 1) index.set(session, entry[0]!);
    return oldest;
  }

  /** `frame` no longer waits: its bytes are no longer counted. */
  #unwait(frame: Frame): void {
    const cost = frame.payload.length + FRAME_COST;
    this.waitingBytes -= cost;
    this.#account.waitingBytes -= cost;
  }
}
