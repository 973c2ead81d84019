/**
 * {@linkcode CallContext}: what a request handler knows about the request it
 * serves, and the way to make calls that carry its trace id.
 *
 * @module
 */

import { abortController, type AbortSignalLike, now } from "../_platform.ts";
import { traceIdToBigInt } from "../wire/frame.ts";
import type { Peer } from "../connection/peer.ts";

/** Options of `cluster.call`, `cluster.send` and their context forms. */
export interface CallOptions {
  /**
   * Milliseconds to wait for the response (and for a lazy connect or a
   * congested connection before it); `Infinity` for none. On a ready
   * connection it counts from when the request is written: at the end of
   * the current task, with the other frames the task queued.
   *
   * @default {the cluster's `timeout`}
   */
  timeout?: number;
  /** Aborts the call: it rejects with `aborted`, the reason as `cause`. */
  signal?: AbortSignalLike;
  /**
   * The request being handled, whose trace id this call carries (with this
   * node's id in the low 16 bits). `context.call()` sets it for you.
   */
  context?: CallContext;
  /** An explicit 64-bit trace id, used as is. */
  traceId?: bigint;
  /**
   * Weft mode: a service name that travels with the request (sent once per
   * connection, then as a 2-byte id); the handler reads `context.service`.
   */
  service?: string;
  /** Weft mode: a command name that travels with the request, as `service` does. */
  command?: string;
}

/** What a context needs from its cluster (kept small to avoid an import cycle). */
export interface ContextHost {
  /** `cluster.call`. */
  call(peer: Peer, cmd: string | number, body?: unknown, options?: CallOptions): Promise<unknown>;
  /** `cluster.send`. */
  send(peer: Peer, cmd: string | number, body?: unknown, options?: CallOptions): Promise<void>;
}

/**
 * The context of one request, passed to the handler as its fourth argument.
 *
 * Calls made through `context.call()` / `context.send()` (or with
 * `{ context }` in their options) carry the request's trace id, as silly
 * propagates it: the root (upper 48 bits) is kept and this node's id goes in
 * the low 16 bits. The context is a plain object, so it is the same before
 * and after any `await` in the handler.
 */
export class CallContext {
  /** The peer that sent the request. */
  readonly peer: Peer;
  /** The request's cmd number. */
  readonly cmd: number;
  /** The request's session id. */
  readonly session: number;
  /** High 32 bits of the trace id the request carried. */
  readonly traceHi: number;
  /** Low 32 bits of the trace id the request carried (low 16: the sender's node id). */
  readonly traceLo: number;
  /**
   * Weft mode: when the caller stops waiting, in this node's monotonic
   * milliseconds (`performance.now()`), from the remaining time that
   * travelled with the request; Infinity when none did (and in silly mode).
   * Calls made through this context end by then too.
   */
  readonly deadline: number;
  /** Weft mode: true for a one-way `send` (its result is not sent back). */
  readonly oneWay: boolean;
  /** Weft mode: the service name the request carried (the caller's `service` option). */
  readonly service: string | undefined;
  /** Weft mode: the command name the request carried (the caller's `command` option). */
  readonly command: string | undefined;
  /** Used by the cluster's stats recorder: where the handler's start time is kept, or -1. */
  statsMark: number = -1;
  readonly #host: ContextHost;
  #controller: { readonly signal: AbortSignalLike; abort(reason?: unknown): void } | undefined =
    undefined;
  #abortReason: unknown = undefined;
  #linked: { abort(reason: unknown): void } | undefined = undefined;
  #aborted = false;

  /**
   * Made by the cluster for each request.
   *
   * @param host The cluster.
   * @param peer The sending peer.
   * @param frame The request's cmd, session and trace id halves.
   * @param deadline Monotonic deadline in ms, or Infinity.
   * @param oneWay True for a one-way send.
   * @param names The service and command names the request carried.
   */
  constructor(
    host: ContextHost,
    peer: Peer,
    frame: { cmd: number; session: number; traceHi: number; traceLo: number },
    deadline = Infinity,
    oneWay = false,
    names?: { readonly service: string | undefined; readonly command: string | undefined },
  ) {
    this.service = names?.service;
    this.command = names?.command;
    this.#host = host;
    this.peer = peer;
    this.cmd = frame.cmd;
    this.session = frame.session;
    this.traceHi = frame.traceHi;
    this.traceLo = frame.traceLo;
    this.deadline = deadline;
    this.oneWay = oneWay;
  }

  /** Milliseconds left before the deadline (Infinity when there is none). */
  get timeRemaining(): number {
    return this.deadline === Infinity ? Infinity : Math.max(0, this.deadline - now());
  }

  /** The request's 64-bit trace id. */
  get traceId(): bigint {
    return traceIdToBigInt(this.traceHi, this.traceLo);
  }

  /**
   * Aborts when the request no longer matters: the caller cancelled it
   * (weft mode), its connection closed, or the cluster closed. Calls made
   * through this context abort with it. (A real `AbortSignal` at run time,
   * made on first use.)
   */
  get signal(): AbortSignalLike {
    if (this.#controller === undefined) {
      this.#controller = abortController();
      if (this.#aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** True once the signal has aborted. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /**
   * Calls `peer` carrying this request's trace id.
   *
   * @param peer Where to call.
   * @param cmd The command name or number.
   * @param body The request body.
   * @param options Timeout, signal.
   * @returns The response body.
   */
  call(peer: Peer, cmd: string | number, body?: unknown, options?: CallOptions): Promise<unknown> {
    return this.#host.call(peer, cmd, body, { ...options, context: this });
  }

  /**
   * Sends a one-way request to `peer` carrying this request's trace id.
   *
   * @param peer Where to send.
   * @param cmd The command name or number.
   * @param body The request body.
   * @param options Timeout, signal (for a lazy connect or a congested connection).
   */
  send(peer: Peer, cmd: string | number, body?: unknown, options?: CallOptions): Promise<void> {
    return this.#host.send(peer, cmd, body, { ...options, context: this });
  }

  /**
   * Links one thing that aborts with this context (a cheaper `signal`
   * listener, for a raw forward: src/cluster/forward.ts). A later link
   * replaces it; one made after the abort is aborted at once.
   */
  link(target: { abort(reason: unknown): void } | undefined): void {
    this.#linked = target;
    if (this.#aborted) target?.abort(this.#abortReason);
  }

  /** Aborts the context's signal (internal: the cluster calls it). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    const linked = this.#linked;
    this.#linked = undefined;
    linked?.abort(reason);
  }
}
