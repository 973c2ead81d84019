/**
 * {@linkcode Cluster}: silly.net.cluster's peer RPC — serve (the
 * constructor), listen, connect, call, send, close — on any transport.
 *
 * @module
 */

import {
  type AbortSignalLike,
  now,
  startRefTimer,
  stopTimer,
  type TimerHandle,
} from "../_platform.ts";
import { WeftError } from "../errors.ts";
import { DeadlineQueue } from "../session/deadline_queue.ts";
import { parseAddress } from "../transport/address.ts";
import { defaultTransport } from "../transport/detect.ts";
import type { Connection, Transport } from "../transport/types.ts";
import { Channel } from "../connection/channel.ts";
import type { ChannelHost } from "../connection/channel_host.ts";
import { Peer, type PeerState, peerState } from "../connection/peer.ts";
import { Reaper } from "../connection/reaper.ts";
import { AcceptGate, connectionRefusals } from "./accept_gate.ts";
import { connectFailed, timeoutOptionError } from "./_fail.ts";
import type { CallOptions, ContextHost } from "./call_context.ts";
import { Calls } from "./calls.ts";
import { HandlerRunner } from "./handler_runner.ts";
import { ClusterListener, type ClusterListenOptions } from "./listener.ts";
import { withMayHaveRun } from "./call_helpers.ts";
import { type ClusterOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { connectTls, listenTls } from "./security.ts";
import * as recorder from "./stats_recorder.ts";
import { clusterInfo, type InfoProvider, type InfoService } from "./info.ts";
import { createTracing } from "./tracing_hook.ts";
import { waitFor } from "./_wait.ts";

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
 * import { Cluster } from "@weft/cluster";
 * import { transport } from "@weft/cluster/memory";
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
  /** Connections every listener refused or evicted, by kind (`stats().limits.refused`). */
  readonly #refusals = connectionRefusals();
  readonly #connecting = new Set<Promise<unknown>>();
  #closing: Promise<void> | null = null;
  /** Set once the drain is over: everything is closing or closed. */
  #shut = false;
  #heartbeat: TimerHandle | undefined = undefined;
  /** The connection deadlines: handshake, idle, frame completion. */
  readonly #reaper: Reaper;
  readonly #stats: recorder.ClusterStats | undefined;
  /** The calling side: calls and sends, and their responses. */
  readonly #calls: Calls;
  /** The serving side: requests run by the `call` hook and answered. */
  readonly #handlers: HandlerRunner;
  /** What channels call back into; kept private so it is not part of the API. */
  readonly #host: ChannelHost<Channel> = {
    onRequest: (channel, frame) => this.#handlers.onRequest(channel, frame),
    onResponse: (channel, call, payload) => this.#calls.onResponse(channel, call, payload),
    onTimeout: (channel, call) => this.#calls.onTimeout(channel, call),
    onCancel: (channel, session) => this.#handlers.onCancel(channel, session),
    onSoftLimit: (channel, bodyLength, out) => this.#onSoftLimit(channel, bodyLength, out),
    // Routine load shedding, as warnings: one node-wide rate limit per kind,
    // however many connections refuse.
    onRefused: (_channel, kind, message) => this.#o.warnings.report(kind, message),
    onClosed: (channel, error, local) => this.#onClosed(channel, error, local),
    onInfo: (channel, session, payload) => this.#info.answer(channel, session, payload),
  };
  /** INFO: what this node says about itself, and asking a peer (info.ts). */
  readonly #info: InfoService;

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
    const mode = this.#o.mode;
    this.#reaper = new Reaper({
      ...this.#o,
      handshake: mode.can.handshake,
      modeTimeout: mode.can.parts ? this.#o.parts.partTimeout : Infinity,
    });
    this.#stats = recorder.createStats(
      options.stats,
      mode.can.parts ? this.#o.parts.budget : undefined,
      this.#o.requests,
    );
    const tracing = createTracing(options.tracing, this.#o);
    this.#calls = new Calls(
      this.#o,
      {
        ensureChannel: (peer, state, deadline, signal) =>
          this.#ensureChannel(peer, state, deadline, signal),
        peerClosed: (peer) => this.#peerClosed(peer),
      },
      this.#deadlines,
      this.#stats,
      tracing,
    );
    this.#handlers = new HandlerRunner(this.#o, this, this.#stats, tracing);
    this.#info = clusterInfo({
      options,
      protocol: this.#o.protocol,
      nodeId: this.#o.nodeId,
      nodeName: this.#o.nodeName,
      authorize: this.#o.security.authorize,
      faults: this.#o.faults,
      logger: this.#o.logger,
      remoteStats: this.#stats?.remote ?? false,
      stats: () => this.stats(),
      listening: () => [...this.#listeners].map((l) => l.address),
      connections: () => this.#channels.size,
      now,
    });
  }

  /**
   * Adds what a layer above (a router, named nodes) answers to the INFO
   * requests of `kind` (`describe`, `stats`, or its own): its fields are
   * merged over the cluster's own answer. See `info.ts`.
   *
   * @throws {TypeError} For a bad kind or provider.
   */
  provideInfo(kind: string, provider: InfoProvider | undefined): void {
    this.#info.provide(kind, provider);
  }

  /**
   * This node's own answer to INFO `kind`, under the same rules a peer
   * meets (`introspect`, `stats.remote`, and `authorize` for `peer` if
   * given): for layers that carry INFO another way (a routed service).
   *
   * @throws {WeftError} `forbidden`, `unknown command`.
   */
  localInfo(kind: string, peer?: Peer): unknown {
    return this.#info.local(kind, peer);
  }

  /**
   * Asks `peer` about itself (modes that can, weft): INFO of `kind`
   * (`describe`, `stats`, or a kind its layer answers). Connects if needed.
   *
   * @returns The answer (JSON).
   * @throws {WeftError} (as a rejection) `remote` with `remote.code`
   *   `forbidden` (not allowed) or `unknown command`; `timeout`, `closed`,
   *   `connect failed`, `protocol` (silly mode, or not a weft node).
   */
  async info(
    peer: Peer,
    kind: string,
    options: Omit<CallOptions, "service" | "command"> = {},
  ): Promise<unknown> {
    if (!this.#o.mode.can.info) throw new WeftError("protocol", "Info requests need weft mode");
    const timeout = options.timeout ?? this.#o.timeout;
    if (typeof timeout !== "number" || !(timeout > 0)) throw timeoutOptionError(timeout);
    const deadline = timeout === Infinity ? Infinity : now() + timeout;
    const signal = options.signal;
    const state = peerState<Channel>(peer);
    if (state.closed || this.#shut) throw this.#peerClosed(peer);
    let channel = state.channel ?? await this.#ensureChannel(peer, state, deadline, signal);
    // The handshake first (and any backpressure), as a call waits.
    while (channel.congested) {
      const message = `Info from ${peer} timed out`;
      await waitFor(this.#deadlines, channel.drained(), deadline, signal, message);
      if (state.closed) throw this.#peerClosed(peer);
      channel = state.channel ?? await this.#ensureChannel(peer, state, deadline, signal);
    }
    return await this.#info.ask(channel, kind, deadline, signal);
  }

  /** This node's numbers (`@weft/cluster/stats`), or undefined without the `stats` option. */
  stats(): recorder.StatsSnapshot | undefined {
    const snapshot = this.#stats?.snapshot();
    if (snapshot?.limits !== undefined) Object.assign(snapshot.limits.refused, this.#refusals);
    return snapshot;
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
    const gate = new AcceptGate(options, address, this.#o.warnings, this.#refusals);
    const raw = await transport.listen(address, (conn) => gate.accept(conn, this.#accept), {
      ...(options.backlog === undefined ? {} : { backlog: options.backlog }),
      admit: gate.admit,
      highWaterMark: this.#o.highWaterMark,
      ...listenTls(this.#o.security.tls, this.#o.warnings),
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
    return this.#calls.request(peer, cmd, body, options, true) as Promise<unknown>;
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
    return this.#calls.request(peer, cmd, body, options, false) as Promise<void>;
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
    if (this.#closing === null) {
      // Requests arriving from now on are refused (`peer closed`).
      this.#handlers.refusing = true;
      this.#closing = this.#closeAll(grace);
    }
    return this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- calls ---------------------------------------------------------------

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
    return await waitFor(
      this.#deadlines,
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
      mode: this.#o.mode,
      softLimit: this.#o.softLimit,
      deadlines: this.#deadlines,
      highWaterMark: this.#o.highWaterMark,
      initiator,
      maxInflight: this.#o.maxInflightPerConnection,
      maxRequestsPerTurn: this.#o.maxRequestsPerTurn,
      soloTurnTime: this.#o.soloTurnTime,
      budget: this.#o.requests,
    });
    this.#reaper.track(channel);
    state.channel = channel;
    state.lastRemote = connection.remoteAddress;
    this.#channels.add(channel);
    if (this.#o.mode.can.heartbeats && this.#heartbeat === undefined) this.#armHeartbeat();
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
    // A peer can connect and hang up in a loop: at most faultLogLimit a second.
    this.#o.notices.report("accepted", () => `Accepted ${peer}`);
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

  // ---- channel host --------------------------------------------------------

  /**
   * A frame over the soft limit was sent or arrived. Ours: one line each, as
   * silly does. A peer's: a peer fault, rate-limited (`faultLogLimit`), so
   * that a peer sending large frames cannot write a line per frame.
   */
  #onSoftLimit(channel: Channel, bodyLength: number, outgoing: boolean): void {
    const line = () =>
      `Frame of ${bodyLength} bytes ${
        outgoing ? "to" : "from"
      } ${channel.peer} is over the soft limit ${this.#o.softLimit}`;
    if (outgoing) this.#o.logger.warn(line());
    else this.#o.warnings.report("soft limit", line);
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
      // Calls whose request was written may have run; the others never
      // left this node (one error per group, not per call).
      let ran: WeftError | undefined;
      let unsent: WeftError | undefined;
      for (const call of calls) {
        if (call.written) {
          call.reject(ran ??= reason.mayHaveRun ? reason : withMayHaveRun(reason, true));
        } else call.reject(unsent ??= withMayHaveRun(reason, false));
      }
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
      else this.#o.notices.report("closed", line);
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
    // Graceful drain: requests being handled may finish (and may call out).
    if (grace > 0 && this.#handlers.running > 0) await this.#handlers.drain(grace);
    this.#shut = true;
    this.#calls.shut = true;
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
    return new WeftError("peer closed", "Cluster closed", { mayHaveRun: false });
  }
}
