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
const FRAME_COST = 64;

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
  /** Requests read but not dispatched yet, oldest first (copies). */
  #waiting: Frame[] = [];
  #head = 0;
  /** About the memory the waiting requests hold, in bytes. */
  waitingBytes = 0;

  /** Requests being handled. */
  get size(): number {
    return this.#bySession.size + (this.#duplicates?.size ?? 0);
  }

  /** Requests read and waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
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
    this.waitingBytes = 0;
  }

  /** Queues a copy of `frame` (its payload is only valid during the callback). */
  defer(frame: Frame): void {
    this.#waiting.push({ ...frame, payload: frame.payload.slice() });
    this.waitingBytes += frame.payload.length + FRAME_COST;
  }

  /** The oldest waiting request, removed. */
  shift(): Frame | undefined {
    if (this.#head >= this.#waiting.length) return undefined;
    const frame = this.#waiting[this.#head]!;
    this.#waiting[this.#head++] = undefined as unknown as Frame;
    this.waitingBytes -= frame.payload.length + FRAME_COST;
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    }
    return frame;
  }

  /** Drops a waiting request (its caller cancelled); true if there was one. */
  dropWaiting(session: number): boolean {
    for (let i = this.#head; i < this.#waiting.length; i++) {
      const frame = this.#waiting[i]!;
      if (frame.session === session) {
        this.#waiting.splice(i, 1);
        this.waitingBytes -= frame.payload.length + FRAME_COST;
        return true;
      }
    }
    return false;
  }
}
