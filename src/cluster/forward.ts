/**
 * {@linkcode forwardRaw}: pass a request's bytes on to another peer and get
 * its response back raw and synchronously, the mechanism a router uses to
 * forward a call without a promise, an `AbortSignal` or a copy per call.
 *
 * The request is written at once (its bytes may be lent by a read buffer);
 * the response's bytes are lent to `sink.response` while the target's read
 * callback runs, so a router can write them to its own caller before they
 * are gone. The forward ends with the request it serves: its deadline is the
 * context's, and when the context aborts (the caller cancelled, or its
 * connection closed) the forward is cancelled on the target too.
 *
 * Its example runs as a test in tests/cluster/doc_examples_test.ts.
 *
 * @module
 */

import { now } from "../_platform.ts";
import { PendingCall } from "../session/pending_calls.ts";
import { propagateTraceId, type TraceId } from "../session/trace.ts";
import { WeftError } from "../errors.ts";
import type { CallContext } from "./call_context.ts";
import type { Channel } from "../connection/channel.ts";
import { Peer, peerState } from "../connection/peer.ts";
import { ResponseStatus } from "../protocol/mode.ts";

/** Where a raw forward's outcome goes (exactly once, unless it was one-way). */
export interface ForwardSink {
  /**
   * The target answered: its response body, lent (valid only during this
   * call), or undefined for an empty response.
   */
  response(bytes: Uint8Array | undefined): void;
  /**
   * The forward failed: the target's error (a `RemoteError`), `timeout` at
   * the context's deadline, `closed` / `peer closed` when the target's
   * connection ends, or `aborted` when the context aborted.
   */
  error(reason: unknown): void;
}

/** One forwarded call waiting for its response: its own table entry and abort link. */
class RawCall extends PendingCall {
  readonly sink: ForwardSink;
  readonly channel: Channel;

  constructor(cmd: number, sink: ForwardSink, channel: Channel) {
    super(cmd, ignore, failRaw);
    this.sink = sink;
    this.channel = channel;
    this.raw = answerRaw;
  }

  /** The context aborted: forget the call, cancel it on the target, report `aborted`. */
  abort(reason: unknown): void {
    const table = this.table;
    const session = this.session;
    if (table === null || !table.remove(this)) return;
    this.channel.cancel(session);
    this.sink.error(
      reason instanceof WeftError ? reason : new WeftError("aborted", "Forward aborted", {
        cause: reason,
      }),
    );
  }
}

function ignore(): void {}

function failRaw(this: RawCall, reason: unknown): void {
  this.sink.error(reason);
}

/** The response, read by the target connection's mode: its status, then the body. */
function answerRaw(this: PendingCall, payload: Uint8Array): void {
  const call = this as RawCall;
  const sink = call.sink;
  const protocol = call.channel.protocol;
  let status;
  try {
    status = protocol.responseStatus(payload);
  } catch (error) {
    sink.error(error);
    return;
  }
  const body = protocol.responseHeadSize;
  if (status === ResponseStatus.Ok) sink.response(payload.subarray(body));
  else if (status === ResponseStatus.Empty) sink.response(undefined);
  else sink.error(protocol.decodeError(payload.subarray(body), this.cmd));
}

const trace: TraceId = { traceHi: 0, traceLo: 0 };

/**
 * Forwards `bytes` (the request body, already marshalled) to `peer` as
 * request `cmd`, on behalf of the request `context` serves, and hands the
 * response to `sink` raw and synchronously. For a one-way `context` the
 * request is sent one-way and `sink` is never called.
 *
 * Only the fast case is handled: `peer` connected in a mode whose answers
 * say how the call ended (errors travel back: weft) and not congested, a body small enough to go as one frame (not in parts),
 * `context` not aborted (nor, when its connection is gone, past
 * its deadline). Otherwise nothing is sent and false is returned, and the
 * caller takes the ordinary path (`context.call`), which connects, waits for
 * a drain, or rejects. A forward made after its deadline passed times out
 * at once.
 *
 * The call carries the context's trace id (this node's id in the low 16
 * bits) and the time the request had left when it was read, ends at the
 * context's deadline (`timeout`), and is cancelled on the
 * target when the context aborts (each context links one forward).
 *
 * @param peer The target, a peer of the cluster that serves `context`.
 * @param cmd The request's cmd number.
 * @param bytes The request body; written before this returns, so it may be lent.
 * @param context The request being served.
 * @param sink Where the outcome goes.
 * @param nodeId This node's id (`cluster.nodeId`), for the trace id.
 * @returns True if the request was written.
 * @throws {WeftError} `frame too large` (nothing written).
 * @throws {TypeError} If `peer` is not a {@linkcode Peer}.
 */
export function forwardRaw(
  peer: Peer,
  cmd: number,
  bytes: Uint8Array,
  context: CallContext,
  sink: ForwardSink,
  nodeId: number,
): boolean {
  if (!(peer instanceof Peer)) throw new TypeError("Invalid peer: expected a Peer");
  const state = peerState<Channel>(peer);
  const channel = state.channel;
  if (
    state.closed || channel === null || channel.closed || channel.congested ||
    channel.protocol.errorHead === null
  ) {
    return false;
  }
  if (context.aborted) return false;
  const protocol = channel.protocol;
  const deadline = context.deadline;
  // The time left as the request brought it: its deadline less the time its
  // chunk was read (no clock read per forward; exact while forwarding from
  // the handler's synchronous part, as a router does).
  const from = deadline === Infinity ? null : peerState<Channel>(context.peer).channel;
  const remaining = deadline === Infinity
    ? Infinity
    : deadline - (from === null ? now() : from.receivedAt);
  if (remaining <= 0) return false;
  const head = protocol.requestHead(context.oneWay, remaining, undefined, undefined, bytes.length);
  // A body that goes in parts is queued by reference: lent bytes must not be.
  if (bytes.length + (head?.length ?? 0) > protocol.partThreshold) return false;
  propagateTraceId(context, nodeId, trace);
  if (context.oneWay) {
    channel.request(cmd, bytes, trace.traceHi, trace.traceLo, null, 0, head);
    return true;
  }
  const call = new RawCall(cmd, sink, channel);
  channel.request(cmd, bytes, trace.traceHi, trace.traceLo, call, deadline, head);
  context.link(call);
  return true;
}
