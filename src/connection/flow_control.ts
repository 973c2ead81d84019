/**
 * {@linkcode FlowControl}: why one connection stopped reading. Several
 * reasons can hold at once, each a bit of {@linkcode Pause}; reading
 * resumes when the last one is gone, never after the connection closed.
 * Congestion (our writes backing up) is one of them, and holds (a router
 * waiting to pass a peer's requests on) are counted.
 *
 * @module
 */

import { WeftError } from "../errors.ts";

/** Why reading is paused: one bit per reason. */
export const Pause = {
  /** Our writes back up: the transport's buffer is over its high-water mark. */
  Congested: 1,
  /** The in-flight limit is reached: read requests wait for a slot. */
  Inflight: 2,
  /** The mode's handshake is checking a proof (frames are held meanwhile). */
  Handshake: 4,
  /** Held by `holdReading()` (src/cluster/hold.ts). */
  Held: 8,
  /** Large answers to this peer pile up: it does not read or acknowledge them. */
  Parts: 16,
  /** This read turn's request budget is spent (read_turn.ts). */
  Turn: 32,
} as const;

/** The reasons to pause that are this node's own choice (see `pausedByChoice`). */
const BY_CHOICE = Pause.Inflight | Pause.Held | Pause.Turn;

/** One of {@linkcode Pause}'s bits. */
export type Pause = typeof Pause[keyof typeof Pause];

/** What flow control pauses, resumes and waits on: the transport connection. */
export interface Readable {
  /** Stops reading. */
  pause(): void;
  /** Reads again. */
  resume(): void;
  /** Resolves when the writes buffered have drained (at once if they have). */
  drained(): Promise<void>;
}

/**
 * The reasons one connection is not read, and its congestion.
 *
 * Its example runs as a test in tests/connection/doc_examples_test.ts.
 */
export class FlowControl {
  readonly #target: Readable;
  /** Holds on reading; reading resumes when the last is released. */
  #holds = 0;
  #stopped = false;
  /** Rejects when the connection is done; what drain waiters race against. */
  #gone: PromiseWithResolvers<never> | null = null;
  /** The wait of this congestion episode, shared by every waiter. */
  #drainWait: Promise<void> | null = null;
  /** Our writes back up (the transport said its buffer is full, and has not drained since). */
  congested = false;
  /**
   * The {@linkcode Pause} bits in force (0: reading). Read it; change it
   * only through `pause()` and `resume()`. (A field, not a getter: the
   * request path tests it once per call.)
   */
  paused = 0;

  /**
   * Flow control of one connection, reading.
   *
   * @param target What to pause and resume.
   */
  constructor(target: Readable) {
    this.#target = target;
  }

  /** True if reading is paused for `why` (among others, maybe). */
  has(why: Pause): boolean {
    return (this.paused & why) !== 0;
  }

  /**
   * True while reading is paused only by this node's own choice (busy
   * handlers, a hold, a read turn's spent budget: requests already read
   * still waiting to run): nothing unread then says the peer is dead.
   */
  get pausedByChoice(): boolean {
    return this.paused !== 0 && (this.paused & ~BY_CHOICE) === 0;
  }

  /** Stops reading for `why` (the transport is paused when the first reason comes). */
  pause(why: Pause): void {
    if (this.paused === 0) this.#target.pause();
    this.paused |= why;
  }

  /** Drops the reason `why`; reading resumes if it was the last (and the connection is open). */
  resume(why: Pause): void {
    if (this.paused === 0) return;
    this.paused &= ~why;
    if (this.paused === 0 && !this.#stopped) this.#target.resume();
  }

  /** Stops reading until `release()`; holds are counted. */
  hold(): void {
    if (this.#holds++ === 0) this.pause(Pause.Held);
  }

  /** Ends one `hold()`; the last one lets reading resume (unless something else paused it). */
  release(): void {
    if (this.#holds > 0 && --this.#holds === 0) this.resume(Pause.Held);
  }

  /**
   * Our writes back up. Inbound backpressure: while they do, stop reading
   * requests from a peer that does not read its responses. Not while
   * `callsWaiting` (calls of ours wait on this connection): their responses
   * must still be read, or two busy nodes calling each other could both
   * stop reading.
   */
  congest(callsWaiting: boolean): void {
    this.congested = true;
    if (!callsWaiting) this.pause(Pause.Congested);
  }

  /** The writes drained: no longer congested. */
  drained(): void {
    this.congested = false;
    this.resume(Pause.Congested);
  }

  /**
   * Resolves once the transport drained, after `onDrain` ran; rejects with
   * `closed` if the connection ends first. One wait per congestion
   * episode, shared by every waiter.
   *
   * @param onDrain Ends the congestion. The transport may call itself
   *   drained (under its high-water mark) before its drain event (under its
   *   low one): waiters looping on `congested` would spin otherwise.
   */
  waitDrained(onDrain: () => void): Promise<void> {
    if (this.#gone === null) {
      this.#gone = Promise.withResolvers<never>();
      this.#gone.promise.catch(() => {});
    }
    if (this.#drainWait === null) {
      const wait = Promise.race([this.#target.drained().then(onDrain), this.#gone.promise]);
      this.#drainWait = wait;
      const forget = () => {
        if (this.#drainWait === wait) this.#drainWait = null;
      };
      wait.then(forget, forget);
    }
    return this.#drainWait;
  }

  /** The connection is done (`reason`): drain waiters reject with `closed`. */
  end(reason: WeftError): void {
    this.#gone?.reject(
      new WeftError("closed", `Connection closed: ${reason.message}`, { cause: reason }),
    );
  }

  /** The connection closed: never resume it again. */
  stop(): void {
    this.#stopped = true;
  }
}
