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

/** What a forward carries over from the request it serves. */
interface Origin {
  readonly deadline: number;
  readonly oneWay: boolean;
  readonly traceHi: number;
  readonly traceLo: number;
}

/** The target's channel if a forward can go now (connected, not congested, errors travel back). */
function readyChannel(peer: Peer): Channel | null {
  if (!(peer instanceof Peer)) throw new TypeError("Invalid peer: expected a Peer");
  const state = peerState<Channel>(peer);
  const channel = state.channel;
  if (
    state.closed || channel === null || channel.closed || channel.congested ||
    channel.writeLine.size > 0 || channel.protocol.errorHead === null
  ) {
    return null;
  }
  return channel;
}

/**
 * The request head of a forward of `bytes` on `channel`, or null if it
 * cannot go in one frame (a body in parts is queued by reference: lent
 * bytes must not be) or no time is left. `readAt` is when the request was
 * read (NaN: read the clock).
 */
function forwardHead(
  channel: Channel,
  bytes: Uint8Array,
  origin: Origin,
  readAt: number,
): Uint8Array | undefined | null {
  const deadline = origin.deadline;
  // (t + r) - t can exceed r by a rounding error, which the head's whole
  // milliseconds (rounded up) would turn into one more: take it off.
  const remaining = deadline === Infinity
    ? Infinity
    : deadline - (Number.isNaN(readAt) ? now() : readAt) - 1e-6;
  if (remaining <= 0) return null;
  const protocol = channel.protocol;
  const head = protocol.requestHead(origin.oneWay, remaining, undefined, undefined, bytes.length);
  if (bytes.length + (head?.length ?? 0) > protocol.partThreshold) return null;
  return head;
}

/** Writes the forward (with the origin's trace id, this node's id in the low 16 bits). */
function writeForward(
  channel: Channel,
  cmd: number,
  bytes: Uint8Array,
  origin: Origin,
  head: Uint8Array | undefined,
  nodeId: number,
  call: RawCall | null,
): void {
  propagateTraceId(origin, nodeId, trace);
  channel.request(cmd, bytes, trace.traceHi, trace.traceLo, call, origin.deadline, head);
}

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
 * A cluster that forwards from every request can skip the handler, and
 * its context, altogether: see {@linkcode RawRequest.forward}.
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
  const channel = readyChannel(peer);
  if (channel === null || context.aborted) return false;
  // The time left as the request brought it: its deadline less the time its
  // chunk was read (no clock read per forward; exact while forwarding from
  // the handler's synchronous part, as a router does).
  const from = context.deadline === Infinity ? null : peerState<Channel>(context.peer).channel;
  const head = forwardHead(channel, bytes, context, from === null ? NaN : from.receivedAt);
  if (head === null) return false;
  if (context.oneWay) {
    writeForward(channel, cmd, bytes, context, head, nodeId, null);
    return true;
  }
  const call = new RawCall(cmd, sink, channel);
  writeForward(channel, cmd, bytes, context, head, nodeId, call);
  context.link(call);
  return true;
}

// ---- the rawRequest hook: a forward without a handler ----------------------

/**
 * A request offered to the cluster's `rawRequest` hook, before it is
 * decoded and before any handler or {@linkcode CallContext} exists (the
 * `authorize` hook and the connection's limits have passed it). Valid only
 * during the hook's call: the cluster reuses it for the next request.
 */
export interface RawRequest {
  /** The request's session id. */
  readonly session: number;
  /** The request's cmd number. */
  readonly cmd: number;
  /** Weft mode: true for a one-way send. */
  readonly oneWay: boolean;
  /** When the caller stops waiting (monotonic ms), or Infinity; as `CallContext.deadline`. */
  readonly deadline: number;
  /** High 32 bits of the trace id the request carried. */
  readonly traceHi: number;
  /** Low 32 bits of the trace id the request carried. */
  readonly traceLo: number;
  /** Weft mode: the service name the request carried. */
  readonly service: string | undefined;
  /** Weft mode: the command name the request carried. */
  readonly command: string | undefined;
  /**
   * Forwards `bytes` to `target` as request `cmd` and answers this request
   * with the target's answer, raw: an ok answer's body is written to the
   * caller straight from the target's read buffer (after `prefix`, if
   * given), an empty answer as an empty one, and a failure (the target's
   * error, `timeout` at this request's deadline, the target's connection
   * closing) as a handler's thrown error is. The forward counts as a
   * running handler (the in-flight limit, a graceful close's drain) and is
   * cancelled on the target when the caller cancels or its connection
   * closes. A one-way request is forwarded one-way and never answered.
   *
   * Only the fast case: `target` connected in a mode whose errors travel
   * back (weft), not congested, the body small enough for one frame, time
   * left. Otherwise nothing is written and it returns false: the hook
   * then returns false and the request goes to the handler.
   *
   * @param target A peer of this cluster.
   * @param cmd The request's cmd number on the target.
   * @param bytes The body (written before this returns, so it may be lent: the hook's `payload`).
   * @param prefix Bytes written before an ok answer's body (kept by reference: pass a constant).
   * @returns True if the request was written (and this one will be answered).
   * @throws {TypeError} If `target` is not a {@linkcode Peer}.
   * @throws {WeftError} `frame too large` (nothing written).
   */
  forward(target: Peer, cmd: number, bytes: Uint8Array, prefix?: Uint8Array): boolean;
}

/**
 * The cluster's `rawRequest` hook: sees each request first, as `payload`
 * (the body, lent: valid only during the call) and a {@linkcode RawRequest};
 * returns true if it took the request (it forwarded it with
 * `request.forward`), or false to let it go to the decoder and the `call`
 * handler as usual.
 */
export type RawRequestHook = (
  peer: Peer,
  cmd: number,
  payload: Uint8Array,
  request: RawRequest,
) => boolean;

/** What a forward asks of the serving side (the cluster's `HandlerRunner`). */
export interface ForwardHost {
  /** A forward began: it counts as a running handler. */
  forwardBegan(channel: Channel, forward: Forward): void;
  /** The target answered: `bytes` (lent) after `head`, or an empty answer (undefined). */
  forwardAnswered(
    channel: Channel,
    forward: Forward,
    bytes: Uint8Array | undefined,
    head: Uint8Array,
  ): void;
  /** The forward failed, or was aborted (`forward.aborted`). */
  forwardFailed(channel: Channel, forward: Forward, error: unknown): void;
}

/**
 * One forwarded request, as the caller's connection tracks it (a
 * `ServedRequest`: its session is the caller's) and as the target's
 * pending call reports to it (its sink).
 */
export class Forward implements ForwardSink {
  /** The caller's session. */
  readonly session: number;
  /** The request's cmd number (as the caller sent it). */
  readonly cmd: number;
  /** A forward tracked is never one-way. */
  readonly oneWay = false;
  /** The caller no longer waits. */
  aborted = false;
  readonly #host: ForwardHost;
  readonly #channel: Channel;
  /** The answer's head: the caller's ok head, with the prefix after it. */
  readonly #head: Uint8Array;
  /** The call waiting on the target. */
  call: RawCall | null = null;

  /**
   * A forward of the request `session` read on `channel`.
   *
   * @param host The serving side.
   * @param channel The caller's connection.
   * @param session The caller's session.
   * @param cmd The request's cmd.
   * @param head The ok answer's head.
   */
  constructor(host: ForwardHost, channel: Channel, session: number, cmd: number, head: Uint8Array) {
    this.#host = host;
    this.#channel = channel;
    this.session = session;
    this.cmd = cmd;
    this.#head = head;
  }

  /** The target answered (its bytes lent during this call). */
  response(bytes: Uint8Array | undefined): void {
    this.#host.forwardAnswered(this.#channel, this, bytes, this.#head);
  }

  /** The forward failed (or was aborted). */
  error(reason: unknown): void {
    this.#host.forwardFailed(this.#channel, this, reason);
  }

  /** The caller cancelled, or its connection closed: cancel the call on the target. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.call?.abort(reason);
  }
}

/** The scratch {@linkcode RawRequest} of a cluster's serving side. */
export class RawRequests implements RawRequest {
  session = 0;
  cmd = 0;
  oneWay = false;
  deadline = Infinity;
  traceHi = 0;
  traceLo = 0;
  service: string | undefined = undefined;
  command: string | undefined = undefined;
  readonly #nodeId: number;
  readonly #host: ForwardHost;
  #channel: Channel | null = null;
  /** The last prefix and ok head, and the two joined (one allocation, not one per answer). */
  #prefix: Uint8Array | undefined = undefined;
  #okHead: Uint8Array | undefined = undefined;
  #joined: Uint8Array | undefined = undefined;

  /**
   * The serving side's scratch request.
   *
   * @param o This node's id.
   * @param host The serving side.
   */
  constructor(o: { readonly nodeId: number }, host: ForwardHost) {
    this.#nodeId = o.nodeId;
    this.#host = host;
  }

  /** Fills the scratch for the request `frame` read on `channel` (`head`: the mode's request head). */
  begin(
    channel: Channel,
    frame: { readonly session: number; readonly cmd: number; traceHi: number; traceLo: number },
    head: {
      readonly oneWay: boolean;
      readonly deadline: number;
      readonly service: string | undefined;
      readonly command: string | undefined;
    },
  ): RawRequest {
    this.#channel = channel;
    this.session = frame.session;
    this.cmd = frame.cmd;
    this.traceHi = frame.traceHi;
    this.traceLo = frame.traceLo;
    this.oneWay = head.oneWay;
    this.deadline = head.deadline;
    this.service = head.service;
    this.command = head.command;
    return this;
  }

  /** See {@linkcode RawRequest.forward}. */
  forward(target: Peer, cmd: number, bytes: Uint8Array, prefix?: Uint8Array): boolean {
    const channel = readyChannel(target);
    const from = this.#channel!;
    if (channel === null || from.closed) return false;
    const head = forwardHead(channel, bytes, this, from.receivedAt);
    if (head === null) return false;
    if (this.oneWay) {
      writeForward(channel, cmd, bytes, this, head, this.#nodeId, null);
      return true;
    }
    const forward = new Forward(
      this.#host,
      from,
      this.session,
      this.cmd,
      this.#answerHead(from, prefix),
    );
    const call = new RawCall(cmd, forward, channel);
    writeForward(channel, cmd, bytes, this, head, this.#nodeId, call);
    forward.call = call;
    this.#host.forwardBegan(from, forward);
    return true;
  }

  /** The caller's ok head with `prefix` after it. */
  #answerHead(from: Channel, prefix: Uint8Array | undefined): Uint8Array {
    const ok = from.protocol.okHead;
    if (prefix === undefined || prefix.length === 0) return ok;
    if (prefix !== this.#prefix || ok !== this.#okHead) {
      const joined = new Uint8Array(ok.length + prefix.length);
      joined.set(ok);
      joined.set(prefix, ok.length);
      this.#prefix = prefix;
      this.#okHead = ok;
      this.#joined = joined;
    }
    return this.#joined!;
  }
}
