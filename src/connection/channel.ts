/**
 * {@linkcode Channel}: one connection of a cluster. It owns the socket and
 * wires together the parts of a connection, each in its own file:
 *
 * - the protocol mode, opened once (src/protocol/mode.ts): its frame reader
 *   and writer, its handshake, its heads and control frames;
 * - {@linkcode FlowControl} (flow_control.ts): why reading is paused;
 * - {@linkcode Admission} (admission.ts): requests read, run, waiting or
 *   refused, and the requests being served;
 * - `PendingCalls` (src/session/): calls of this node waiting for a response;
 * - {@linkcode LargeMessages} (large_messages.ts): large messages going out
 *   in parts, and their window;
 * - {@linkcode Liveness} (liveness.ts): heartbeats;
 * - {@linkcode Readiness} (readiness.ts): calls waiting for the handshake;
 * - {@linkcode HeldCancels} (cancels.ts): CANCELs waiting out congestion;
 * - `Watch` (reaper.ts): the counters the cluster's reaper checks.
 *
 * What it asks of its cluster is channel_host.ts. A frame read goes:
 * reader -> the handshake while there is one -> the mode's control frames
 * -> a response to its pending call, or a request to admission. See
 * docs/CONNECTION.md.
 *
 * @module
 */

import { microtask, now } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import { type PendingCall, PendingCalls } from "../session/pending_calls.ts";
import type { CloseInfo, Connection } from "../transport/types.ts";
import type { Frame, RequestHeader } from "../wire/frame.ts";
import {
  FirstBytes,
  type FrameReader,
  type FrameWriter,
  type Handshake,
  type ModeConnection,
  type ModeLink,
} from "../protocol/mode.ts";
import { Admission, asProtocolError } from "./admission.ts";
import type { ChannelHost, ChannelOptions } from "./channel_host.ts";
import { HeldCancels } from "./cancels.ts";
import { FlowControl, Pause } from "./flow_control.ts";
import { LargeMessages } from "./large_messages.ts";
import { DEAD, Liveness } from "./liveness.ts";
import { type Peer, provedCertificate, provedKey, saidHello } from "./peer.ts";
import { Readiness } from "./readiness.ts";
import { Watch, type Watched } from "./reaper.ts";
import type { ServedRequest, Serving } from "./serving.ts";
import { WriteLine } from "./write_line.ts";

const EMPTY = new Uint8Array(0);

/**
 * One connection. Writes are batched: frames produced in one turn of the
 * event loop go out in one `write()`, after the current task's synchronous
 * work and the microtasks queued before the first frame.
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
  /** Counters for the connection deadlines (see reaper.ts). */
  readonly watch: Watch = new Watch();
  /** An accepted connection. */
  readonly accepted: boolean;
  /** When the chunk being decoded arrived (`now()`, read once per chunk, not per frame). */
  receivedAt = 0;
  readonly #host: ChannelHost<Channel>;
  readonly #reader: FrameReader;
  readonly #writer: FrameWriter;
  readonly #flow: FlowControl;
  readonly #admission: Admission<Channel>;
  readonly #parts: LargeMessages;
  readonly #liveness = new Liveness();
  readonly #readiness = new Readiness();
  readonly #cancels = new HeldCancels();
  /** The mode's handshake until it completes; null once ready (or for a mode without one). */
  #handshake: Handshake | null;
  readonly #softLimit: number;
  /** Bytes of the mode's length prefix (not counted against the soft limit). */
  readonly #prefixSize: number;
  readonly #highWaterMark: number;
  readonly #canCancel: boolean;
  readonly #heartbeats: boolean;
  /** Scratch header reused for every request written. */
  readonly #header: RequestHeader = { session: 0, cmd: 0, traceHi: 0, traceLo: 0 };
  /** Calls whose request is in the batch not yet written (marked `written` when it is). */
  readonly #batched: PendingCall[] = [];
  /** The first bytes (until the first frame, or the handshake, is done): to name a foreign peer. */
  #first: FirstBytes | null = new FirstBytes();
  /** A request was handled since `receivedAt` was read: read the clock again. */
  #clockStale = false;
  #flushQueued = false;
  #closing: WeftError | null = null;
  #closed = false;
  /** The cluster was told this channel is done. */
  #settled = false;

  /**
   * A channel over `connection` (not started: see `start()`), opening `options.mode`.
   *
   * @param host The cluster.
   * @param peer The peer.
   * @param connection A connection not yet started.
   * @param options The mode, limits and the shared deadline queue.
   */
  constructor(
    host: ChannelHost<Channel>,
    peer: Peer,
    connection: Connection,
    options: ChannelOptions,
  ) {
    this.#host = host;
    this.peer = peer;
    this.connection = connection;
    this.accepted = !options.initiator;
    this.#softLimit = options.softLimit;
    this.#highWaterMark = options.highWaterMark;
    provedCertificate(peer, connection.peerCertificate);
    const mode = options.mode;
    this.pending = new PendingCalls({
      deadlines: options.deadlines,
      onTimeout: (call) => host.onTimeout(this, call),
      lowestSession: mode.sessions.lowest,
    });
    this.#flow = new FlowControl(connection);
    const can = mode.can;
    this.#canCancel = can.cancel;
    this.#heartbeats = can.heartbeats;
    this.#admission = new Admission<Channel>(this, host, this.#flow, {
      maxInflight: options.maxInflight,
      maxRequestsPerTurn: options.maxRequestsPerTurn,
      soloTurnTime: options.soloTurnTime,
      highWaterMark: options.highWaterMark,
      refuseReused: mode.sessions.unique,
      // Every connection is read whatever its backlog: weft's CANCELs lie
      // behind the requests, and in either mode so does a hang-up, which
      // must abort the handlers of a connection that is gone.
      keepReading: true,
      budget: options.budget,
    });
    const protocol = mode.open(this.#link(), options.initiator);
    this.protocol = protocol;
    this.#reader = protocol.reader;
    this.#writer = protocol.writer;
    this.#handshake = protocol.handshake;
    this.#prefixSize = protocol.prefixSize;
    this.#parts = new LargeMessages(this, this.#flow, {
      threshold: protocol.partThreshold,
      window: protocol.parts,
      highWaterMark: options.highWaterMark,
    });
  }

  // ---- state -------------------------------------------------------------

  /** Requests being handled, and those waiting for a slot; their contexts abort when the channel closes. */
  get serving(): Serving {
    return this.#admission.serving;
  }

  /** Requests waiting out congestion, in order: while any wait, later ones join the line. */
  readonly writeLine: WriteLine = new WriteLine();

  /**
   * True while the transport's send buffer is over its high-water mark, the
   * frames batched for this turn already reach it, the handshake is not
   * complete, or large messages pile up: callers wait (`drained()`).
   */
  get congested(): boolean {
    return this.#flow.congested || this.#writer.length >= this.#highWaterMark ||
      this.#handshake !== null || this.#parts.backedUp;
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
    return this.#flow.paused !== 0;
  }

  /** Calls wait or requests are handled on this connection. */
  get busy(): boolean {
    return this.pending.size > 0 || this.#admission.busy;
  }

  /** A sentence naming a likely framing mismatch, from the first bytes; or "". */
  framingHint(): string {
    return this.#first === null ? "" : this.protocol.framingHint(this.#first);
  }

  /** The mode's own deadlines at time `t` (see `ModeControl.sweep`). */
  modeDeadline(t: number): WeftError | null {
    return this.protocol.sweep?.(t, this.readPaused) ?? null;
  }

  /** The error for a handshake not complete within `limit` ms. */
  handshakeExpired(limit: number): WeftError {
    return this.#handshake!.expired(limit, this.framingHint());
  }

  // ---- writing -------------------------------------------------------------

  /** Starts reading (and the handshake, whose first side speaks first). */
  start(): void {
    this.connection.start({
      data: (chunk) => this.#onData(chunk),
      drain: this.#onDrain,
      close: (info) => this.#onClose(info),
    });
    // Calls wait meanwhile: the channel is congested until ready.
    this.#handshake?.start();
  }

  /**
   * Queues a request frame (`head`: the mode's request head). `call` (if
   * any) is added to the pending table under the new session id, after
   * encoding succeeded. Its deadline is the earlier of `deadline`
   * (monotonic ms) and `timeout` ms after the frame is handed to the
   * transport: a batch's calls share one clock read, made as it is written.
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
    timeout: number = Infinity,
  ): void {
    if (this.closed) {
      throw new WeftError("closed", "Cannot send: the connection is closed", { mayHaveRun: false });
    }
    const header = this.#header;
    header.session = this.pending.nextSession();
    header.cmd = cmd;
    header.traceHi = traceHi;
    header.traceLo = traceLo;
    const large = this.#parts.large(bytes, head);
    if (large === null) {
      this.#sent(this.#writer.request(header, bytes, head));
      if (call !== null) this.#batched.push(call);
    } else {
      this.watch.activity++;
      this.#parts.add(false, header.session, cmd, traceHi, traceLo, head, large, call);
    }
    if (call !== null) this.#addPending(call, header.session, deadline, timeout, large === null);
    // A request from the write line with more behind it leaves the batch
    // open for theirs (see batchOpen); parts always go through #flush.
    if (large !== null || !this.batchOpen) this.#queueFlush();
  }

  /** `call` waits under `session`; its deadline as `request()` says. */
  #addPending(
    call: PendingCall,
    session: number,
    deadline: number,
    timeout: number,
    batched: boolean,
  ): void {
    if (timeout === Infinity) this.pending.add(call, session, deadline);
    else if (batched) {
      // Armed by #flush, which writes it.
      this.pending.add(call, session, Infinity);
      call.deadline = deadline;
      call.timeout = timeout;
    } else this.pending.add(call, session, Math.min(deadline, now() + timeout));
    // A call of ours now waits for a response on this connection: keep
    // reading it, or two nodes calling each other could both stop.
    if ((this.#flow.paused & Pause.Inflight) !== 0) this.#flow.resume(Pause.Inflight);
  }

  /**
   * Asks the peer about itself (modes that can `info`; `payload`: what to
   * ask) under a new session; `call` waits for the answer, an ordinary
   * response (which `call.raw` decodes).
   *
   * @throws {WeftError} `closed`; `protocol` if the mode cannot.
   */
  askInfo(payload: Uint8Array, call: PendingCall, deadline: number): void {
    if (this.closed) throw new WeftError("closed", "Cannot send: the connection is closed");
    const session = this.pending.nextSession();
    this.protocol.askInfo(session, payload);
    this.pending.add(call, session, deadline);
    if ((this.#flow.paused & Pause.Inflight) !== 0) this.#flow.resume(Pause.Inflight);
  }

  /** Queues a response frame (`head`: the mode's response head). @throws {WeftError} `frame too large`. */
  response(session: number, bytes: Uint8Array | string, head: Uint8Array = EMPTY): void {
    if (this.closed) return;
    const large = this.#parts.large(bytes, head);
    if (large === null) this.#sent(this.#writer.response(session, bytes, head));
    else {
      this.watch.activity++;
      this.#parts.add(true, session, 0, 0, 0, head, large);
    }
    this.#queueFlush();
  }

  /** Counts a frame of `size` bytes just written; warns (as silly does) when it is over the soft limit. */
  #sent(size: number): void {
    this.watch.activity++;
    const body = size - this.#prefixSize;
    if (body > this.#softLimit) this.#host.onSoftLimit(this, body, true);
  }

  /**
   * Tells the peer that the call under `session` is abandoned (modes that
   * can cancel). While the connection is congested the CANCEL waits for it
   * to drain (see cancels.ts).
   */
  cancel(session: number): void {
    if (!this.#canCancel || this.closed) return;
    this.#parts.cancel(session);
    if (this.#flow.congested || this.#writer.length >= this.#highWaterMark) {
      this.#cancels.hold(session);
    } else this.protocol.cancel(session);
  }

  /**
   * Once per heartbeat interval (modes with heartbeats): pings the peer, or
   * counts a ping still unanswered. Returns false when `misses` pings in a
   * row went unanswered: the peer is dead, frozen or not reading.
   */
  heartbeat(misses: number): boolean {
    if (!this.#heartbeats || this.closed) return true;
    const tick = this.#liveness.tick(misses, {
      ready: this.#handshake === null,
      accepted: this.accepted,
      pausedByChoice: this.#flow.pausedByChoice,
    });
    if (tick > 0) this.protocol.ping(tick);
    return tick !== DEAD;
  }

  /** Resolves when the connection is no longer congested (at once if not); rejects `closed` if it closes. */
  drained(): Promise<void> {
    if (this.#handshake !== null) return this.#readiness.wait();
    // A full batch (or the write line's open one) goes out now, so that
    // the wait is for the socket or the parts.
    if (this.#writer.length > 0 && !this.closed) this.#flush();
    // Large messages queued behind the one going out: wait for them.
    if (this.#parts.backedUp) return this.#parts.wait();
    // The channel may be done before the transport has closed (it may still
    // be flushing to a frozen peer): waiters must not outlive the channel.
    if (this.#settled) {
      return Promise.reject(new WeftError("closed", `Connection closed: ${this.peer}`));
    }
    return this.#flow.waitDrained(this.#onDrain);
  }

  /** Stops reading until `release()` (counted; see `holdReading()` in src/cluster/hold.ts). */
  hold(): void {
    this.#flow.hold();
  }

  /** Ends one `hold()`; reading resumes after the last unless something else paused it. */
  release(): void {
    this.#flow.release();
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

  /**
   * Set while a request from the write line writes with others in line
   * behind it: a small frame queues no flush, so that theirs join its
   * batch (see `Calls`' slow path, which calls {@linkcode flushSoon} when
   * the line empties; a waiter that finds the batch full sends it, see
   * {@linkcode drained}).
   */
  batchOpen = false;

  /** Sends what the batch holds at the end of this task (once, however often called). */
  flushSoon(): void {
    this.#queueFlush();
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    microtask(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    const writer = this.#writer;
    const batched = this.#batched;
    // The batch's calls count their timeouts from now (also if a part's
    // write took their frames out already: see LargeMessages.pump).
    let t = -1;
    for (let i = 0; i < batched.length; i++) {
      const call = batched[i]!;
      if (call.timeout === Infinity) continue;
      if (t < 0) t = now();
      this.pending.arm(call, Math.min(call.deadline, t + call.timeout));
    }
    if (writer.length === 0 || this.#closed) {
      writer.clear();
      batched.length = 0;
      if (this.#parts.pending) this.#parts.pump();
      return;
    }
    const bytes = writer.take();
    let ok: boolean;
    try {
      ok = this.connection.write(bytes);
    } catch {
      // The connection closed under us; its close event settles everything.
      batched.length = 0;
      return;
    }
    // A transport the peer already ended drops what it is given: those
    // requests never left (the close event is on its way).
    if (!this.connection.isClosed) {
      for (let i = 0; i < batched.length; i++) batched[i]!.written = true;
    }
    batched.length = 0;
    if (!ok) this.#flow.congest(this.pending.size > 0);
    // Parts go after the small frames of this turn; a small frame written
    // later waits behind at most the part window.
    else if (this.#parts.pending) this.#parts.pump();
  }

  /** The transport drained: writes (parts, held-back CANCELs) go on, reading too. */
  readonly #onDrain = (): void => {
    this.#parts.socketDrained();
    if (this.#parts.pending) this.#queueFlush();
    this.#flow.drained();
    // CANCELs held back by the congestion go now.
    if (!this.closed) this.#cancels.release(this.#sendCancel);
  };

  readonly #sendCancel = (session: number): void => this.protocol.cancel(session);

  // ---- serving -------------------------------------------------------------

  /**
   * A request this channel served finished: forget it, run waiting requests
   * while slots are free, and read again once none wait.
   */
  finished(request: ServedRequest): void {
    this.#admission.finished(request);
  }

  /** The reaper's sweep: read once more if only busy handlers stopped reading (see `Admission.probe`). */
  probe(): void {
    this.#admission.probe();
  }

  /** The peer cancelled `session`; a request still waiting for a slot is dropped. */
  dropWaiting(session: number): boolean {
    return this.#admission.dropWaiting(session);
  }

  // ---- reading -------------------------------------------------------------

  #onData(chunk: Uint8Array): void {
    if (this.#closing !== null) return;
    const first = this.#first;
    if (first !== null) first.note(chunk);
    const t = now();
    this.receivedAt = t;
    this.#liveness.heard = true;
    this.#clockStale = false;
    this.#admission.newTurn(t);
    try {
      this.#reader.decode(chunk, this.#onFrame);
    } catch (error) {
      let reason = asProtocolError(error);
      if (this.#handshake !== null) {
        // The handshake names what the peer is (from the first bytes).
        reason = this.#handshake.explain(reason);
      } else {
        const hint = first === null || this.#first === null ? "" : this.framingHint();
        if (hint !== "") {
          reason = new WeftError(reason.code, `${reason.message}${hint}`, { cause: reason });
        }
      }
      this.close(reason, false);
    }
  }

  /** Each frame: the handshake while there is one, the mode's control frames, then calls. */
  readonly #onFrame = (frame: Frame): void => {
    this.watch.frames++;
    const handshake = this.#handshake;
    if (handshake !== null) {
      handshake.onFrame(frame);
      return;
    }
    this.#first = null;
    const protocol = this.protocol;
    if (
      frame.kind === "request" && frame.cmd >= protocol.firstControlCmd && protocol.control(frame)
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
      this.#admission.request(frame);
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

  // ---- closing -------------------------------------------------------------

  #onClose(info: CloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#flushQueued = false;
    this.#flow.stop();
    this.#admission.stop();
    if (this.#settled) return;
    const error = this.#handshake?.closedEarly(info) ?? info.error ?? new WeftError(
      "closed",
      info.reason === "remote"
        ? `Connection closed by the remote end: ${this.peer}`
        : `Connection closed: ${this.peer}`,
    );
    this.#settle(error, info.reason === "local");
  }

  /** Tells the cluster, once, that this channel is done: its calls and contexts settle. */
  #settle(error: WeftError, local: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#parts.clear(error);
    // No later turn, and no node-wide slot waited for.
    this.#admission.stop();
    this.protocol.close();
    this.#flow.end(error);
    this.#cancels.clear();
    // Calls waiting for the handshake learn why it failed.
    this.#readiness.fail(error);
    this.#host.onClosed(this, error, local);
  }

  // ---- what the parts may ask of the channel (made once each) ---------------

  /** The mode's link. */
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
      get firstBytes() {
        return channel.#first;
      },
      flush: () => this.#queueFlush(),
      pauseReading: () => this.#flow.pause(Pause.Handshake),
      resumeReading: () => this.#flow.resume(Pause.Handshake),
      ready: () => {
        this.#handshake = null;
        this.#first = null;
        this.#liveness.ready();
        this.#readiness.ready();
      },
      peerHello: (fields, nodeName) => saidHello(this.peer, fields, nodeName),
      peerProved: (keyId) => provedKey(this.peer, keyId),
      frame: (frame) => this.#onFrame(frame),
      fail: (error) => void this.close(error, false),
      overSoftLimit: (n) => this.#host.onSoftLimit(this, n, false),
      cancelled: (session) => this.#host.onCancel(this, session),
      pong: (seq) => this.#liveness.pong(seq),
      partsAcked: (bytes) => {
        if (this.#parts.acked(bytes)) this.#queueFlush();
      },
      info: (session, payload) => this.#host.onInfo(this, session, payload),
    };
  }
}
