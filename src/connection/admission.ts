/**
 * {@linkcode Admission}: what becomes of each request read from one
 * connection. It runs at once if a slot is free (the per-connection
 * in-flight limit) and this read turn's budget lasts; else it waits, in
 * order, for a slot or for a later turn (a channel keeps reading meanwhile,
 * `keepReading`: what lies behind them, CANCELs and a hang-up, must be
 * read); or, past every bound, it is refused (with an
 * error if the mode can say one, else dropped), and the refusal goes to the
 * host (the cluster's rate-limited fault log: one node-wide limit, however
 * many connections refuse).
 *
 * The slots are the connection's own (`maxInflightPerConnection`) and the
 * node's ({@linkcode RequestBudget}, request_budget.ts: handlers running
 * and bytes waiting on every connection together). A request its own limit
 * would run waits while the node is at its cap; the node hands each freed
 * slot to the waiting connections in turn.
 *
 * @module
 */

import { WeftError } from "../errors.ts";
import type { Frame } from "../wire/frame.ts";
import type { ModeRequests, ModeResponses } from "../protocol/mode.ts";
import { type FlowControl, Pause } from "./flow_control.ts";
import { ReadTurn } from "./read_turn.ts";
import { RequestBudget, type SlotWaiter } from "./request_budget.ts";
import { FRAME_COST, type ServedRequest, Serving } from "./serving.ts";

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
  /**
   * A request was refused (`kind`: the code it was answered with, `busy` or
   * `protocol`). The host rate-limits the log line; `message` makes it (called
   * only if the line is written).
   */
  onRefused(channel: C, kind: string, message: () => string): void;
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
  /**
   * Never stop reading for waiting requests, so that what lies behind them
   * is always read: the peer's CANCELs and pings (weft), and its hang-up
   * (which aborts the handlers of a connection that is gone); past
   * {@linkcode PROBE_LIMIT} high-water marks of them, a request is refused
   * (`busy` where the mode can answer, else dropped) instead of kept.
   * Without it, reading pauses at one high-water mark of waiting requests.
   */
  readonly keepReading?: boolean;
  /**
   * The node-wide account shared by every connection of the node (handlers
   * running, bytes waiting); by default one of this connection's own, without caps.
   */
  readonly budget?: RequestBudget | undefined;
}

/**
 * One connection's requests: running, waiting, refused.
 *
 * Its example runs as a test in tests/connection/doc_examples_test.ts.
 */
export class Admission<C extends AdmissionChannel = AdmissionChannel> implements SlotWaiter {
  /** Requests being handled, and those waiting for a slot. */
  readonly serving: Serving;
  /** Requests run in this read turn (fairness between connections). */
  readonly turn: ReadTurn;
  readonly #channel: C;
  readonly #host: AdmissionHost<C>;
  readonly #flow: FlowControl;
  readonly #maxInflight: number;
  readonly #highWaterMark: number;
  readonly #refuseReused: boolean;
  /** Bytes of waiting requests past which a request is refused (keepReading), else Infinity. */
  readonly #backlogLimit: number;
  /** The node's handlers and waiting bytes. */
  readonly #node: RequestBudget;

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
    this.#node = options.budget ?? new RequestBudget(Infinity, Infinity);
    this.serving = new Serving(this.#node);
    this.#backlogLimit = options.keepReading === true
      ? PROBE_LIMIT * options.highWaterMark
      : Infinity;
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
   * limit, whatever the node's cap; beyond that it is refused.
   */
  request(frame: Frame): void {
    const serving = this.serving;
    const node = this.#node;
    if (this.turn.scheduled || !this.turn.take()) {
      // This read's budget is spent: the rest wait, in order, for a later
      // turn (reading pauses meanwhile: one read's worth, whatever the
      // connection's backlog bound), within the node's budget (one read of
      // small frames on each of many connections can hold more than they
      // carried).
      if (this.#channel.pending.size === 0 && this.#overNodeBudget(frame)) return;
      serving.defer(frame);
      this.#flow.pause(Pause.Turn);
      this.turn.schedule(this.#nextTurn);
    } else if (
      serving.waiting === 0 && serving.size < this.#maxInflight && node.running < node.maxHandlers
    ) {
      this.#dispatch(frame);
    } else if (this.#channel.pending.size > 0) {
      if (serving.size < 2 * this.#maxInflight) this.#dispatch(frame);
      else {
        this.#node.refusedBacklog++;
        this.#refuse(
          frame,
          "busy",
          `${serving.size} requests in flight, calls of this node waiting`,
        );
      }
    } else if (!this.#refusedWaiting(frame)) {
      this.#wait(frame);
      // Without keepReading, reading pauses at one high-water mark instead.
      if (this.#backlogLimit === Infinity && serving.waitingBytes >= this.#highWaterMark) {
        this.#flow.pause(Pause.Inflight);
      }
    }
  }

  /**
   * Refuses `frame` (true) if it would wait past a bound: the connection's
   * (keepReading: {@linkcode PROBE_LIMIT} high-water marks) or the node's
   * (see `#overNodeBudget`).
   */
  #refusedWaiting(frame: Frame): boolean {
    const serving = this.serving;
    if (serving.waitingBytes >= this.#backlogLimit) {
      // A peer that can cancel is always read (the CANCELs of its timed-out
      // calls lie behind its requests, and must free the slots they hold),
      // so what it may queue is bounded here.
      this.#node.refusedBacklog++;
      this.#refuse(
        frame,
        "busy",
        `${serving.size} requests in flight and ${serving.waitingBytes} bytes of requests waiting`,
      );
      return true;
    }
    return this.#overNodeBudget(frame);
  }

  /**
   * Refuses `frame` (true) if it would take the node's waiting requests
   * past `maxWaitingBytesPerNode`. A connection with none waiting may always
   * queue one: a client making one call at a time is not refused because
   * other peers filled the budget (all connections together go over by at
   * most one request each).
   */
  #overNodeBudget(frame: Frame): boolean {
    const node = this.#node;
    if (
      this.serving.waiting > 0 &&
      node.waitingBytes + frame.payload.length + FRAME_COST > node.maxWaitingBytes
    ) {
      node.refusedWaiting++;
      this.#refuse(
        frame,
        "busy",
        // Not how much waits: that is other peers' business.
        `the requests waiting on this node are over maxWaitingBytesPerNode ${node.maxWaitingBytes}`,
      );
      return true;
    }
    return false;
  }

  /**
   * `frame` waits, in order. If only the node's cap holds it back (its
   * connection has a slot), the connection queues for the next node-wide
   * slot.
   */
  #wait(frame: Frame): void {
    const serving = this.serving;
    serving.defer(frame);
    if (serving.size < this.#maxInflight) {
      const node = this.#node;
      node.waited++;
      node.wait(this);
      // A slot free after all (nothing should wait then): served at once, in turn.
      if (node.running < node.maxHandlers) node.serve();
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
    const node = this.#node;
    try {
      while (serving.waiting > 0 && serving.size < this.#maxInflight && !this.#channel.closed) {
        // The node is at its cap: wait for a slot in turn with the other
        // connections (the host tells the node this handler ended after
        // this: its slot goes to whoever is next, maybe this connection).
        if (node.running >= node.maxHandlers) {
          node.wait(this);
          return;
        }
        this.#dispatch(serving.shift()!);
      }
    } catch (error) {
      this.#channel.close(asProtocolError(error), false);
      return;
    }
    if (serving.waiting === 0) this.#flow.resume(Pause.Inflight);
  }

  /**
   * A node-wide slot is this connection's turn (see {@linkcode RequestBudget}):
   * runs its oldest waiting request if its own limit allows. True if it has
   * more to run in a later turn.
   */
  serveOne(): boolean {
    const serving = this.serving;
    const channel = this.#channel;
    if (channel.closed || serving.waiting === 0 || serving.size >= this.#maxInflight) return false;
    try {
      this.#dispatch(serving.shift()!);
    } catch (error) {
      channel.close(asProtocolError(error), false);
      return false;
    }
    if (serving.waiting === 0) {
      this.#flow.resume(Pause.Inflight);
      return false;
    }
    return !channel.closed && serving.size < this.#maxInflight;
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

  /** The connection closed: no later turn runs, and it no longer waits for a node-wide slot. */
  stop(): void {
    this.turn.stop();
    this.#node.forget(this);
  }

  /** A later turn: runs the next batch of waiting requests, then reads again. */
  readonly #nextTurn = (): void => {
    const serving = this.serving;
    const channel = this.#channel;
    if (channel.closed) return;
    // Calls of ours waiting: the peer's requests may be what they wait for
    // (see request()), so they run up to twice the limit, whatever the node's cap.
    const callsWaiting = channel.pending.size > 0;
    const limit = callsWaiting ? 2 * this.#maxInflight : this.#maxInflight;
    const node = this.#node;
    try {
      while (serving.waiting > 0 && serving.size < limit && !channel.closed && this.turn.take()) {
        if (!callsWaiting && node.running >= node.maxHandlers) {
          // The node is at its cap: wait for a slot in turn.
          node.wait(this);
          break;
        }
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
    if (serving.waitingBytes >= this.#highWaterMark && this.#backlogLimit === Infinity) {
      this.#flow.pause(Pause.Inflight);
    }
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
    const cmd = frame.cmd;
    const session = frame.session;
    let message: string | undefined;
    // Made once, if the answer or the log line needs it.
    const say = () =>
      message ??= `Request cmd ${cmd} session ${session} from ${channel.peer} refused: ${why}`;
    // The host rate-limits the line node-wide (it calls `say` only for a line it writes).
    this.#host.onRefused(channel, code, say);
    const protocol = channel.protocol;
    const errorHead = protocol.errorHead;
    if (errorHead === null || protocol.oneWay(frame.payload)) return;
    channel.response(
      session,
      protocol.encodeError({ name: "WeftError", code, message: say() }),
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
