/**
 * Tracing hooks of a cluster: the cluster option `tracing` takes a
 * {@linkcode Tracing} that opens a client span per call (and send) and a
 * server span per handled request. weft itself records nothing and depends
 * on no tracing library; `@weft/cluster/otel` adapts `@opentelemetry/api`.
 *
 * In weft mode a traced call carries W3C trace context (the `traceparent`
 * fields and an optional, bounded `tracestate`) in its request head, flag
 * 8 (docs/PROTOCOL_EXTENSIONS.md). In silly mode nothing new is sent: the
 * peer gets only the frame's 64-bit traceid.
 *
 * The 64-bit silly traceid and the 128-bit W3C trace id map as follows:
 * silly's id is the low 64 bits of the W3C trace id
 * ({@linkcode sillyTraceIdOf}); a request that carries only silly's id X
 * (a silly peer, or a weft peer without tracing) belongs to W3C trace
 * `0000000000000000` followed by X ({@linkcode w3cTraceIdOf}), so an id
 * whose high half is zero maps back exactly. A traced call puts the low 64
 * bits of its W3C trace id in the frame (silly's own ids put the node id in
 * their low 16 bits; a traced call's ids come from the tracer instead).
 *
 * @example A hook that logs each span's trace id
 * ```ts
 * import { Cluster } from "@weft/cluster";
 * import { json } from "@weft/cluster/json";
 * import { transport } from "@weft/cluster/memory";
 * import type { Tracing } from "@weft/cluster/tracing";
 *
 * const seen: string[] = [];
 * const tracing: Tracing = {
 *   startCall: () => ({
 *     context: { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", flags: 1, traceState: "" },
 *     end: () => seen.push("client"),
 *   }),
 *   startRequest: (start) => ({ end: () => seen.push(`server ${start.remote?.traceId}`) }),
 * };
 * await using server = new Cluster({ ...json(), transport, tracing, call: (_p, _c, b) => b });
 * const listener = await server.listen("127.0.0.1:0");
 * await using client = new Cluster({ ...json(), transport, tracing });
 * await client.call(client.connect(`127.0.0.1:${listener.address.port}`), 1, "hi");
 * if (seen.join() !== "server 0af7651916cd43dd8448eb211c80319c,client") throw new Error(seen.join());
 * ```
 *
 * @module
 */

import { WeftError } from "../errors.ts";
import type { CallContext } from "./call_context.ts";
import type { Peer } from "./peer.ts";

export type { CallContext, Peer };
export type { CallOptions } from "./call_context.ts";
export type { PeerIdentity } from "./security.ts";
export type { AbortSignalLike } from "../_platform.ts";
export type { Address, PeerCertificate } from "../transport/types.ts";

/** Request-head flag (bit 3): the trace context extension follows. */
export const TRACE_FLAG = 8;

/** The extension's version byte. */
export const TRACE_EXTENSION_VERSION = 0;

/** Longest `tracestate` carried, in bytes (its length is one byte). */
export const MAX_TRACE_STATE = 255;

/** W3C trace context: what `traceparent` and `tracestate` carry. */
export interface TraceParent {
  /** The trace id: 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** The parent span's id: 16 lowercase hex digits, not all zero. */
  spanId: string;
  /** The trace flags (bit 0: sampled). */
  flags: number;
  /** The `tracestate` header's value, "" for none; at most 255 ASCII bytes are sent. */
  traceState: string;
}

/** What a client span is opened for. */
export interface CallStart {
  /** The command as the caller named it. */
  cmd: string | number;
  /** The command number on the wire. */
  wireCmd: number;
  /**
   * The command's name: as the caller named it (or the named-node command
   * it carries), or from the cluster's command table (the option
   * `commands`, or the codec's); undefined when none is known.
   */
  name: string | undefined;
  /** Weft mode: the service the call names (a named-node call's `service`), if any. */
  service: string | undefined;
  /** The node called. */
  peer: Peer;
  /** True for a one-way `send`. */
  oneWay: boolean;
  /** The server span of the request being handled that makes this call, if any. */
  parent: ServerSpan | undefined;
}

/** An open client span. */
export interface ClientSpan {
  /** The context sent with the call in weft mode (this span as parent); undefined sends none. */
  readonly context: TraceParent | undefined;
  /** Ends the span: no error for an answer (or a send written), else why the call failed. */
  end(error?: unknown): void;
}

/** What a server span is opened for. */
export interface RequestStart {
  /** The command number on the wire. */
  cmd: number;
  /**
   * The command's name: the named-node command the request carried, or
   * from the cluster's command table; undefined when none is known (so the
   * same command has the same name on both ends when both know the table).
   */
  name: string | undefined;
  /** Weft mode: the service the request named (`context.service`), if any. */
  service: string | undefined;
  /** The node that sent the request. */
  peer: Peer;
  /** The request's context (its `traceId` is the frame's 64-bit id). */
  context: CallContext;
  /** The trace context the request carried (weft mode), if any. */
  remote: TraceParent | undefined;
}

/** An open server span. */
export interface ServerSpan {
  /** Runs the handler with this span current (optional). */
  run?<T>(fn: () => T): T;
  /** Ends the span: no error if the handler returned, else what it threw. */
  end(error?: unknown): void;
}

/** The cluster option `tracing`: opens spans; returning undefined traces nothing. */
export interface Tracing {
  /** Opens the client span of a call or send. */
  startCall(start: CallStart): ClientSpan | undefined;
  /** Opens the server span of a request about to be handled. */
  startRequest(start: RequestStart): ServerSpan | undefined;
}

/** silly's 64-bit traceid of a W3C trace id: its low 64 bits. */
export function sillyTraceIdOf(traceId: string): bigint {
  return BigInt(`0x${traceId.slice(16, 32)}`);
}

/** The W3C trace id of a request that carries only silly's 64-bit id: 16 zero digits, then the id. */
export function w3cTraceIdOf(sillyTraceId: bigint): string {
  return "0000000000000000" + sillyTraceId.toString(16).padStart(16, "0");
}

/** Two lowercase hex digits per byte value. */
const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A lowercase hex digit's value, or -1. */
function nibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** Writes `size` bytes of `hex` at `at`; returns false if it is not that, or all zero. */
function hexBytes(hex: string, size: number, out: Uint8Array, at: number): boolean {
  if (hex.length !== size * 2) return false;
  let any = 0;
  for (let i = 0; i < size; i++) {
    const hi = nibble(hex.charCodeAt(i * 2));
    const lo = nibble(hex.charCodeAt(i * 2 + 1));
    if (hi < 0 || lo < 0) return false;
    any |= out[at + i] = (hi << 4) | lo;
  }
  return any !== 0;
}

/** `size` bytes at `at` as lowercase hex, or "" if all zero. */
function bytesHex(bytes: Uint8Array, at: number, size: number): string {
  let hex = "";
  let any = 0;
  for (let i = at; i < at + size; i++) {
    any |= bytes[i]!;
    hex += BYTE_HEX[bytes[i]!];
  }
  return any === 0 ? "" : hex;
}

/**
 * `head` (a request head, and any extension before this one) followed by
 * the trace context extension, flag {@linkcode TRACE_FLAG} set: u8 version
 * 0, 16 bytes trace id, 8 bytes parent span id, u8 flags, u8 n, n bytes of
 * tracestate (dropped if over {@linkcode MAX_TRACE_STATE} or not ASCII).
 *
 * @throws {TypeError} If an id is not hex of the right length, or all zero.
 */
export function appendTraceContext(head: Uint8Array, context: TraceParent): Uint8Array {
  let state = context.traceState;
  if (state.length > MAX_TRACE_STATE || (state !== "" && !/^[\x20-\x7e]*$/.test(state))) state = "";
  const out = new Uint8Array(head.length + 27 + state.length);
  out.set(head);
  out[0]! |= TRACE_FLAG;
  let at = head.length;
  out[at++] = TRACE_EXTENSION_VERSION;
  if (!hexBytes(context.traceId, 16, out, at) || !hexBytes(context.spanId, 8, out, at + 16)) {
    throw new TypeError(
      `Invalid trace context ${context.traceId}-${context.spanId}: expected 32 and 16 lowercase hex digits, not all zero`,
    );
  }
  at += 24;
  out[at++] = context.flags & 0xff;
  out[at++] = state.length;
  for (let i = 0; i < state.length; i++) out[at + i] = state.charCodeAt(i);
  return out;
}

/**
 * Reads the trace context extension at `at` of a weft request's payload
 * (undefined if the head's flag {@linkcode TRACE_FLAG} is clear); returns it
 * and the offset past it.
 *
 * @throws {WeftError} `protocol` if it is cut short, of an unknown version, has an all-zero id, or a tracestate byte outside printable ASCII.
 */
export function readTraceContext(
  payload: Uint8Array,
  at: number,
): { context: TraceParent; end: number } | undefined {
  if ((payload[0]! & TRACE_FLAG) === 0) return undefined;
  const bad = (why: string) => new WeftError("protocol", `Malformed trace context: ${why}`);
  if (payload.length < at + 27) throw bad(`cut short at ${payload.length - at} bytes`);
  if (payload[at] !== TRACE_EXTENSION_VERSION) throw bad(`unknown version ${payload[at]}`);
  const traceId = bytesHex(payload, at + 1, 16);
  const spanId = bytesHex(payload, at + 17, 8);
  if (traceId === "" || spanId === "") throw bad("an all-zero id");
  const flags = payload[at + 25]!;
  const n = payload[at + 26]!;
  const end = at + 27 + n;
  if (payload.length < end) throw bad(`tracestate of ${n} bytes cut short`);
  let traceState = "";
  for (let i = at + 27; i < end; i++) {
    const byte = payload[i]!;
    if (byte < 0x20 || byte > 0x7e) throw bad(`tracestate byte ${byte} is not printable ASCII`);
    traceState += String.fromCharCode(byte);
  }
  return { context: { traceId, spanId, flags, traceState }, end };
}

/** `head` with `span`'s context appended (weft mode), else `head` as it is. */
export function traceHead(head: Uint8Array | undefined, span: ClientSpan): Uint8Array | undefined {
  return head === undefined || span.context === undefined
    ? head
    : appendTraceContext(head, span.context);
}
