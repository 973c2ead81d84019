/**
 * The calls waiting for a response on one connection, keyed by session id,
 * and the allocation of session ids: 31 bits, wrapping, never handing out an
 * id that is still pending on the connection.
 *
 * @module
 */

import type { AbortSignalLike } from "../_platform.ts";
import type { Deadline, DeadlineQueue } from "./deadline_queue.ts";
import { SessionSlots } from "./session_slots.ts";

/**
 * Told when a {@linkcode PendingCall} it observes settles: one shared object
 * per observer, so observing a call allocates nothing.
 */
export interface CallObserver {
  /** `call` settled: resolved (`ok`), or rejected with `reason`. */
  settled(call: PendingCall, ok: boolean, reason: unknown): void;
}

/**
 * One call waiting for its response: the only object a call allocates
 * besides its promise. It is its own table entry and its own deadline.
 */
export class PendingCall implements Deadline {
  /** Monotonic deadline in milliseconds; Infinity for none. */
  deadline = Infinity;
  /**
   * Milliseconds from the write the call waits (Infinity: none, or its
   * deadline was fixed when it was added): the connection arms its
   * deadline when it writes the request ({@linkcode PendingCalls.prototype.arm}).
   */
  timeout = Infinity;
  /** Managed by {@linkcode DeadlineQueue}. */
  deadlineIndex = -1;
  /** The session id, once added to a table. */
  session = -1;
  /** The table holding it, or null once settled. */
  table: PendingCalls | null = null;
  /** The cmd as the caller gave it (passed to `unmarshal("response", ...)`). */
  readonly cmd: string | number;
  /** The caller's signal, if any, and the listener on it. */
  signal: AbortSignalLike | undefined = undefined;
  /** Listener registered on `signal`, removed when settled. */
  onAbort: (() => void) | undefined = undefined;
  /** Told when the call settles, if set (the cluster's stats recorder). */
  observer: CallObserver | null = null;
  /** A number the observer attaches (the stats recorder: the command's slot). */
  slot: number = -1;
  /** Another (the stats recorder: where the start time of a timed call is kept, or -1). */
  mark: number = -1;
  /**
   * The request's frame (or its first part) was handed to the transport:
   * the peer may have run it. A call failing before that (timed out
   * waiting for backpressure, its connection lost with the frame still in
   * the batch) never ran, and says so (`mayHaveRun` false).
   */
  written = false;
  readonly #resolve: (value: unknown) => void;
  readonly #reject: (reason: unknown) => void;
  /**
   * Set by a raw forward (src/cluster/forward.ts): takes the response's
   * payload, lent, instead of the cluster's unmarshal and `resolve`.
   */
  raw: ((this: PendingCall, payload: Uint8Array) => void) | undefined = undefined;

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
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Resolves the call's promise (telling the observer first). */
  resolve(value: unknown): void {
    this.observer?.settled(this, true, undefined);
    this.#resolve(value);
  }

  /** Rejects the call's promise (telling the observer first). */
  reject(reason: unknown): void {
    this.observer?.settled(this, false, reason);
    this.#reject(reason);
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
  /**
   * The first session id handed out (tests use it to reach the wrap).
   *
   * @default {1}
   */
  firstSession?: number;
  /**
   * The least session id handed out: the counter wraps back to it after
   * 2^31 - 1 (a protocol may give session 0 a meaning: skynet's push).
   *
   * @default {0}
   */
  lowestSession?: number;
}

/**
 * The pending-call table of one connection.
 *
 * Session ids are handed out in order, so the calls pending at any moment
 * occupy a window of consecutive ids, which a {@linkcode SessionSlots}
 * holds at one array store and one load per call, with no hash-table churn
 * (with a `Map` here, V8's rehashing under constant insert/delete was over
 * half the client's CPU at 256 calls in flight).
 *
 * Internal (no package entry exports it, so it has no doc example: doc
 * examples import the package by name); tests/session/pending_calls_test.ts shows it at work.
 */
export class PendingCalls {
  readonly #calls: SessionSlots<PendingCall>;
  readonly #deadlines: DeadlineQueue;
  readonly #onTimeout: (call: PendingCall) => void;

  /** Creates an empty table. */
  constructor(options: PendingCallsOptions) {
    this.#deadlines = options.deadlines;
    this.#onTimeout = options.onTimeout;
    const lowest = options.lowestSession ?? 0;
    this.#calls = new SessionSlots(Math.max(options.firstSession ?? 1, lowest), lowest);
  }

  /** Calls waiting. */
  get size(): number {
    return this.#calls.size;
  }

  /**
   * Allocates a session id that is not pending: the next in a 31-bit
   * counter that wraps to `lowestSession` (0), skipping ids in use.
   */
  nextSession(): number {
    return this.#calls.nextId();
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
    this.#calls.add(call);
    if (deadline !== Infinity) {
      call.deadline = deadline;
      this.#deadlines.add(call);
    }
  }

  /**
   * Queues the deadline of `call`, added without one (its timeout counts
   * from the write), if it is still pending here.
   *
   * @param call A call added with an infinite deadline.
   * @param deadline Monotonic deadline in ms, or Infinity for none.
   */
  arm(call: PendingCall, deadline: number): void {
    call.timeout = Infinity;
    if (call.table !== this || call.deadlineIndex !== -1) return;
    call.deadline = deadline;
    if (deadline !== Infinity) this.#deadlines.add(call);
  }

  /** Removes and returns the call for `session`, or undefined (late or unknown). */
  take(session: number): PendingCall | undefined {
    const call = this.#calls.take(session);
    if (call !== undefined) this.#release(call);
    return call;
  }

  /** Removes `call` if it is still pending here; returns whether it was. */
  remove(call: PendingCall): boolean {
    if (call.table !== this) return false;
    this.take(call.session);
    return true;
  }

  /** Removes every call and returns them (to be rejected by the caller). */
  drain(): PendingCall[] {
    const all = this.#calls.values();
    for (const call of all) this.take(call.session);
    return all;
  }

  /** @internal Called by {@linkcode PendingCall.prototype.expire}. */
  timedOut(call: PendingCall): void {
    if (call.table !== this) return;
    this.take(call.session);
    this.#onTimeout(call);
  }

  #release(call: PendingCall): void {
    call.table = null;
    if (call.deadlineIndex !== -1) this.#deadlines.remove(call);
    if (call.onAbort !== undefined) {
      call.signal?.removeEventListener("abort", call.onAbort);
      call.onAbort = undefined;
    }
  }
}
