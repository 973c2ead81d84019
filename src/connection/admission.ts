/**
 * {@linkcode Admission}: what becomes of each request read from one
 * connection. It runs at once if a slot is free (the per-connection
 * in-flight limit) and this read turn's budget lasts; else it waits, in
 * order, for a slot or for a later turn, and reading pauses while the
 * waiting ones hold too much; or, past every bound, it is refused (with an
 * error if the mode can say one, else dropped), and the refusal is logged
 * at most once a second with a count of the rest.
 *
 * @module
 */

import { now } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import type { Frame } from "../wire/frame.ts";
import type { ModeRequests, ModeResponses } from "../protocol/mode.ts";
import { type FlowControl, Pause } from "./flow_control.ts";
import { ReadTurn } from "./read_turn.ts";
import { type ServedRequest, Serving } from "./serving.ts";

/**
 * While requests waiting for a slot hold under this many high-water marks, a
 * connection paused for them reads once per reaper sweep (see `probe()`).
 */
export const PROBE_LIMIT = 16;

/** What admission reads of its connection (the channel is one). */
export interface AdmissionChannel {
  /** Nothing more is handled. */
  readonly closed: boolean;
  /** For messages. */
  readonly peer: { toString(): string };
  /** Calls of this node waiting on the connection (while any do, requests are not held back). */
  readonly pending: { readonly size: number };
  /** The mode: whether and how a refused request is answered. */
  readonly protocol:
    & Pick<ModeRequests, "oneWay">
    & Pick<ModeResponses, "errorHead" | "encodeError">;
  /** Queues a response. */
  response(session: number, bytes: Uint8Array, head: Uint8Array): void;
  /** Closes the connection (a request could not be handled). */
  close(error: WeftError, local: boolean): unknown;
}

/** Where admitted requests go, and refusals are logged: the cluster. */
export interface AdmissionHost<C> {
  /** Runs a request (the frame is valid only during the call). */
  onRequest(channel: C, frame: Frame): void;
  /** Logs a refusal (already rate-limited). */
  onRefused(channel: C, message: string): void;
}

/** The bounds of admission. */
export interface AdmissionOptions {
  /** Requests whose handlers may run at once; see `maxInflightPerConnection`. */
  readonly maxInflight: number;
  /** Requests run per read turn while other connections are read; see `maxRequestsPerTurn`. */
  readonly maxRequestsPerTurn?: number | undefined;
  /** Milliseconds a turn of a connection read alone lasts; see `soloTurnTime`. */
  readonly soloTurnTime?: number | undefined;
  /** Bytes of waiting requests over which reading pauses. */
  readonly highWaterMark: number;
  /** Refuse a request whose session is already being served (a mode whose sessions are unique does). */
  readonly refuseReused: boolean;
}

/**
 * One connection's requests: running, waiting, refused.
 *
 * @example The in-flight limit: the second request waits for the first
 * ```ts
 * import { Admission } from "./admission.ts";
 * import { FlowControl } from "./flow_control.ts";
 * import type { Frame } from "../wire/frame.ts";
 *
 * const ran: number[] = [];
 * const flow = new FlowControl({ pause() {}, resume() {}, drained: () => Promise.resolve() });
 * const channel = {
 *   closed: false,
 *   peer: "a peer",
 *   pending: { size: 0 },
 *   protocol: { errorHead: null, oneWay: () => false, encodeError: () => new Uint8Array(0) },
 *   response() {},
 *   close() {},
 * };
 * const host = { onRequest: (_: unknown, frame: Frame) => ran.push(frame.session), onRefused() {} };
 * const admission = new Admission(channel, host, flow, {
 *   maxInflight: 1,
 *   highWaterMark: 1024,
 *   refuseReused: true,
 * });
 * const frame = (session: number): Frame =>
 *   ({ kind: "request", session, cmd: 1, traceHi: 0, traceLo: 0, payload: new Uint8Array(0) });
 * const first = { session: 1, abort() {} };
 * admission.request(frame(1));
 * admission.serving.add(first); // its handler is running (the cluster tracks async ones)
 * admission.request(frame(2));
 * if (ran.join() !== "1" || admission.serving.waiting !== 1) throw new Error("2 should wait");
 * admission.finished(first);
 * if (ran.join() !== "1,2") throw new Error(ran.join());
 * ```
 */
export class Admission<C extends AdmissionChannel = AdmissionChannel> {
  /** Requests being handled, and those waiting for a slot. */
  readonly serving: Serving = new Serving();
  /** Requests run in this read turn (fairness between connections). */
  readonly turn: ReadTurn;
  readonly #channel: C;
  readonly #host: AdmissionHost<C>;
  readonly #flow: FlowControl;
  readonly #maxInflight: number;
  readonly #highWaterMark: number;
  readonly #refuseReused: boolean;
  #refusedLoggedAt = -Infinity;
  #refusedUnlogged = 0;

  /**
   * Admission for one connection.
   *
   * @param channel The connection.
   * @param host Where requests go.
   * @param flow The connection's flow control (reading pauses for waiting requests and turns).
   * @param options The bounds.
   */
  constructor(channel: C, host: AdmissionHost<C>, flow: FlowControl, options: AdmissionOptions) {
    this.#channel = channel;
    this.#host = host;
    this.#flow = flow;
    this.#maxInflight = options.maxInflight;
    this.#highWaterMark = options.highWaterMark;
    this.#refuseReused = options.refuseReused;
    this.turn = new ReadTurn(options.maxRequestsPerTurn, options.soloTurnTime);
  }

  /** Requests are handled or wait for a slot. */
  get busy(): boolean {
    return this.serving.size > 0 || this.serving.waiting > 0;
  }

  /**
   * A request arrived: run it if a slot is free, else keep it in order
   * (reading stops once the waiting ones reach the high-water mark).
   *
   * While calls of ours wait on this connection, a request may be what they
   * wait for (the peer calling back while handling our call): holding it
   * could deadlock the two nodes, so it runs at once, up to twice the
   * limit; beyond that it is refused.
   */
  request(frame: Frame): void {
    const serving = this.serving;
    if (this.turn.scheduled || !this.turn.take()) {
      // This read's budget is spent: the rest wait, in order, for a later turn.
      serving.defer(frame);
      this.#flow.pause(Pause.Turn);
      this.turn.schedule(this.#nextTurn);
    } else if (serving.waiting === 0 && serving.size < this.#maxInflight) {
      this.#dispatch(frame);
    } else if (this.#channel.pending.size > 0) {
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
      if (serving.waitingBytes >= this.#highWaterMark) this.#flow.pause(Pause.Inflight);
    }
  }

  /**
   * A request being handled finished: forget it, run waiting requests
   * while slots are free, and read again once none wait.
   */
  finished(request: ServedRequest): void {
    const serving = this.serving;
    serving.delete(request);
    if (serving.waiting === 0) return;
    try {
      while (serving.waiting > 0 && serving.size < this.#maxInflight && !this.#channel.closed) {
        this.#dispatch(serving.shift()!);
      }
    } catch (error) {
      this.#channel.close(asProtocolError(error), false);
      return;
    }
    if (serving.waiting === 0) this.#flow.resume(Pause.Inflight);
  }

  /**
   * Called by the reaper every sweep: a connection that stopped reading only
   * because its handlers are busy reads once more (its next request stops
   * it again), so that a peer that hung up is noticed and its handlers
   * aborted. Only while the waiting requests hold under
   * {@linkcode PROBE_LIMIT} high-water marks.
   */
  probe(): void {
    if (
      this.#flow.paused === Pause.Inflight && !this.#channel.closed &&
      this.serving.waitingBytes < PROBE_LIMIT * this.#highWaterMark
    ) {
      this.#flow.resume(Pause.Inflight);
    }
  }

  /** The peer cancelled `session`; a request still waiting for a slot is dropped (true if one was). */
  dropWaiting(session: number): boolean {
    return this.serving.waiting > 0 && this.serving.dropWaiting(session);
  }

  /** A new read, at `t` (ms, `now()`): a new turn. */
  newTurn(t: number): void {
    this.turn.begin(t);
  }

  /** The connection closed: no later turn runs. */
  stop(): void {
    this.turn.stop();
  }

  /** A later turn: runs the next batch of waiting requests, then reads again. */
  readonly #nextTurn = (): void => {
    const serving = this.serving;
    const channel = this.#channel;
    if (channel.closed) return;
    const limit = channel.pending.size > 0 ? 2 * this.#maxInflight : this.#maxInflight;
    try {
      while (serving.waiting > 0 && serving.size < limit && !channel.closed && this.turn.take()) {
        this.#dispatch(serving.shift()!);
      }
    } catch (error) {
      channel.close(asProtocolError(error), false);
      return;
    }
    if (channel.closed) return;
    if (serving.waiting > 0 && this.turn.over) {
      this.turn.schedule(this.#nextTurn);
      return;
    }
    if (serving.waitingBytes >= this.#highWaterMark) this.#flow.pause(Pause.Inflight);
    this.#flow.resume(Pause.Turn);
  };

  /** Runs a request (refused if its session is already being served and the mode can say so). */
  #dispatch(frame: Frame): void {
    if (this.#refuseReused && this.serving.has(frame.session)) {
      this.#refuse(frame, "protocol", `session ${frame.session} is already being served`);
      return;
    }
    this.#host.onRequest(this.#channel, frame);
  }

  /**
   * Refuses a request without running it: answered with an error if the
   * mode can say one (and the request wants an answer), else dropped.
   */
  #refuse(frame: Frame, code: string, why: string): void {
    const channel = this.#channel;
    const message =
      `Request cmd ${frame.cmd} session ${frame.session} from ${channel.peer} refused: ${why}`;
    // Logged at most once a second per connection, with a count of the rest.
    const t = now();
    if (t - this.#refusedLoggedAt >= 1000) {
      const more = this.#refusedUnlogged;
      this.#host.onRefused(channel, more > 0 ? `${message} (and ${more} more before)` : message);
      this.#refusedLoggedAt = t;
      this.#refusedUnlogged = 0;
    } else {
      this.#refusedUnlogged++;
    }
    const protocol = channel.protocol;
    const errorHead = protocol.errorHead;
    if (errorHead === null || protocol.oneWay(frame.payload)) return;
    channel.response(
      frame.session,
      protocol.encodeError({ name: "WeftError", code, message }),
      errorHead,
    );
  }
}

/** What a handler's throw (or anything not a WeftError) closes the connection with. */
export function asProtocolError(error: unknown): WeftError {
  return error instanceof WeftError
    ? error
    : new WeftError("protocol", "Connection failed: frame handling threw", { cause: error });
}
