/**
 * Frame shapes, framings, limits and trace-id helpers shared by the
 * encoder and the decoder. See PROTOCOL.md for the byte layouts.
 *
 * @module
 */

/**
 * The two framings of silly.net.cluster.
 *
 * - `"v2"`: silly's current framing. A u32 little-endian length prefix, then
 *   the header (session, and for requests cmd and traceid), then the payload.
 * - `"v1"`: the framing in silly's documentation. A u16 big-endian length
 *   prefix, then the payload, then a trailer (traceid, cmd, session).
 */
export type Framing = "v2" | "v1";

/** The frame kinds, as a tag object; see {@linkcode FrameKind}. */
export const FrameKind = {
  Request: "request",
  Response: "response",
} as const;

/** `"request"` or `"response"`. */
export type FrameKind = typeof FrameKind[keyof typeof FrameKind];

/** The default framing: silly's current one. */
export const DEFAULT_FRAMING: Framing = "v2";

/** Default hard limit on a frame's body (header included): 128 MiB, as silly. */
export const DEFAULT_HARD_LIMIT = 128 * 1024 * 1024;

/** Default soft limit on a frame's body (header included): 65535, as silly. */
export const DEFAULT_SOFT_LIMIT = 65535;

/** Bit 31 of the session field marks a response. */
export const RESPONSE_FLAG = 0x80000000;

/** The largest session id: session ids are 31 bits. */
export const MAX_SESSION = 0x7fffffff;

/** Header (v2) or trailer (v1) bytes of a request: session, cmd, traceid. */
export const REQUEST_HEADER_SIZE = 16;

/** Header (v2) or trailer (v1) bytes of a response: the session. */
export const RESPONSE_HEADER_SIZE = 4;

/** Bytes of the length prefix of a framing. */
export function prefixSize(framing: Framing): number {
  return framing === "v2" ? 4 : 2;
}

/** The largest body length a framing can express (v1: 65535). */
export function maxBodyLength(framing: Framing): number {
  return framing === "v2" ? 0xffffffff : 0xffff;
}

/**
 * The header fields of a request frame. The 64-bit traceid is carried as two
 * unsigned 32-bit halves so that the hot path never needs a BigInt.
 */
export interface RequestHeader {
  /** Session id, 0 to 2^31 - 1. */
  session: number;
  /** Command number, an unsigned 32-bit integer. */
  cmd: number;
  /** High 32 bits of the traceid (unsigned). */
  traceHi: number;
  /** Low 32 bits of the traceid (unsigned); its low 16 bits name the node. */
  traceLo: number;
}

/**
 * A decoded frame. The decoder reuses one object for every frame and the
 * payload is a view into the chunk it came from: both are valid only during
 * the callback that receives them. Copy what must outlive it.
 */
export interface Frame extends RequestHeader {
  /** `"request"` or `"response"`. */
  kind: FrameKind;
  /** The payload bytes (a view; see above). For responses `cmd`, `traceHi`, `traceLo` are 0. */
  payload: Uint8Array;
}

/** Options shared by the encoder and the decoder. */
export interface FrameLimitsOptions {
  /**
   * Which framing to speak.
   *
   * @default {"v2"}
   */
  framing?: Framing;
  /**
   * Largest body (header included) accepted or produced. Over it, encoding
   * throws and decoding fails the stream with `frame too large`.
   *
   * @default {134217728}
   */
  hardLimit?: number;
}

/**
 * Validates a framing option.
 *
 * @throws {TypeError} If the value is not "v2" or "v1".
 */
export function checkFraming(value: unknown, option = "framing"): Framing {
  if (value === undefined) return DEFAULT_FRAMING;
  if (value !== "v2" && value !== "v1") {
    throw new TypeError(`Invalid option ${option}: expected "v2" or "v1", got ${String(value)}`);
  }
  return value;
}

/**
 * Validates a byte-limit option: an integer from 4 to 2^32 - 1.
 *
 * @throws {TypeError} If the value is not a number.
 * @throws {RangeError} If the value is out of range.
 */
export function checkLimit(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`Invalid option ${option}: expected a number, got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < 4 || value > 0xffffffff) {
    throw new RangeError(
      `Invalid option ${option}: expected an integer from 4 to 4294967295, got ${value}`,
    );
  }
  return value;
}

/**
 * Joins the two halves of a traceid into one BigInt (for display and tests;
 * the hot path keeps the halves).
 *
 * @example
 * ```ts
 * import { traceIdToBigInt } from "@weft/cluster/wire";
 *
 * if (traceIdToBigInt(0x11223344, 0x55667788) !== 0x1122334455667788n) throw new Error("unexpected result");
 * ```
 */
export function traceIdToBigInt(traceHi: number, traceLo: number): bigint {
  return (BigInt(traceHi >>> 0) << 32n) | BigInt(traceLo >>> 0);
}

/**
 * Splits a 64-bit traceid into its high and low unsigned 32-bit halves.
 *
 * @throws {RangeError} If the id is not in 0 to 2^64 - 1.
 *
 * @example
 * ```ts
 * import { traceIdFromBigInt } from "@weft/cluster/wire";
 *
 * if (JSON.stringify(traceIdFromBigInt(0x1122334455667788n)) !== JSON.stringify([0x11223344, 0x55667788])) throw new Error("unexpected result");
 * ```
 */
export function traceIdFromBigInt(id: bigint): [traceHi: number, traceLo: number] {
  if (id < 0n || id > 0xffffffffffffffffn) {
    throw new RangeError(`Invalid traceid: expected 0 to 2^64 - 1, got ${id}`);
  }
  return [Number(id >> 32n), Number(id & 0xffffffffn)];
}

/**
 * Formats a traceid as 16 lowercase hex digits.
 *
 * @example
 * ```ts
 * import { formatTraceId } from "@weft/cluster/wire";
 *
 * if (formatTraceId(0x11223344, 0x00000001) !== "1122334400000001") throw new Error("unexpected result");
 * ```
 */
export function formatTraceId(traceHi: number, traceLo: number): string {
  return (traceHi >>> 0).toString(16).padStart(8, "0") +
    (traceLo >>> 0).toString(16).padStart(8, "0");
}
