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

/** Default `maxPartialBytesPerNode`: bytes of half-sent messages all connections of a node may hold. */
export const DEFAULT_MAX_PARTIAL_BYTES_PER_NODE = 64 * 1024 * 1024;

/** Default `partTimeout`: ms a half-sent message may wait for its next part. */
export const DEFAULT_PART_TIMEOUT = 30_000;

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
  /**
   * Weft mode: bytes of half-sent messages all connections of this node
   * hold at once. A message holds what arrived of it, and its whole size
   * once an eighth of it did (never its announced size before that). A part that would go over it
   * closes its connection with an `over budget` error (counted in
   * `stats().limits.refused["partial bytes"]`), so peers sending parts and
   * never finishing cannot hold more than this together.
   *
   * @default {67108864}
   */
  maxPartialBytesPerNode?: number;
  /**
   * Weft mode: milliseconds a half-sent message may wait for its next part
   * while this node reads (a part is a frame's worth: the same default as
   * `frameTimeout`). Past it the connection closes with a `timeout` error
   * (counted in `stats().limits.refused["part timeout"]`). `Infinity` turns
   * it off.
   *
   * @default {30000}
   */
  partTimeout?: number;
}

/**
 * The node-wide account of bytes held in half-sent messages, shared by
 * every connection of one cluster (made by {@linkcode resolvePartOptions}).
 */
export class PartialBudget {
  /** The most bytes all connections may hold together. */
  readonly max: number;
  /** Bytes held now. */
  held = 0;
  /** Connections closed because a part would have gone over `max`. */
  refused = 0;
  /** Connections closed because a half-sent message waited past `partTimeout`. */
  timedOut = 0;

  /**
   * A budget holding nothing yet.
   *
   * @param max The most bytes held at once.
   */
  constructor(max: number) {
    this.max = max;
  }
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
  /** Bytes of half-sent messages (announced sizes) one connection may hold. */
  maxPartialBytes: number;
  /** Ms a half-sent message may wait for its next part (Infinity: no deadline). */
  partTimeout: number;
  /** The node-wide account of bytes held for half-sent messages (`maxPartialBytesPerNode`). */
  budget: PartialBudget;
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
    partTimeout: timeout(options.partTimeout, "partTimeout", DEFAULT_PART_TIMEOUT),
    budget: new PartialBudget(
      positiveInt(
        options.maxPartialBytesPerNode,
        "maxPartialBytesPerNode",
        DEFAULT_MAX_PARTIAL_BYTES_PER_NODE,
      ),
    ),
  };
}

function timeout(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`Invalid option ${option}: expected a number, got ${typeof value}`);
  }
  if (!(value > 0)) {
    throw new RangeError(`Invalid option ${option}: expected more than 0 ms, got ${value}`);
  }
  return value;
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

/**
 * A half-sent message gets its whole buffer once this fraction (1 /
 * `WHOLE_AT`) of it arrived; before, copies of its parts. A copy per part
 * costs an allocation each, so waiting longer costs a legitimate message
 * more; what a message holds is charged to the node's budget either way.
 */
const WHOLE_AT = 8;

interface Partial {
  /** The frame, its payload empty until the last part. */
  frame: Frame;
  /** The size the first part announced. */
  total: number;
  /** Copies of the parts received while they are under 1 / `WHOLE_AT` of the total. */
  chunks: Uint8Array[];
  /** The whole message's buffer, made once 1 / `WHOLE_AT` of it arrived (null before). */
  buffer: Uint8Array | null;
  /** Bytes received. */
  filled: number;
  /** Bytes held for it (in `chunks`, or `buffer`'s size), counted in the node's budget. */
  holds: number;
  /** Parts received. */
  parts: number;
  /** The sweep's mark: `parts` at the last sweep (-1: not swept yet). */
  seenParts: number;
  /** The sweep's mark: since when `parts` stands. */
  stallSince: number;
}

/**
 * Puts messages sent in parts back together for one connection, within
 * its limits. A peer that breaks the layout or a limit gets a `protocol`
 * (or `frame too large`, `over budget`) error, which closes the connection.
 *
 * A message holds copies of the parts received until an eighth of it
 * arrived, then one buffer of its whole size (charged in full to the
 * node's budget): a first part announcing a large size and nothing after
 * it costs its own few bytes, not the announced size.
 */
export class Reassembler {
  readonly #limits: PartLimits;
  readonly #partial = new Map<number, Partial>();
  /** Announced sizes of the messages not yet complete. */
  #bytes = 0;
  /** Bytes received of them (what this connection holds). */
  #held = 0;

  /**
   * A reassembler holding nothing yet.
   *
   * @param limits Sizes and counts this connection accepts, and the node's budget.
   */
  constructor(limits: PartLimits) {
    this.#limits = limits;
  }

  /** Bytes announced for messages not yet complete. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Bytes held for messages not yet complete (what arrived; a message's whole size once an eighth of it did). */
  get held(): number {
    return this.#held;
  }

  /** Messages not yet complete. */
  get size(): number {
    return this.#partial.size;
  }

  /**
   * Takes one PART frame (`stream` is its session, `payload` its payload).
   *
   * @returns The complete frame when this was the last part, else undefined.
   * @throws {WeftError} `protocol`, `frame too large` or `over budget` for a
   *   peer breaking the layout or a limit.
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
    const limits = this.#limits;
    if ((flags & PartFlag.First) !== 0) {
      if (partial !== undefined) throw bad(stream, "a first part for a stream already open");
      if (payload.length < PART_FIRST_SIZE) throw bad(stream, "a first part cut short");
      const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
      const total = view.getUint32(1, true);
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
          payload: EMPTY,
        },
        total,
        chunks: [],
        buffer: null,
        filled: 0,
        holds: 0,
        parts: 0,
        seenParts: -1,
        stallSince: 0,
      };
      this.#partial.set(stream, partial);
      this.#bytes += total;
      data = payload.subarray(PART_FIRST_SIZE);
    } else {
      if (partial === undefined) throw bad(stream, "a part for a stream never opened");
      data = payload.subarray(1);
    }
    partial.parts++;
    if (partial.filled + data.length > partial.total) {
      throw bad(stream, `parts longer than the announced ${partial.total} bytes`);
    }
    if (data.length > 0) {
      const budget = limits.budget;
      const whole = partial.buffer === null &&
        WHOLE_AT * (partial.filled + data.length) >= partial.total;
      const grow = partial.buffer !== null
        ? 0
        : whole
        ? partial.total - partial.holds
        : data.length;
      if (budget.held + grow > budget.max) {
        budget.refused++;
        throw new WeftError(
          "over budget",
          `Message in parts (stream ${stream}) refused: this node holds ${budget.held} bytes of partial messages, maxPartialBytesPerNode ${budget.max}`,
        );
      }
      if (partial.buffer !== null) partial.buffer.set(data, partial.filled);
      else if (whole) {
        // Enough of it arrived: the whole buffer (charged in full).
        const buffer = new Uint8Array(partial.total);
        let at = 0;
        for (const chunk of partial.chunks) {
          buffer.set(chunk, at);
          at += chunk.length;
        }
        buffer.set(data, at);
        partial.buffer = buffer;
        partial.chunks = [];
      } // A copy: the part lies in the reader's chunk, valid only during this call.
      else partial.chunks.push(data.slice());
      partial.filled += data.length;
      partial.holds += grow;
      this.#held += grow;
      budget.held += grow;
    }
    if ((flags & PartFlag.Last) === 0) return undefined;
    if (partial.filled !== partial.total) {
      throw bad(stream, `last part at ${partial.filled} of the announced ${partial.total} bytes`);
    }
    partial.frame.payload = partial.buffer ?? EMPTY;
    this.#forget(stream, partial);
    return partial.frame;
  }

  /**
   * The deadline of the next part, checked by the connection's sweep at
   * time `t` (monotonic ms): an error for the first message whose parts
   * stood still for `partTimeout` while this side read (`paused`: this
   * side stopped reading, so a stall is not the peer's).
   */
  sweep(t: number, paused: boolean): WeftError | null {
    const limit = this.#limits.partTimeout;
    for (const [stream, partial] of this.#partial) {
      if (paused || partial.parts !== partial.seenParts) {
        partial.seenParts = partial.parts;
        partial.stallSince = t;
      } else if (t - partial.stallSince >= limit) {
        this.#limits.budget.timedOut++;
        return new WeftError(
          "timeout",
          `Message in parts (stream ${stream}) got no part for ${limit} ms (partTimeout), ${partial.filled} of ${partial.total} bytes received`,
        );
      }
    }
    return null;
  }

  /** Drops everything held (the connection closed). */
  clear(): void {
    this.#partial.clear();
    this.#limits.budget.held -= this.#held;
    this.#bytes = 0;
    this.#held = 0;
  }

  #forget(stream: number, partial: Partial): void {
    this.#partial.delete(stream);
    this.#bytes -= partial.total;
    this.#held -= partial.holds;
    this.#limits.budget.held -= partial.holds;
    partial.chunks = [];
    partial.buffer = null;
  }
}

const EMPTY = new Uint8Array(0);

function bad(stream: number, detail: string): WeftError {
  return new WeftError("protocol", `Malformed message in parts (stream ${stream}): ${detail}`);
}
