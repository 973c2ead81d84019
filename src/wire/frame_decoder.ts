/**
 * The incremental frame decoder: feed it chunks split anywhere, get frames.
 *
 * @module
 */

import { WeftError } from "../errors.ts";
import {
  checkFraming,
  checkLimit,
  DEFAULT_HARD_LIMIT,
  DEFAULT_SOFT_LIMIT,
  type Frame,
  type FrameLimitsOptions,
  type Framing,
  maxBodyLength,
  prefixSize,
  REQUEST_HEADER_SIZE,
  RESPONSE_FLAG,
  RESPONSE_HEADER_SIZE,
} from "./frame.ts";

/** Options of {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions extends FrameLimitsOptions {
  /**
   * Body size (header included) over which `onSoftLimit` is told. Not an
   * error: silly only logs a warning there.
   *
   * @default {65535}
   */
  softLimit?: number;
  /** Called once for each frame whose body is over the soft limit. */
  onSoftLimit?: (bodyLength: number) => void;
}

/** Receives each decoded frame; see {@linkcode Frame} for how long it is valid. */
export type FrameHandler = (frame: Frame) => void;

const EMPTY = new Uint8Array(0);

/**
 * The largest body that is copied into the decoder's reused buffer when it
 * spans chunks (1 MiB); a larger one gets a buffer of its own.
 */
export const MAX_REUSED_BODY = 1024 * 1024;

/**
 * The smallest buffer the decoder allocates for a body that spans chunks
 * (4 KiB). Buffers grow (doubling) as the body's bytes arrive, never beyond
 * the length the prefix announced, so a prefix announcing a huge body costs
 * only what was actually sent.
 */
export const MIN_BODY_BUFFER = 4096;

/**
 * Decodes a byte stream into frames, incrementally.
 *
 * Chunks may be split anywhere, even inside the length prefix. A frame whose
 * body (what follows the length prefix) lies inside one chunk is handed out
 * as a view of that chunk, with no copy, even when its prefix came in
 * earlier chunks; only a body that spans chunks is copied, once: into a
 * buffer the decoder reuses for the next such frame when the body is at most
 * {@linkcode MAX_REUSED_BODY}, else into a buffer of its own. Either way the
 * payload is valid only during the callback. The buffer for a spanning body
 * grows as its bytes arrive (doubling from {@linkcode MIN_BODY_BUFFER}), so
 * it never holds much more than twice what the peer actually sent. A length
 * over the current {@linkcode FrameDecoder.prototype.limit} (the hard limit
 * unless lowered, e.g. to the handshake frame's size until a handshake
 * completes) is refused as soon as the prefix is read.
 *
 * Bad input throws a {@linkcode WeftError} with a specific code (`frame too
 * large`, `frame too short`, `request too short`); frames before the bad one
 * have already been delivered. After an error (or a throw from the handler)
 * the decoder refuses input with `decoder failed` until
 * {@linkcode FrameDecoder.prototype.reset}, so garbage is never read as a
 * frame.
 *
 * @example Decode silly's golden request, fed one byte at a time
 * ```ts
 * import { FrameDecoder } from "@weft/cluster/wire";
 *
 * const hex = "150000000403020101000000887766554433221168656c6c6f";
 * const bytes = Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
 * const decoder = new FrameDecoder();
 * const seen: string[] = [];
 * for (const byte of bytes) {
 *   decoder.decode(Uint8Array.of(byte), (f) => {
 *     seen.push(`${f.kind} ${f.session} ${f.cmd} ${new TextDecoder().decode(f.payload)}`);
 *   });
 * }
 * if (JSON.stringify(seen) !== JSON.stringify(["request 16909060 1 hello"])) throw new Error("unexpected result");
 * ```
 */
export class FrameDecoder {
  /** The framing this decoder reads. */
  readonly framing: Framing;
  /** The hard limit on a body, header included. */
  readonly hardLimit: number;
  /** The soft limit on a body, header included. */
  readonly softLimit: number;
  readonly #onSoftLimit: ((bodyLength: number) => void) | undefined;
  readonly #prefix: number;
  /** The frame object handed to every callback; mutated per frame. */
  readonly #frame: Frame = {
    kind: "request",
    session: 0,
    cmd: 0,
    traceHi: 0,
    traceLo: 0,
    payload: EMPTY,
  };
  /** Bytes of a split length prefix. */
  readonly #prefixBytes = new Uint8Array(4);
  #prefixHave = 0;
  /** The body length read from a complete prefix whose body has not begun. */
  #bodyLength = 0;
  /** Buffer of a frame that spans chunks (grown as bytes arrive); null when none. */
  #body: Uint8Array | null = null;
  #bodyHave = 0;
  /** The length the spanning frame's prefix announced. */
  #bodyWant = 0;
  #limit: number;
  #limitName = "hard limit";
  #failed: WeftError | null = null;
  /** Reused for bodies that span chunks; see `#spanBuffer`. */
  #scratch: Uint8Array | null = null;

  /**
   * Creates a decoder.
   *
   * @param options Framing, hard and soft limits, soft-limit hook.
   * @throws {TypeError} If an option has the wrong type.
   * @throws {RangeError} If an option is out of range.
   */
  constructor(options: FrameDecoderOptions = {}) {
    this.framing = checkFraming(options.framing);
    this.hardLimit = Math.min(
      checkLimit(options.hardLimit, "hardLimit", DEFAULT_HARD_LIMIT),
      maxBodyLength(this.framing),
    );
    this.softLimit = checkLimit(options.softLimit, "softLimit", DEFAULT_SOFT_LIMIT);
    if (options.onSoftLimit !== undefined && typeof options.onSoftLimit !== "function") {
      throw new TypeError("Invalid option onSoftLimit: expected a function");
    }
    this.#onSoftLimit = options.onSoftLimit;
    this.#prefix = prefixSize(this.framing);
    this.#limit = this.hardLimit;
  }

  /**
   * The largest body accepted now: the hard limit, unless lowered with
   * {@linkcode FrameDecoder.prototype.setLimit}.
   */
  get limit(): number {
    return this.#limit;
  }

  /**
   * Sets the largest body accepted from the next length prefix on (a frame
   * whose prefix was already read is not affected), e.g. the handshake
   * frame's size until a handshake completes. Over it, decoding fails with
   * `frame too large`, naming `name`.
   *
   * @param limit Bytes, at most the hard limit; omitted: back to the hard limit.
   * @param name How the error message names the limit.
   * @throws {RangeError} If `limit` is not an integer from 4 to the hard limit.
   */
  setLimit(limit: number = this.hardLimit, name = "hard limit"): void {
    if (!Number.isInteger(limit) || limit < 4 || limit > this.hardLimit) {
      throw new RangeError(
        `Invalid limit: expected an integer from 4 to the hard limit ${this.hardLimit}, got ${limit}`,
      );
    }
    this.#limit = limit;
    this.#limitName = limit === this.hardLimit ? "hard limit" : name;
  }

  /** Bytes held for a frame that spans chunks (prefix included). */
  get buffered(): number {
    return this.#prefixHave + this.#bodyHave;
  }

  /** Bytes of the buffer holding the frame that spans chunks now (0 when none). */
  get allocated(): number {
    return this.#body?.length ?? 0;
  }

  /** The error that stopped this decoder, or null while it is healthy. */
  get error(): WeftError | null {
    return this.#failed;
  }

  /** Forgets any partial frame and any earlier error. */
  reset(): void {
    this.#prefixHave = 0;
    this.#body = null;
    this.#bodyHave = 0;
    this.#bodyWant = 0;
    this.#failed = null;
  }

  /**
   * Feeds one chunk and calls `onFrame` for each complete frame in order.
   *
   * The chunk is only read during this call; the decoder copies what it must
   * keep. Frame payloads may be views of `chunk`.
   *
   * @param chunk The next bytes of the stream.
   * @param onFrame Called synchronously for each frame.
   * @throws {WeftError} On malformed input (see the class docs).
   */
  decode(chunk: Uint8Array, onFrame: FrameHandler): void {
    if (this.#failed !== null) {
      throw new WeftError("decoder failed", "Cannot decode: the stream already failed", {
        cause: this.#failed,
      });
    }
    try {
      this.#decode(chunk, onFrame);
    } catch (error) {
      this.#failed = error instanceof WeftError
        ? error
        : new WeftError("decoder failed", "Cannot decode: the frame handler threw", {
          cause: error,
        });
      throw error;
    }
  }

  #decode(chunk: Uint8Array, onFrame: FrameHandler): void {
    const len = chunk.length;
    const prefix = this.#prefix;
    let pos = 0;

    // Finish a frame left over from earlier chunks.
    if (this.#prefixHave > 0 || this.#body !== null) {
      if (this.#body === null) {
        let bodyLength = this.#bodyLength;
        if (this.#prefixHave < prefix) {
          while (this.#prefixHave < prefix && pos < len) {
            this.#prefixBytes[this.#prefixHave++] = chunk[pos++]!;
          }
          if (this.#prefixHave < prefix) return;
          bodyLength = this.#readLength(this.#prefixBytes, 0);
        }
        if (len - pos >= bodyLength) {
          // The rest of the frame lies in this chunk: no copy needed.
          this.#prefixHave = 0;
          this.#emit(chunk, pos, bodyLength, onFrame);
          pos += bodyLength;
        } else if (pos === len) {
          this.#bodyLength = bodyLength;
          return;
        } else {
          this.#bodyWant = bodyLength;
          this.#bodyHave = 0;
          this.#body = this.#spanBuffer(null, len - pos);
        }
      }
      if (this.#body !== null) {
        const want = this.#bodyWant;
        const take = Math.min(want - this.#bodyHave, len - pos);
        const need = this.#bodyHave + take;
        if (need > this.#body.length) this.#body = this.#spanBuffer(this.#body, need);
        const body = this.#body;
        body.set(chunk.subarray(pos, pos + take), this.#bodyHave);
        this.#bodyHave = need;
        pos += take;
        if (need < want) return;
        this.#body = null;
        this.#bodyHave = 0;
        this.#prefixHave = 0;
        this.#emit(body, 0, want, onFrame);
      }
    }

    while (pos < len) {
      if (len - pos < prefix) {
        while (pos < len) this.#prefixBytes[this.#prefixHave++] = chunk[pos++]!;
        return;
      }
      const bodyLength = this.#readLength(chunk, pos);
      pos += prefix;
      if (len - pos >= bodyLength) {
        this.#emit(chunk, pos, bodyLength, onFrame);
        pos += bodyLength;
      } else if (pos === len) {
        // The chunk ends right after the prefix: keep only the length, so
        // that a body arriving whole in the next chunk is still a view.
        this.#bodyLength = bodyLength;
        this.#prefixHave = prefix;
        return;
      } else {
        // The frame spans chunks: copy what came, into a buffer that grows
        // as the rest arrives.
        this.#bodyWant = bodyLength;
        const body = this.#spanBuffer(null, len - pos);
        body.set(chunk.subarray(pos));
        this.#body = body;
        this.#bodyHave = len - pos;
        this.#prefixHave = prefix;
        return;
      }
    }
  }

  /**
   * A buffer that holds at least `need` bytes of the spanning body (whose
   * announced length is `#bodyWant`), with the `#bodyHave` bytes of `old`
   * copied in. Small bodies (at most {@linkcode MAX_REUSED_BODY}) use the
   * reused scratch buffer; larger ones a buffer of their own, so one huge
   * frame does not stay allocated. Either grows by doubling, from
   * {@linkcode MIN_BODY_BUFFER}, and never past the announced length: what
   * is allocated follows what arrived, not what the prefix claims.
   */
  #spanBuffer(old: Uint8Array | null, need: number): Uint8Array {
    const want = this.#bodyWant;
    const reuse = want <= MAX_REUSED_BODY;
    const scratch = this.#scratch;
    if (reuse && scratch !== null && scratch.length >= need && old !== scratch) {
      if (old !== null) scratch.set(old.subarray(0, this.#bodyHave));
      return scratch;
    }
    const size = Math.min(want, Math.max(need, 2 * (old?.length ?? 0), MIN_BODY_BUFFER));
    const grown = new Uint8Array(size);
    if (old !== null) grown.set(old.subarray(0, this.#bodyHave));
    if (reuse && (scratch === null || size > scratch.length)) this.#scratch = grown;
    return grown;
  }

  /** Reads and checks a length prefix at `at`. */
  #readLength(bytes: Uint8Array, at: number): number {
    const bodyLength = this.#prefix === 4
      ? (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
      : (bytes[at]! << 8) | bytes[at + 1]!;
    if (bodyLength > this.#limit) {
      throw new WeftError(
        "frame too large",
        `Cannot decode frame: length ${bodyLength} exceeds ${this.#limitName} ${this.#limit}`,
      );
    }
    if (bodyLength < RESPONSE_HEADER_SIZE) {
      throw new WeftError(
        "frame too short",
        `Cannot decode frame: body of ${bodyLength} bytes is shorter than 4`,
      );
    }
    if (bodyLength > this.softLimit && this.#onSoftLimit !== undefined) {
      this.#onSoftLimit(bodyLength);
    }
    return bodyLength;
  }

  /** Fills the shared frame from the body at `bytes[at .. at + n)` and hands it out. */
  #emit(bytes: Uint8Array, at: number, n: number, onFrame: FrameHandler): void {
    const frame = this.#frame;
    if (this.framing === "v2") {
      const raw = readU32(bytes, at);
      if ((raw & RESPONSE_FLAG) !== 0) {
        frame.kind = "response";
        frame.session = raw & 0x7fffffff;
        frame.cmd = 0;
        frame.traceHi = 0;
        frame.traceLo = 0;
        frame.payload = bytes.subarray(at + RESPONSE_HEADER_SIZE, at + n);
      } else {
        if (n < REQUEST_HEADER_SIZE) {
          throw new WeftError(
            "request too short",
            `Cannot decode request: body of ${n} bytes is shorter than its 16-byte header`,
          );
        }
        frame.kind = "request";
        frame.session = raw;
        frame.cmd = readU32(bytes, at + 4);
        frame.traceLo = readU32(bytes, at + 8);
        frame.traceHi = readU32(bytes, at + 12);
        frame.payload = bytes.subarray(at + REQUEST_HEADER_SIZE, at + n);
      }
    } else {
      const end = at + n;
      const raw = readU32(bytes, end - 4);
      if ((raw & RESPONSE_FLAG) !== 0) {
        frame.kind = "response";
        frame.session = raw & 0x7fffffff;
        frame.cmd = 0;
        frame.traceHi = 0;
        frame.traceLo = 0;
        frame.payload = bytes.subarray(at, end - RESPONSE_HEADER_SIZE);
      } else {
        if (n < REQUEST_HEADER_SIZE) {
          throw new WeftError(
            "frame too short",
            `Cannot decode request: body of ${n} bytes is too short for its 16-byte trailer`,
          );
        }
        frame.kind = "request";
        frame.session = raw;
        frame.cmd = readU32(bytes, end - 8);
        frame.traceHi = readU32(bytes, end - 12);
        frame.traceLo = readU32(bytes, end - 16);
        frame.payload = bytes.subarray(at, end - REQUEST_HEADER_SIZE);
      }
    }
    onFrame(frame);
  }
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}
