/**
 * {@linkcode Channel}: one connection of a cluster, with its frame decoder,
 * its batching encoder, its pending calls and the requests it is serving.
 *
 * @module
 */

import {
  microtask,
  now,
  startRefTimer,
  stopTimer,
  type TimerHandle,
  utf8Encoder,
} from "../_platform.ts";
import { WeftError } from "../errors.ts";
import { type PendingCall, PendingCalls } from "../session/pending_calls.ts";
import type { DeadlineQueue } from "../session/deadline_queue.ts";
import type { CloseInfo, Connection } from "../transport/types.ts";
import type { Frame, RequestHeader } from "../wire/frame.ts";
import {
  FirstBytes,
  type FrameReader,
  type FrameWriter,
  type Handshake,
  type ModeConnection,
  type ModeLink,
  type OutgoingMessage,
  type ProtocolMode,
} from "../protocol/mode.ts";
import { type Peer, peerState, withNodeName } from "./peer.ts";
import { Watch, type Watched } from "./reaper.ts";
import { type ServedRequest, Serving } from "./serving.ts";
import { ReadTurn } from "./read_turn.ts";

/** What a channel needs from its cluster. */
export interface ChannelHost {
  /** A request frame arrived (the frame is valid only during the call). */
  onRequest(channel: Channel, frame: Frame): void;
  /** A response arrived for `call` (already removed from the table). */
  onResponse(channel: Channel, call: PendingCall, payload: Uint8Array): void;
  /** A call's deadline passed (already removed from the table). */
  onTimeout(channel: Channel, call: PendingCall): void;
  /** A frame over the soft limit arrived, or (`outgoing`) is being sent. */
  onSoftLimit(channel: Channel, bodyLength: number, outgoing: boolean): void;
  /** A request was refused or dropped without running (over the limits, a reused session). */
  onRefused(channel: Channel, message: string): void;
  /** The peer cancelled the request it sent under `session` (modes that can cancel). */
  onCancel(channel: Channel, session: number): void;
  /**
   * The connection closed. `error` is why; `local` is true when this side
   * closed it on purpose (`close(peer)`, the cluster's close).
   */
  onClosed(channel: Channel, error: WeftError, local: boolean): void;
  /** This node's stats, for a peer that asked (modes that serve stats). */
  statsReply(): Uint8Array;
}

/** Options of {@linkcode Channel}. */
export interface ChannelOptions {
  /** The protocol mode spoken on this connection (opened once, here). */
  mode: ProtocolMode;
  /** Bodies over this many bytes are logged as a warning (either way), as silly does. */
  softLimit: number;
  deadlines: DeadlineQueue;
  /** Bytes pending in the encoder, or buffered by the transport, over which the channel is congested. */
  highWaterMark: number;
  /** True on the side that connected. */
  initiator: boolean;
  /** Requests whose handlers may run at once; see `maxInflightPerConnection`. */
  maxInflight: number;
  /** Requests run per read turn before reading pauses for a macrotask; see `maxRequestsPerTurn`. */
  maxRequestsPerTurn?: number;
}

/** CANCEL frames held while the connection is congested; more are dropped. */
export const MAX_QUEUED_CANCELS = 1024;

/**
 * While requests waiting for a slot hold under this many high-water marks, a
 * connection paused for them reads once per reaper sweep (see `probe()`).
 */
export const PROBE_LIMIT = 16;

/** Why reading is paused (bits): our writes back up, or the in-flight limit is reached. */
const PAUSE_CONGESTED = 1;
const PAUSE_INFLIGHT = 2;
/** Reading paused by the mode's handshake (key authentication checking a proof). */
const PAUSE_AUTH = 4;
/** Held by `hold()` (src/cluster/hold.ts): a router waiting to pass this peer's requests on. */
const PAUSE_HELD = 8;
/** Large answers to this peer pile up (see `#sendInParts`). */
const PAUSE_PARTS = 16;

/** Parts written per turn before yielding to the event loop. */
const PARTS_PER_TURN = 64;

/** This read turn's request budget is spent (read_turn.ts). */
const PAUSE_TURN = 32;

const EMPTY = new Uint8Array(0);

/**
 * One connection's session state. Writes are batched: frames produced in one
 * turn of the event loop go out in one `write()`, after the current task's
 * synchronous work and the microtasks queued before the first frame.
 */
export class Channel implements Watched {
  /** The transport connection. */
  readonly connection: Connection;
  /** The peer this channel serves. */
  readonly peer: Peer;
  /** The protocol mode, as this connection speaks it. */
  readonly protocol: ModeConnection;
  /** Calls waiting for a response on this connection. */
  readonly pending: PendingCalls;
  /** Requests being handled, and those waiting for a slot; their contexts abort when the channel closes. */
  readonly serving: Serving;
  /** Requests run in this read turn (fairness between connections). */
  readonly turn: ReadTurn;
  /** Counters for the connection deadlines (see reaper.ts). */
  readonly watch: Watch = new Watch();
  /** An accepted connection. */
  readonly accepted: boolean;
  readonly #maxInflight: number;
  readonly #softLimit: number;
  readonly #reader: FrameReader;
  readonly #writer: FrameWriter;
  /** The mode's handshake until it completes; null once ready (or for a mode without one). */
  #handshake: Handshake | null;
  /** The mode can answer a request with an error (so it refuses a reused session). */
  readonly #refuses: boolean;
  /** The mode can cancel a call. */
  readonly #canCancel: boolean;
  /** The mode has heartbeats. */
  readonly #heartbeats: boolean;
  /** What arrived before the first frame; null once a frame was decoded. */
  #first: FirstBytes | null = new FirstBytes();
  /** Sessions of CANCELs waiting for the connection to drain. */
  #cancels: number[] = [];
  /** CANCELs dropped because too many waited. */
  cancelsDropped = 0;
  #refusedLoggedAt = -Infinity;
  #refusedUnlogged = 0;
  readonly #host: ChannelHost;
  readonly #highWaterMark: number;
  /** When the chunk being decoded arrived (`now()`, read once per chunk, not per frame). */
  receivedAt = 0;
  #clockStale = false;
  #readyWaiter: PromiseWithResolvers<void> | null = null;
  /** Why the handshake never completed (once settled). */
  #unready: WeftError | null = null;
  #pingSeq = 0;
  #pingOutstanding = false;
  #missed = 0;
  /** Bytes arrived since the last heartbeat tick: the peer is alive even if its pong is behind them. */
  #readSinceBeat = false;
  /** Scratch header reused for every request written. */
  readonly #header: RequestHeader = { session: 0, cmd: 0, traceHi: 0, traceLo: 0 };
  #flushQueued = false;
  #congested = false;
  /** PAUSE_* bits: why reading is paused (0: reading). */
  #paused = 0;
  /** Holds on reading (see hold.ts); reading resumes when the last is released. */
  #holds = 0;
  #closing: WeftError | null = null;
  /** The cluster was told this channel is done. */
  #settled = false;
  /** Rejects when the channel is done; what `drained()` waiters race against. */
  #gone: PromiseWithResolvers<never> | null = null;
  #drainWait: Promise<void> | null = null;
  #closed = false;
  /** Bodies over this size go in parts (Infinity: never). */
  readonly partThreshold: number;
  readonly #outgoing: OutgoingMessage[] = [];
  #stream = 0;
  #partsBlocked = false;
  /** Part bytes sent and not yet acknowledged. */
  #partsUnacked = 0;
  /** Bytes of queued large messages not yet sent. */
  #outgoingBytes = 0;
  #partsTimer: TimerHandle | undefined = undefined;
  /** Callers waiting for the queue of large messages to shrink. */
  #partsWaiter: PromiseWithResolvers<void> | null = null;

  /**
   * @param host The cluster.
   * @param peer The peer.
   * @param connection A connection not yet started.
   * @param options The mode, limits and the shared deadline queue.
   */
  constructor(host: ChannelHost, peer: Peer, connection: Connection, options: ChannelOptions) {
    this.#host = host;
    this.peer = peer;
    this.connection = connection;
    this.pending = new PendingCalls({
      deadlines: options.deadlines,
      onTimeout: (call) => host.onTimeout(this, call),
    });
    this.accepted = !options.initiator;
    this.#maxInflight = options.maxInflight;
    this.#softLimit = options.softLimit;
    this.turn = new ReadTurn(options.maxRequestsPerTurn);
    this.#highWaterMark = options.highWaterMark;
    const certificate = connection.peerCertificate;
    peerState(peer).identity = certificate === undefined ? {} : { certificate };
    const can = options.mode.can;
    this.#refuses = can.errors;
    this.#canCancel = can.cancel;
    this.#heartbeats = can.heartbeats;
    this.serving = new Serving();
    const protocol = options.mode.open(this.#link(), options.initiator);
    this.protocol = protocol;
    this.#reader = protocol.reader;
    this.#writer = protocol.writer;
    this.#handshake = protocol.handshake;
    this.partThreshold = protocol.partThreshold;
  }

  /** What the mode may ask of this channel; made once. */
  #link(): ModeLink {
    // deno-lint-ignore no-this-alias
    const channel = this;
    return {
      get peer() {
        return channel.peer;
      },
      get closed() {
        return channel.closed;
      },
      flush: () => this.#queueFlush(),
      pauseReading: () => this.#pause(PAUSE_AUTH),
      resumeReading: () => this.#unpause(PAUSE_AUTH),
      ready: () => this.#becomeReady(),
      peerHello: (fields) => {
        const state = peerState(this.peer);
        state.hello = fields;
        state.identity = withNodeName(state.identity, this.peer.nodeName);
      },
      peerProved: (keyId) => {
        const state = peerState(this.peer);
        state.identity = { ...state.identity, keyId };
      },
      frame: (frame) => this.#onFrame(frame),
      fail: (error) => {
        this.close(error, false);
      },
      overSoftLimit: (n) => this.#host.onSoftLimit(this, n, false),
      cancelled: (session) => this.#host.onCancel(this, session),
      pong: (seq) => {
        if (seq === this.#pingSeq) {
          this.#pingOutstanding = false;
          this.#missed = 0;
        }
      },
      partsAcked: (bytes) => {
        this.#partsUnacked = Math.max(0, this.#partsUnacked - bytes);
        if (this.#outgoing.length > 0) this.#queueFlush();
      },
      statsReply: () => this.#host.statsReply(),
    };
  }

  /**
   * True while the transport's send buffer is over its high-water mark, or
   * the frames batched for this turn already reach it.
   */
  get congested(): boolean {
    return this.#congested || this.#writer.length >= this.#highWaterMark ||
      this.#handshake !== null ||
      (this.#outgoing.length > 1 && this.#queuedBehind() > this.#outgoingLimit());
  }

  /** True once closed or closing: nothing more is written. */
  get closed(): boolean {
    return this.#closed || this.#closing !== null;
  }

  /** The mode's handshake is not complete. */
  get handshaking(): boolean {
    return this.#handshake !== null;
  }

  /** A frame is begun and not complete. */
  get partialFrame(): boolean {
    return this.#reader.buffered > 0;
  }

  /** This side stopped reading. */
  get readPaused(): boolean {
    return this.#paused !== 0;
  }

  /** Calls wait or requests are handled on this connection. */
  get busy(): boolean {
    return this.pending.size > 0 || this.serving.size > 0 || this.serving.waiting > 0;
  }

  /** A sentence naming a likely framing mismatch, from the first bytes; or "". */
  framingHint(): string {
    return this.#first === null ? "" : this.protocol.framingHint(this.#first);
  }

  /** The error for a handshake not complete within `limit` ms. */
  handshakeExpired(limit: number): WeftError {
    return this.#handshake!.expired(limit, this.framingHint());
  }

  /** Starts reading. */
  start(): void {
    this.connection.start({
      data: (chunk) => this.#onData(chunk),
      drain: () => this.#onDrain(),
      close: (info) => this.#onClose(info),
    });
    // The side that speaks first does (calls wait meanwhile: the channel is
    // congested until ready).
    this.#handshake?.start();
  }

  /**
   * Queues a request frame. `call` (if any) is added to the pending table
   * under the new session id, after encoding succeeded.
   *
   * @throws {WeftError} `frame too large` (nothing written), `closed`.
   */
  request(
    cmd: number,
    bytes: Uint8Array | string,
    traceHi: number,
    traceLo: number,
    call: PendingCall | null,
    deadline: number,
    head: Uint8Array = EMPTY,
  ): void {
    if (this.closed) throw new WeftError("closed", "Cannot send: the connection is closed");
    const header = this.#header;
    header.session = this.pending.nextSession();
    header.cmd = cmd;
    header.traceHi = traceHi;
    header.traceLo = traceLo;
    const large = this.#large(bytes, head);
    if (large === null) this.#sent(this.#writer.request(header, bytes, head));
    else this.#sendInParts(false, header.session, cmd, traceHi, traceLo, head, large);
    if (call !== null) {
      this.pending.add(call, header.session, deadline);
      // A call of ours now waits for a response on this connection: keep
      // reading it, or two nodes calling each other could both stop.
      if ((this.#paused & PAUSE_INFLIGHT) !== 0) this.#unpause(PAUSE_INFLIGHT);
    }
    this.#queueFlush();
  }

  /** Counts a request or response just encoded; warns (as silly does) when it is over the soft limit. */
  #sent(size: number): void {
    this.watch.activity++;
    const body = size - this.protocol.prefixSize;
    if (body > this.#softLimit) this.#host.onSoftLimit(this, body, true);
  }

  /**
   * Queues a response frame.
   *
   * @throws {WeftError} `frame too large` (nothing written).
   */
  response(session: number, bytes: Uint8Array | string, head: Uint8Array = EMPTY): void {
    if (this.closed) return;
    const large = this.#large(bytes, head);
    if (large === null) this.#sent(this.#writer.response(session, bytes, head));
    else this.#sendInParts(true, session, 0, 0, 0, head, large);
    this.#queueFlush();
  }

  /** The body as bytes if it goes in parts, else null. */
  #large(bytes: Uint8Array | string, head: Uint8Array): Uint8Array | null {
    const threshold = this.partThreshold;
    if (threshold === Infinity || bytes.length * 3 + head.length <= threshold) return null;
    const body = typeof bytes === "string" ? utf8Encoder.encode(bytes) : bytes;
    if (body.length + head.length <= threshold) return null;
    const max = this.protocol.parts!.maxMessageSize;
    if (body.length + head.length > max) {
      throw new WeftError(
        "frame too large",
        `Cannot send a body of ${body.length + head.length} bytes: over maxMessageSize ${max}`,
      );
    }
    // A body sent in parts is held until its last part leaves, long after
    // the call returned: take a copy, so a caller that reuses its buffer (or
    // forwards bytes lent by a read) cannot change what is still to be sent.
    return typeof bytes === "string" ? body : body.slice();
  }

  #sendInParts(
    response: boolean,
    session: number,
    cmd: number,
    traceHi: number,
    traceLo: number,
    head: Uint8Array,
    body: Uint8Array,
  ): void {
    this.watch.activity++;
    this.#stream = this.#stream === 0x7fffffff ? 1 : this.#stream + 1;
    this.#outgoing.push({
      stream: this.#stream,
      response,
      session: response ? (session | 0x80000000) >>> 0 : session,
      cmd,
      traceHi,
      traceLo,
      head: head.slice(),
      body,
      sent: 0,
      aborted: false,
    });
    this.#outgoingBytes += head.length + body.length;
    // Inbound backpressure, as for a congested socket: a peer whose answers
    // pile up here (it does not read or acknowledge them) is not read from.
    if (this.#queuedBehind() > this.#outgoingLimit() && this.pending.size === 0) {
      this.#pause(PAUSE_PARTS);
    }
  }

  /** Bytes queued behind the large message being sent (one alone never pauses reading). */
  #queuedBehind(): number {
    const first = this.#outgoing[0];
    return first === undefined
      ? 0
      : this.#outgoingBytes - (first.head.length + first.body.length - first.sent);
  }

  #outgoingLimit(): number {
    return 4 * Math.max(this.#highWaterMark, this.protocol.parts?.partWindow ?? 0);
  }

  /** Less is queued: reading goes on once the queue is at half its bound. */
  #outgoingSent(bytes: number): void {
    this.#outgoingBytes -= bytes;
    if (this.#partsWaiter !== null && this.#queuedBehind() <= this.#outgoingLimit()) {
      this.#partsWaiter.resolve();
      this.#partsWaiter = null;
    }
    if ((this.#paused & PAUSE_PARTS) !== 0 && this.#queuedBehind() <= this.#outgoingLimit() / 2) {
      this.#unpause(PAUSE_PARTS);
    }
  }

  /** Writes parts of the queued large messages while the transport takes them. */
  #pump(): void {
    const outgoing = this.#outgoing;
    let written = 0;
    const window = this.protocol.parts?.partWindow ?? 0;
    while (
      outgoing.length > 0 && !this.#partsBlocked && !this.closed &&
      // While reading is paused the peer's acknowledgements cannot arrive:
      // the socket's own backpressure paces the parts instead.
      (this.#partsUnacked < window || (this.#paused & PAUSE_PARTS) !== 0)
    ) {
      if (written++ === PARTS_PER_TURN) {
        // Let the event loop (and the socket) run; go on in the next turn.
        this.#partsTimer ??= startRefTimer(() => {
          this.#partsTimer = undefined;
          this.#pump();
        }, 0);
        return;
      }
      const message = outgoing[0]!;
      const before = message.sent;
      this.#partsUnacked += this.protocol.writePart(message, this.partThreshold);
      if (message.sent === message.head.length + message.body.length) outgoing.shift();
      this.#outgoingSent(message.sent - before);
      let ok: boolean;
      try {
        ok = this.connection.write(this.#writer.take());
      } catch {
        return;
      }
      if (!ok) this.#partsBlocked = true;
    }
  }

  /**
   * Tells the peer that the call under `session` is abandoned (modes that
   * can cancel). While the connection is congested the CANCEL waits for it
   * to drain (at most {@linkcode MAX_QUEUED_CANCELS}; more are dropped: the
   * peer's handler then runs to its end and its response is dropped here).
   */
  cancel(session: number): void {
    if (!this.#canCancel || this.closed) return;
    for (let i = 0; i < this.#outgoing.length; i++) {
      const message = this.#outgoing[i]!;
      if (message.response || message.session !== session) continue;
      // Not started: never sent. Started: the next part tells the peer to drop it.
      if (message.sent === 0) {
        this.#outgoing.splice(i, 1);
        this.#outgoingSent(message.head.length + message.body.length);
      } else message.aborted = true;
      break;
    }
    if (this.#congested || this.#writer.length >= this.#highWaterMark) {
      if (this.#cancels.length < MAX_QUEUED_CANCELS) this.#cancels.push(session);
      else this.cancelsDropped++;
      return;
    }
    this.protocol.cancel(session);
  }

  /**
   * Once per heartbeat interval (modes with heartbeats): pings the peer, or
   * counts a ping still unanswered. Returns false when `misses` pings in a
   * row went unanswered: the peer is dead, frozen or not reading.
   */
  heartbeat(misses: number): boolean {
    if (!this.#heartbeats || this.closed) return true;
    if (this.#handshake !== null) {
      // The connecting side waits for the handshake's answer up to its
      // connect timeout (the reaper's deadline), not a heartbeat's.
      if (!this.accepted) return true;
      // The accepting side waits for the peer's first frame: a peer that
      // never sends it (or stalls inside it) is dead the same way as one
      // that stops answering.
      this.#missed++;
      return this.#missed <= misses;
    }
    if (this.#pingOutstanding) {
      // Not reading only because this node's handlers are busy: the pong may
      // be waiting unread, so that is no sign of a dead peer.
      // (Nor is a hold: this node chose not to read.)
      if (this.#paused !== 0 && (this.#paused & ~(PAUSE_INFLIGHT | PAUSE_HELD)) === 0) return true;
      // Bytes keep coming: the pong is queued behind them (megabytes sent to
      // a node that was stopped, say), and a dead peer sends nothing.
      if (this.#readSinceBeat) {
        this.#readSinceBeat = false;
        return true;
      }
      this.#missed++;
      return this.#missed < misses;
    }
    this.#pingSeq = this.#pingSeq === 0x7fffffff ? 1 : this.#pingSeq + 1;
    this.#pingOutstanding = true;
    this.#readSinceBeat = false;
    this.protocol.ping(this.#pingSeq);
    return true;
  }

  /**
   * Resolves when the connection is no longer congested (at once if it is
   * not); rejects with `closed` if it closes first.
   */
  drained(): Promise<void> {
    if (this.#settled && this.#handshake !== null) return Promise.reject(this.#unready);
    if (this.#handshake !== null) {
      this.#readyWaiter ??= Promise.withResolvers<void>();
      return this.#readyWaiter.promise;
    }
    // Large messages queued behind the one going out: wait for them.
    if (this.#outgoing.length > 1 && this.#queuedBehind() > this.#outgoingLimit()) {
      if (this.#partsWaiter === null) {
        this.#partsWaiter = Promise.withResolvers<void>();
        this.#partsWaiter.promise.catch(() => {});
      }
      return this.#partsWaiter.promise;
    }
    // A full batch goes out now, so that the wait is for the socket.
    if (this.#writer.length > 0 && !this.closed) this.#flush();
    // The channel may be done before the transport has closed (it may still
    // be flushing to a frozen peer): waiters must not outlive the channel.
    if (this.#settled) {
      return Promise.reject(new WeftError("closed", `Connection closed: ${this.peer}`));
    }
    if (this.#gone === null) {
      this.#gone = Promise.withResolvers<never>();
      this.#gone.promise.catch(() => {});
    }
    // One wait per congestion episode, shared by every call waiting on it.
    if (this.#drainWait === null) {
      // The transport may call itself drained (under its high-water mark)
      // before its drain event (under its low one): end the congestion then,
      // or callers waiting in a loop on `congested` would spin.
      const wait = Promise.race([
        this.connection.drained().then(() => this.#onDrain()),
        this.#gone.promise,
      ]);
      this.#drainWait = wait;
      const forget = () => {
        if (this.#drainWait === wait) this.#drainWait = null;
      };
      wait.then(forget, forget);
    }
    return this.#drainWait;
  }

  /** Stops reading until `release()` (counted; see `holdReading()` in src/cluster/hold.ts). */
  hold(): void {
    if (this.#holds++ === 0) this.#pause(PAUSE_HELD);
  }

  /** Ends one `hold()`; reading resumes after the last unless something else paused it. */
  release(): void {
    if (this.#holds > 0 && --this.#holds === 0) this.#unpause(PAUSE_HELD);
  }

  /**
   * Closes the connection. `local` marks a close on purpose (no `close`
   * hook); `error` is the reason pending calls and contexts get.
   */
  close(error: WeftError, local: boolean): Promise<CloseInfo> {
    if (this.#closing === null && !this.#closed) {
      this.#closing = error;
      this.#flush();
      // Settle now: the transport may take a while to flush what is queued
      // (up to its close timeout, to a frozen peer), and nothing waiting on
      // this channel should wait for that.
      this.#settle(error, local);
    }
    return this.connection.close();
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    microtask(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    const writer = this.#writer;
    if (writer.length === 0 || this.#closed) {
      writer.clear();
      if (this.#outgoing.length > 0) this.#pump();
      return;
    }
    const bytes = writer.take();
    let ok: boolean;
    try {
      ok = this.connection.write(bytes);
    } catch {
      // The connection closed under us; its close event settles everything.
      return;
    }
    if (!ok) this.#congest();
    // Parts go after the small frames of this turn; a small frame written
    // later waits behind at most the part window.
    else if (this.#outgoing.length > 0) this.#pump();
  }

  #congest(): void {
    this.#congested = true;
    // Inbound backpressure: while our writes back up, stop reading requests
    // from a peer that does not read its responses. Not while calls of ours
    // wait on this connection: their responses must still be read, or two
    // busy nodes calling each other could both stop reading.
    if (this.pending.size === 0) this.#pause(PAUSE_CONGESTED);
  }

  #pause(why: number): void {
    if (this.#paused === 0) this.connection.pause();
    this.#paused |= why;
  }

  #unpause(why: number): void {
    if (this.#paused === 0) return;
    this.#paused &= ~why;
    if (this.#paused === 0 && !this.#closed) this.connection.resume();
  }

  #onDrain(): void {
    this.#congested = false;
    this.#partsBlocked = false;
    if (this.#outgoing.length > 0) this.#queueFlush();
    this.#unpause(PAUSE_CONGESTED);
    // CANCELs held back by the congestion go now.
    const cancels = this.#cancels;
    if (cancels.length > 0 && !this.closed) {
      this.#cancels = [];
      for (const session of cancels) this.protocol.cancel(session);
    }
  }

  /**
   * A request arrived: run it if a slot is free, else keep it in order
   * (reading stops once the waiting ones reach the high-water mark).
   *
   * While calls of ours wait on this connection, a request may be what they
   * wait for (the peer calling back while handling our call): holding it
   * could deadlock the two nodes, so it runs at once, up to twice the
   * limit; beyond that it is refused (with an error if the mode can say
   * one; else dropped).
   */
  #request(frame: Frame): void {
    const serving = this.serving;
    if (this.turn.scheduled || !this.turn.take()) {
      // This read's budget is spent: the rest wait, in order, for a later turn.
      serving.defer(frame);
      this.#pause(PAUSE_TURN);
      this.turn.schedule(this.#nextTurn);
    } else if (serving.waiting === 0 && serving.size < this.#maxInflight) {
      this.#dispatch(frame);
    } else if (this.pending.size > 0) {
      if (serving.size < 2 * this.#maxInflight) this.#dispatch(frame);
      else {
        this.#refuse(
          frame,
          "busy",
          `${serving.size} requests in flight, calls of this node waiting`,
        );
      }
    } else {
      serving.defer(frame);
      if (serving.waitingBytes >= this.#highWaterMark) this.#pause(PAUSE_INFLIGHT);
    }
  }

  /** Runs a request (refused if its session is already being served and the mode can say so). */
  #dispatch(frame: Frame): void {
    if (this.#refuses && this.serving.has(frame.session)) {
      this.#refuse(frame, "protocol", `session ${frame.session} is already being served`);
      return;
    }
    this.#host.onRequest(this, frame);
  }

  /** Refuses a request without running it: answered with an error if the mode can (and one is wanted), else dropped. */
  #refuse(frame: Frame, code: string, why: string): void {
    const message =
      `Request cmd ${frame.cmd} session ${frame.session} from ${this.peer} refused: ${why}`;
    // Logged at most once a second per connection, with a count of the rest.
    const t = now();
    if (t - this.#refusedLoggedAt >= 1000) {
      const more = this.#refusedUnlogged;
      this.#host.onRefused(this, more > 0 ? `${message} (and ${more} more before)` : message);
      this.#refusedLoggedAt = t;
      this.#refusedUnlogged = 0;
    } else {
      this.#refusedUnlogged++;
    }
    const protocol = this.protocol;
    const errorHead = protocol.errorHead;
    if (errorHead === null || protocol.oneWay(frame.payload)) return;
    this.response(
      frame.session,
      protocol.encodeError({ name: "WeftError", code, message }),
      errorHead,
    );
  }

  /**
   * A request this channel served finished: forget it, run waiting requests
   * while slots are free, and read again once none wait.
   */
  finished(context: ServedRequest): void {
    const serving = this.serving;
    serving.delete(context);
    if (serving.waiting === 0) return;
    try {
      while (serving.waiting > 0 && serving.size < this.#maxInflight && !this.closed) {
        this.#dispatch(serving.shift()!);
      }
    } catch (error) {
      this.close(asProtocolError(error), false);
      return;
    }
    if (serving.waiting === 0) this.#unpause(PAUSE_INFLIGHT);
  }

  /** A later turn: runs the next batch of waiting requests, then reads again. */
  readonly #nextTurn = (): void => {
    const serving = this.serving;
    if (this.closed) return;
    const limit = this.pending.size > 0 ? 2 * this.#maxInflight : this.#maxInflight;
    try {
      while (serving.waiting > 0 && serving.size < limit && !this.closed && this.turn.take()) {
        this.#dispatch(serving.shift()!);
      }
    } catch (error) {
      this.close(asProtocolError(error), false);
      return;
    }
    if (this.closed) return;
    if (serving.waiting > 0 && this.turn.used >= this.turn.budget) {
      this.turn.schedule(this.#nextTurn);
      return;
    }
    if (serving.waitingBytes >= this.#highWaterMark) this.#pause(PAUSE_INFLIGHT);
    this.#unpause(PAUSE_TURN);
  };

  /**
   * Called by the reaper every sweep: a connection that stopped reading only
   * because its handlers are busy reads once more (its next request stops
   * it again), so that a peer that hung up is noticed and its handlers
   * aborted. Only while the waiting requests hold under
   * {@linkcode PROBE_LIMIT} high-water marks.
   */
  probe(): void {
    if (
      this.#paused === PAUSE_INFLIGHT && !this.closed &&
      this.serving.waitingBytes < PROBE_LIMIT * this.#highWaterMark
    ) {
      this.#unpause(PAUSE_INFLIGHT);
    }
  }

  /** The peer cancelled `session`; a request still waiting for a slot is dropped. */
  dropWaiting(session: number): boolean {
    return this.serving.waiting > 0 && this.serving.dropWaiting(session);
  }

  readonly #onFrame = (frame: Frame): void => {
    this.watch.frames++;
    this.#first = null;
    const handshake = this.#handshake;
    if (handshake !== null) {
      handshake.onFrame(frame);
      return;
    }
    if (
      frame.kind === "request" && frame.cmd >= this.protocol.firstControlCmd &&
      this.protocol.control(frame)
    ) {
      return;
    }
    this.watch.activity++;
    if (frame.kind === "response") {
      const call = this.pending.take(frame.session);
      // A response nobody waits for (late after a timeout or abort, or an
      // answer to a send) is dropped; the connection stays healthy.
      if (call === undefined) return;
      // Read late (a busy event loop): the deadline passed before it was
      // read, so the call timed out, whatever the buffer held.
      if (call.deadline !== Infinity && this.#readAt() > call.deadline) {
        call.reject(
          new WeftError(
            "timeout",
            `Call ${String(call.cmd)} timed out: the response was read after the deadline`,
          ),
        );
        return;
      }
      if (call.raw !== undefined) call.raw(frame.payload);
      else this.#host.onResponse(this, call, frame.payload);
    } else {
      this.#request(frame);
      // A handler may have run (and blocked) since the clock was read.
      this.#clockStale = true;
    }
  };

  /**
   * The time now, read again only when a request was handled since the
   * chunk arrived: a chunk of responses costs one clock read, not one each.
   */
  #readAt(): number {
    if (this.#clockStale) {
      this.#clockStale = false;
      this.receivedAt = now();
    }
    return this.receivedAt;
  }

  /** The handshake completed: calls waiting for it go, frames go to the connection. */
  #becomeReady(): void {
    this.#handshake = null;
    this.#missed = 0;
    this.#readyWaiter?.resolve();
    this.#readyWaiter = null;
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closing !== null) return;
    const first = this.#first;
    if (first !== null) first.note(chunk);
    this.receivedAt = now();
    this.#readSinceBeat = true;
    this.#clockStale = false;
    this.turn.reset();
    try {
      this.#reader.decode(chunk, this.#onFrame);
    } catch (error) {
      let reason = asProtocolError(error);
      if (this.#handshake !== null) reason = this.#handshake.explain(reason);
      const hint = first === null || this.#first === null ? "" : this.framingHint();
      if (hint !== "") {
        reason = new WeftError(reason.code, `${reason.message}${hint}`, { cause: reason });
      }
      this.close(reason, false);
    }
  }

  #onClose(info: CloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#flushQueued = false;
    this.turn.stop();
    if (this.#settled) return;
    const local = info.reason === "local";
    const error = this.#handshake?.closedEarly(info) ??
      info.error ??
      new WeftError(
        "closed",
        info.reason === "remote"
          ? `Connection closed by the remote end: ${this.peer}`
          : `Connection closed: ${this.peer}`,
      );
    this.#settle(error, local);
  }

  /** Tells the cluster, once, that this channel is done: its calls and contexts settle. */
  #settle(error: WeftError, local: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#outgoing.length = 0;
    this.#outgoingBytes = 0;
    this.#partsWaiter?.reject(new WeftError("closed", `Connection closed: ${error.message}`));
    this.#partsWaiter = null;
    this.protocol.close();
    stopTimer(this.#partsTimer);
    this.#partsTimer = undefined;
    this.#gone?.reject(
      new WeftError("closed", `Connection closed: ${error.message}`, { cause: error }),
    );
    this.#cancels = [];
    // Calls waiting for the handshake learn why it failed.
    this.#unready = error.code === "protocol" || error.code === "peer closed" ||
        error.code === "authentication failed"
      ? error
      : new WeftError("closed", `Connection closed: ${error.message}`, { cause: error });
    if (this.#readyWaiter !== null) {
      this.#readyWaiter.reject(this.#unready);
      this.#readyWaiter.promise.catch(() => {});
      this.#readyWaiter = null;
    }
    this.#host.onClosed(this, error, local);
  }
}

function asProtocolError(error: unknown): WeftError {
  return error instanceof WeftError
    ? error
    : new WeftError("protocol", "Connection failed: frame handling threw", { cause: error });
}
