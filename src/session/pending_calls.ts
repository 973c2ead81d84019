/**
 * The calls waiting for a response on one connection, keyed by session id,
 * and the allocation of session ids: 31 bits, wrapping, never handing out an
 * id that is still pending on the connection.
 *
 * @module
 */

import type { AbortSignalLike } from "../_platform.ts";
import { MAX_SESSION } from "../wire/frame.ts";
import type { Deadline, DeadlineQueue } from "./deadline_queue.ts";

/**
 * One call waiting for its response: the only object a call allocates
 * besides its promise. It is its own table entry and its own deadline.
 */
export class PendingCall implements Deadline {
  /** Monotonic deadline in milliseconds; Infinity for none. */
  deadline = Infinity;
  /** Managed by {@linkcode DeadlineQueue}. */
  deadlineIndex = -1;
  /** The session id, once added to a table. */
  session = -1;
  /** The table holding it, or null once settled. */
  table: PendingCalls | null = null;
  /** The cmd as the caller gave it (passed to `unmarshal("response", ...)`). */
  readonly cmd: string | number;
  /** Resolves the call's promise. */
  readonly resolve: (value: unknown) => void;
  /** Rejects the call's promise. */
  readonly reject: (reason: unknown) => void;
  /** The caller's signal, if any, and the listener on it. */
  signal: AbortSignalLike | undefined = undefined;
  /** Listener registered on `signal`, removed when settled. */
  onAbort: (() => void) | undefined = undefined;

  /**
   * @param cmd The cmd as the caller gave it.
   * @param resolve The promise's resolve function.
   * @param reject The promise's reject function.
   */
  constructor(
    cmd: string | number,
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
  ) {
    this.cmd = cmd;
    this.resolve = resolve;
    this.reject = reject;
  }

  /** Called by the deadline queue: the table's `onTimeout` decides what to do. */
  expire(): void {
    this.table?.timedOut(this);
  }
}

/** Options of {@linkcode PendingCalls}. */
export interface PendingCallsOptions {
  /** Shared deadline queue (one timer for every connection of a cluster). */
  deadlines: DeadlineQueue;
  /** Called when a call's deadline passes; the call is already removed. */
  onTimeout: (call: PendingCall) => void;
}

/**
 * The pending-call table of one connection.
 *
 * @example
 * ```ts
 * import { PendingCall, PendingCalls } from "./pending_calls.ts";
 * import { DeadlineQueue } from "./deadline_queue.ts";
 *
 * const deadlines = new DeadlineQueue();
 * const table = new PendingCalls({ deadlines, onTimeout: () => {} });
 * let got: unknown;
 * const call = new PendingCall("ping", (v) => (got = v), () => {});
 * const session = table.nextSession();
 * table.add(call, session, Infinity);
 * table.take(session)?.resolve("pong");
 * if (got !== "pong" || table.size !== 0) throw new Error("unexpected result");
 * ```
 */
export class PendingCalls {
  readonly #calls = new Map<number, PendingCall>();
  readonly #deadlines: DeadlineQueue;
  readonly #onTimeout: (call: PendingCall) => void;
  #next = 1;

  /** Creates an empty table. */
  constructor(options: PendingCallsOptions) {
    this.#deadlines = options.deadlines;
    this.#onTimeout = options.onTimeout;
  }

  /** Calls waiting. */
  get size(): number {
    return this.#calls.size;
  }

  /**
   * Allocates a session id that is not pending: the next in a 31-bit
   * counter that wraps to 0, skipping ids in use.
   */
  nextSession(): number {
    const calls = this.#calls;
    let id = this.#next;
    while (calls.has(id)) id = id === MAX_SESSION ? 0 : id + 1;
    this.#next = id === MAX_SESSION ? 0 : id + 1;
    return id;
  }

  /**
   * Adds `call` under `session` (from {@linkcode PendingCalls.prototype.nextSession})
   * and queues its deadline.
   *
   * @param call The call.
   * @param session A session id not pending here.
   * @param deadline Monotonic deadline in ms, or Infinity for none.
   */
  add(call: PendingCall, session: number, deadline: number): void {
    call.session = session;
    call.table = this;
    this.#calls.set(session, call);
    if (deadline !== Infinity) {
      call.deadline = deadline;
      this.#deadlines.add(call);
    }
  }

  /** Removes and returns the call for `session`, or undefined (late or unknown). */
  take(session: number): PendingCall | undefined {
    const call = this.#calls.get(session);
    if (call !== undefined) this.#detach(call);
    return call;
  }

  /** Removes `call` if it is still pending here; returns whether it was. */
  remove(call: PendingCall): boolean {
    if (call.table !== this) return false;
    this.#detach(call);
    return true;
  }

  /** Removes every call and returns them (to be rejected by the caller). */
  drain(): PendingCall[] {
    const all = [...this.#calls.values()];
    for (const call of all) this.#detach(call);
    return all;
  }

  /** @internal Called by {@linkcode PendingCall.prototype.expire}. */
  timedOut(call: PendingCall): void {
    if (call.table !== this) return;
    this.#detach(call);
    this.#onTimeout(call);
  }

  #detach(call: PendingCall): void {
    this.#calls.delete(call.session);
    call.table = null;
    if (call.deadlineIndex >= 0) this.#deadlines.remove(call);
    if (call.onAbort !== undefined) {
      call.signal?.removeEventListener("abort", call.onAbort);
      call.onAbort = undefined;
    }
  }
}
