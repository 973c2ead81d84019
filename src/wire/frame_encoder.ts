/**
 * The frame encoder: writes silly request and response frames, in either
 * framing, into one growing buffer that batches many frames for one socket
 * write.
 *
 * @module
 */

import { utf8Encoder } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import {
  checkFraming,
  checkLimit,
  DEFAULT_HARD_LIMIT,
  type FrameLimitsOptions,
  type Framing,
  maxBodyLength,
  prefixSize,
  REQUEST_HEADER_SIZE,
  type RequestHeader,
  RESPONSE_FLAG,
  RESPONSE_HEADER_SIZE,
} from "./frame.ts";

/** Default capacity of an encoder's buffer: 64 KiB. */
export const DEFAULT_ENCODER_CAPACITY = 64 * 1024;

/** Size of an encoder's first buffer (at most its capacity). */
const FIRST_BUFFER_SIZE = 1024;

/** Options of {@linkcode FrameEncoder}. */
export interface FrameEncoderOptions extends FrameLimitsOptions {
  /**
   * The largest buffer the encoder allocates for itself while the pending
   * batch fits in it. A single frame larger than this gets a buffer of its
   * size; a batch that outgrows it (many frames written in one turn) gets
   * buffers of at least twice its pending bytes, so that growing stays
   * linear in the batch's size. Without a given `buffer`,
   * the first one is 1 KiB (or `capacity`, if smaller) and each new one,
   * allocated when the current one fills up, doubles up to `capacity`: an
   * idle connection's encoder stays small.
   *
   * @default {65536}
   */
  capacity?: number;
  /**
   * A buffer to write into first. When a frame does not fit in what is left
   * of it, the encoder moves on to a buffer of its own.
   */
  buffer?: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const utf8 = utf8Encoder;

/**
 * Encodes frames back to back into one buffer. Append frames with
 * {@linkcode FrameEncoder.prototype.request} and
 * {@linkcode FrameEncoder.prototype.response}, then either hand the batch to
 * a socket with {@linkcode FrameEncoder.prototype.take} or drop it with
 * {@linkcode FrameEncoder.prototype.clear}.
 *
 * The buffer is reused: appending never allocates until the buffer is full.
 * `take()` passes ownership of the bytes it returns (a transport may hold
 * them until sent), so the encoder never writes over taken bytes; it carries
 * on after them and allocates a new buffer only when the old one is used up.
 *
 * The traceid is two 32-bit halves, so no BigInt is made per frame.
 *
 * @example Encode a request and its response (golden bytes from PROTOCOL.md)
 * ```ts
 * import { FrameEncoder } from "@weft/cluster/wire";
 *
 * const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
 * const encoder = new FrameEncoder();
 * encoder.request({ session: 0x01020304, cmd: 1, traceHi: 0x11223344, traceLo: 0x55667788 }, "hello");
 * if (hex(encoder.take()) !== "150000000403020101000000887766554433221168656c6c6f") throw new Error("unexpected result");
 * encoder.response(0x01020304, "hello");
 * if (hex(encoder.take()) !== "090000000403028168656c6c6f") throw new Error("unexpected result");
 * ```
 */
export class FrameEncoder {
  /** The framing this encoder writes. */
  readonly framing: Framing;
  /** The hard limit on a body, header included. */
  readonly hardLimit: number;
  readonly #capacity: number;
  readonly #prefix: number;
  #buf: Uint8Array;
  /** A DataView over `#buf`: its 32-bit stores beat four byte stores. */
  #view: DataView;
  /** Start of the bytes not yet taken. */
  #start = 0;
  /** End of the written bytes. */
  #end = 0;

  /**
   * Creates an encoder.
   *
   * @param options Framing, hard limit, capacity and an optional first buffer.
   * @throws {TypeError} If an option has the wrong type.
   * @throws {RangeError} If an option is out of range.
   */
  constructor(options: FrameEncoderOptions = {}) {
    this.framing = checkFraming(options.framing);
    this.hardLimit = Math.min(
      checkLimit(options.hardLimit, "hardLimit", DEFAULT_HARD_LIMIT),
      maxBodyLength(this.framing),
    );
    const capacity = options.capacity ?? DEFAULT_ENCODER_CAPACITY;
    if (typeof capacity !== "number") {
      throw new TypeError(`Invalid option capacity: expected a number, got ${typeof capacity}`);
    }
    if (!Number.isInteger(capacity) || capacity < 16) {
      throw new RangeError(
        `Invalid option capacity: expected an integer of at least 16, got ${capacity}`,
      );
    }
    this.#capacity = capacity;
    if (options.buffer !== undefined && !(options.buffer instanceof Uint8Array)) {
      throw new TypeError("Invalid option buffer: expected a Uint8Array");
    }
    this.#buf = options.buffer ?? new Uint8Array(Math.min(capacity, FIRST_BUFFER_SIZE));
    this.#view = viewOf(this.#buf);
    this.#prefix = prefixSize(this.framing);
  }

  /** Bytes written and not yet taken or cleared. */
  get length(): number {
    return this.#end - this.#start;
  }

  /**
   * Appends a request frame.
   *
   * @param header Session, cmd and the two traceid halves.
   * @param payload Bytes, or a string written as UTF-8.
   * @param head Bytes written just before the payload and counted in the
   * body (weft's extension header); the encoder copies them at once.
   * @returns The frame's size in bytes, prefix included.
   * @throws {WeftError} `frame too large` if the body is over the hard limit;
   * nothing is written then.
   */
  request(
    header: RequestHeader,
    payload: Uint8Array | string = EMPTY,
    head: Uint8Array = EMPTY,
  ): number {
    const at = this.#reserve(REQUEST_HEADER_SIZE + head.length, payload);
    const buf = this.#buf;
    const view = this.#view;
    const prefix = this.#prefix;
    let n: number;
    if (this.framing === "v2") {
      const body = at + prefix;
      n = writeHeadAndPayload(buf, body + REQUEST_HEADER_SIZE, head, payload);
      view.setUint32(body, header.session & 0x7fffffff, true);
      view.setUint32(body + 4, header.cmd, true);
      view.setUint32(body + 8, header.traceLo, true);
      view.setUint32(body + 12, header.traceHi, true);
    } else {
      const body = at + prefix;
      n = writeHeadAndPayload(buf, body, head, payload);
      const trailer = body + n;
      view.setUint32(trailer, header.traceLo, true);
      view.setUint32(trailer + 4, header.traceHi, true);
      view.setUint32(trailer + 8, header.cmd, true);
      view.setUint32(trailer + 12, header.session & 0x7fffffff, true);
    }
    return this.#commit(at, REQUEST_HEADER_SIZE + n);
  }

  /**
   * Appends a response frame.
   *
   * @param session The session of the request being answered.
   * @param payload Bytes, or a string written as UTF-8.
   * @param head Bytes written just before the payload and counted in the
   * body (weft's extension header); the encoder copies them at once.
   * @returns The frame's size in bytes, prefix included.
   * @throws {WeftError} `frame too large` if the body is over the hard limit;
   * nothing is written then.
   */
  response(
    session: number,
    payload: Uint8Array | string = EMPTY,
    head: Uint8Array = EMPTY,
  ): number {
    const at = this.#reserve(RESPONSE_HEADER_SIZE + head.length, payload);
    const buf = this.#buf;
    const view = this.#view;
    const body = at + this.#prefix;
    const flagged = ((session & 0x7fffffff) | RESPONSE_FLAG) >>> 0;
    let n: number;
    if (this.framing === "v2") {
      n = writeHeadAndPayload(buf, body + RESPONSE_HEADER_SIZE, head, payload);
      view.setUint32(body, flagged, true);
    } else {
      n = writeHeadAndPayload(buf, body, head, payload);
      view.setUint32(body + n, flagged, true);
    }
    return this.#commit(at, RESPONSE_HEADER_SIZE + n);
  }

  /**
   * Returns every byte written since the last `take()` or `clear()` and
   * passes their ownership to the caller: the encoder will not write over
   * them again. Returns an empty array when nothing is pending.
   */
  take(): Uint8Array {
    const out = this.#buf.subarray(this.#start, this.#end);
    this.#start = this.#end;
    return out;
  }

  /**
   * A view of the pending bytes without taking them. It is valid until the
   * next append, `take()` or `clear()`.
   */
  peek(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** Drops the pending bytes; their space is reused by the next frame. */
  clear(): void {
    this.#end = this.#start;
  }

  /**
   * Makes room for a frame whose payload is `payload` and returns the offset
   * at which its prefix goes. Throws `frame too large` before writing when
   * the size is known to be over the limit.
   */
  #reserve(header: number, payload: Uint8Array | string): number {
    let bound: number;
    if (typeof payload === "string") {
      bound = payload.length * 3;
      // A string's UTF-8 size is exact only after encoding; a pure bound
      // check here would refuse strings that fit, so #commit checks again.
      if (payload.length + header > this.hardLimit) throw this.#tooLarge(payload.length + header);
    } else {
      bound = payload.length;
      if (bound + header > this.hardLimit) throw this.#tooLarge(bound + header);
    }
    const need = this.#prefix + header + bound;
    if (this.#end + need > this.#buf.length) this.#grow(need);
    return this.#end;
  }

  /** Writes the length prefix of a frame whose body is `body` bytes, and keeps it. */
  #commit(at: number, body: number): number {
    if (body > this.hardLimit) throw this.#tooLarge(body);
    if (this.framing === "v2") {
      this.#view.setUint32(at, body, true);
    } else {
      this.#view.setUint16(at, body);
    }
    const size = this.#prefix + body;
    this.#end = at + size;
    return size;
  }

  /**
   * Moves the pending bytes to a new buffer with room for `need` more. Up to
   * `capacity` the buffer doubles; past it (one turn's batch is larger than
   * `capacity`) the new buffer is at least twice the pending bytes, so a
   * batch of n bytes is copied O(n) times in total, not O(n²) (growing to
   * exactly the pending size plus one frame made every frame past capacity
   * copy the whole batch).
   */
  #grow(need: number): void {
    const pending = this.#end - this.#start;
    const want = pending + need;
    const size = want <= this.#capacity
      ? Math.max(Math.min(this.#capacity, this.#buf.length * 2), want)
      : want + pending;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(this.#start, this.#end));
    this.#buf = next;
    this.#view = viewOf(next);
    this.#start = 0;
    this.#end = pending;
  }

  #tooLarge(body: number): WeftError {
    return new WeftError(
      "frame too large",
      `Cannot encode frame: body of ${body} bytes exceeds hard limit ${this.hardLimit}`,
    );
  }
}

/** Options of {@linkcode encodeRequest} and {@linkcode encodeResponse}. */
export type EncodeOptions = FrameLimitsOptions;

/**
 * Encodes one request frame into a new Uint8Array (the convenience path; use
 * a {@linkcode FrameEncoder} on hot paths).
 *
 * @throws {WeftError} `frame too large` if the body is over the hard limit.
 *
 * @example
 * ```ts
 * import { encodeRequest } from "@weft/cluster/wire";
 *
 * const frame = encodeRequest({ session: 1, cmd: 2, traceHi: 0, traceLo: 3 }, "hi", { framing: "v1" });
 * if (JSON.stringify(Array.from(frame.subarray(0, 2))) !== JSON.stringify([0, 18])) throw new Error("unexpected result");
 * ```
 */
export function encodeRequest(
  header: RequestHeader,
  payload: Uint8Array | string = EMPTY,
  options: EncodeOptions = {},
): Uint8Array {
  const encoder = singleFrameEncoder(payload, options);
  encoder.request(header, payload);
  return encoder.take().slice();
}

/**
 * Encodes one response frame into a new Uint8Array.
 *
 * @throws {WeftError} `frame too large` if the body is over the hard limit.
 *
 * @example
 * ```ts
 * import { encodeResponse } from "@weft/cluster/wire";
 *
 * if (JSON.stringify(Array.from(encodeResponse(7))) !== JSON.stringify([4, 0, 0, 0, 7, 0, 0, 0x80])) throw new Error("unexpected result");
 * ```
 */
export function encodeResponse(
  session: number,
  payload: Uint8Array | string = EMPTY,
  options: EncodeOptions = {},
): Uint8Array {
  const encoder = singleFrameEncoder(payload, options);
  encoder.response(session, payload);
  return encoder.take().slice();
}

function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** An encoder whose first buffer fits one frame of `payload` (prefix and header included). */
function singleFrameEncoder(payload: Uint8Array | string, options: EncodeOptions): FrameEncoder {
  const size = typeof payload === "string" ? payload.length * 3 : payload.length;
  return new FrameEncoder({ ...options, capacity: size + 22 });
}

/** Writes `head` (weft's extension header, often empty) then the payload; returns both sizes. */
function writeHeadAndPayload(
  buf: Uint8Array,
  at: number,
  head: Uint8Array,
  payload: Uint8Array | string,
): number {
  const h = head.length;
  for (let i = 0; i < h; i++) buf[at + i] = head[i]!;
  return h + writePayload(buf, at + h, payload);
}

function writePayload(buf: Uint8Array, at: number, payload: Uint8Array | string): number {
  if (typeof payload === "string") {
    return utf8.encodeInto(payload, buf.subarray(at)).written;
  }
  // set() beats a byte loop even for 32 bytes on current V8.
  if (payload.length > 0) buf.set(payload, at);
  return payload.length;
}
