/**
 * The MessagePack codec, through `@msgpack/msgpack` (pure TypeScript, no
 * dependencies), with one reused encoder and decoder per codec.
 *
 * What round-trips:
 *
 * | value | on the wire | decodes as |
 * | --- | --- | --- |
 * | `null`, booleans, numbers, strings, arrays, plain objects | MessagePack's own types | the same |
 * | `Uint8Array` | bin | a `Uint8Array` (a view of a private copy of the payload: the cluster's lent view is never kept) |
 * | `Date` | the timestamp extension (-1) | a `Date` (millisecond precision; an invalid `Date` is a marshal failure) |
 * | `bigint` (with `bigint: true`, the default) | int 64 / uint 64 | a `bigint` |
 * | `Map` (any keys), `Set` | weft's extension types {@linkcode MAP_EXT_TYPE} and {@linkcode SET_EXT_TYPE} | a `Map`, a `Set` |
 *
 * What does not:
 *
 * - `undefined` inside an object or array becomes `null`. A request body of
 *   `undefined` travels as an empty payload and decodes back to `undefined`;
 *   a handler result of `undefined` means "no response" (silly's `nil`).
 * - With `bigint: true`, every int 64 / uint 64 on the wire decodes as a
 *   `bigint`: numbers written by another implementation (a Lua peer's
 *   integers from 2^32 up, say) arrive as bigints. JavaScript numbers from
 *   2^32 up are written as float 64, so they come back as numbers. A bigint
 *   outside the int 64 / uint 64 range is a marshal failure. With
 *   `bigint: false`, a bigint is a marshal failure and 64-bit integers decode
 *   as (possibly rounded) numbers.
 * - Other typed arrays and `DataView` are written as bin and decode as a
 *   `Uint8Array` of their bytes. An `ArrayBuffer`, a `RegExp` or an `Error`
 *   has no enumerable properties and is written as an empty map. Class
 *   instances are written as plain maps of their own enumerable properties.
 * - A map's keys on decoding must be strings or numbers (the library's rule;
 *   `__proto__` is refused); use a `Map` for other keys.
 * - `Map` and `Set` use extension types that only weft knows. For a peer
 *   that speaks plain MessagePack (a silly node), set `extensions: false`:
 *   a `Map` or `Set` in a body is then a marshal failure instead of being
 *   written as an empty map, as the library would do.
 * - Malformed strings decode with U+FFFD in place of bad UTF-8.
 *
 * Functions, symbols, cycles and nesting deeper than 100 levels make
 * `marshal` throw a `WeftError` with code `marshal failed`; malformed input,
 * and a received body with more values than `maxElements` or nesting
 * deeper than `maxDepth` (both checked before decoding), make `unmarshal`
 * throw one with code `unmarshal failed`.
 *
 * @example Round trip through the hooks, as the cluster calls them
 * ```ts
 * import { msgpack } from "@weft/cluster/msgpack";
 *
 * const codec = msgpack({ commands: { put: 1 } });
 * const body = { id: 1n << 60n, at: new Date(0), tags: new Set(["a"]), raw: new Uint8Array([1]) };
 * const [cmd, bytes] = codec.marshal("request", "put", body)!;
 * if (cmd !== 1 || !(bytes instanceof Uint8Array)) throw new Error("unexpected result");
 * const back = codec.unmarshal("request", 1, bytes) as typeof body;
 * if (back.id !== 1n << 60n || back.at.getTime() !== 0) throw new Error("unexpected result");
 * if (!back.tags.has("a") || back.raw[0] !== 1) throw new Error("unexpected result");
 * ```
 *
 * @module
 */

import {
  Decoder,
  decodeTimestampExtension,
  Encoder,
  encodeTimestampExtension,
  EXT_TIMESTAMP,
  ExtensionCodec,
} from "@msgpack/msgpack";
import { makeHooks } from "./_hooks.ts";
import { checkBodyLimits, scanMsgpack, withinByLength } from "./_limits.ts";
import { type Commands, type CommandTable, type TableCodec, toCommands } from "./commands.ts";

/** The MessagePack extension type a `Map` travels as: an array of keys and values, alternating. */
export const MAP_EXT_TYPE = 1;

/** The MessagePack extension type a `Set` travels as: an array of its values. */
export const SET_EXT_TYPE = 2;

/** How deep objects may nest, `Map` and `Set` levels included. */
export const MAX_DEPTH = 100;

/** Options of {@linkcode msgpack}. */
export interface MsgpackOptions<T extends CommandTable = CommandTable> {
  /**
   * The command table that maps names to numbers. Without one, every `cmd`
   * must already be a number.
   */
  commands?: T | Commands<T>;
  /**
   * Whether bigints are written as int 64 / uint 64, and those decode as
   * bigints. When `false`, a bigint is a marshal failure and 64-bit integers
   * decode as numbers.
   *
   * @default {true}
   */
  bigint?: boolean;
  /**
   * Whether `Map` and `Set` travel as weft's extension types
   * ({@linkcode MAP_EXT_TYPE}, {@linkcode SET_EXT_TYPE}). When `false`, a
   * `Map` or `Set` in a body is a marshal failure, and those extension types
   * are not decoded: use it with peers that speak plain MessagePack.
   *
   * @default {true}
   */
  extensions?: boolean;
  /**
   * Largest number of values in a received body (arrays, maps and their
   * keys included). Checked by a scan of the bytes before decoding, so a
   * peer's body of empty maps (one byte each, about 60 bytes of heap each)
   * cannot grow the heap tens of times the body: over it, `unmarshal` fails
   * with `unmarshal failed`.
   *
   * @default {1000000}
   */
  maxElements?: number;
  /**
   * Deepest nesting of arrays, maps, `Map`s and `Set`s in a received body
   * (a `Map` or `Set` counts two levels: its extension and the array it
   * travels as); deeper is an `unmarshal failed`, before decoding.
   *
   * @default {100}
   */
  maxDepth?: number;
}

const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

interface EncoderInternals {
  encodeBigInt64(value: bigint): void;
}

// The library writes a bigint outside the 64-bit range modulo 2^64 without a
// word; refuse it instead. encodeBigInt64 is the one place bigints are
// written (library version pinned; the tests cover the refusal).
function guardBigInt(encoder: Encoder): Encoder {
  const internals = encoder as unknown as EncoderInternals;
  const write = internals.encodeBigInt64;
  if (typeof write !== "function") {
    throw new Error("Cannot create msgpack codec: @msgpack/msgpack has no encodeBigInt64");
  }
  internals.encodeBigInt64 = function (this: EncoderInternals, value: bigint) {
    if (value < INT64_MIN || value > UINT64_MAX) {
      throw new RangeError(`bigint ${value} is outside the 64-bit integer range`);
    }
    write.call(this, value);
  };
  return encoder;
}

// Up to this many bytes, a payload is scanned for bin markers before it is
// copied; a larger one is copied without looking (the copy is cheap next to
// decoding it, and allocating one is what costs for a small payload).
const SCAN_LIMIT = 4096;

// Whether `bytes` may hold a bin value (0xc4..0xc6, bin 8/16/32), including
// inside Map/Set extensions, whose data is decoded from the same bytes.
// A false positive (the byte inside a number or a string) only costs a copy.
function mayHoldBin(bytes: Uint8Array): boolean {
  if (bytes.length > SCAN_LIMIT) return true;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte >= 0xc4 && byte <= 0xc6) return true;
  }
  return false;
}

/**
 * Creates a MessagePack codec. Spread it into the cluster's options in place
 * of `marshal`/`unmarshal`, pass it as the `codec` option, or use its two
 * hooks on their own: they are silly-style hooks.
 *
 * Each codec owns one encoder per nesting level of `Map`/`Set` and one
 * decoder, reused across calls (faster than the library's
 * per-call `encode()`: 2 to 5 times as fast on a small object, see
 * bench/codec_bench.ts); a codec is used from one thread, as JavaScript is.
 *
 * @typeParam T The declared command table.
 * @param options The command table, and how bigints, maps and sets travel.
 * @returns The hook pair (and its `commands`, when given a table).
 * @throws {TypeError} If the command table is malformed (see {@linkcode Commands}).
 * @throws {RangeError} If `maxElements` or `maxDepth` is not a positive integer.
 *
 * @example Maps with any keys, and a body MessagePack cannot encode
 * ```ts
 * import { msgpack } from "@weft/cluster/msgpack";
 * import { isWeftError } from "@weft/cluster";
 *
 * const codec = msgpack();
 * const map = new Map<unknown, string>([[1, "one"], [true, "yes"]]);
 * const [, bytes] = codec.marshal("request", 3, map)!;
 * const back = codec.unmarshal("request", 3, bytes as Uint8Array) as Map<unknown, string>;
 * if (back.get(1) !== "one" || back.get(true) !== "yes") throw new Error("unexpected result");
 *
 * let code = "";
 * try {
 *   codec.marshal("request", 3, { callback: () => {} });
 * } catch (error) {
 *   if (isWeftError(error)) code = error.code;
 * }
 * if (code !== "marshal failed") throw new Error("unexpected result");
 * ```
 */
export function msgpack<T extends CommandTable = CommandTable>(
  options: MsgpackOptions<T> = {},
): TableCodec<T> {
  const useBigInt64 = options.bigint ?? true;
  const extensions = options.extensions ?? true;
  const commands = options.commands === undefined ? undefined : toCommands(options.commands);
  const extensionCodec = new ExtensionCodec();
  const limits = checkBodyLimits(options);
  const nested = extensions ? [MAP_EXT_TYPE, SET_EXT_TYPE] : [];
  // The library's own length checks, as a second guard (its defaults are 2^32 - 1).
  const most = Math.min(limits.maxElements, 0xffffffff);

  // encoders[d] encodes at Map/Set nesting depth d; depth 0 is the body.
  const encoders: Encoder[] = [];
  let depth = 0;
  const encodeAt = (value: unknown, shared: boolean): Uint8Array => {
    if (depth >= MAX_DEPTH) throw new RangeError(`nesting is deeper than ${MAX_DEPTH} levels`);
    let encoder = encoders[depth];
    if (encoder === undefined) {
      encoder = guardBigInt(new Encoder({ extensionCodec, useBigInt64, maxDepth: MAX_DEPTH }));
      encoders[depth] = encoder;
    }
    depth++;
    try {
      // An extension's bytes are copied into the enclosing encoder at once,
      // so they may be a view of this encoder's buffer.
      return shared ? encoder.encodeSharedRef(value) : encoder.encode(value);
    } finally {
      depth--;
    }
  };
  const decoder = new Decoder({
    extensionCodec,
    useBigInt64,
    maxArrayLength: most,
    maxMapLength: most,
  });

  // The library writes an invalid Date as the epoch; refuse it instead.
  extensionCodec.register({
    type: EXT_TIMESTAMP,
    encode(value) {
      if (!(value instanceof Date)) return null;
      if (Number.isNaN(value.getTime())) throw new RangeError("an invalid Date has no timestamp");
      return encodeTimestampExtension(value);
    },
    decode: decodeTimestampExtension,
  });
  extensionCodec.register({
    type: MAP_EXT_TYPE,
    encode(value) {
      if (!(value instanceof Map)) return null;
      if (!extensions) throw new TypeError("a Map has no MessagePack form with extensions off");
      const flat: unknown[] = [];
      for (const [key, item] of value) flat.push(key, item);
      return encodeAt(flat, true);
    },
    decode(data) {
      if (!extensions) throw new RangeError(`extension type ${MAP_EXT_TYPE} is off`);
      const flat = decoder.decode(data);
      if (!Array.isArray(flat) || flat.length % 2 !== 0) {
        throw new RangeError("a Map extension must hold an even-length array");
      }
      const map = new Map<unknown, unknown>();
      for (let i = 0; i < flat.length; i += 2) map.set(flat[i], flat[i + 1]);
      return map;
    },
  });
  extensionCodec.register({
    type: SET_EXT_TYPE,
    encode(value) {
      if (!(value instanceof Set)) return null;
      if (!extensions) throw new TypeError("a Set has no MessagePack form with extensions off");
      return encodeAt([...value], true);
    },
    decode(data) {
      if (!extensions) throw new RangeError(`extension type ${SET_EXT_TYPE} is off`);
      const items = decoder.decode(data);
      if (!Array.isArray(items)) throw new RangeError("a Set extension must hold an array");
      return new Set(items);
    },
  });

  return makeHooks({
    name: "MessagePack",
    encode(body) {
      if (body === undefined) return new Uint8Array(0);
      return encodeAt(body, false);
    },
    decode(bytes) {
      if (bytes.length === 0) return undefined;
      if (!withinByLength(bytes.length, limits)) scanMsgpack(bytes, limits, nested);
      // bin values decode as views of the input, which is only lent to the
      // hook: then decode a copy, so the views stay valid.
      return decoder.decode(mayHoldBin(bytes) ? bytes.slice() : bytes);
    },
  }, commands);
}
