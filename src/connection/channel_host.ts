/**
 * The contract between a connection and the cluster above it: what the
 * channel tells its cluster ({@linkcode ChannelHost}), and what it is
 * opened with ({@linkcode ChannelOptions}).
 *
 * @module
 */

import type { WeftError } from "../errors.ts";
import type { ProtocolMode } from "../protocol/mode.ts";
import type { RequestBudget } from "./request_budget.ts";
import type { DeadlineQueue } from "../session/deadline_queue.ts";
import type { PendingCall } from "../session/pending_calls.ts";
import type { Frame } from "../wire/frame.ts";

/**
 * What a channel needs from its cluster (`C` is the channel: the cluster
 * gets back the connection each event is about).
 */
export interface ChannelHost<C> {
  /** A request frame arrived (the frame is valid only during the call). */
  onRequest(channel: C, frame: Frame): void;
  /** A response arrived for `call` (already removed from the table). */
  onResponse(channel: C, call: PendingCall, payload: Uint8Array): void;
  /** A call's deadline passed (already removed from the table). */
  onTimeout(channel: C, call: PendingCall): void;
  /** A frame over the soft limit arrived, or (`outgoing`) is being sent. */
  onSoftLimit(channel: C, bodyLength: number, outgoing: boolean): void;
  /**
   * A request was refused or dropped without running (over the limits, a
   * reused session); `kind` is its code (`busy`, `protocol`). The host
   * rate-limits the line node-wide; `message` makes it (only if written).
   */
  onRefused(channel: C, kind: string, message: () => string): void;
  /** The peer cancelled the request it sent under `session` (modes that can cancel). */
  onCancel(channel: C, session: number): void;
  /**
   * The connection closed. `error` is why; `local` is true when this side
   * closed it on purpose (`close(peer)`, the cluster's close).
   */
  onClosed(channel: C, error: WeftError, local: boolean): void;
  /**
   * The peer asked about this node (modes that can `info`; `payload`:
   * what it asked): answer with a response to `session`, or nothing.
   */
  onInfo(channel: C, session: number, payload: Uint8Array): void;
}

/** Options of {@linkcode Channel}. */
export interface ChannelOptions {
  /** The protocol mode spoken on this connection (opened once, here). */
  mode: ProtocolMode;
  /** Bodies over this many bytes are logged as a warning (either way), as silly does. */
  softLimit: number;
  /** The cluster's deadlines, which pending calls join. */
  deadlines: DeadlineQueue;
  /** Bytes pending in the writer, or buffered by the transport, over which the channel is congested. */
  highWaterMark: number;
  /** True on the side that connected. */
  initiator: boolean;
  /** Requests whose handlers may run at once; see `maxInflightPerConnection`. */
  maxInflight: number;
  /** Requests run per read turn before reading pauses for a macrotask; see `maxRequestsPerTurn`. */
  maxRequestsPerTurn?: number;
  /** Milliseconds a connection read alone runs before it yields; see `soloTurnTime`. */
  soloTurnTime?: number;
  /**
   * The node's account of handlers running and bytes of requests waiting,
   * shared by its connections (`maxHandlersPerNode`, `maxWaitingBytesPerNode`);
   * by default the connection's own, without caps.
   */
  budget?: RequestBudget;
}
