/**
 * {@linkcode HandlerRunner}: the serving side of a cluster. A request read
 * on a connection is read through the mode's request head, authorised,
 * offered raw to the `rawRequest` hook (which may forward it: forward.ts),
 * decoded, handed to the `call` hook (with its {@linkcode CallContext} if
 * the handler declares one, or stats, tracing or a storage need one), and
 * its outcome answered (a body, an empty answer, or an error where the
 * mode carries errors back); a caller's CANCEL aborts it.
 *
 * @module
 */

import { startRefTimer, stopTimer } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import type { Frame } from "../wire/frame.ts";
import type { Channel } from "../connection/channel.ts";
import type { Peer } from "../connection/peer.ts";
import type { RequestBudget } from "../connection/request_budget.ts";
import type { ServedRequest } from "../connection/serving.ts";
import { CallContext, type ContextHost } from "./call_context.ts";
import { isThenable, marshalError } from "./call_helpers.ts";
import {
  answerFault,
  answerRefused,
  decodeRequest,
  isPeerFault,
  refuseUndecodable,
  type RequestRef,
  sendError,
} from "./fault_reply.ts";
import { RawRequests } from "./forward.ts";
import type { ResolvedOptions } from "./options.ts";
import { refusal } from "./security.ts";
import type { ClusterStats } from "./stats_recorder.ts";
import type { createTracing } from "./tracing_hook.ts";

/** A request being answered: a {@linkcode CallContext}, the runner's scratch, or a forward. */
export interface HandledRef extends RequestRef {
  /** True once the caller no longer waits (cancelled, timed out, closed). */
  readonly aborted: boolean;
}

/** The scratch reference, rewritten for each request answered without a context. */
interface ScratchRef {
  session: number;
  cmd: number;
  oneWay: boolean;
  readonly aborted: false;
}

/**
 * Whether every request needs a {@linkcode CallContext} from the start:
 * when stats, tracing (whose wrapper passes it on) or a context storage
 * are on. (A handler that declares four
 * parameters, or takes them as a rest parameter, `length` 0, is given one
 * too, made after the `rawRequest` hook declined.)
 */
function needsContext(
  o: ResolvedOptions,
  stats: ClusterStats | undefined,
  tracing: ReturnType<typeof createTracing>,
): boolean {
  return stats !== undefined || tracing !== undefined || o.contextStorage !== undefined;
}

/** A cluster's request handlers: run, answered, cancelled, drained. */
export class HandlerRunner {
  /** The node is shutting down: requests arriving are refused (`peer closed`). */
  refusing = false;
  readonly #o: ResolvedOptions;
  /** What handlers' contexts call through (the cluster). */
  readonly #contexts: ContextHost;
  readonly #stats: ClusterStats | undefined;
  readonly #tracing: ReturnType<typeof createTracing>;
  /**
   * Handlers running (async ones and forwards), node-wide: the slots of
   * `maxHandlersPerNode`, shared with every connection's admission.
   */
  readonly #budget: RequestBudget;
  #idle: PromiseWithResolvers<void> | null = null;
  /**
   * Every request gets a {@linkcode CallContext}: the handler declares a
   * context parameter (or takes its arguments as a rest parameter), or
   * stats, tracing or a context storage need one. Otherwise none is made
   * for a request answered at once.
   */
  readonly #withContext: boolean;
  /** The handler declares a context parameter (four, or a rest parameter). */
  readonly #handlerTakesContext: boolean;
  /** Scratch reference to a request answered without a context (rewritten per answer). */
  readonly #scratch: ScratchRef;
  /** The abort reason of each connection's cancelled calls (see onCancel). */
  readonly #cancelReasons = new WeakMap<Channel, WeftError>();
  /** The scratch request given to the `rawRequest` hook, and the forwards it makes. */
  readonly #raw: RawRequests;

  /**
   * The serving side of a cluster.
   *
   * @param o The cluster's options.
   * @param contexts The cluster, for the calls handlers make through their context.
   * @param stats The stats recorder, if any.
   * @param tracing The tracing hook, if any.
   */
  constructor(
    o: ResolvedOptions,
    contexts: ContextHost,
    stats: ClusterStats | undefined,
    tracing: ReturnType<typeof createTracing>,
  ) {
    this.#o = o;
    this.#contexts = contexts;
    this.#stats = stats;
    this.#tracing = tracing;
    this.#budget = o.requests;
    this.#withContext = needsContext(o, stats, tracing);
    const length = o.call?.length ?? 4;
    this.#handlerTakesContext = length === 0 || length >= 4;
    this.#scratch = { session: 0, cmd: 0, oneWay: false, aborted: false };
    this.#raw = new RawRequests(o, this);
  }

  /** Handlers still running (async ones). */
  get running(): number {
    return this.#budget.running;
  }

  /** Resolves once no handler runs, or after `grace` ms (a graceful close). */
  async drain(grace: number): Promise<void> {
    this.#idle = Promise.withResolvers<void>();
    const timer = startRefTimer(() => this.#idle?.resolve(), grace);
    await this.#idle.promise;
    stopTimer(timer);
    this.#idle = null;
  }

  /** A request arrived on `channel` (the frame is valid only during the call). */
  onRequest(channel: Channel, frame: Frame): void {
    if (this.#withContext) return this.#onRequestWithContext(channel, frame);
    const o = this.#o;
    const peer = channel.peer;
    const head = channel.protocol.readRequest(frame.payload, channel.receivedAt);
    const payload = head.body === 0 ? frame.payload : frame.payload.subarray(head.body);
    // No context: what an answer needs is kept in locals (the mode's head is
    // scratch, and a handler may read another request before it returns).
    const session = frame.session;
    const cmd = frame.cmd;
    const oneWay = head.oneWay;
    const deadline = head.deadline;
    if (this.refusing) {
      this.#sendError(
        channel,
        this.#ref(session, cmd, oneWay),
        new WeftError("peer closed", "Node is shutting down"),
      );
      return;
    }
    const refused = refusal(o.security.authorize, peer, cmd, o, head);
    if (refused !== undefined) {
      return answerRefused(o, channel, this.#ref(session, cmd, oneWay), "forbidden", refused);
    }
    const raw = o.rawRequest;
    if (raw !== undefined) {
      const request = this.#raw.begin(channel, frame, head);
      if (raw(peer, cmd, payload, request)) return;
    }
    let body: unknown;
    try {
      body = decodeRequest(o.unmarshal, cmd, payload);
    } catch (error) {
      // silly logs and answers nothing (the caller times out); weft answers with the error.
      return refuseUndecodable(o, channel, this.#ref(session, cmd, oneWay), cmd, error);
    }
    const handler = o.call;
    if (handler === undefined) return this.#noHandler(channel, this.#ref(session, cmd, oneWay));
    let context: CallContext | undefined;
    let result: unknown;
    try {
      if (this.#handlerTakesContext) {
        context = new CallContext(this.#contexts, peer, frame, deadline, oneWay, head);
        result = handler(peer, cmd, body, context);
      } else {
        // The handler declared no context parameter: it is not given one.
        result = (handler as (peer: Peer, cmd: number, body: unknown) => unknown)(peer, cmd, body);
      }
    } catch (error) {
      this.#handlerFailed(channel, context ?? this.#ref(session, cmd, oneWay), error);
      return;
    }
    if (isThenable(result)) {
      // Still running: tracked as any async handler is (cancel, close,
      // drain); under a context made now if the handler took none.
      context ??= new CallContext(this.#contexts, peer, frame, deadline, oneWay);
      this.#track(channel, context, result);
    } else {
      this.#respond(channel, context ?? this.#ref(session, cmd, oneWay), result);
    }
  }

  /** The request path with a {@linkcode CallContext} from the start (stats, tracing or a storage need one). */
  #onRequestWithContext(channel: Channel, frame: Frame): void {
    const o = this.#o;
    const peer = channel.peer;
    const head = channel.protocol.readRequest(frame.payload, channel.receivedAt);
    const payload = head.body === 0 ? frame.payload : frame.payload.subarray(head.body);
    const context = new CallContext(this.#contexts, peer, frame, head.deadline, head.oneWay, head);
    if (head.trace !== undefined) this.#tracing?.received(context, head.trace);
    if (this.refusing) {
      this.#sendError(channel, context, new WeftError("peer closed", "Node is shutting down"));
      return;
    }
    const refused = refusal(o.security.authorize, peer, frame.cmd, o, context);
    if (refused !== undefined) return answerRefused(o, channel, context, "forbidden", refused);
    let body: unknown;
    try {
      body = decodeRequest(o.unmarshal, frame.cmd, payload);
    } catch (error) {
      // silly logs and answers nothing (the caller times out); weft answers with the error.
      return refuseUndecodable(o, channel, context, frame.cmd, error);
    }
    const handler = o.call;
    if (handler === undefined) return this.#noHandler(channel, context);
    this.#stats?.serving(context);
    let result: unknown;
    try {
      const storage = o.contextStorage;
      result = storage === undefined
        ? handler(peer, frame.cmd, body, context)
        : storage.run(context, () => handler(peer, context.cmd, body, context));
    } catch (error) {
      this.#handlerFailed(channel, context, error);
      return;
    }
    if (isThenable(result)) this.#track(channel, context, result);
    else this.#respond(channel, context, result);
  }

  /** No `call` hook: the request is logged and refused. */
  #noHandler(channel: Channel, request: HandledRef): void {
    // Every request a peer sends can land here: rate-limited like any peer fault.
    this.#o.faults.report(
      "no handler",
      () => `No call handler: request cmd ${request.cmd} from ${channel.peer} dropped`,
    );
    this.#sendError(
      channel,
      request,
      new WeftError("protocol", `No handler for cmd ${request.cmd} on this node`),
    );
  }

  /**
   * An async handler: only a handler still running can be cancelled,
   * aborted by a close, or waited for by a drain, so it is tracked (a
   * synchronous one is answered at once).
   */
  #track(channel: Channel, context: CallContext, result: PromiseLike<unknown>): void {
    channel.serving.add(context);
    this.#budget.began();
    result.then(
      (value) => {
        this.#finished(channel, context);
        this.#respond(channel, context, value);
      },
      (error) => {
        this.#finished(channel, context);
        this.#handlerFailed(channel, context, error);
      },
    );
  }

  /** The scratch reference to a request answered now, without a context. */
  #ref(session: number, cmd: number, oneWay: boolean): HandledRef {
    const ref = this.#scratch;
    ref.session = session;
    ref.cmd = cmd;
    ref.oneWay = oneWay;
    return ref;
  }

  /**
   * An async handler (or a forward) finished, either way: forget it (its
   * connection runs what waits behind it, unless the node is at its cap),
   * free its node-wide slot (to the next connection waiting for one), and
   * tell a drain waiting for the last one.
   */
  #finished(channel: Channel, request: ServedRequest): void {
    channel.finished(request);
    const budget = this.#budget;
    budget.ended();
    if (budget.running === 0 && this.#idle !== null) this.#idle.resolve();
  }

  #respond(channel: Channel, request: HandledRef, value: unknown): void {
    // With stats every request has a context (see #withContext).
    if (this.#stats !== undefined) this.#stats.served(request as CallContext);
    if (channel.closed || request.oneWay) return;
    // A mode that answers every call (weft) sends undefined as an empty response.
    const protocol = channel.protocol;
    if (value === undefined) {
      if (protocol.emptyHead !== null) channel.response(request.session, "", protocol.emptyHead);
      return;
    }
    const cmd = request.cmd;
    let marshalled: readonly [number, Uint8Array | string] | undefined;
    try {
      marshalled = this.#o.marshal("response", cmd, value);
    } catch (error) {
      // A peer's input can make every answer unmarshalable: rate-limited, counted.
      this.#o.faults.report("marshal failed", () => `Cannot marshal response to cmd ${cmd}`, error);
      this.#sendError(channel, request, marshalError(cmd, error, "response"));
      return;
    }
    if (marshalled === undefined) {
      if (protocol.emptyHead !== null) channel.response(request.session, "", protocol.emptyHead);
      return;
    }
    this.#send(channel, request, marshalled[1], protocol.okHead);
  }

  /** Writes an answer (`head`: the mode's ok head, or one with the forwarder's prefix after it). */
  #send(channel: Channel, request: HandledRef, bytes: Uint8Array | string, head: Uint8Array): void {
    try {
      channel.response(request.session, bytes, head);
    } catch (error) {
      this.#o.faults.report(
        "send failed",
        () => `Cannot send response to cmd ${request.cmd}`,
        error,
      );
      this.#sendError(channel, request, error);
    }
  }

  #handlerFailed(channel: Channel, request: HandledRef, error: unknown): void {
    if (this.#stats !== undefined) this.#stats.failed(request as CallContext, error);
    if (request.aborted) {
      // The caller no longer waits (it cancelled or timed out, or the
      // connection closed): a handler that gives up on its signal did as
      // asked. Nothing to answer, and not an error.
      // A peer can cancel every call it makes: a line each would be its to write.
      this.#o.notices.report(
        "handler stopped",
        () => `Handler for cmd ${request.cmd} from ${channel.peer} stopped`,
        error,
      );
      return;
    }
    // The handler refused the request as the peer's fault: answered cheaply, not logged.
    if (isPeerFault(error)) return answerFault(this.#o, channel, request, error);
    // silly logs and answers nothing (the caller times out); weft answers with the error.
    const cmd = this.#o.cmdName(request.cmd);
    // A peer's input can make a handler throw on every request: rate-limited
    // per kind (with its stack, at most faultLogLimit a second), counted.
    this.#o.faults.report(
      "handler threw",
      () => `Handler for cmd ${cmd} from ${channel.peer} threw`,
      error,
    );
    this.#sendError(channel, request, error);
  }

  /** Answers the request with an error response (modes whose errors travel back; never for a one-way send). */
  #sendError(channel: Channel, request: RequestRef, error: unknown): void {
    sendError(this.#o, channel, request, error);
  }

  // ---- what a raw forward asks of the runner (see forward.ts) ---------------

  /** A forward began: it counts as a running handler (drain, in-flight limit, cancel, close). */
  forwardBegan(channel: Channel, forward: ServedRequest): void {
    channel.serving.add(forward);
    this.#budget.began();
  }

  /** A forward's target answered `bytes` (or nothing: undefined); `head` is the answer's head. */
  forwardAnswered(
    channel: Channel,
    forward: ServedRequest & HandledRef,
    bytes: Uint8Array | undefined,
    head: Uint8Array,
  ): void {
    this.#finished(channel, forward);
    if (channel.closed) return;
    if (bytes === undefined) {
      const empty = channel.protocol.emptyHead;
      if (empty !== null) channel.response(forward.session, "", empty);
    } else {
      // A body that goes in parts is queued by reference: lent bytes must not be.
      if (bytes.length + head.length > channel.protocol.partThreshold) bytes = bytes.slice();
      this.#send(channel, forward, bytes, head);
    }
  }

  /** A forward failed (or was aborted: `forward.aborted`), as a handler that threw. */
  forwardFailed(channel: Channel, forward: ServedRequest & HandledRef, error: unknown): void {
    this.#finished(channel, forward);
    this.#handlerFailed(channel, forward, error);
  }

  /**
   * The caller cancelled a request: its handler's signal aborts, or, if it
   * still waits for a slot, it is dropped. A handler is looked up first (a
   * map), the waiting queue only if none runs under that session.
   */
  onCancel(channel: Channel, session: number): void {
    const served = channel.serving.get(session);
    if (served === undefined) {
      channel.dropWaiting(session);
      return;
    }
    // One reason per connection, made at its first cancel, as a close aborts
    // every handler with one error: a peer can cancel every call it makes,
    // and an Error costs microseconds (its stack on Node and Bun, about 3 µs
    // on Deno even without one), in the read that carried the cancels.
    let reason = this.#cancelReasons.get(channel);
    if (reason === undefined) {
      reason = new WeftError("aborted", `Call cancelled by ${channel.peer}`);
      this.#cancelReasons.set(channel, reason);
    }
    served.abort(reason);
  }
}
