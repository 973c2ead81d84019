/**
 * skynet's cluster packets, byte for byte, as pure functions (no sockets):
 * what skynet's `clustersender` writes and its `clusteragent` reads
 * (`lualib-src/lua-cluster.c`), for the skynet protocol mode.
 *
 * Every frame is a 2-byte big-endian length, then the packet (so at most
 * 65535 bytes); integers inside are little-endian.
 *
 * ```
 * requests
 *   0x00 addr:u32 session:u32 msg                 small, to a numeric address (session 0: a push)
 *   0x80 n:u8 name[n] session:u32 msg             small, to a name such as "@sdb"
 *   0x01 | 0x41 addr:u32 session:u32 size:u32     large request | push, header; parts follow
 *   0x81 | 0xc1 n:u8 name[n] session:u32 size:u32
 *   0x02 | 0x03 session:u32 chunk                 a part | the last part (chunks of 32 KiB)
 *   0x04 tag                                      a trace tag for the next request
 * responses
 *   session:u32 type:u8 payload                   type 0 error (text, at most 32 KiB), 1 ok,
 *                                                 2 multi begin (payload size:u32), 3 part, 4 last part
 * ```
 *
 * A message (packed values) under 32 KiB (requests) or at most 32 KiB (ok
 * responses) travels in one frame; a larger one as a header and 32 KiB
 * parts. A small push carries session 0; a large push takes a session, to
 * tie its parts together. Sessions start at 1, go up by one per request
 * (and per large push), and wrap from 2^31 − 1 to 1
 * ({@linkcode nextSkynetSession}).
 *
 * @example A request to "@sdb", as skynet's clustersender frames it
 * ```ts
 * import { decodeSkynetRequest, encodeSkynetRequest } from "@weft/cluster/wire";
 *
 * const msg = new Uint8Array([0x1c, 0x47, 0x45, 0x54]); // skynet.pack("GET")
 * const [frame] = encodeSkynetRequest("@sdb", 1, msg);
 * const packet = decodeSkynetRequest(frame!.subarray(2));
 * if (packet.kind !== "request" || packet.address !== "@sdb" || packet.session !== 1) {
 *   throw new Error("unexpected result");
 * }
 * ```
 *
 * @module
 */

import { strictUtf8Decoder, utf8Encoder } from "../_platform.ts";
import { WeftError } from "../errors.ts";

/** Messages of this size and over go in parts (lua-cluster.c `MULTI_PART`, 32 KiB). */
export const SKYNET_MULTI_PART = 0x8000;

/** The largest packet a 2-byte length can frame. */
export const SKYNET_MAX_PACKET = 0xffff;

/** The largest session skynet uses before wrapping to 1. */
export const SKYNET_MAX_SESSION = 0x7fffffff;

/** The first byte of a request packet. */
export const SkynetRequestType = {
  /** A small request or push to a numeric address. */
  Number: 0x00,
  /** The header of a large request to a numeric address. */
  MultiNumber: 0x01,
  /** The header of a large push to a numeric address. */
  MultiNumberPush: 0x41,
  /** A small request or push to a name. */
  Name: 0x80,
  /** The header of a large request to a name. */
  MultiName: 0x81,
  /** The header of a large push to a name. */
  MultiNamePush: 0xc1,
  /** A part of a large message, more to come. */
  Part: 0x02,
  /** The last part of a large message. */
  LastPart: 0x03,
  /** A trace tag for the next request. */
  Trace: 0x04,
} as const;

/** One of {@linkcode SkynetRequestType}'s values. */
export type SkynetRequestType = typeof SkynetRequestType[keyof typeof SkynetRequestType];

/** The type byte of a response packet. */
export const SkynetResponseType = {
  /** The call failed: the payload is an error text. */
  Error: 0,
  /** The call succeeded: the payload is the packed result. */
  Ok: 1,
  /** A large result begins: the payload is its size (u32). */
  MultiBegin: 2,
  /** A part of a large result, more to come. */
  MultiPart: 3,
  /** The last part of a large result. */
  MultiEnd: 4,
} as const;

/** One of {@linkcode SkynetResponseType}'s values. */
export type SkynetResponseType = typeof SkynetResponseType[keyof typeof SkynetResponseType];

/** A request's address: a service handle, or a name (`"@sdb"`, `".local"`). */
export type SkynetAddress = number | string;

/** A decoded request packet. Byte arrays are views of the packet given. */
export type SkynetRequestPacket =
  | {
    /** A whole request or push in one packet. */
    readonly kind: "request";
    readonly address: SkynetAddress;
    /** 0 for a push. */
    readonly session: number;
    readonly message: Uint8Array;
  }
  | {
    /** The header of a large request or push; its parts follow. */
    readonly kind: "multi";
    readonly address: SkynetAddress;
    readonly session: number;
    /** The whole message's size. */
    readonly size: number;
    readonly push: boolean;
  }
  | {
    /** A part of a large message. */
    readonly kind: "part";
    readonly session: number;
    readonly last: boolean;
    readonly chunk: Uint8Array;
  }
  | {
    /** A trace tag for the next request. */
    readonly kind: "trace";
    readonly tag: Uint8Array;
  };

/** A decoded response packet. Byte arrays are views of the packet given. */
export type SkynetResponsePacket =
  | { readonly kind: "error"; readonly session: number; readonly message: Uint8Array }
  | { readonly kind: "ok"; readonly session: number; readonly message: Uint8Array }
  | { readonly kind: "begin"; readonly session: number; readonly size: number }
  | {
    readonly kind: "part";
    readonly session: number;
    readonly last: boolean;
    readonly chunk: Uint8Array;
  };

/**
 * The session after `session`, as skynet's clustersender numbers them:
 * one more, and 1 after 2^31 − 1.
 *
 * @param session The session just used (1 ..= 2^31 − 1).
 * @returns The next one.
 */
export function nextSkynetSession(session: number): number {
  const next = session + 1;
  return next > SKYNET_MAX_SESSION ? 1 : next;
}

function putU32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 0xff;
  buf[at + 1] = (v >>> 8) & 0xff;
  buf[at + 2] = (v >>> 16) & 0xff;
  buf[at + 3] = (v >>> 24) & 0xff;
}

function getU32(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
}

/** A frame of `size` packet bytes, its 2-byte length written. */
function frame(size: number): Uint8Array {
  const out = new Uint8Array(2 + size);
  out[0] = size >> 8;
  out[1] = size & 0xff;
  return out;
}

function nameBytes(name: string): Uint8Array {
  const bytes = utf8Encoder.encode(name);
  if (bytes.length < 1 || bytes.length > 255) {
    throw new TypeError(
      `Invalid skynet address "${
        name.slice(0, 32)
      }": a name is 1 to 255 bytes, got ${bytes.length}`,
    );
  }
  return bytes;
}

function checkSession(session: number): void {
  if (!Number.isInteger(session) || session < 1 || session > SKYNET_MAX_SESSION) {
    throw new RangeError(`Invalid skynet session ${session}: expected 1 ..= ${SKYNET_MAX_SESSION}`);
  }
}

function checkAddress(address: SkynetAddress): Uint8Array | number {
  if (typeof address === "string") return nameBytes(address);
  if (!Number.isInteger(address) || address < 0 || address > 0xffffffff) {
    throw new TypeError(`Invalid skynet address ${address}: expected a u32 handle or a name`);
  }
  return address;
}

/**
 * The frames of a request or push (`push: true`), as skynet's
 * `cluster.packrequest` / `cluster.packpush` make them: one frame for a
 * message under 32 KiB, else a header and its parts.
 *
 * @param address A numeric handle (u32) or a name of 1 to 255 bytes (`"@sdb"`).
 * @param session The sender's current session (1 ..= 2^31 − 1); a small push writes 0 instead.
 * @param message The packed values (see `@weft/cluster/skynet`).
 * @param push True for a push (no response).
 * @returns The frames, each with its 2-byte length.
 * @throws {TypeError} For a bad address or a message of 4 GiB or more.
 * @throws {RangeError} For a bad session.
 */
export function encodeSkynetRequest(
  address: SkynetAddress,
  session: number,
  message: Uint8Array,
  push = false,
): Uint8Array[] {
  checkSession(session);
  const addr = checkAddress(address);
  const sz = message.length;
  if (sz > 0xffffffff) throw new TypeError(`Invalid skynet message: ${sz} bytes is over 4 GiB`);
  if (sz < SKYNET_MULTI_PART) {
    const written = push ? 0 : session;
    if (typeof addr === "number") {
      const out = frame(9 + sz);
      out[2] = SkynetRequestType.Number;
      putU32(out, 3, addr);
      putU32(out, 7, written);
      out.set(message, 11);
      return [out];
    }
    const n = addr.length;
    const out = frame(6 + n + sz);
    out[2] = SkynetRequestType.Name;
    out[3] = n;
    out.set(addr, 4);
    putU32(out, 4 + n, written);
    out.set(message, 8 + n);
    return [out];
  }
  let head: Uint8Array;
  if (typeof addr === "number") {
    head = frame(13);
    head[2] = push ? SkynetRequestType.MultiNumberPush : SkynetRequestType.MultiNumber;
    putU32(head, 3, addr);
    putU32(head, 7, session);
    putU32(head, 11, sz);
  } else {
    const n = addr.length;
    head = frame(10 + n);
    head[2] = push ? SkynetRequestType.MultiNamePush : SkynetRequestType.MultiName;
    head[3] = n;
    head.set(addr, 4);
    putU32(head, 4 + n, session);
    putU32(head, 8 + n, sz);
  }
  const frames = [head];
  for (let at = 0; at < sz; at += SKYNET_MULTI_PART) {
    const s = Math.min(SKYNET_MULTI_PART, sz - at);
    const part = frame(5 + s);
    // lua-cluster.c packreq_multi: "more" while over 32 KiB remains.
    part[2] = sz - at > SKYNET_MULTI_PART ? SkynetRequestType.Part : SkynetRequestType.LastPart;
    putU32(part, 3, session);
    part.set(message.subarray(at, at + s), 7);
    frames.push(part);
  }
  return frames;
}

/**
 * True when a request or push of `size` bytes goes in parts, and so takes
 * a session even as a push.
 */
export function isSkynetMultipart(size: number): boolean {
  return size >= SKYNET_MULTI_PART;
}

/**
 * The frame of a trace tag (`cluster.packtrace`), sent before the request it tags.
 *
 * @param tag The tag, at most 32 KiB.
 * @returns The frame.
 * @throws {TypeError} If the tag is over 32 KiB.
 */
export function encodeSkynetTrace(tag: string | Uint8Array): Uint8Array {
  const bytes = typeof tag === "string" ? utf8Encoder.encode(tag) : tag;
  if (bytes.length > SKYNET_MULTI_PART) {
    throw new TypeError(`Invalid skynet trace tag: ${bytes.length} bytes is over 32 KiB`);
  }
  const out = frame(1 + bytes.length);
  out[2] = SkynetRequestType.Trace;
  out.set(bytes, 3);
  return out;
}

/**
 * The frames of a response, as `cluster.packresponse` makes them: an error
 * text (cut to 32 KiB), or the packed result in one frame (up to 32 KiB)
 * or as begin, parts and end.
 *
 * @param session The request's session.
 * @param ok False for an error.
 * @param message The packed result, or the error text.
 * @returns The frames, each with its 2-byte length.
 */
export function encodeSkynetResponse(
  session: number,
  ok: boolean,
  message: Uint8Array | string,
): Uint8Array[] {
  let msg = typeof message === "string" ? utf8Encoder.encode(message) : message;
  if (!ok && msg.length > SKYNET_MULTI_PART) msg = msg.subarray(0, SKYNET_MULTI_PART);
  const sz = msg.length;
  if (!ok || sz <= SKYNET_MULTI_PART) {
    const out = frame(5 + sz);
    putU32(out, 2, session);
    out[6] = ok ? SkynetResponseType.Ok : SkynetResponseType.Error;
    out.set(msg, 7);
    return [out];
  }
  const begin = frame(9);
  putU32(begin, 2, session);
  begin[6] = SkynetResponseType.MultiBegin;
  putU32(begin, 7, sz);
  const frames = [begin];
  for (let at = 0; at < sz; at += SKYNET_MULTI_PART) {
    const s = Math.min(SKYNET_MULTI_PART, sz - at);
    const part = frame(5 + s);
    putU32(part, 2, session);
    part[6] = sz - at > SKYNET_MULTI_PART
      ? SkynetResponseType.MultiPart
      : SkynetResponseType.MultiEnd;
    part.set(msg.subarray(at, at + s), 7);
    frames.push(part);
  }
  return frames;
}

function tooShort(what: string, size: number, need: string): WeftError {
  return new WeftError(
    "frame too short",
    `Cannot decode skynet ${what}: ${size} bytes, ${need}`,
  );
}

const latin1 = (bytes: Uint8Array): string => {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
};

function decodeName(bytes: Uint8Array): string {
  // Names are bytes to skynet; UTF-8 where they are, else one char per byte.
  try {
    return strictUtf8Decoder.decode(bytes);
  } catch {
    return latin1(bytes);
  }
}

/**
 * Decodes one request packet (a frame without its 2-byte length), with
 * skynet's own checks (`cluster.unpackrequest`).
 *
 * @param packet The packet; the result's byte arrays are views of it.
 * @returns What it is.
 * @throws {WeftError} `frame too short` for a packet shorter than its type needs,
 *   `protocol` for an unknown type.
 */
export function decodeSkynetRequest(packet: Uint8Array): SkynetRequestPacket {
  const sz = packet.length;
  if (sz === 0) throw tooShort("request", 0, "an empty packet");
  const type = packet[0]!;
  switch (type) {
    case SkynetRequestType.Number: {
      if (sz < 9) throw tooShort("request", sz, "type 0 needs 9 at least");
      return {
        kind: "request",
        address: getU32(packet, 1),
        session: getU32(packet, 5),
        message: packet.subarray(9),
      };
    }
    case SkynetRequestType.MultiNumber:
    case SkynetRequestType.MultiNumberPush: {
      if (sz !== 13) {
        throw new WeftError(
          "protocol",
          `Cannot decode skynet request: a large request header is 13 bytes, got ${sz}`,
        );
      }
      return {
        kind: "multi",
        address: getU32(packet, 1),
        session: getU32(packet, 5),
        size: getU32(packet, 9),
        push: type === SkynetRequestType.MultiNumberPush,
      };
    }
    case SkynetRequestType.Name:
    case SkynetRequestType.MultiName:
    case SkynetRequestType.MultiNamePush: {
      if (sz < 2) throw tooShort("request", sz, "a name needs 2 at least");
      const n = packet[1]!;
      const small = type === SkynetRequestType.Name;
      if (sz < n + (small ? 6 : 10)) {
        throw tooShort("request", sz, `a name of ${n} bytes needs ${n + (small ? 6 : 10)}`);
      }
      const address = decodeName(packet.subarray(2, 2 + n));
      const session = getU32(packet, 2 + n);
      if (small) return { kind: "request", address, session, message: packet.subarray(6 + n) };
      return {
        kind: "multi",
        address,
        session,
        size: getU32(packet, 6 + n),
        push: type === SkynetRequestType.MultiNamePush,
      };
    }
    case SkynetRequestType.Part:
    case SkynetRequestType.LastPart: {
      if (sz < 5) throw tooShort("request part", sz, "needs 5 at least");
      return {
        kind: "part",
        session: getU32(packet, 1),
        last: type === SkynetRequestType.LastPart,
        chunk: packet.subarray(5),
      };
    }
    case SkynetRequestType.Trace:
      return { kind: "trace", tag: packet.subarray(1) };
    default:
      throw new WeftError(
        "protocol",
        `Cannot decode skynet request: unknown type 0x${type.toString(16).padStart(2, "0")}`,
      );
  }
}

/**
 * Decodes one response packet (a frame without its 2-byte length), with
 * skynet's own checks (`cluster.unpackresponse`).
 *
 * @param packet The packet; the result's byte arrays are views of it.
 * @returns What it is.
 * @throws {WeftError} `frame too short` under 5 bytes, `protocol` for an unknown
 *   type or a begin packet that is not 9 bytes.
 */
export function decodeSkynetResponse(packet: Uint8Array): SkynetResponsePacket {
  const sz = packet.length;
  if (sz < 5) throw tooShort("response", sz, "needs 5 at least");
  const session = getU32(packet, 0);
  const type = packet[4]!;
  switch (type) {
    case SkynetResponseType.Error:
      return { kind: "error", session, message: packet.subarray(5) };
    case SkynetResponseType.Ok:
      return { kind: "ok", session, message: packet.subarray(5) };
    case SkynetResponseType.MultiBegin:
      if (sz !== 9) {
        throw new WeftError(
          "protocol",
          `Cannot decode skynet response: a multi begin is 9 bytes, got ${sz}`,
        );
      }
      return { kind: "begin", session, size: getU32(packet, 5) };
    case SkynetResponseType.MultiPart:
    case SkynetResponseType.MultiEnd:
      return {
        kind: "part",
        session,
        last: type === SkynetResponseType.MultiEnd,
        chunk: packet.subarray(5),
      };
    default:
      throw new WeftError("protocol", `Cannot decode skynet response: unknown type ${type}`);
  }
}

/**
 * Splits a byte stream into skynet packets by their 2-byte big-endian
 * length, incrementally: chunks may be cut anywhere. A packet inside one
 * chunk is handed out as a view of it (valid during the callback); one
 * that spans chunks is copied once. At most 65,537 bytes are ever held.
 */
export class SkynetFrameSplitter {
  #head = new Uint8Array(2);
  #headHave = 0;
  #body: Uint8Array | undefined;
  #bodyHave = 0;

  /** Bytes held of an incomplete frame (prefix included). */
  get buffered(): number {
    return this.#headHave + this.#bodyHave;
  }

  /**
   * Feeds a chunk; calls `onPacket` for each whole packet in order.
   *
   * @param chunk Bytes from the stream.
   * @param onPacket Gets each packet (without its length prefix).
   */
  push(chunk: Uint8Array, onPacket: (packet: Uint8Array) => void): void {
    let at = 0;
    const n = chunk.length;
    while (at < n) {
      if (this.#body === undefined) {
        if (this.#headHave === 0 && n - at >= 2) {
          const len = (chunk[at]! << 8) | chunk[at + 1]!;
          if (n - at - 2 >= len) {
            onPacket(chunk.subarray(at + 2, at + 2 + len));
            at += 2 + len;
            continue;
          }
          this.#head[0] = chunk[at]!;
          this.#head[1] = chunk[at + 1]!;
          this.#headHave = 2;
          at += 2;
        } else {
          this.#head[this.#headHave++] = chunk[at++]!;
          if (this.#headHave < 2) continue;
        }
        const len = (this.#head[0]! << 8) | this.#head[1]!;
        this.#body = new Uint8Array(len);
        this.#bodyHave = 0;
      }
      const body = this.#body;
      const take = Math.min(body.length - this.#bodyHave, n - at);
      body.set(chunk.subarray(at, at + take), this.#bodyHave);
      this.#bodyHave += take;
      at += take;
      if (this.#bodyHave === body.length) {
        this.#body = undefined;
        this.#headHave = 0;
        this.#bodyHave = 0;
        onPacket(body);
      }
    }
  }
}

/** Limits of the assemblers against a peer that sends parts without end. */
export interface SkynetAssemblyOptions {
  /**
   * Largest message one header may announce; over it, the connection is
   * refused (`frame too large`).
   *
   * @default {4194304 (4 MiB)}
   */
  maxMessageSize?: number;
  /**
   * Most large messages in progress at once; over it, `protocol`.
   *
   * @default {64}
   */
  maxPartialMessages?: number;
  /**
   * Most bytes held in parts of messages in progress; over it, `protocol`.
   *
   * @default {16777216 (16 MiB)}
   */
  maxPartialBytes?: number;
}

/** Default largest message size, as the weft mode's hard limit (4 MiB). */
export const DEFAULT_SKYNET_MAX_MESSAGE = 4 * 1024 * 1024;
/** Default most messages in parts at once. */
export const DEFAULT_SKYNET_MAX_PARTIALS = 64;
/** Default most bytes held in parts. */
export const DEFAULT_SKYNET_MAX_PARTIAL_BYTES = 16 * 1024 * 1024;

interface Limits {
  readonly maxMessageSize: number;
  readonly maxPartialMessages: number;
  readonly maxPartialBytes: number;
}

function limits(options: SkynetAssemblyOptions): Limits {
  const one = (value: number | undefined, name: string, fallback: number) => {
    if (value === undefined) return fallback;
    if (!(value === Infinity || (Number.isInteger(value) && value >= 1))) {
      throw new RangeError(`Invalid option ${name}: expected a positive integer, got ${value}`);
    }
    return value;
  };
  return {
    maxMessageSize: one(options.maxMessageSize, "maxMessageSize", DEFAULT_SKYNET_MAX_MESSAGE),
    maxPartialMessages: one(
      options.maxPartialMessages,
      "maxPartialMessages",
      DEFAULT_SKYNET_MAX_PARTIALS,
    ),
    maxPartialBytes: one(
      options.maxPartialBytes,
      "maxPartialBytes",
      DEFAULT_SKYNET_MAX_PARTIAL_BYTES,
    ),
  };
}

interface Partial {
  readonly address: SkynetAddress | undefined;
  readonly push: boolean;
  readonly size: number;
  readonly trace: Uint8Array | undefined;
  readonly chunks: Uint8Array[];
  have: number;
}

/** A whole request out of {@linkcode SkynetRequestAssembler}, or one skynet answers with an error. */
export type SkynetAssembledRequest =
  | {
    readonly kind: "request";
    readonly address: SkynetAddress;
    /** 0 for a small push; a large push keeps its session. */
    readonly session: number;
    readonly push: boolean;
    /** The packed values (owned: copied out of the packets). */
    readonly message: Uint8Array;
    /** The trace tag that came before it, if any. */
    readonly trace?: Uint8Array;
  }
  | {
    /** A large message whose parts do not add up: skynet answers "Invalid large req". */
    readonly kind: "invalid";
    readonly session: number;
    readonly push: boolean;
    readonly reason: string;
  };

/**
 * Rebuilds whole requests from request packets, as skynet's clusteragent
 * does (`large_request[session]`, `cluster.append`, `cluster.concat`): a
 * trace tag goes with the next request, parts join their header's message
 * by session, and a message whose parts do not add up to the size its
 * header announced is `invalid` (skynet answers it with the error "Invalid
 * large req"). Bounded: a header over `maxMessageSize`, more messages in
 * parts than `maxPartialMessages`, more bytes held than `maxPartialBytes`
 * throw a `WeftError`, for the connection to close.
 */
export class SkynetRequestAssembler {
  readonly #limits: Limits;
  readonly #partials = new Map<number, Partial>();
  #held = 0;
  #trace: Uint8Array | undefined;

  /**
   * Creates an assembler with its limits.
   *
   * @param options The limits.
   * @throws {RangeError} For a bad limit.
   */
  constructor(options: SkynetAssemblyOptions = {}) {
    this.#limits = limits(options);
  }

  /** Messages in parts now. */
  get partials(): number {
    return this.#partials.size;
  }

  /** Bytes held in parts now. */
  get held(): number {
    return this.#held;
  }

  /**
   * Takes one decoded packet.
   *
   * @returns A whole request, an invalid one to answer, or undefined while parts are missing.
   * @throws {WeftError} `frame too large` or `protocol` past a limit.
   */
  push(packet: SkynetRequestPacket): SkynetAssembledRequest | undefined {
    switch (packet.kind) {
      case "trace":
        this.#trace = packet.tag.slice();
        return undefined;
      case "request": {
        const trace = this.#trace;
        this.#trace = undefined;
        return {
          kind: "request",
          address: packet.address,
          session: packet.session,
          push: packet.session === 0,
          message: packet.message.slice(),
          ...(trace === undefined ? {} : { trace }),
        };
      }
      case "multi": {
        const trace = this.#trace;
        this.#trace = undefined;
        if (packet.size > this.#limits.maxMessageSize) {
          throw new WeftError(
            "frame too large",
            `Cannot take skynet message of session ${packet.session}: ${packet.size} bytes is over maxMessageSize ${this.#limits.maxMessageSize}`,
          );
        }
        if (this.#partials.has(packet.session)) {
          throw new WeftError(
            "protocol",
            `Cannot take skynet message: session ${packet.session} already has a message in parts`,
          );
        }
        if (this.#partials.size >= this.#limits.maxPartialMessages) {
          throw new WeftError(
            "protocol",
            `Cannot take skynet message: over maxPartialMessages ${this.#limits.maxPartialMessages} in parts at once`,
          );
        }
        this.#partials.set(packet.session, {
          address: packet.address,
          push: packet.push,
          size: packet.size,
          trace,
          chunks: [],
          have: 0,
        });
        return undefined;
      }
      case "part": {
        const partial = this.#partials.get(packet.session);
        if (partial === undefined) {
          // skynet: a part without its header has no address: "Invalid
          // large req" (or "Invalid name") once its last part comes.
          return packet.last
            ? {
              kind: "invalid",
              session: packet.session,
              push: false,
              reason: "Invalid large req",
            }
            : undefined;
        }
        const n = packet.chunk.length;
        if (partial.have + n > partial.size) {
          this.#drop(packet.session, partial);
          return {
            kind: "invalid",
            session: packet.session,
            push: partial.push,
            reason: "Invalid large req",
          };
        }
        if (this.#held + n > this.#limits.maxPartialBytes) {
          throw new WeftError(
            "protocol",
            `Cannot take skynet message part: over maxPartialBytes ${this.#limits.maxPartialBytes} held`,
          );
        }
        partial.chunks.push(packet.chunk.slice());
        partial.have += n;
        this.#held += n;
        if (!packet.last) return undefined;
        this.#drop(packet.session, partial);
        if (partial.have !== partial.size) {
          return {
            kind: "invalid",
            session: packet.session,
            push: partial.push,
            reason: "Invalid large req",
          };
        }
        return {
          kind: "request",
          address: partial.address!,
          session: packet.session,
          push: partial.push,
          message: join(partial.chunks, partial.size),
          ...(partial.trace === undefined ? {} : { trace: partial.trace }),
        };
      }
    }
  }

  #drop(session: number, partial: Partial): void {
    this.#partials.delete(session);
    this.#held -= partial.have;
  }
}

/** A whole response out of {@linkcode SkynetResponseAssembler}. */
export interface SkynetAssembledResponse {
  /** The session of the request it answers. */
  readonly session: number;
  /** False for an error response (the message is its text). */
  readonly ok: boolean;
  /** The packed result, or the error text's bytes (owned). */
  readonly message: Uint8Array;
}

/**
 * Rebuilds whole responses from response packets (begin, parts, end), as
 * skynet's socketchannel does for a clustersender. Bounded as
 * {@linkcode SkynetRequestAssembler}; a part with no begin, or parts that
 * overrun the size announced, are `protocol` errors.
 */
export class SkynetResponseAssembler {
  readonly #limits: Limits;
  readonly #partials = new Map<number, { size: number; chunks: Uint8Array[]; have: number }>();
  #held = 0;

  /**
   * Creates an assembler with its limits.
   *
   * @param options The limits.
   * @throws {RangeError} For a bad limit.
   */
  constructor(options: SkynetAssemblyOptions = {}) {
    this.#limits = limits(options);
  }

  /** Responses in parts now. */
  get partials(): number {
    return this.#partials.size;
  }

  /**
   * Takes one decoded packet.
   *
   * @returns A whole response, or undefined while parts are missing.
   * @throws {WeftError} `frame too large` or `protocol`.
   */
  push(packet: SkynetResponsePacket): SkynetAssembledResponse | undefined {
    const session = packet.session;
    switch (packet.kind) {
      case "error":
      case "ok":
        if (this.#partials.has(session)) {
          throw new WeftError(
            "protocol",
            `Skynet response to session ${session} interrupts its parts`,
          );
        }
        return { session, ok: packet.kind === "ok", message: packet.message.slice() };
      case "begin":
        if (packet.size > this.#limits.maxMessageSize) {
          throw new WeftError(
            "frame too large",
            `Cannot take skynet response of session ${session}: ${packet.size} bytes is over maxMessageSize ${this.#limits.maxMessageSize}`,
          );
        }
        if (this.#partials.has(session)) {
          throw new WeftError("protocol", `Skynet response to session ${session} begins twice`);
        }
        if (this.#partials.size >= this.#limits.maxPartialMessages) {
          throw new WeftError(
            "protocol",
            `Cannot take skynet response: over maxPartialMessages ${this.#limits.maxPartialMessages} in parts at once`,
          );
        }
        this.#partials.set(session, { size: packet.size, chunks: [], have: 0 });
        return undefined;
      case "part": {
        const partial = this.#partials.get(session);
        if (partial === undefined) {
          throw new WeftError(
            "protocol",
            `Skynet response part for session ${session} without a begin`,
          );
        }
        const n = packet.chunk.length;
        if (partial.have + n > partial.size) {
          throw new WeftError(
            "protocol",
            `Skynet response to session ${session} overruns its ${partial.size} bytes`,
          );
        }
        if (this.#held + n > this.#limits.maxPartialBytes) {
          throw new WeftError(
            "protocol",
            `Cannot take skynet response part: over maxPartialBytes ${this.#limits.maxPartialBytes} held`,
          );
        }
        partial.chunks.push(packet.chunk.slice());
        partial.have += n;
        this.#held += n;
        if (!packet.last) return undefined;
        this.#partials.delete(session);
        this.#held -= partial.have;
        if (partial.have !== partial.size) {
          throw new WeftError(
            "protocol",
            `Skynet response to session ${session} ends at ${partial.have} of ${partial.size} bytes`,
          );
        }
        return { session, ok: true, message: join(partial.chunks, partial.size) };
      }
    }
  }
}

function join(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
