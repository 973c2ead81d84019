/**
 * weft's protocol extensions, as bytes. Every extension is an ordinary frame
 * of the framing in use (see docs/PROTOCOL_EXTENSIONS.md for the tables), so
 * a peer that does not know them still stays in sync and can report them.
 *
 * - Control frames are requests whose cmd is in the reserved range
 *   `0xFFFFFF00`-`0xFFFFFFFF`: HELLO, HELLO_ACK, CANCEL, PING, PONG, AUTH,
 *   PART, PART_ACK, INFO.
 * - In weft mode a request's payload starts with a 5-byte head (flags and
 *   the remaining time of the call) and a response's payload with a 1-byte
 *   status (ok, error, ok without a body).
 *
 * In silly mode none of this is sent. weft_mode.ts puts these bytes to work
 * on a connection.
 *
 * @module
 */

import { strictUtf8Decoder, utf8Encoder } from "../../_platform.ts";
import { RemoteError, type RemoteErrorInfo, WeftError } from "../../errors.ts";
import { ResponseStatus } from "../mode.ts";

/** Cmd numbers of weft's control frames (all requests). */
export const ControlCmd = {
  /** Sent first by the side that connected: magic and version. */
  Hello: 0xffffff00,
  /** The accepting side's answer to HELLO, its first frame. */
  HelloAck: 0xffffff01,
  /** The caller gave up on the call whose session this frame carries. */
  Cancel: 0xffffff02,
  /** Liveness probe; its session is a sequence number. */
  Ping: 0xffffff03,
  /** Answer to PING, with the same session. */
  Pong: 0xffffff04,
  /**
   * Key authentication: the connecting side's proof (payload: the proof),
   * or the accepting side's refusal (empty payload) just before it closes.
   */
  Auth: 0xffffff05,
  /**
   * INFO: asks the node about itself (see info.ts); the payload is the
   * kind's name (empty: `stats`). Answered by an ordinary weft response to
   * its session: UTF-8 JSON, or an error. (Was STATS, answered by a
   * STATS_REPLY control frame, `0xFFFFFF11`, now retired.)
   */
  Info: 0xffffff10,
  /** One part of a message sent in parts (see parts.ts). */
  Part: 0xffffff06,
  /** The receiver took a part; its session is the part's payload bytes (the sender's credit). */
  PartAck: 0xffffff07,
} as const;

/** The union of {@linkcode ControlCmd} values. */
export type ControlCmd = typeof ControlCmd[keyof typeof ControlCmd];

/** The first cmd number reserved for control frames in weft mode. */
export const RESERVED_CMD_MIN = 0xffffff00;

/** The protocol version in HELLO. */
export const WEFT_VERSION = 1;

/** Bytes of the head in front of a weft request's payload. */
export const REQUEST_HEAD_SIZE = 5;

/** Flags in a weft request head. */
export const RequestFlag = {
  /** A one-way `send`: the receiver writes no response at all. */
  OneWay: 1,
  /** The head's u32 carries the call's remaining milliseconds. */
  Deadline: 2,
  /** A service ref and a command ref follow the head (see names.ts). */
  Named: 4,
} as const;

/**
 * The first byte of a weft response's payload: the generic statuses of
 * src/protocol/mode.ts, whose values weft writes as they are.
 */
export { ResponseStatus } from "../mode.ts";

const MAGIC = [0x57, 0x45, 0x46, 0x54]; // "WEFT"

/** The 8-byte payload of HELLO and HELLO_ACK: "WEFT", u16 LE version, u16 LE flags (0). */
export const HELLO_PAYLOAD: Uint8Array = Uint8Array.of(...MAGIC, WEFT_VERSION, 0, 0, 0);

/** Tags of the optional fields after the 8 fixed bytes of HELLO and HELLO_ACK. */
export const HelloField = {
  /** The sender's node name (UTF-8). */
  NodeName: 1,
  /** The id of the key the sender proves (UTF-8). */
  AuthKeyId: 2,
  /** The sender's fresh random challenge. */
  AuthNonce: 3,
  /** HELLO_ACK: the accepting side's proof (HMAC-SHA-256). */
  AuthProof: 4,
} as const;

/** Largest HELLO / HELLO_ACK payload accepted: the fixed bytes and every field. */
export const MAX_HELLO_SIZE = 512;

/**
 * The HELLO / HELLO_ACK payload: the 8 fixed bytes, then each field as
 * `u8 tag, u16 LE length, bytes`, in the map's order.
 *
 * @throws {RangeError} If a tag is not 1 to 255 or the payload would exceed {@linkcode MAX_HELLO_SIZE}.
 */
export function encodeHello(fields?: ReadonlyMap<number, Uint8Array>): Uint8Array {
  if (fields === undefined || fields.size === 0) return HELLO_PAYLOAD;
  let size = HELLO_PAYLOAD.length;
  for (const [tag, value] of fields) {
    if (!Number.isInteger(tag) || tag < 1 || tag > 255) {
      throw new RangeError(`Invalid HELLO field tag ${tag}: expected 1 to 255`);
    }
    size += 3 + value.length;
  }
  if (size > MAX_HELLO_SIZE) {
    throw new RangeError(`HELLO of ${size} bytes is over the limit of ${MAX_HELLO_SIZE}`);
  }
  const out = new Uint8Array(size);
  out.set(HELLO_PAYLOAD);
  let at = HELLO_PAYLOAD.length;
  for (const [tag, value] of fields) {
    out[at] = tag;
    out[at + 1] = value.length & 0xff;
    out[at + 2] = value.length >>> 8;
    out.set(value, at + 3);
    at += 3 + value.length;
  }
  return out;
}

/**
 * The fields after the 8 fixed bytes of a HELLO / HELLO_ACK payload, by tag
 * (copies; a repeated tag keeps the last). Unknown tags are returned too:
 * the caller ignores what it does not know.
 *
 * @throws {WeftError} `protocol` if the payload is over {@linkcode MAX_HELLO_SIZE} or a field is cut short.
 */
export function decodeHelloFields(payload: Uint8Array): Map<number, Uint8Array> {
  if (payload.length > MAX_HELLO_SIZE) {
    throw new WeftError(
      "protocol",
      `HELLO of ${payload.length} bytes is over the limit of ${MAX_HELLO_SIZE}`,
    );
  }
  const fields = new Map<number, Uint8Array>();
  let at = HELLO_PAYLOAD.length;
  while (at < payload.length) {
    if (at + 3 > payload.length) {
      throw new WeftError("protocol", `HELLO field at byte ${at} is cut short (no length)`);
    }
    const tag = payload[at]!;
    const length = payload[at + 1]! | (payload[at + 2]! << 8);
    if (at + 3 + length > payload.length) {
      throw new WeftError(
        "protocol",
        `HELLO field ${tag} at byte ${at} claims ${length} bytes, ${
          payload.length - at - 3
        } remain`,
      );
    }
    fields.set(tag, payload.slice(at + 3, at + 3 + length));
    at += 3 + length;
  }
  return fields;
}

/**
 * Bytes of the largest HELLO or HELLO_ACK frame body (the 16-byte header or
 * trailer and a payload of up to {@linkcode MAX_HELLO_SIZE}; length prefix
 * not included): 528 in both framings. Until the handshake completes a weft
 * node reads no frame longer than this, and its hard limit may not be less.
 */
export const HELLO_BODY_SIZE: number = 16 + MAX_HELLO_SIZE;

/** True if `payload` is a HELLO payload (magic "WEFT", any version). */
export function isHello(payload: Uint8Array): boolean {
  return payload.length >= 8 && payload[0] === MAGIC[0] && payload[1] === MAGIC[1] &&
    payload[2] === MAGIC[2] && payload[3] === MAGIC[3];
}

/** The version in a HELLO payload. */
export function helloVersion(payload: Uint8Array): number {
  return payload[4]! | (payload[5]! << 8);
}

/**
 * Writes a request head into `out` (5 bytes): flags, then the remaining
 * milliseconds (u32 LE; rounded up, capped at 2^32 - 1) when `remaining` is
 * finite.
 */
export function writeRequestHead(out: Uint8Array, oneWay: boolean, remaining: number): Uint8Array {
  let flags = oneWay ? RequestFlag.OneWay : 0;
  let ms = 0;
  if (remaining !== Infinity) {
    flags |= RequestFlag.Deadline;
    ms = Math.min(0xffffffff, Math.max(0, Math.ceil(remaining)));
  }
  out[0] = flags;
  out[1] = ms;
  out[2] = ms >>> 8;
  out[3] = ms >>> 16;
  out[4] = ms >>> 24;
  return out;
}

/** Reads the flags of a request head. */
export function requestFlags(payload: Uint8Array): number {
  return payload[0]!;
}

/** Reads the remaining milliseconds of a request head, or Infinity. */
export function requestRemaining(payload: Uint8Array): number {
  if ((payload[0]! & RequestFlag.Deadline) === 0) return Infinity;
  return (payload[1]! | (payload[2]! << 8) | (payload[3]! << 16) | (payload[4]! << 24)) >>> 0;
}

/** One-byte heads for each response status, shared (never written to). */
export const STATUS_HEAD: Readonly<Record<ResponseStatus, Uint8Array>> = {
  [ResponseStatus.Ok]: Uint8Array.of(ResponseStatus.Ok),
  [ResponseStatus.Error]: Uint8Array.of(ResponseStatus.Error),
  [ResponseStatus.Empty]: Uint8Array.of(ResponseStatus.Empty),
};

/** Encodes error info as the UTF-8 JSON body of an error response. */
export function encodeErrorInfo(info: RemoteErrorInfo): Uint8Array {
  const wire: RemoteErrorInfo = {
    name: String(info.name),
    message: String(info.message),
    ...(info.code === undefined ? {} : { code: String(info.code) }),
    ...(info.stack === undefined ? {} : { stack: String(info.stack) }),
  };
  return utf8Encoder.encode(JSON.stringify(wire));
}

/**
 * Decodes the body of an error response into a {@linkcode RemoteError}.
 *
 * @throws {WeftError} `protocol` if the body is not the JSON weft writes.
 */
export function decodeErrorInfo(bytes: Uint8Array, cmd: string | number): RemoteError {
  let info: RemoteErrorInfo;
  try {
    const parsed = JSON.parse(strictUtf8Decoder.decode(bytes));
    if (parsed === null || typeof parsed !== "object" || typeof parsed.message !== "string") {
      throw new TypeError("not an error object");
    }
    info = {
      name: typeof parsed.name === "string" ? parsed.name : "Error",
      message: parsed.message,
      ...(typeof parsed.code === "string" ? { code: parsed.code } : {}),
      ...(typeof parsed.stack === "string" ? { stack: parsed.stack } : {}),
    };
  } catch (error) {
    throw new WeftError("protocol", `Cannot decode the error response to ${String(cmd)}`, {
      cause: error,
    });
  }
  return new RemoteError(info, `Call ${String(cmd)} failed remotely`);
}
