/**
 * {@linkcode Cluster}: silly.net.cluster's peer RPC — serve (the
 * constructor), listen, connect, call, send, close — on any transport.
 *
 * @module
 */

import {
  type AbortSignalLike,
  anySignal,
  now,
  startRefTimer,
  stopTimer,
  type TimerHandle,
} from "../_platform.ts";
import { WeftError } from "../errors.ts";
import { PendingCall } from "../session/pending_calls.ts";
import { type Deadline, DeadlineQueue } from "../session/deadline_queue.ts";
import { freshTraceId, propagateTraceId, type TraceId } from "../session/trace.ts";
import { parseAddress } from "../transport/address.ts";
import { defaultTransport } from "../transport/detect.ts";
import type { Connection, Transport } from "../transport/types.ts";
import { type Frame, traceIdFromBigInt } from "../wire/frame.ts";
import { CallContext, type CallOptions, type ContextHost } from "./call_context.ts";
import { Channel, type ChannelHost } from "./channel.ts";
import { AcceptGate } from "./accept_gate.ts";
import { connectFailed, timeoutOptionError } from "./_fail.ts";
import { ClusterListener, type ClusterListenOptions } from "./listener.ts";
import { type ClusterOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import {
  decodeErrorInfo,
  REQUEST_HEAD_SIZE,
  RequestFlag,
  requestFlags,
  requestRemaining,
  RESERVED_CMD_MIN,
  ResponseStatus,
  STATUS_HEAD,
} from "./protocol.ts";
import { Peer, type PeerState, peerState } from "./peer.ts";
import { HandshakeAuth } from "./handshake_auth.ts";
import { connectTls, listenTls, refusal } from "./security.ts";
import { Reaper } from "./reaper.ts";
import * as recorder from "./stats_recorder.ts";
import { readTraceContext, traceHead } from "./tracing.ts";
import { createTracing } from "./tracing_hook.ts";
import { abortedError, isCmd, isThenable, marshalError, unmarshalError } from "./call_helpers.ts";
import {
  answerFault,
  decodeRequest,
  isPeerFault,
  refuseUndecodable,
  sendError,
} from "./fault_reply.ts";

/** Options of `cluster.close()` for the whole cluster. */
export interface ClusterCloseOptions {
  /**
   * Graceful drain: milliseconds to let requests already being handled
   * finish. Listeners close at once and requests arriving meanwhile are
   * refused (weft mode: a `remote` error with code `peer closed`; silly
   * mode: dropped). Then everything closes as without a grace period.
   *
   * @default {0}
   */
  grace?: number;
}

/**
 * A cluster node: it listens for peers, connects to peers, and calls them.
 *
 * Every call and send takes `{ timeout, signal }`. Failures reject with a
 * {@linkcode WeftError} whose `code` says what happened: `timeout`,
 * `aborted`, `closed` (the connection dropped while the call waited),
 * `peer closed`, `connect failed`, `frame too large`, `marshal failed`,
 * `unmarshal failed`.
 *
 * @example Two nodes over the in-memory transport
 * ```ts
 * import { Cluster } from "./cluster.ts";
 * import { transport } from "../transport/memory.ts";
 *
 * const codec = {
 *   marshal: (_type: string, cmd: string | number, body: unknown) =>
 *     [Number(cmd), JSON.stringify(body)] as const,
 *   unmarshal: (_type: string, _cmd: string | number, bytes: Uint8Array) =>
 *     JSON.parse(new TextDecoder().decode(bytes)),
 * };
 * await using server = new Cluster({
 *   ...codec,
 *   transport,
 *   call: (_peer, _cmd, body) => ({ echo: body }),
 * });
 * const listener = await server.listen("127.0.0.1:0");
 * await using client = new Cluster({ ...codec, transport });
 * const peer = client.connect(`127.0.0.1:${listener.address.port}`);
 * const reply = await client.call(peer, 1, { hi: 1 });
 * if (JSON.stringify(reply) !== '{"echo":{"hi":1}}') throw new Error("unexpected reply");
 * ```
 */
export class Cluster implements ContextHost {
  readonly #o: ResolvedOptions;
  readonly #deadlines = new DeadlineQueue();
  #transport: Transport | undefined;
  #transportLoading: Promise<Transport> | undefined;
  readonly #peers = new Map<string, Peer>();
  readonly #channels = new Set<Channel>();
  readonly #listeners = new Set<ClusterListener>();
  readonly #connecting = new Set<Promise<unknown>>();
  /** Scratch trace id written per call; no allocation. */
  readonly #trace: TraceId = { traceHi: 0, traceLo: 0 };
  /** Scratch weft request head, filled per request; no allocation. */
  readonly #head = new Uint8Array(REQUEST_HEAD_SIZE);
  #closing: Promise<void> | null = null;
  /** Set once the drain is over: everything is closing or closed. */
  #shut = false;
  /** Requests whose handlers are running. */
  #serving = 0;
  #idle: PromiseWithResolvers<void> | null = null;
  #heartbeat: TimerHandle | undefined = undefined;
  /** The connection deadlines: handshake, idle, frame completion. */
  readonly #reaper: Reaper;
  readonly #stats: recorder.ClusterStats | undefined;
  readonly #tracing: ReturnType<typeof createTracing>;
  /** What channels call back into; kept private so it is not part of the API. */
  readonly #host: ChannelHost = {
    onRequest: (channel, frame) => this.#onRequest(channel, frame),
    onResponse: (channel, call, payload) => this.#onResponse(channel, call, payload),
    onTimeout: (channel, call) => this.#onTimeout(channel, call),
    onCancel: (channel, session) => this.#onCancel(channel, session),
    onSoftLimit: (channel, bodyLength, out) => this.#onSoftLimit(channel, bodyLength, out),
    onRefused: (_channel, message) => this.#o.logger.warn(message),
    onClosed: (channel, error, local) => this.#onClosed(channel, error, local),
    statsReply: () => recorder.statsReply(this.#stats),
  };

  /**
   * Creates a cluster node (silly's `serve`).
   *
   * @param options Hooks, timeouts, limits, transport; see {@linkcode ClusterOptions}.
   * @throws {TypeError} Naming the option, for a wrong type or a missing hook.
   * @throws {RangeError} Naming the option, for an out-of-range value.
   */
  constructor(options: ClusterOptions) {
    this.#o = resolveOptions(options);
    this.#transport = this.#o.transport;
    this.#reaper = new Reaper({ ...this.#o, weft: this.#o.protocol === "weft" });
    this.#stats = recorder.createStats(options.stats);
    this.#tracing = createTracing(options.tracing, this.#o);
  }

  /** This node's numbers (`@weft/cluster/stats`), or undefined without the `stats` option. */
  stats(): recorder.StatsSnapshot | undefined {
    return this.#stats?.snapshot();
  }

  /** This node's id: the low 16 bits of the trace ids it sends. */
  get nodeId(): number {
    return this.#o.nodeId;
  }

  /** True once `close()` (of the whole cluster) was called. */
  get isClosed(): boolean {
    return this.#closing !== null;
  }

  /**
   * Listens on `address` (`host:port`, `[::1]:port`; port 0 picks a free
   * port, see `listener.address`).
   *
   * @throws {WeftError} `bad address`, `address in use`, `peer closed` (cluster closed), `transport`.
   */
  async listen(address: string, options: ClusterListenOptions = {}): Promise<ClusterListener> {
    if (this.#closing !== null) throw this.#clusterClosed();
    const transport = await this.#getTransport();
    const gate = new AcceptGate(options, address, this.#o.logger);
    const raw = await transport.listen(address, (conn) => gate.admit(conn, this.#accept), {
      ...(options.backlog === undefined ? {} : { backlog: options.backlog }),
      highWaterMark: this.#o.highWaterMark,
      ...listenTls(this.#o.security.tls, this.#o.logger),
    });
    const listener = new ClusterListener(raw, (l) => this.#listeners.delete(l), gate);
    if (this.#closing !== null) {
      await listener.close();
      throw this.#clusterClosed();
    }
    this.#listeners.add(listener);
    return listener;
  }

  /**
   * Returns the peer for `address` at once; it connects lazily on the first
   * call or send, and again on the next call after its connection drops
   * (one attempt per call; concurrent calls share it). The same address
   * gives the same peer until it is closed.
   *
   * @throws {WeftError} `bad address` if `address` is not `host:port`.
   */
  connect(address: string): Peer {
    parseAddress(address);
    let peer = this.#peers.get(address);
    if (peer === undefined) {
      peer = new Peer(address);
      if (this.#closing !== null) peerState<Channel>(peer).closed = true;
      else this.#peers.set(address, peer);
    }
    return peer;
  }

  /**
   * Calls `cmd` on `peer` with `body` and resolves with the response body.
   *
   * @param peer From `connect()` or a hook.
   * @param cmd A command name or number, as the marshal hook understands it.
   * @param body The request body.
   * @param options Timeout, signal, trace context.
   * @returns The unmarshalled response body.
   * @throws {WeftError} See the class docs for the codes.
   */
  call(peer: Peer, cmd: string | number, body?: unknown, options?: CallOptions): Promise<unknown> {
    return this.#request(peer, cmd, body, options, true) as Promise<unknown>;
  }

  /**
   * Sends a one-way request: an ordinary request whose handler's result is
   * not awaited (the receiver returns undefined, so no response is written;
   * one that comes anyway is dropped). Resolves once the frame is handed to
   * the transport.
   *
   * @param peer From `connect()` or a hook.
   * @param cmd A command name or number.
   * @param body The request body.
   * @param options Timeout and signal (for a lazy connect or a congested connection).
   * @throws {WeftError} `peer closed`, `connect failed`, `frame too large`, `marshal failed`, `timeout`, `aborted`, `closed`.
   */
  send(peer: Peer, cmd: string | number, body?: unknown, options?: CallOptions): Promise<void> {
    return this.#request(peer, cmd, body, options, false) as Promise<void>;
  }

  /**
   * Closes a peer (its connection; it will not reconnect and later calls
   * reject with `peer closed`), a listener (stops accepting), or with no
   * argument (or with {@linkcode ClusterCloseOptions}) the whole cluster:
   * listeners, connections and pending calls (which reject with `peer
   * closed`), after an optional grace period for requests being handled.
   * Resolves when the sockets are closed. The `close` hook is not called for
   * closes made here.
   *
   * @throws {TypeError} For a target that is none of these.
   */
  close(target?: Peer | ClusterListener | ClusterCloseOptions): Promise<void> {
    if (target instanceof ClusterListener) return target.close();
    if (target instanceof Peer) return this.#closePeer(target);
    if (target !== undefined && (target === null || typeof target !== "object")) {
      throw new TypeError("Invalid close target: expected a Peer, a ClusterListener or options");
    }
    const grace = target?.grace ?? 0;
    if (typeof grace !== "number" || !(grace >= 0)) {
      throw new RangeError(`Invalid option grace: expected 0 or more ms, got ${grace}`);
    }
    this.#closing ??= this.#closeAll(grace);
    return this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- calls ---------------------------------------------------------------

  #request(
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
    const start = now();
    let deadline = timeout === Infinity ? Infinity : start + timeout;
    const context = options?.context;
    if (context !== undefined) {
      // A call made for a request ends with it: same deadline, same signal.
      if (context.deadline < deadline) {
        deadline = context.deadline;
        if (deadline <= start) {
          return Promise.reject(
            new WeftError("timeout", `Call ${String(cmd)} timed out: no time left`),
          );
        }
      }
      signal = signal === undefined ? context.signal : anySignal([signal, context.signal]);
    }
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    const state = peerState<Channel>(peer);
    if (state.closed || this.#shut) return Promise.reject(this.#peerClosed(peer));
    const channel = state.channel;
    if (channel !== null && !channel.congested) {
      return this.#requestOn(channel, cmd, body, deadline, signal, options, expectResponse);
    }
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
    if (channel === null) channel = await this.#ensureChannel(peer, state, deadline, signal);
    // Backpressure: wait for the connection to drain rather than queue more.
    while (channel.congested) {
      const why = channel.handshaking ? " waiting for weft's HELLO_ACK" : "";
      await this.#waitFor(channel.drained(), deadline, signal, `Call to ${peer} timed out${why}`);
      if (state.closed) throw this.#peerClosed(peer);
      channel = state.channel ?? await this.#ensureChannel(peer, state, deadline, signal);
    }
    return this.#requestOn(channel, cmd, body, deadline, signal, options, expectResponse);
  }

  /** Marshals, encodes and queues a request on a live channel. */
  #requestOn(
    channel: Channel,
    cmd: string | number,
    body: unknown,
    deadline: number,
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
    if (
      marshalled === undefined || !isCmd(marshalled[0]) ||
      (channel.weft && marshalled[0] >= RESERVED_CMD_MIN)
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
    let head = channel.requestHead(this.#head, !expectResponse, deadline, options, marshalled);
    if (head instanceof Error) return Promise.reject(head);
    const span = this.#tracing?.call(cmd, marshalled[0], channel, !expectResponse, options, trace);
    if (span !== undefined) head = traceHead(head, span);
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
    let call!: PendingCall;
    const promise = new Promise<unknown>((resolve, reject) => {
      call = new PendingCall(cmd, resolve, reject);
    });
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
      );
    } catch (error) {
      call.reject(error);
      return promise;
    }
    if (signal !== undefined) {
      const onAbort = () => {
        const session = call.session;
        if (call.table?.remove(call)) {
          call.reject(abortedError(signal));
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

  /** The channel of an outbound peer: the live one, or a (shared) connect. */
  async #ensureChannel(
    peer: Peer,
    state: PeerState<Channel>,
    deadline: number,
    signal: AbortSignalLike | undefined,
  ): Promise<Channel> {
    if (state.channel !== null) return state.channel;
    if (state.closed || peer.address === undefined) throw this.#peerClosed(peer);
    if (state.connecting === null) {
      const attempt = this.#connectPeer(peer, state);
      state.connecting = attempt;
      this.#connecting.add(attempt);
      const forget = () => {
        state.connecting = null;
        this.#connecting.delete(attempt);
      };
      attempt.then(forget, forget);
    }
    return await this.#waitFor(
      state.connecting,
      deadline,
      signal,
      `Connect to ${peer} timed out`,
    );
  }

  async #connectPeer(peer: Peer, state: PeerState<Channel>): Promise<Channel> {
    const address = peer.address!;
    let connection: Connection;
    try {
      const transport = await this.#getTransport();
      connection = await transport.connect(address, {
        timeout: this.#o.connectTimeout,
        highWaterMark: this.#o.highWaterMark,
        ...connectTls(this.#o.security.tls),
      });
    } catch (error) {
      if (state.closed || this.#closing !== null) throw this.#peerClosed(peer);
      throw connectFailed(address, error);
    }
    if (state.closed || this.#shut) {
      await connection.close();
      throw this.#peerClosed(peer);
    }
    this.#o.logger.info?.(`Connected to ${address}`);
    const channel = this.#open(peer, state, connection, true);
    channel.start();
    return channel;
  }

  #open(
    peer: Peer,
    state: PeerState<Channel>,
    connection: Connection,
    initiator: boolean,
  ): Channel {
    this.#stats?.connection(connection);
    const channel = new Channel(this.#host, peer, connection, {
      framing: this.#o.framing,
      hardLimit: this.#o.hardLimit,
      softLimit: this.#o.softLimit,
      deadlines: this.#deadlines,
      highWaterMark: this.#o.highWaterMark,
      protocol: this.#o.protocol,
      initiator,
      auth: this.#o.security.keys && new HandshakeAuth(this.#o.security.keys),
      maxInflight: this.#o.maxInflightPerConnection,
      extensions: this.#o.extensions,
      maxRequestsPerTurn: this.#o.maxRequestsPerTurn,
    });
    this.#reaper.track(channel);
    state.channel = channel;
    state.lastRemote = connection.remoteAddress;
    this.#channels.add(channel);
    if (channel.weft && this.#heartbeat === undefined) this.#armHeartbeat();
    return channel;
  }

  /** One timer drives the heartbeats of every connection; it runs while there are any. */
  #armHeartbeat(): void {
    this.#heartbeat = startRefTimer(() => {
      this.#heartbeat = undefined;
      for (const channel of this.#channels) {
        if (!channel.heartbeat(this.#o.heartbeatMisses)) {
          channel.close(
            new WeftError(
              "closed",
              `Connection to ${channel.peer} is dead: ${this.#o.heartbeatMisses} heartbeats unanswered`,
            ),
            false,
          );
        }
      }
      if (this.#channels.size > 0 && !this.#shut) this.#armHeartbeat();
    }, this.#o.heartbeatInterval);
  }

  readonly #accept = (connection: Connection): void => {
    if (this.#closing !== null) {
      connection.close();
      return;
    }
    const peer = new Peer(undefined);
    const state = peerState<Channel>(peer);
    const channel = this.#open(peer, state, connection, false);
    this.#o.logger.info?.(`Accepted ${peer}`);
    if (this.#o.accept !== undefined) {
      try {
        this.#o.accept(peer);
      } catch (error) {
        // As silly does: an accept hook that throws refuses the connection.
        this.#o.logger.error(`accept hook threw; closing ${peer}`, error);
        state.closed = true;
        channel.close(this.#peerClosed(peer), true);
      }
    }
    channel.start();
  };

  async #getTransport(): Promise<Transport> {
    if (this.#transport !== undefined) return this.#transport;
    this.#transportLoading ??= defaultTransport();
    const transport = await this.#transportLoading;
    this.#transport = transport;
    return transport;
  }

  /**
   * Waits for `promise`, bounded by a monotonic deadline and a signal;
   * rejects with `timeout` or `aborted`. The deadline sits in the shared
   * deadline queue, so a call waiting out backpressure costs no timer.
   */
  #waitFor<T>(
    promise: Promise<T>,
    deadline: number,
    signal: AbortSignalLike | undefined,
    timeoutMessage: string,
  ): Promise<T> {
    if (deadline === Infinity && signal === undefined) return promise;
    return new Promise<T>((resolve, reject) => {
      const entry: Deadline = {
        deadline,
        deadlineIndex: -1,
        expire: () => {
          done();
          reject(new WeftError("timeout", timeoutMessage));
        },
      };
      const onAbort = () => {
        done();
        reject(abortedError(signal!));
      };
      const done = () => {
        this.#deadlines.remove(entry);
        signal?.removeEventListener("abort", onAbort);
      };
      if (deadline !== Infinity) this.#deadlines.add(entry);
      signal?.addEventListener("abort", onAbort, { once: true });
      promise.then((value) => {
        done();
        resolve(value);
      }, (error) => {
        done();
        reject(error);
      });
    });
  }

  // ---- channel host --------------------------------------------------------

  /** A request arrived on `channel`. */
  #onRequest(channel: Channel, frame: Frame): void {
    const o = this.#o;
    const peer = channel.peer;
    let payload = frame.payload;
    let deadline = Infinity;
    let oneWay = false;
    let traced: ReturnType<typeof readTraceContext> | undefined;
    if (channel.weft) {
      if (payload.length < REQUEST_HEAD_SIZE) {
        throw new WeftError(
          "protocol",
          `Request from ${peer} is shorter than weft's ${REQUEST_HEAD_SIZE}-byte request head`,
        );
      }
      oneWay = (requestFlags(payload) & RequestFlag.OneWay) !== 0;
      const remaining = requestRemaining(payload);
      if (remaining !== Infinity) deadline = channel.receivedAt + remaining;
      const named = channel.readNames(payload);
      traced = readTraceContext(payload, named);
      payload = payload.subarray(traced?.end ?? named);
    }
    const context = new CallContext(this, peer, frame, deadline, oneWay, channel.nameReader);
    if (traced !== undefined) this.#tracing?.received(context, traced.context);
    if (this.#closing !== null) {
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
      this.#serving++;
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
    if (--this.#serving === 0 && this.#idle !== null) this.#idle.resolve();
  }

  #respond(channel: Channel, context: CallContext, value: unknown): void {
    this.#stats?.served(context);
    if (channel.closed || context.oneWay) return;
    // Weft answers every call; undefined travels as an empty response.
    if (value === undefined) {
      if (channel.weft) channel.response(context.session, "", STATUS_HEAD[ResponseStatus.Empty]);
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
      if (channel.weft) channel.response(context.session, "", STATUS_HEAD[ResponseStatus.Empty]);
      return;
    }
    try {
      channel.response(
        context.session,
        marshalled[1],
        channel.weft ? STATUS_HEAD[ResponseStatus.Ok] : undefined,
      );
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
    this.#o.logger.error(`Handler for cmd ${cmd} from ${context.peer} threw`, error);
    this.#sendError(channel, context, error);
  }

  /** Weft mode: answers the request with an error response (never for a one-way send). */
  #sendError(channel: Channel, context: CallContext, error: unknown): void {
    sendError(this.#o, channel, context, error);
  }

  /** A response arrived for `call`. */
  #onResponse(channel: Channel, call: PendingCall, payload: Uint8Array): void {
    let body: unknown;
    try {
      if (channel.weft) {
        const status = payload[0];
        if (status === ResponseStatus.Empty) {
          call.resolve(undefined);
          return;
        }
        if (status === ResponseStatus.Error) {
          call.reject(decodeErrorInfo(payload.subarray(1), call.cmd));
          return;
        }
        if (status !== ResponseStatus.Ok) {
          throw new WeftError("protocol", `Unknown weft response status ${String(status)}`);
        }
        payload = payload.subarray(1);
      }
      body = this.#o.unmarshal("response", call.cmd, payload);
    } catch (error) {
      call.reject(unmarshalError(call.cmd, error, "response"));
      return;
    }
    if (body instanceof Error) call.reject(unmarshalError(call.cmd, body, "response"));
    else call.resolve(body);
  }

  /** A call's deadline passed. */
  #onTimeout(channel: Channel, call: PendingCall): void {
    call.reject(
      new WeftError("timeout", `Call ${String(call.cmd)} timed out: no response in time`),
    );
    channel.cancel(call.session);
  }

  /** Weft: the caller cancelled a request being handled. */
  #onCancel(channel: Channel, session: number): void {
    if (channel.dropWaiting(session)) return;
    channel.serving.get(session)?.abort(
      new WeftError("aborted", `Call cancelled by ${channel.peer}`),
    );
  }

  /** A frame over the soft limit arrived. */
  #onSoftLimit(channel: Channel, bodyLength: number, outgoing: boolean): void {
    this.#o.logger.warn(
      `Frame of ${bodyLength} bytes ${
        outgoing ? "to" : "from"
      } ${channel.peer} is over the soft limit ${this.#o.softLimit}`,
    );
  }

  /** A connection closed. */
  #onClosed(channel: Channel, error: WeftError, local: boolean): void {
    this.#channels.delete(channel);
    this.#reaper.untrack(channel);
    const peer = channel.peer;
    const state = peerState<Channel>(peer);
    if (state.channel === channel) state.channel = null;
    if (peer.inbound) state.closed = true;
    // Better than silly: calls waiting on the connection fail now, not at their timeout.
    const calls = channel.pending.drain();
    if (calls.length > 0) {
      const reason = (local && error.code === "peer closed") || error.code === "protocol" ||
          error.code === "authentication failed"
        ? error
        : new WeftError("closed", `Connection to ${peer} lost while waiting: ${error.message}`, {
          cause: error,
        });
      for (const call of calls) call.reject(reason);
    }
    for (const context of channel.serving.values()) context.abort(error);
    channel.serving.clear();
    if (this.#channels.size === 0 && this.#heartbeat !== undefined) {
      stopTimer(this.#heartbeat);
      this.#heartbeat = undefined;
    }
    if (!local) {
      const line = `Closed ${peer}: ${error.message}`;
      if (error.code !== "closed") this.#o.faults.report(error.code, line);
      else this.#o.logger.info?.(line);
      if (this.#o.close !== undefined) {
        try {
          this.#o.close(peer, error);
        } catch (hookError) {
          this.#o.logger.error("close hook threw", hookError);
        }
      }
    }
  }

  // ---- closing -------------------------------------------------------------

  async #closePeer(peer: Peer): Promise<void> {
    const state = peerState<Channel>(peer);
    state.closed = true;
    if (peer.address !== undefined && this.#peers.get(peer.address) === peer) {
      this.#peers.delete(peer.address);
    }
    const channel = state.channel;
    if (channel !== null) await channel.close(this.#peerClosed(peer), true);
  }

  async #closeAll(grace: number): Promise<void> {
    const waits: Promise<unknown>[] = [];
    for (const listener of [...this.#listeners]) waits.push(listener.close());
    if (grace > 0 && this.#serving > 0) {
      // Graceful drain: requests being handled may finish (and may call out).
      this.#idle = Promise.withResolvers<void>();
      const timer = startRefTimer(() => this.#idle?.resolve(), grace);
      await this.#idle.promise;
      stopTimer(timer);
      this.#idle = null;
    }
    this.#shut = true;
    if (this.#heartbeat !== undefined) stopTimer(this.#heartbeat);
    this.#heartbeat = undefined;
    for (const peer of this.#peers.values()) peerState<Channel>(peer).closed = true;
    this.#peers.clear();
    for (const channel of [...this.#channels]) {
      peerState<Channel>(channel.peer).closed = true;
      waits.push(channel.close(this.#peerClosed(channel.peer), true));
    }
    // Connects in flight finish, see the cluster closed, and close their socket.
    for (const attempt of this.#connecting) waits.push(attempt.catch(() => {}));
    await Promise.all(waits);
    this.#deadlines.clear();
  }

  #peerClosed(peer: Peer): WeftError {
    return new WeftError(
      "peer closed",
      this.#closing !== null ? `Cluster closed: ${peer}` : `Peer closed: ${peer}`,
    );
  }

  #clusterClosed(): WeftError {
    return new WeftError("peer closed", "Cluster closed");
  }
}
