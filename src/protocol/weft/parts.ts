/**
 * Large messages in parts (weft mode): a request or response body over
 * `partSize` bytes is sent as a run of PART control frames that interleave
 * with small frames on the same connection, and is put back together by the
 * receiver within bounds the receiver sets (see docs/PROTOCOL_EXTENSIONS.md,
 * "Large messages in parts").
 *
 * PART is a request frame with cmd `0xFFFFFF05`, traceid 0, and the stream
 * id (31 bits, counted per connection and direction) as its session. Its
 * payload is a flags byte, then (first part only) a 20-byte description of
 * the message, then a slice of the message body.
 *
 * @module
 */

import { WeftError } from "../../errors.ts";
import { type Frame, RESPONSE_FLAG } from "../../wire/frame.ts";
import type { OutgoingMessage } from "../mode.ts";

export type { OutgoingMessage };

/** Flags of a PART payload's first byte. */
export const PartFlag = {
  /** The first part: the message description follows the flags. */
  First: 1,
  /** The last part: the message is complete. */
  Last: 2,
  /** The message is a response (first part only). */
  Response: 4,
  /** The sender gave up on this message: drop what was received. */
  Abort: 8,
} as const;

/** Bytes of the first part's description: total u32, session u32, cmd u32, traceid u64. */
export const PART_FIRST_SIZE: number = 1 + 20;

/** Default `partSize`: bodies over this many bytes go in parts of this size. */
export const DEFAULT_PART_SIZE = 32 * 1024;

/** Default `maxMessageSize`: the largest message after reassembly (and the largest sent). */
export const DEFAULT_MAX_MESSAGE_SIZE = 128 * 1024 * 1024;

/**
 * Default `partWindow`: part bytes sent and not yet acknowledged. It bounds
 * what a small frame can queue behind (in the socket buffers too, which the
 * transport's high-water mark does not see).
 */
export const DEFAULT_PART_WINDOW = 128 * 1024;

/** Default `maxPartialMessages`: messages a peer may have half-sent at once per connection. */
export const DEFAULT_MAX_PARTIAL_MESSAGES = 4;

/** Default `maxPartialBytes`: bytes a peer may make one connection hold for half-sent messages. */
export const DEFAULT_MAX_PARTIAL_BYTES = 128 * 1024 * 1024;

/** The options of large messages, part of the cluster's options. */
export interface PartOptions {
  /**
   * Weft mode: a request or response body (with its head) over this many
   * bytes is sent in parts of this size, which interleave with small frames
   * so one large body does not hold up small calls behind it. Clamped to
   * what the framing's hard limit allows.
   *
   * @default {32768}
   */
  partSize?: number;
  /**
   * Weft mode: bytes of parts sent and not yet acknowledged by the
   * receiver (which acknowledges each part as it takes it). A small frame
   * waits behind at most about this much of a large body.
   *
   * @default {131072}
   */
  partWindow?: number;
  /**
   * Weft mode: the largest message body sent in parts or accepted after
   * reassembly. Over it a send fails with `frame too large`, and a peer
   * announcing a larger one loses its connection.
   *
   * @default {the hard limit in force (weft's default 4194304, or the `hardLimit` option)}
   */
  maxMessageSize?: number;
  /**
   * Weft mode: messages a peer may have half-sent at once on one connection
   * (a well-behaved weft peer sends one at a time). One more closes the
   * connection with a `protocol` error.
   *
   * @default {4}
   */
  maxPartialMessages?: number;
  /**
   * Weft mode: bytes of half-sent messages (their announced sizes) one
   * connection may hold at once. Over it the connection closes with a
   * `protocol` error.
   *
   * @default {134217728}
   */
  maxPartialBytes?: number;
}

/** Part options with defaults applied. */
export interface PartLimits {
  /** Bodies over this go in parts of this size. */
  partSize: number;
  /** Part bytes sent and not yet acknowledged, at most. */
  partWindow: number;
  /** The largest message sent in parts or put back together. */
  maxMessageSize: number;
  /** Messages a peer may have half-sent at once. */
  maxPartialMessages: number;
  /** Bytes of half-sent messages one connection may hold. */
  maxPartialBytes: number;
}

function positiveInt(value: unknown, option: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`Invalid option ${option}: expected a number, got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < min || value > 0xffffffff) {
    throw new RangeError(
      `Invalid option ${option}: expected an integer from ${min} to 4294967295, got ${value}`,
    );
  }
  return value;
}

/**
 * Validates the part options and applies defaults.
 *
 * @throws {TypeError} Naming the option, for a wrong type.
 * @throws {RangeError} Naming the option, for an out-of-range value.
 */
export function resolvePartOptions(
  options: PartOptions & { hardLimit?: number; framing?: string },
): PartLimits {
  return {
    partSize: positiveInt(options.partSize, "partSize", DEFAULT_PART_SIZE, 1024),
    partWindow: positiveInt(options.partWindow, "partWindow", DEFAULT_PART_WINDOW, 1024),
    maxMessageSize: positiveInt(
      options.maxMessageSize,
      "maxMessageSize",
      Math.min(
        typeof options.hardLimit === "number" ? options.hardLimit : DEFAULT_MAX_MESSAGE_SIZE,
        options.framing === "v1" ? 0xffff : Infinity,
      ),
    ),
    maxPartialMessages: positiveInt(
      options.maxPartialMessages,
      "maxPartialMessages",
      DEFAULT_MAX_PARTIAL_MESSAGES,
    ),
    maxPartialBytes: positiveInt(
      options.maxPartialBytes,
      "maxPartialBytes",
      DEFAULT_MAX_PARTIAL_BYTES,
    ),
  };
}

/**
 * The payload of the next PART of `message` and how much of it it carries
 * (at most `size` bytes of message data). Advances `message.sent`.
 */
export function nextPart(message: OutgoingMessage, size: number): Uint8Array {
  const total = message.head.length + message.body.length;
  if (message.aborted) {
    message.sent = total;
    return Uint8Array.of(PartFlag.Abort);
  }
  const first = message.sent === 0;
  const take = Math.min(size, total - message.sent);
  const last = message.sent + take === total;
  const prefix = first ? PART_FIRST_SIZE : 1;
  const out = new Uint8Array(prefix + take);
  out[0] = (first ? PartFlag.First : 0) | (last ? PartFlag.Last : 0) |
    (first && message.response ? PartFlag.Response : 0);
  if (first) {
    const view = new DataView(out.buffer);
    view.setUint32(1, total, true);
    view.setUint32(5, message.session, true);
    view.setUint32(9, message.cmd, true);
    view.setUint32(13, message.traceLo, true);
    view.setUint32(17, message.traceHi, true);
  }
  // The head is small and sits only in the first part.
  let at = prefix;
  let from = message.sent;
  let left = take;
  if (from < message.head.length) {
    const n = Math.min(left, message.head.length - from);
    out.set(message.head.subarray(from, from + n), at);
    at += n;
    from += n;
    left -= n;
  }
  if (left > 0) {
    const start = from - message.head.length;
    out.set(message.body.subarray(start, start + left), at);
  }
  message.sent += take;
  return out;
}

interface Partial {
  frame: Frame;
  filled: number;
}

/**
 * Puts messages sent in parts back together for one connection, within
 * its limits. A peer that breaks the layout or a limit gets a `protocol`
 * (or `frame too large`) error, which closes the connection.
 */
export class Reassembler {
  readonly #limits: PartLimits;
  readonly #partial = new Map<number, Partial>();
  #bytes = 0;

  /**
   * A reassembler holding nothing yet.
   *
   * @param limits Sizes and counts this connection accepts.
   */
  constructor(limits: PartLimits) {
    this.#limits = limits;
  }

  /** Bytes held for messages not yet complete (their announced sizes). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Messages not yet complete. */
  get size(): number {
    return this.#partial.size;
  }

  /**
   * Takes one PART frame (`stream` is its session, `payload` its payload).
   *
   * @returns The complete frame when this was the last part, else undefined.
   * @throws {WeftError} `protocol` or `frame too large` for a peer breaking the layout or a limit.
   */
  accept(stream: number, payload: Uint8Array): Frame | undefined {
    const flags = payload[0];
    if (flags === undefined) throw bad(stream, "an empty part");
    if ((flags & PartFlag.Abort) !== 0) {
      const partial = this.#partial.get(stream);
      if (partial !== undefined) this.#forget(stream, partial);
      return undefined;
    }
    let partial = this.#partial.get(stream);
    let data: Uint8Array;
    if ((flags & PartFlag.First) !== 0) {
      if (partial !== undefined) throw bad(stream, "a first part for a stream already open");
      if (payload.length < PART_FIRST_SIZE) throw bad(stream, "a first part cut short");
      const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
      const total = view.getUint32(1, true);
      const limits = this.#limits;
      if (total > limits.maxMessageSize) {
        throw new WeftError(
          "frame too large",
          `Message in parts of ${total} bytes is over maxMessageSize ${limits.maxMessageSize}`,
        );
      }
      if (this.#partial.size >= limits.maxPartialMessages) {
        throw bad(stream, `more than maxPartialMessages ${limits.maxPartialMessages} at once`);
      }
      if (this.#bytes + total > limits.maxPartialBytes) {
        throw bad(
          stream,
          `${
            this.#bytes + total
          } bytes of partial messages, over maxPartialBytes ${limits.maxPartialBytes}`,
        );
      }
      const response = (flags & PartFlag.Response) !== 0;
      const session = view.getUint32(5, true);
      partial = {
        frame: {
          kind: response ? "response" : "request",
          session: response ? (session & ~RESPONSE_FLAG) >>> 0 : session,
          cmd: response ? 0 : view.getUint32(9, true),
          traceLo: response ? 0 : view.getUint32(13, true),
          traceHi: response ? 0 : view.getUint32(17, true),
          payload: new Uint8Array(total),
        },
        filled: 0,
      };
      this.#partial.set(stream, partial);
      this.#bytes += total;
      data = payload.subarray(PART_FIRST_SIZE);
    } else {
      if (partial === undefined) throw bad(stream, "a part for a stream never opened");
      data = payload.subarray(1);
    }
    const buffer = partial.frame.payload;
    if (partial.filled + data.length > buffer.length) {
      throw bad(stream, `parts longer than the announced ${buffer.length} bytes`);
    }
    buffer.set(data, partial.filled);
    partial.filled += data.length;
    if ((flags & PartFlag.Last) === 0) return undefined;
    if (partial.filled !== buffer.length) {
      throw bad(stream, `last part at ${partial.filled} of the announced ${buffer.length} bytes`);
    }
    this.#forget(stream, partial);
    return partial.frame;
  }

  /** Drops everything held (the connection closed). */
  clear(): void {
    this.#partial.clear();
    this.#bytes = 0;
  }

  #forget(stream: number, partial: Partial): void {
    this.#partial.delete(stream);
    this.#bytes -= partial.frame.payload.length;
  }
}

function bad(stream: number, detail: string): WeftError {
  return new WeftError("protocol", `Malformed message in parts (stream ${stream}): ${detail}`);
}
