/**
 * {@linkcode LargeMessages}: large messages going out in parts, for a mode
 * that sends them so. A body over the mode's part threshold is queued
 * (copied) and sent a part at a time after each turn's small frames, so a
 * small call waits behind at most the window of parts, not behind the
 * whole body. The mode writes each part (its layout); this file decides
 * when: while the window is open (the peer acknowledges parts as it takes
 * them), the transport takes them, and at most {@linkcode PARTS_PER_TURN}
 * per turn of the event loop.
 *
 * The queue is bounded the way a socket's buffer is: when messages pile up
 * behind the one going out (a peer that does not read or acknowledge its
 * answers), reading from that peer pauses, and callers wait
 * ({@linkcode LargeMessages.prototype.wait}) before queueing more.
 *
 * Putting the parts back together on the other side is the mode's (weft:
 * src/protocol/weft/parts.ts).
 *
 * @module
 */

import { startRefTimer, stopTimer, type TimerHandle, utf8Encoder } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import type { ModeFraming, ModeParts, OutgoingMessage, PartWindow } from "../protocol/mode.ts";
import { type FlowControl, Pause } from "./flow_control.ts";
import type { PendingCall } from "../session/pending_calls.ts";

/** A queued message, and the call waiting for its answer (marked `written` with its first part). */
interface Queued extends OutgoingMessage {
  call: PendingCall | null;
}

/** Parts written per turn before yielding to the event loop. */
export const PARTS_PER_TURN = 64;

/** What the queue reads of its connection (the channel is one). */
export interface PartsChannel {
  /** Nothing more is written. */
  readonly closed: boolean;
  /** Calls of this node waiting on the connection (their responses must still be read). */
  readonly pending: { readonly size: number };
  /** The mode: it writes each part into its writer. */
  readonly protocol: Pick<ModeParts, "writePart"> & Pick<ModeFraming, "writer">;
  /** The transport: it takes the parts (false when its buffer is full; throws once closed). */
  readonly connection: { write(bytes: Uint8Array): boolean; readonly isClosed?: boolean };
}

/** What bounds the queue. */
export interface LargeMessagesOptions {
  /** Bodies (with their head) over this go in parts (Infinity: never). */
  readonly threshold: number;
  /** The mode's window, or undefined if it sends nothing in parts. */
  readonly window: PartWindow | undefined;
  /** The connection's high-water mark: the queue holds about four times this (or the window) behind the message going out. */
  readonly highWaterMark: number;
}

/**
 * One connection's queue of large messages going out.
 *
 * @example A body over the threshold is queued and pumped a part at a time
 * ```ts
 * import { FlowControl } from "./flow_control.ts";
 * import { LargeMessages } from "./large_messages.ts";
 * import { FrameEncoder } from "../wire/frame_encoder.ts";
 * import type { OutgoingMessage } from "../protocol/mode.ts";
 *
 * const parts: number[] = [];
 * const channel = {
 *   closed: false,
 *   pending: { size: 0 },
 *   protocol: {
 *     writer: new FrameEncoder(),
 *     writePart(message: OutgoingMessage, size: number) {
 *       const take = Math.min(size, message.body.length - message.sent);
 *       message.sent += take;
 *       parts.push(take);
 *       return take;
 *     },
 *   },
 *   connection: { write: () => true },
 * };
 * const flow = new FlowControl({ pause() {}, resume() {}, drained: () => Promise.resolve() });
 * const queue = new LargeMessages(channel, flow, {
 *   threshold: 4,
 *   window: { partWindow: 1024, maxMessageSize: 1024 },
 *   highWaterMark: 1024,
 * });
 * const body = queue.large(new Uint8Array(10), new Uint8Array(0))!;
 * queue.add(false, 1, 7, 0, 0, new Uint8Array(0), body);
 * queue.pump();
 * if (parts.join() !== "4,4,2" || queue.pending) throw new Error(parts.join());
 * ```
 */
export class LargeMessages {
  /** Bodies (with their head) over this go in parts (Infinity: never). */
  readonly threshold: number;
  readonly #channel: PartsChannel;
  readonly #flow: FlowControl;
  readonly #window: PartWindow | undefined;
  readonly #highWaterMark: number;
  readonly #queue: Queued[] = [];
  #stream = 0;
  /** The transport's buffer is full: parts wait for it to drain. */
  #blocked = false;
  /** Part bytes sent and not yet acknowledged. */
  #unacked = 0;
  /** Bytes of queued messages not yet sent. */
  #bytes = 0;
  /** Reading is paused because answers pile up here. */
  #pausedReading = false;
  #timer: TimerHandle | undefined = undefined;
  /** Callers waiting for the queue to shrink. */
  #waiter: PromiseWithResolvers<void> | null = null;

  /**
   * An empty queue for one connection.
   *
   * @param channel The connection.
   * @param flow Its flow control (reading from a peer whose answers pile up pauses).
   * @param options The threshold, the window and the high-water mark.
   */
  constructor(channel: PartsChannel, flow: FlowControl, options: LargeMessagesOptions) {
    this.#channel = channel;
    this.#flow = flow;
    this.threshold = options.threshold;
    this.#window = options.window;
    this.#highWaterMark = options.highWaterMark;
  }

  /** Messages are queued (the first may be going out). */
  get pending(): boolean {
    return this.#queue.length > 0;
  }

  /** Messages pile up behind the one going out: callers should wait before queueing more. */
  get backedUp(): boolean {
    return this.#queue.length > 1 && this.#behind() > this.#limit();
  }

  /**
   * The body as bytes if it goes in parts (a copy: it is held until its
   * last part leaves), else null.
   *
   * @throws {WeftError} `frame too large` over the window's `maxMessageSize`.
   */
  large(bytes: Uint8Array | string, head: Uint8Array): Uint8Array | null {
    const threshold = this.threshold;
    if (threshold === Infinity || bytes.length * 3 + head.length <= threshold) return null;
    const body = typeof bytes === "string" ? utf8Encoder.encode(bytes) : bytes;
    if (body.length + head.length <= threshold) return null;
    const max = this.#window!.maxMessageSize;
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

  /** Queues a message (`body` from {@linkcode LargeMessages.prototype.large}); the pump sends it. */
  add(
    response: boolean,
    session: number,
    cmd: number,
    traceHi: number,
    traceLo: number,
    head: Uint8Array,
    body: Uint8Array,
    call: PendingCall | null = null,
  ): void {
    this.#stream = this.#stream === 0x7fffffff ? 1 : this.#stream + 1;
    this.#queue.push({
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
      call,
    });
    this.#bytes += head.length + body.length;
    // Inbound backpressure, as for a congested socket: a peer whose answers
    // pile up here (it does not read or acknowledge them) is not read from.
    if (this.#behind() > this.#limit() && this.#channel.pending.size === 0) {
      this.#pausedReading = true;
      this.#flow.pause(Pause.Parts);
    }
  }

  /** Resolves when the queue is back under its bound; rejects if the connection closes first. */
  wait(): Promise<void> {
    if (this.#waiter === null) {
      this.#waiter = Promise.withResolvers<void>();
      this.#waiter.promise.catch(() => {});
    }
    return this.#waiter.promise;
  }

  /** Writes parts of the queued messages while the window and the transport take them. */
  pump(): void {
    const queue = this.#queue;
    const channel = this.#channel;
    const protocol = channel.protocol;
    let written = 0;
    const window = this.#window?.partWindow ?? 0;
    while (
      queue.length > 0 && !this.#blocked && !channel.closed &&
      // While reading is paused the peer's acknowledgements cannot arrive:
      // the socket's own backpressure paces the parts instead.
      (this.#unacked < window || this.#pausedReading)
    ) {
      if (written++ === PARTS_PER_TURN) {
        // Let the event loop (and the socket) run; go on in the next turn.
        this.#timer ??= startRefTimer(() => {
          this.#timer = undefined;
          this.pump();
        }, 0);
        return;
      }
      const message = queue[0]!;
      const before = message.sent;
      this.#unacked += protocol.writePart(message, this.threshold);
      if (message.sent === message.head.length + message.body.length) queue.shift();
      this.#sent(message.sent - before);
      let ok: boolean;
      try {
        ok = channel.connection.write(protocol.writer.take());
      } catch {
        return;
      }
      // Its first part is with the transport: the peer may run the request.
      if (message.call !== null && !channel.connection.isClosed) {
        message.call.written = true;
        message.call = null;
      }
      if (!ok) this.#blocked = true;
    }
  }

  /** The peer took `bytes` of parts. Returns true if parts wait to go (the window opened). */
  acked(bytes: number): boolean {
    this.#unacked = Math.max(0, this.#unacked - bytes);
    return this.#queue.length > 0;
  }

  /** The transport drained: parts may go again. */
  socketDrained(): void {
    this.#blocked = false;
  }

  /**
   * The caller gave up on the request under `session`: a message not
   * started is dropped, one started is marked so its next part tells the
   * peer to drop it.
   */
  cancel(session: number): void {
    const queue = this.#queue;
    for (let i = 0; i < queue.length; i++) {
      const message = queue[i]!;
      if (message.response || message.session !== session) continue;
      if (message.sent === 0) {
        queue.splice(i, 1);
        this.#sent(message.head.length + message.body.length);
      } else message.aborted = true;
      return;
    }
  }

  /** The connection closed: drop everything; waiters reject with `closed`. */
  clear(reason: WeftError): void {
    this.#queue.length = 0;
    this.#bytes = 0;
    this.#waiter?.reject(new WeftError("closed", `Connection closed: ${reason.message}`));
    this.#waiter = null;
    stopTimer(this.#timer);
    this.#timer = undefined;
  }

  /** Bytes queued behind the message being sent (one alone never pauses reading). */
  #behind(): number {
    const first = this.#queue[0];
    return first === undefined
      ? 0
      : this.#bytes - (first.head.length + first.body.length - first.sent);
  }

  /**
   * What may queue behind the message going out: four high-water marks, or
   * four windows if larger (a window without acknowledgements, Infinity,
   * does not count: the socket paces those parts).
   */
  #limit(): number {
    const window = this.#window?.partWindow ?? 0;
    return 4 * Math.max(this.#highWaterMark, window === Infinity ? 0 : window);
  }

  /** Less is queued: waiters go on under the bound, reading once the queue is at half of it. */
  #sent(bytes: number): void {
    this.#bytes -= bytes;
    if (this.#waiter !== null && this.#behind() <= this.#limit()) {
      this.#waiter.resolve();
      this.#waiter = null;
    }
    if (this.#pausedReading && this.#behind() <= this.#limit() / 2) {
      this.#pausedReading = false;
      this.#flow.resume(Pause.Parts);
    }
  }
}
