/**
 * weft's trace context extension: W3C trace context (`traceparent` and an
 * optional, bounded `tracestate`) carried in a weft request head, after
 * the head and its names, when the head's flag {@linkcode TRACE_FLAG} is
 * set (docs/PROTOCOL_EXTENSIONS.md, "Trace context"). silly's frames carry
 * only their 64-bit traceid; this is what weft adds.
 *
 * @module
 */

import { WeftError } from "../../errors.ts";
import type { TraceParent } from "../mode.ts";

/** Request-head flag (bit 3): the trace context extension follows. */
export const TRACE_FLAG = 8;

/** The extension's version byte. */
export const TRACE_EXTENSION_VERSION = 0;

/** Longest `tracestate` carried, in bytes (its length is one byte). */
export const MAX_TRACE_STATE = 255;

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
