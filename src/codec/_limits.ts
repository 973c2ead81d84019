// Private: the element and depth limits of the JSON and MessagePack codecs.
// A body is scanned (one pass over its bytes, no allocation) before it is
// decoded, so a peer cannot make a small body expand into a huge heap: an
// empty map is one byte of MessagePack and about 60 bytes of heap.

/** Default largest number of values in one body (containers included). */

import { limitOption } from "../_limit_option.ts";
export const DEFAULT_MAX_ELEMENTS = 1_000_000;

/** Default deepest nesting of arrays and objects (maps, sets) in one body. */
export const DEFAULT_MAX_DEPTH = 100;

/** The limits of one codec, validated. */
export interface BodyLimits {
  readonly maxElements: number;
  readonly maxDepth: number;
}

/**
 * Validates `maxElements` and `maxDepth`.
 *
 * @throws {TypeError} If one is not a number.
 * @throws {RangeError} If one is not a positive integer (or Infinity).
 */
export function checkBodyLimits(
  options: { maxElements?: number | undefined; maxDepth?: number | undefined },
): BodyLimits {
  return {
    maxElements: limitOption(options.maxElements, "maxElements", DEFAULT_MAX_ELEMENTS),
    maxDepth: limitOption(options.maxDepth, "maxDepth", DEFAULT_MAX_DEPTH),
  };
}

/**
 * True when a body of `n` bytes cannot break the limits: every value takes
 * at least one byte, and so does every level of nesting.
 */
export function withinByLength(n: number, limits: BodyLimits): boolean {
  return n <= limits.maxElements && n <= limits.maxDepth;
}

function tooMany(limits: BodyLimits): RangeError {
  return new RangeError(`more than maxElements ${limits.maxElements} values`);
}

function tooDeep(limits: BodyLimits): RangeError {
  return new RangeError(`nesting deeper than maxDepth ${limits.maxDepth}`);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Counts the values of a UTF-8 JSON text (containers, plus the values they
 * hold; object keys are not values) and its nesting depth, and throws
 * before either goes over its limit. Malformed JSON is left to `JSON.parse`.
 *
 * @throws {RangeError} Naming the limit.
 */
export function scanJson(bytes: Uint8Array, limits: BodyLimits): void {
  const { maxElements, maxDepth } = limits;
  // The top-level value, then each container's items: its commas plus one
  // when it is not empty (an object's items are its values, not its keys).
  let values = 1;
  let depth = 0;
  let prev = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    switch (b) {
      case QUOTE:
        // Skip the string; an escape hides the byte after it.
        for (i++; i < n; i++) {
          const c = bytes[i]!;
          if (c === BACKSLASH) i++;
          else if (c === QUOTE) break;
        }
        break;
      case OPEN_ARRAY:
      case OPEN_OBJECT:
        if (++depth > maxDepth) throw tooDeep(limits);
        break;
      case CLOSE_ARRAY:
      case CLOSE_OBJECT:
        depth--;
        // A container that is not empty holds one more item than its commas.
        if (prev !== OPEN_ARRAY && prev !== OPEN_OBJECT && ++values > maxElements) {
          throw tooMany(limits);
        }
        break;
      case COMMA:
        if (++values > maxElements) throw tooMany(limits);
        break;
      case 0x20:
      case 0x09:
      case 0x0a:
      case 0x0d:
        continue;
    }
    prev = b;
  }
}

/** Reads a big-endian unsigned integer of `size` bytes at `at` (the caller checked the bounds). */
function be(bytes: Uint8Array, at: number, size: number): number {
  let v = 0;
  for (let k = 0; k < size; k++) v = v * 256 + bytes[at + k]!;
  return v;
}

/**
 * Counts the values of a MessagePack body (containers and map keys
 * included) and its nesting depth, and throws before either goes over its
 * limit. The data of the extension types in `nested` (weft's Map and Set,
 * which decode into containers) is scanned too: the extension is one level
 * and the array in its data another. Malformed
 * or truncated input ends the scan; the decoder reports it.
 *
 * @throws {RangeError} Naming the limit.
 */
export function scanMsgpack(
  bytes: Uint8Array,
  limits: BodyLimits,
  nested: readonly number[],
): void {
  scanMsgpackAt(bytes, limits, nested, { values: 0 }, 0);
}

function scanMsgpackAt(
  bytes: Uint8Array,
  limits: BodyLimits,
  nested: readonly number[],
  count: { values: number },
  baseDepth: number,
): void {
  const { maxElements, maxDepth } = limits;
  const n = bytes.length;
  // Items still to read in each open container, innermost last.
  const open: number[] = [];
  let pos = 0;
  while (pos < n) {
    if (++count.values > maxElements) throw tooMany(limits);
    const t = bytes[pos]!;
    let container = false;
    let items = 0; // a container's items
    let skip = 1; // bytes of this value when it is not a container
    if (t <= 0x7f || t >= 0xe0) skip = 1;
    else if (t <= 0x9f) {
      // fixmap (keys and values), fixarray
      container = true;
      items = t <= 0x8f ? 2 * (t & 0x0f) : t & 0x0f;
    } else if (t <= 0xbf) skip = 1 + (t & 0x1f); // fixstr
    else {
      const need = (k: number) => pos + k <= n;
      switch (t) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          skip = 1;
          break;
        case 0xc4: // bin 8, str 8
        case 0xd9:
          if (!need(2)) return;
          skip = 2 + bytes[pos + 1]!;
          break;
        case 0xc5: // bin 16, str 16
        case 0xda:
          if (!need(3)) return;
          skip = 3 + be(bytes, pos + 1, 2);
          break;
        case 0xc6: // bin 32, str 32
        case 0xdb:
          if (!need(5)) return;
          skip = 5 + be(bytes, pos + 1, 4);
          break;
        case 0xc7: // ext 8, 16, 32: length, type, data
        case 0xc8:
        case 0xc9:
        case 0xd4: // fixext 1, 2, 4, 8, 16: type, data
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8: {
          const lengthSize = t === 0xc7 ? 1 : t === 0xc8 ? 2 : t === 0xc9 ? 4 : 0;
          if (!need(2 + lengthSize)) return;
          const length = lengthSize > 0 ? be(bytes, pos + 1, lengthSize) : 1 << (t - 0xd4);
          const type = (bytes[pos + 1 + lengthSize]! << 24) >> 24;
          const start = pos + 2 + lengthSize;
          skip = 2 + lengthSize + length;
          if (nested.includes(type) && start + length <= n) {
            // The extension is a level, and the array its data holds another:
            // every nesting, even an extension straight inside another, is
            // counted before it is scanned.
            const depth = baseDepth + open.length + 1;
            if (depth > maxDepth) throw tooDeep(limits);
            scanMsgpackAt(bytes.subarray(start, start + length), limits, nested, count, depth);
          }
          break;
        }
        case 0xca:
          skip = 5;
          break;
        case 0xcb:
          skip = 9;
          break;
        case 0xcc:
        case 0xd0:
          skip = 2;
          break;
        case 0xcd:
        case 0xd1:
          skip = 3;
          break;
        case 0xce:
        case 0xd2:
          skip = 5;
          break;
        case 0xcf:
        case 0xd3:
          skip = 9;
          break;
        case 0xdc: // array 16, 32
        case 0xdd:
          if (!need(t === 0xdc ? 3 : 5)) return;
          container = true;
          items = be(bytes, pos + 1, t === 0xdc ? 2 : 4);
          skip = t === 0xdc ? 3 : 5;
          break;
        case 0xde: // map 16, 32
        case 0xdf:
          if (!need(t === 0xde ? 3 : 5)) return;
          container = true;
          items = 2 * be(bytes, pos + 1, t === 0xde ? 2 : 4);
          skip = t === 0xde ? 3 : 5;
          break;
        default: // 0xc1: never used; the decoder refuses it
          return;
      }
    }
    pos += skip;
    // The value just read fills one slot of the container it is in.
    if (open.length > 0) open[open.length - 1]!--;
    if (container) {
      if (baseDepth + open.length + 1 > maxDepth) throw tooDeep(limits);
      if (items > 0) {
        open.push(items);
        continue;
      }
    }
    while (open.length > 0 && open[open.length - 1] === 0) open.pop();
    if (open.length === 0) return; // the top-level value is complete
  }
}
