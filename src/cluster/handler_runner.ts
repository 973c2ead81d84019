/**
 * {@linkcode HandlerRunner}: the serving side of a cluster. A request read
 * on a connection is read through the mode's request head, authorised,
 * decoded, handed to the `call` hook with its {@linkcode CallContext}, and
 * its outcome answered (a body, an empty answer, or an error where the
 * mode carries errors back); a caller's CANCEL aborts it.
 *
 * @module
 */

import { startRefTimer, stopTimer } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import type { Frame } from "../wire/frame.ts";
import type { Channel } from "../connection/channel.ts";
import { CallContext, type ContextHost } from "./call_context.ts";
import { isThenable, marshalError } from "./call_helpers.ts";
import {
  answerFault,
  decodeRequest,
  isPeerFault,
  refuseUndecodable,
  sendError,
} from "./fault_reply.ts";
import type { ResolvedOptions } from "./options.ts";
import { refusal } from "./security.ts";
import type { ClusterStats } from "./stats_recorder.ts";
import type { createTracing } from "./tracing_hook.ts";

/** A cluster's request handlers: run, answered, cancelled, drained. */
export class HandlerRunner {
  /** The node is shutting down: requests arriving are refused (`peer closed`). */
  refusing = false;
  readonly #o: ResolvedOptions;
  /** What handlers' contexts call through (the cluster). */
  readonly #contexts: ContextHost;
  readonly #stats: ClusterStats | undefined;
  readonly #tracing: ReturnType<typeof createTracing>;
  /** Requests whose handlers are running. */
  #running = 0;
  #idle: PromiseWithResolvers<void> | null = null;

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
  }

  /** Handlers still running (async ones). */
  get running(): number {
    return this.#running;
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
    if (refused !== undefined) return this.#sendError(channel, context, refused);
    let body: unknown;
    try {
      body = decodeRequest(o.unmarshal, frame.cmd, payload);
    } catch (error) {
      // silly logs and answers nothing (the caller times out); weft answers with the error.
      const reason = refuseUndecodable(o, channel, context, frame.cmd, error);
      if (reason !== undefined) this.#sendError(channel, context, reason);
      return;
    }
    const handler = o.call;
    if (handler === undefined) {
      o.logger.error(`No call handler: request cmd ${frame.cmd} from ${peer} dropped`);
      this.#sendError(
        channel,
        context,
        new WeftError("protocol", `No handler for cmd ${frame.cmd} on this node`),
      );
      return;
    }
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
    if (isThenable(result)) {
      // Only a handler still running can be cancelled, aborted by a close, or
      // waited for by a drain: track it (a synchronous one is answered now).
      channel.serving.add(context);
      this.#running++;
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
    } else {
      this.#respond(channel, context, result);
    }
  }

  /** An async handler finished (either way): forget it, and tell a drain waiting for the last one. */
  #finished(channel: Channel, context: CallContext): void {
    channel.finished(context);
    if (--this.#running === 0 && this.#idle !== null) this.#idle.resolve();
  }

  #respond(channel: Channel, context: CallContext, value: unknown): void {
    this.#stats?.served(context);
    if (channel.closed || context.oneWay) return;
    // A mode that answers every call (weft) sends undefined as an empty response.
    const protocol = channel.protocol;
    if (value === undefined) {
      if (protocol.emptyHead !== null) channel.response(context.session, "", protocol.emptyHead);
      return;
    }
    let marshalled: readonly [number, Uint8Array | string] | undefined;
    try {
      marshalled = this.#o.marshal("response", context.cmd, value);
    } catch (error) {
      this.#o.logger.error(`Cannot marshal response to cmd ${context.cmd}`, error);
      this.#sendError(channel, context, marshalError(context.cmd, error, "response"));
      return;
    }
    if (marshalled === undefined) {
      if (protocol.emptyHead !== null) channel.response(context.session, "", protocol.emptyHead);
      return;
    }
    try {
      channel.response(context.session, marshalled[1], protocol.okHead);
    } catch (error) {
      this.#o.logger.error(`Cannot send response to cmd ${context.cmd}`, error);
      this.#sendError(channel, context, error);
    }
  }

  #handlerFailed(channel: Channel, context: CallContext, error: unknown): void {
    this.#stats?.failed(context, error);
    if (context.aborted) {
      // The caller no longer waits (it cancelled or timed out, or the
      // connection closed): a handler that gives up on its signal did as
      // asked. Nothing to answer, and not an error.
      this.#o.logger.info?.(`Handler for cmd ${context.cmd} from ${context.peer} stopped`, error);
      return;
    }
    // The handler refused the request as the peer's fault: answered cheaply, not logged.
    if (isPeerFault(error)) return answerFault(this.#o, channel, context, error);
    // silly logs and answers nothing (the caller times out); weft answers with the error.
    const cmd = this.#o.cmdName(context.cmd);
    // A peer's input can make a handler throw on every request: rate-limited
    // per kind (with its stack, at most faultLogLimit a second), counted.
    this.#o.faults.report(
      "handler threw",
      () => `Handler for cmd ${cmd} from ${context.peer} threw`,
      error,
    );
    this.#sendError(channel, context, error);
  }

  /** Answers the request with an error response (modes whose errors travel back; never for a one-way send). */
  #sendError(channel: Channel, context: CallContext, error: unknown): void {
    sendError(this.#o, channel, context, error);
  }

  /** The caller cancelled a request being handled (modes that can cancel). */
  onCancel(channel: Channel, session: number): void {
    if (channel.dropWaiting(session)) return;
    channel.serving.get(session)?.abort(
      new WeftError("aborted", `Call cancelled by ${channel.peer}`),
    );
  }
}
