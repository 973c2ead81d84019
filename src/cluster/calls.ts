/**
 * {@linkcode Calls}: the calling side of a cluster. A call or send is
 * checked, marshalled, given the mode's request head (and trace context),
 * written on its connection (connecting, or waiting out backpressure,
 * first if it must), and its response decoded with the mode's response
 * head and the unmarshal hook.
 *
 * @module
 */

import { type AbortSignalLike, anySignal, now } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import type { DeadlineQueue } from "../session/deadline_queue.ts";
import { PendingCall } from "../session/pending_calls.ts";
import { freshTraceId, propagateTraceId, type TraceId } from "../session/trace.ts";
import { traceIdFromBigInt } from "../wire/frame.ts";
import type { Channel } from "../connection/channel.ts";
import { Peer, type PeerState, peerState } from "../connection/peer.ts";
import { ResponseStatus } from "../protocol/mode.ts";
import type { CallOptions } from "./call_context.ts";
import {
  abortedError,
  isCmd,
  marshalError,
  unmarshalError,
  withMayHaveRun,
} from "./call_helpers.ts";
import { timeoutOptionError } from "./_fail.ts";
import type { ResolvedOptions } from "./options.ts";
import type { ClusterStats } from "./stats_recorder.ts";
import type { createTracing } from "./tracing_hook.ts";
import { waitFor } from "./_wait.ts";

/** What the calling side needs from its cluster: connections and whether it is closed. */
export interface CallsHost {
  /** The channel of an outbound peer: the live one, or a (shared) connect. */
  ensureChannel(
    peer: Peer,
    state: PeerState<Channel>,
    deadline: number,
    signal: AbortSignalLike | undefined,
  ): Promise<Channel>;
  /** The error for a call to a closed peer (or from a closed cluster). */
  peerClosed(peer: Peer): WeftError;
}

/** A cluster's calls and sends, and the responses they get. */
export class Calls {
  /** Set by the cluster once it closes everything: calls are refused (`peer closed`). */
  shut = false;
  readonly #o: ResolvedOptions;
  readonly #host: CallsHost;
  readonly #deadlines: DeadlineQueue;
  readonly #stats: ClusterStats | undefined;
  readonly #tracing: ReturnType<typeof createTracing>;
  /** Scratch trace id written per call; no allocation. */
  readonly #trace: TraceId = { traceHi: 0, traceLo: 0 };
  /** The mode sends the time a caller still waits: the clock is read per request. */
  readonly #sendsDeadlines: boolean;
  /** The resolving functions of the promise just made (see #capture). */
  #resolve: ((value: unknown) => void) | undefined = undefined;
  #reject: ((reason: unknown) => void) | undefined = undefined;
  /** The executor of every call's promise: keeps its resolving functions for the call. */
  readonly #capture = (resolve: (value: unknown) => void, reject: (reason: unknown) => void) => {
    this.#resolve = resolve;
    this.#reject = reject;
  };

  /**
   * The calling side of a cluster.
   *
   * @param o The cluster's options.
   * @param host The cluster.
   * @param deadlines The cluster's deadline queue.
   * @param stats The stats recorder, if any.
   * @param tracing The tracing hook, if any.
   */
  constructor(
    o: ResolvedOptions,
    host: CallsHost,
    deadlines: DeadlineQueue,
    stats: ClusterStats | undefined,
    tracing: ReturnType<typeof createTracing>,
  ) {
    this.#o = o;
    this.#host = host;
    this.#deadlines = deadlines;
    this.#stats = stats;
    this.#tracing = tracing;
    this.#sendsDeadlines = o.mode.can.deadlines;
  }

  /**
   * A call (`expectResponse`) or a send to `peer`: rejects at once for bad
   * arguments or a closed peer; connects, or waits out a congested
   * connection, first if it must.
   */
  request(
    peer: Peer,
    cmd: string | number,
    body: unknown,
    options: CallOptions | undefined,
    expectResponse: boolean,
  ): Promise<unknown> {
    if (!(peer instanceof Peer)) {
      return Promise.reject(
        new TypeError("Invalid peer: expected a Peer from connect() or a hook"),
      );
    }
    const timeout = options?.timeout ?? this.#o.timeout;
    if (typeof timeout !== "number" || !(timeout > 0)) {
      return Promise.reject(timeoutOptionError(timeout));
    }
    let signal = options?.signal;
    // The call's deadline is `timeout` ms from when its request is written
    // (the channel arms it as it writes the turn's batch: one clock read
    // per batch, not one or two per call), capped by a context's deadline.
    let cap = Infinity;
    const context = options?.context;
    if (context !== undefined) {
      // A call made for a request ends with it: same deadline, same signal.
      cap = context.deadline;
      if (cap !== Infinity && cap <= now()) {
        return Promise.reject(
          new WeftError("timeout", `Call ${String(cmd)} timed out: no time left`, {
            mayHaveRun: false,
          }),
        );
      }
      signal = signal === undefined ? context.signal : anySignal([signal, context.signal]);
    }
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    const state = peerState<Channel>(peer);
    if (state.closed || this.shut) {
      return Promise.reject(withMayHaveRun(this.#host.peerClosed(peer), false));
    }
    const channel = state.channel;
    if (channel !== null && !channel.congested && channel.writeLine.size === 0) {
      return this.#requestOn(channel, cmd, body, cap, timeout, signal, options, expectResponse);
    }
    // Connecting or waiting out congestion counts against the call's time:
    // its deadline is fixed from now.
    const deadline = timeout === Infinity ? cap : Math.min(cap, now() + timeout);
    return this.#requestSlow(peer, state, cmd, body, deadline, signal, options, expectResponse);
  }

  /** The path for a peer not connected, or congested: connect or wait first. */
  async #requestSlow(
    peer: Peer,
    state: PeerState<Channel>,
    cmd: string | number,
    body: unknown,
    deadline: number,
    signal: AbortSignalLike | undefined,
    options: CallOptions | undefined,
    expectResponse: boolean,
  ): Promise<unknown> {
    let channel = state.channel;
    try {
      if (channel === null) {
        channel = await this.#host.ensureChannel(peer, state, deadline, signal);
      }
      // Backpressure: wait for the connection to drain rather than queue
      // more, in line (see WriteLine): no later request overtakes this one,
      // and this one writes before the next in line resumes.
      while (channel.congested || channel.writeLine.size > 0) {
        const line = channel.writeLine;
        const ticket = line.enter();
        try {
          await waitFor(
            this.#deadlines,
            ticket.turn,
            deadline,
            signal,
            `Call to ${peer} timed out`,
          );
          // Closed while this one waited in line: drained() rejects with
          // the reason the one ahead was given (closed, or the handshake's
          // error), rather than each waiter reconnecting.
          while (channel.congested || channel.closed) {
            const why = channel.handshaking ? " waiting for weft's HELLO_ACK" : "";
            await waitFor(
              this.#deadlines,
              channel.drained(),
              deadline,
              signal,
              `Call to ${peer} timed out${why}`,
            );
          }
          if (state.closed) throw this.#host.peerClosed(peer);
          if (state.channel === channel) {
            // This request's turn: write it now, then the next one's turn.
            // With more in line the batch stays open for them (each resumes
            // a few microtasks later): a drain lets the whole line out in
            // one write, not a write per request. The last one's write, a
            // full batch (drained()) or the line emptying sends it.
            channel.batchOpen = line.size > 1;
            try {
              return this.#requestOn(
                channel,
                cmd,
                body,
                deadline,
                Infinity,
                signal,
                options,
                expectResponse,
              );
            } finally {
              channel.batchOpen = false;
            }
          }
        } finally {
          line.leave(ticket);
          // The rest of the line gave up (a timeout, an abort): send what the batch holds.
          if (line.size === 0) channel.flushSoon();
        }
        // Reconnected while waiting: wait again on the new connection.
        channel = state.channel ?? await this.#host.ensureChannel(peer, state, deadline, signal);
      }
    } catch (error) {
      // Connecting, the handshake, a congested connection: nothing was sent yet.
      throw withMayHaveRun(error, false);
    }
    return this.#requestOn(channel, cmd, body, deadline, Infinity, signal, options, expectResponse);
  }

  /**
   * Marshals, encodes and queues a request on a live channel. The call's
   * deadline is the earlier of `deadline` (monotonic ms) and `timeout` ms
   * after the request is written.
   */
  #requestOn(
    channel: Channel,
    cmd: string | number,
    body: unknown,
    deadline: number,
    timeout: number,
    signal: AbortSignalLike | undefined,
    options: CallOptions | undefined,
    expectResponse: boolean,
  ): Promise<unknown> {
    let marshalled: readonly [number, Uint8Array | string] | undefined;
    try {
      marshalled = this.#o.marshal("request", cmd, body);
    } catch (error) {
      return Promise.reject(marshalError(cmd, error));
    }
    const protocol = channel.protocol;
    if (
      marshalled === undefined || !isCmd(marshalled[0]) ||
      marshalled[0] >= protocol.firstReservedCmd
    ) {
      return Promise.reject(
        new WeftError(
          "marshal failed",
          `Cannot marshal request ${String(cmd)}: marshal returned ${
            marshalled === undefined
              ? "nothing"
              : isCmd(marshalled[0])
              ? `cmd ${marshalled[0]}, which weft reserves for control frames`
              : `cmd ${String(marshalled[0])}`
          }`,
        ),
      );
    }
    const trace = this.#traceFor(options);
    let head: Uint8Array | undefined;
    try {
      const bytes = marshalled[1];
      head = protocol.requestHead(
        !expectResponse,
        this.#sendsDeadlines ? remaining(deadline, timeout) : Infinity,
        options?.service,
        options?.command,
        typeof bytes === "string" ? bytes.length * 3 : bytes.length,
      );
    } catch (error) {
      return Promise.reject(withMayHaveRun(error, false));
    }
    const span = this.#tracing?.call(cmd, marshalled[0], channel, !expectResponse, options, trace);
    if (span?.context !== undefined) head = protocol.traceHead(head, span.context);
    if (!expectResponse) {
      try {
        channel.request(marshalled[0], marshalled[1], trace.traceHi, trace.traceLo, null, 0, head);
        this.#stats?.sent(marshalled[0]);
        span?.end();
      } catch (error) {
        span?.end(error);
        return Promise.reject(error);
      }
      return Promise.resolve(undefined);
    }
    // One executor made once: no closure per call.
    const promise = new Promise<unknown>(this.#capture);
    const call = new PendingCall(cmd, this.#resolve!, this.#reject!);
    this.#stats?.track(call, marshalled[0]);
    if (span !== undefined) this.#tracing!.settle(span, promise);
    try {
      channel.request(
        marshalled[0],
        marshalled[1],
        trace.traceHi,
        trace.traceLo,
        call,
        deadline,
        head,
        timeout,
      );
    } catch (error) {
      call.reject(error);
      return promise;
    }
    if (signal !== undefined) {
      const onAbort = () => {
        const session = call.session;
        if (call.table?.remove(call)) {
          call.reject(abortedError(signal, call.written));
          channel.cancel(session);
        }
      };
      call.signal = signal;
      call.onAbort = onAbort;
      signal.addEventListener("abort", onAbort, { once: true });
    }
    return promise;
  }

  /** Writes the trace id a call carries into the scratch id and returns it. */
  #traceFor(options: CallOptions | undefined): TraceId {
    const trace = this.#trace;
    if (options?.traceId !== undefined) {
      const [hi, lo] = traceIdFromBigInt(options.traceId);
      trace.traceHi = hi;
      trace.traceLo = lo;
      return trace;
    }
    const parent = options?.context ?? this.#o.contextStorage?.getStore();
    return parent === undefined
      ? freshTraceId(this.#o.nodeId, trace)
      : propagateTraceId(parent, this.#o.nodeId, trace);
  }

  /** A response arrived for `call`. */
  onResponse(channel: Channel, call: PendingCall, payload: Uint8Array): void {
    let body: unknown;
    try {
      const protocol = channel.protocol;
      const status = protocol.responseStatus(payload);
      if (status === ResponseStatus.Empty) {
        call.resolve(undefined);
        return;
      }
      const size = protocol.responseHeadSize;
      if (status === ResponseStatus.Error) {
        call.reject(protocol.decodeError(payload.subarray(size), call.cmd));
        return;
      }
      if (size !== 0) payload = payload.subarray(size);
      body = this.#o.unmarshal("response", call.cmd, payload);
    } catch (error) {
      call.reject(unmarshalError(call.cmd, error, "response"));
      return;
    }
    if (body instanceof Error) call.reject(unmarshalError(call.cmd, body, "response"));
    else call.resolve(body);
  }

  /** A call's deadline passed. */
  onTimeout(channel: Channel, call: PendingCall): void {
    call.reject(
      new WeftError("timeout", `Call ${String(call.cmd)} timed out: no response in time`, {
        mayHaveRun: call.written,
      }),
    );
    channel.cancel(call.session);
  }
}

/**
 * The milliseconds a caller still waits, as the request head says it: the
 * whole `timeout` (counted from the write, which is about now), or less if
 * `deadline` (monotonic ms) comes first.
 */
function remaining(deadline: number, timeout: number): number {
  return deadline === Infinity ? timeout : Math.min(timeout, deadline - now());
}
