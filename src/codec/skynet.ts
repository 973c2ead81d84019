/**
 * skynet's value format: what `skynet.pack(...)` writes and
 * `skynet.unpack(msg, sz)` reads (skynet's `lualib-src/lua-seri.c`), byte
 * for byte, so weft can read and write the bodies of skynet's cluster
 * messages.
 *
 * A packed message is a sequence of values (Lua's multiple values):
 * {@linkcode packValues} and {@linkcode unpackValues} work on that list.
 * How JavaScript values map:
 *
 * | Lua (skynet.pack) | JavaScript |
 * | --- | --- |
 * | `nil` | `null` (`undefined` packs as `nil` too) |
 * | `true`, `false` | booleans |
 * | integer (0, u8, u16, i32, i64) | a number when it is a safe integer (within ±(2^53 − 1)), else a `bigint`; a safe-integer number packs as an integer, a `bigint` as an integer of int64 range |
 * | float | a number (`NaN`, `±Infinity`, `-0` included); a number that is not a safe integer, or `-0`, packs as a float; {@linkcode LuaFloat} packs an integral value as a float (and `keepFloats` decodes integral floats as `LuaFloat`) |
 * | string | a `string` when its bytes are valid UTF-8 (`strings: "auto"`, the default), else a `Uint8Array`; with `strings: "bytes"` always a `Uint8Array`. A `string` packs as UTF-8, a `Uint8Array` as its bytes |
 * | table with only an array part (`{1, 2, 3}`) | an `Array` (a `nil` inside is `null`) |
 * | table with only string keys (`{a = 1}`) | a plain object |
 * | the empty table `{}` | `[]` (it reads as an empty list and as an object without keys) |
 * | any other table (array and hash parts, keys that are not strings: `{1, 2, k = "v"}`, `{[10] = "x"}`, `{[true] = 1}`) | a `Map`, the array part first under keys 1, 2, ... |
 * | a light userdata (a C pointer) | refused: a pointer means nothing to another process |
 *
 * Packing: an `Array` is a table's array part; a plain object (or one
 * without prototype) is a hash part of its own enumerable string keys
 * (`undefined` members left out); a `Map` is a table whose leading keys
 * 1, 2, 3, ... form the array part and whose other entries form the hash
 * part (keys must be strings, numbers other than `NaN`, booleans, bigints or
 * byte arrays). Anything else (functions, symbols, class instances such as
 * `Date` or `Set`, strings with lone surrogates, tables nested deeper than
 * skynet packs, bigints outside int64) is refused with a `WeftError`
 * (`marshal failed`) naming the value's path, e.g. `body.items[3].fn`.
 *
 * Limits against a hostile peer (options with safe defaults): `maxDepth`
 * tables nested (33, the deepest `skynet.pack` writes), `maxElements`
 * values in one message (1,000,000); an array size or string length larger
 * than the bytes left is refused before anything is allocated. Malformed
 * input (truncated, an unknown type, a bad length) is refused with a
 * `WeftError` (`unmarshal failed`) naming the byte offset.
 *
 * @example A request as skynet's `skynet.call(addr, "lua", "GET", "a")` packs it
 * ```ts
 * import { packValues, unpackValues } from "@weft/cluster/skynet";
 *
 * const bytes = packValues(["GET", "a"]);
 * // 0x1c "GET" (a short string of 3), 0x0c "a"
 * if (bytes.join(",") !== "28,71,69,84,12,97") throw new Error("unexpected result");
 * const [cmd, key] = unpackValues(bytes);
 * if (cmd !== "GET" || key !== "a") throw new Error("unexpected result");
 * ```
 *
 * @module
 */

import { exactUtf8Decoder, utf8Encoder } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import { makeHooks } from "./_hooks.ts";
import { type Commands, type CommandTable, type TableCodec, toCommands } from "./commands.ts";

/** skynet's `MAX_DEPTH` (32) plus the top table: how deep `skynet.pack` nests tables. */
export const DEFAULT_SKYNET_MAX_DEPTH = 33;

/** Default largest number of values in one received message (containers included). */
export const DEFAULT_SKYNET_MAX_ELEMENTS = 1_000_000;

/** The type tags of lua-seri.c, low 3 bits of each value's first byte. */
export const SeriType = {
  Nil: 0,
  Boolean: 1,
  Number: 2,
  Userdata: 3,
  ShortString: 4,
  LongString: 5,
  Table: 6,
} as const;

/** One of {@linkcode SeriType}'s values. */
export type SeriType = typeof SeriType[keyof typeof SeriType];

/** The number sub-tags of lua-seri.c (high 5 bits of a number's first byte). */
const NumberKind = { Zero: 0, Byte: 1, Word: 2, Dword: 4, Qword: 6, Real: 8 } as const;

/** Strings shorter than this are "short": their length is in the type byte. */
const MAX_COOKIE = 32;

/**
 * A Lua float whose value is integral (`1.0`): packs as a float where a
 * plain number `1` packs as an integer. `unpackValues` returns these for
 * integral floats when `keepFloats` is on, so such values round-trip byte
 * for byte.
 *
 * @example
 * ```ts
 * import { LuaFloat, packValues } from "@weft/cluster/skynet";
 *
 * if (packValues([new LuaFloat(1)])[0] !== 0x42) throw new Error("unexpected result"); // a real
 * if (packValues([1])[0] !== 0x0a) throw new Error("unexpected result"); // a byte integer
 * ```
 */
export class LuaFloat {
  /** The float's value. */
  readonly value: number;

  /**
   * Wraps a number to pack as a float.
   *
   * @param value Any number.
   * @throws {TypeError} If `value` is not a number.
   */
  constructor(value: number) {
    if (typeof value !== "number") throw new TypeError("Invalid LuaFloat: expected a number");
    this.value = value;
  }

  /** The value, so arithmetic and comparisons see the number. */
  valueOf(): number {
    return this.value;
  }
}

/**
 * Several Lua values where one body is expected: a handler's several
 * return values, a call's several arguments after the command. An `Array`
 * (so `const [key, value] = body` works) that packs as separate values,
 * where a plain array packs as one table. See {@linkcode bodyToValues}.
 *
 * @example
 * ```ts
 * import { bodyToValues, luaValues, packValues } from "@weft/cluster/skynet";
 *
 * const two = luaValues("k", "v");
 * if (bodyToValues(two).length !== 2) throw new Error("unexpected result");
 * if (bodyToValues(["k", "v"]).length !== 1) throw new Error("unexpected result"); // one table
 * if (packValues(bodyToValues(two)).length !== 4) throw new Error("unexpected result");
 * ```
 */
export class LuaValues extends Array<unknown> {
  /** Arrays made from one (`map`, `filter`, `slice`) are plain arrays: one table each. */
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
}

/**
 * Several Lua values as a {@linkcode LuaValues}.
 *
 * @param values The values, in order.
 * @returns Them, marked as several values.
 */
export function luaValues(...values: unknown[]): LuaValues {
  const out = new LuaValues();
  for (const value of values) out.push(value);
  return out;
}

/**
 * A message's values from one body: `undefined` is no value, a
 * {@linkcode LuaValues} is its values, anything else is one value.
 *
 * @param body A request's arguments after the command, or a handler's result.
 * @returns The values to pack.
 */
export function bodyToValues(body: unknown): unknown[] {
  if (body === undefined) return [];
  if (body instanceof LuaValues) return [...body];
  return [body];
}

/**
 * One body from a message's values: no value is `undefined`, one value is
 * itself, several are a {@linkcode LuaValues}.
 *
 * @param values The values unpacked.
 * @returns The body.
 */
export function valuesToBody(values: readonly unknown[]): unknown {
  if (values.length === 0) return undefined;
  if (values.length === 1) return values[0];
  return luaValues(...values);
}

/** Options of {@linkcode packValues}. */
export interface SkynetPackOptions {
  /**
   * How deep tables may nest. The default is what `skynet.pack` allows; a
   * larger value writes messages skynet reads but could not have written.
   *
   * @default {33}
   */
  maxDepth?: number;
  /**
   * The name of the values in error messages (`body` gives `body[1].x`).
   *
   * @default {"values"}
   */
  path?: string;
}

/** Options of {@linkcode unpackValues}. */
export interface SkynetUnpackOptions {
  /**
   * How Lua strings decode: `"auto"` gives a `string` when the bytes are
   * valid UTF-8 and a `Uint8Array` otherwise; `"bytes"` always gives a
   * `Uint8Array`.
   *
   * @default {"auto"}
   */
  strings?: "auto" | "bytes";
  /**
   * Decode floats with an integral value (`1.0`) as {@linkcode LuaFloat}, so
   * they pack back as floats (byte-exact round trips). Off: plain numbers.
   *
   * @default {false}
   */
  keepFloats?: boolean;
  /** How deep tables may nest. @default {33} */
  maxDepth?: number;
  /** Largest number of values in the message (tables and their keys included). @default {1000000} */
  maxElements?: number;
}

function positiveLimit(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || !(value === Infinity || (Number.isInteger(value) && value >= 1))
  ) {
    throw new RangeError(
      `Invalid option ${option}: expected a positive integer or Infinity, got ${String(value)}`,
    );
  }
  return value;
}

// ---- packing ---------------------------------------------------------------

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

class Writer {
  buffer = new Uint8Array(256);
  view = new DataView(this.buffer.buffer);
  length = 0;

  reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  byte(b: number): void {
    this.reserve(1);
    this.buffer[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buffer.set(b, this.length);
    this.length += b.length;
  }

  integer(v: number): void {
    // lua-seri.c wb_integer: the narrowest of zero, u8, u16, i32 (negative
    // values and those from 2^16 up), i64 (outside int32).
    if (v === 0) this.byte(SeriType.Number);
    else if (v < INT32_MIN || v > INT32_MAX) this.integer64(BigInt(v));
    else if (v < 0) {
      this.reserve(5);
      this.buffer[this.length] = SeriType.Number | (NumberKind.Dword << 3);
      this.view.setInt32(this.length + 1, v, true);
      this.length += 5;
    } else if (v < 0x100) {
      this.reserve(2);
      this.buffer[this.length] = SeriType.Number | (NumberKind.Byte << 3);
      this.buffer[this.length + 1] = v;
      this.length += 2;
    } else if (v < 0x10000) {
      this.reserve(3);
      this.buffer[this.length] = SeriType.Number | (NumberKind.Word << 3);
      this.view.setUint16(this.length + 1, v, true);
      this.length += 3;
    } else {
      this.reserve(5);
      this.buffer[this.length] = SeriType.Number | (NumberKind.Dword << 3);
      this.view.setUint32(this.length + 1, v, true);
      this.length += 5;
    }
  }

  integer64(v: bigint): void {
    this.reserve(9);
    this.buffer[this.length] = SeriType.Number | (NumberKind.Qword << 3);
    this.view.setBigInt64(this.length + 1, v, true);
    this.length += 9;
  }

  real(v: number): void {
    this.reserve(9);
    this.buffer[this.length] = SeriType.Number | (NumberKind.Real << 3);
    this.view.setFloat64(this.length + 1, v, true);
    this.length += 9;
  }

  string(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n < MAX_COOKIE) this.byte(SeriType.ShortString | (n << 3));
    else if (n < 0x10000) {
      this.reserve(3);
      this.buffer[this.length] = SeriType.LongString | (2 << 3);
      this.view.setUint16(this.length + 1, n, true);
      this.length += 3;
    } else if (n <= 0xffffffff) {
      this.reserve(5);
      this.buffer[this.length] = SeriType.LongString | (4 << 3);
      this.view.setUint32(this.length + 1, n, true);
      this.length += 5;
    } else throw new RangeError(`a string of ${n} bytes is over 4 GiB`);
    this.bytes(bytes);
  }

  tableHead(arraySize: number): void {
    if (arraySize >= MAX_COOKIE - 1) {
      this.byte(SeriType.Table | ((MAX_COOKIE - 1) << 3));
      this.integer(arraySize);
    } else this.byte(SeriType.Table | (arraySize << 3));
  }
}

/** A path segment: a property name or an index/key. */
type Segment = string | number | { key: unknown };

function formatPath(root: string, segments: Segment[]): string {
  let out = root;
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else if (typeof s === "string") {
      out += /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
    } else out += `[${describeKey(s.key)}]`;
  }
  return out;
}

function describeKey(key: unknown): string {
  if (typeof key === "string") return JSON.stringify(key);
  if (typeof key === "bigint") return `${key}n`;
  if (key instanceof Uint8Array) return `<${key.length} bytes>`;
  return String(key);
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return "an object";
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && name !== "" ? `an instance of ${name}` : "an object";
  }
  return typeof value;
}

class Packer {
  readonly out = new Writer();
  readonly path: Segment[] = [];

  readonly maxDepth: number;
  readonly root: string;

  constructor(maxDepth: number, root: string) {
    this.maxDepth = maxDepth;
    this.root = root;
  }

  fail(reason: string): never {
    throw new TypeError(`${formatPath(this.root, this.path)}: ${reason}`);
  }

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case "undefined":
        this.out.byte(SeriType.Nil);
        return;
      case "boolean":
        this.out.byte(SeriType.Boolean | ((v ? 1 : 0) << 3));
        return;
      case "number":
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) this.out.integer(v);
        else this.out.real(v);
        return;
      case "bigint":
        if (v < INT64_MIN || v > INT64_MAX) this.fail(`${v}n is outside int64, a Lua integer`);
        if (v >= BigInt(INT32_MIN) && v <= BigInt(INT32_MAX)) this.out.integer(Number(v));
        else this.out.integer64(v);
        return;
      case "string":
        if (!isWellFormed(v)) this.fail("a string with a lone surrogate is not valid UTF-8");
        this.out.string(utf8Encoder.encode(v));
        return;
      case "object":
        break;
      default:
        this.fail(
          `${
            kindOf(v)
          } cannot be packed (skynet.pack carries nil, booleans, numbers, strings and tables)`,
        );
    }
    if (v === null) {
      this.out.byte(SeriType.Nil);
      return;
    }
    if (v instanceof Uint8Array) {
      this.out.string(v);
      return;
    }
    if (v instanceof LuaFloat) {
      this.out.real(v.value);
      return;
    }
    // lua-seri.c pack_one: a table's contents are one level deeper; deeper
    // than MAX_DEPTH (32) fails, which allows 33 nested tables.
    if (depth + 1 > this.maxDepth) {
      this.fail(`tables nested deeper than ${this.maxDepth} (a cycle, or more than skynet packs)`);
    }
    if (Array.isArray(v)) return this.array(v, depth + 1);
    if (v instanceof Map) return this.map(v, depth + 1);
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      return this.object(v as Record<string, unknown>, depth + 1);
    }
    this.fail(`${kindOf(v)} cannot be packed (only arrays, plain objects and Maps are tables)`);
  }

  array(v: readonly unknown[], depth: number): void {
    const n = v.length;
    this.out.tableHead(n);
    for (let i = 0; i < n; i++) {
      this.path.push(i);
      this.value(v[i], depth);
      this.path.pop();
    }
    this.out.byte(SeriType.Nil);
  }

  object(v: Record<string, unknown>, depth: number): void {
    this.out.tableHead(0);
    for (const key of Object.keys(v)) {
      const item = v[key];
      if (item === undefined) continue;
      this.path.push(key);
      if (!isWellFormed(key)) this.fail("a key with a lone surrogate is not valid UTF-8");
      this.out.string(utf8Encoder.encode(key));
      this.value(item, depth);
      this.path.pop();
    }
    if (Object.getOwnPropertySymbols(v).length > 0) {
      this.fail("an object with symbol keys cannot be packed");
    }
    this.out.byte(SeriType.Nil);
  }

  map(v: ReadonlyMap<unknown, unknown>, depth: number): void {
    // The leading keys 1, 2, 3, ... are the array part (as Lua's rawlen
    // finds it); every other entry goes in the hash part, in the Map's order.
    let arraySize = 0;
    for (const key of v.keys()) {
      if (key === arraySize + 1) arraySize++;
      else break;
    }
    this.out.tableHead(arraySize);
    let i = 0;
    for (const [key, item] of v) {
      this.path.push({ key });
      if (i++ < arraySize) {
        this.value(item, depth);
      } else {
        this.key(key);
        this.value(item, depth);
      }
      this.path.pop();
    }
    this.out.byte(SeriType.Nil);
  }

  key(key: unknown): void {
    if (key === null || key === undefined) this.fail("a table key cannot be nil");
    if (typeof key === "number" && Number.isNaN(key)) this.fail("a table key cannot be NaN");
    if (
      typeof key === "string" || typeof key === "number" || typeof key === "boolean" ||
      typeof key === "bigint" || key instanceof Uint8Array || key instanceof LuaFloat
    ) {
      this.value(key, 0);
      return;
    }
    this.fail(
      `${
        kindOf(key)
      } cannot be a table key (keys are strings, numbers, booleans, bigints or bytes)`,
    );
  }
}

function isWellFormed(s: string): boolean {
  const f = (s as { isWellFormed?: () => boolean }).isWellFormed;
  if (f !== undefined) return f.call(s);
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

/**
 * Packs values as `skynet.pack(...)` does, byte for byte.
 *
 * @param values The values, in order (Lua's multiple values).
 * @param options `maxDepth`, and the name of the values in error messages.
 * @returns The packed bytes (empty for no values).
 * @throws {WeftError} `marshal failed` naming the path of a value that cannot be packed.
 * @throws {TypeError} If `values` is not an array.
 */
export function packValues(
  values: readonly unknown[],
  options: SkynetPackOptions = {},
): Uint8Array {
  if (!Array.isArray(values)) throw new TypeError("Invalid values: expected an array");
  const maxDepth = positiveLimit(options.maxDepth, "maxDepth", DEFAULT_SKYNET_MAX_DEPTH);
  const root = options.path ?? "values";
  const packer = new Packer(maxDepth, root);
  try {
    for (let i = 0; i < values.length; i++) {
      packer.path.push(i);
      packer.value(values[i], 0);
      packer.path.pop();
    }
  } catch (error) {
    throw new WeftError(
      "marshal failed",
      `Cannot pack skynet values: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return packer.out.buffer.slice(0, packer.out.length);
}

// ---- unpacking --------------------------------------------------------------

class Unpacker {
  at = 0;
  elements = 0;
  readonly view: DataView;

  readonly bytes: Uint8Array;
  readonly strings: "auto" | "bytes";
  readonly keepFloats: boolean;
  readonly maxDepth: number;
  readonly maxElements: number;

  constructor(
    bytes: Uint8Array,
    strings: "auto" | "bytes",
    keepFloats: boolean,
    maxDepth: number,
    maxElements: number,
  ) {
    this.bytes = bytes;
    this.strings = strings;
    this.keepFloats = keepFloats;
    this.maxDepth = maxDepth;
    this.maxElements = maxElements;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(reason: string, at = this.at): never {
    throw new RangeError(`at byte ${at}: ${reason}`);
  }

  need(n: number, what: string): void {
    if (this.bytes.length - this.at < n) {
      this.fail(`truncated: ${what} needs ${n} bytes, ${this.bytes.length - this.at} left`);
    }
  }

  count(): void {
    if (++this.elements > this.maxElements) {
      this.fail(`more than maxElements ${this.maxElements} values`);
    }
  }

  value(depth: number): unknown {
    this.need(1, "a value");
    const start = this.at;
    const head = this.bytes[this.at++]!;
    this.count();
    return this.push(head & 7, head >> 3, depth, start);
  }

  integer(cookie: number, start: number): number | bigint {
    switch (cookie) {
      case NumberKind.Zero:
        return 0;
      case NumberKind.Byte:
        this.need(1, "a u8 integer");
        return this.bytes[this.at++]!;
      case NumberKind.Word: {
        this.need(2, "a u16 integer");
        const v = this.view.getUint16(this.at, true);
        this.at += 2;
        return v;
      }
      case NumberKind.Dword: {
        this.need(4, "an i32 integer");
        const v = this.view.getInt32(this.at, true);
        this.at += 4;
        return v;
      }
      case NumberKind.Qword: {
        this.need(8, "an i64 integer");
        const v = this.view.getBigInt64(this.at, true);
        this.at += 8;
        // A safe integer is a number; beyond ±(2^53 - 1), a bigint.
        return v >= -0x1fffffffffffffn && v <= 0x1fffffffffffffn ? Number(v) : v;
      }
      default:
        return this.fail(`unknown number kind ${cookie}`, start);
    }
  }

  string(n: number): string | Uint8Array {
    this.need(n, `a string of ${n} bytes`);
    const raw = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    if (this.strings === "auto") {
      try {
        return exactUtf8Decoder.decode(raw);
      } catch {
        // not UTF-8: bytes
      }
    }
    return raw.slice();
  }

  push(type: number, cookie: number, depth: number, start: number): unknown {
    switch (type) {
      case SeriType.Nil:
        return null;
      case SeriType.Boolean:
        return cookie !== 0;
      case SeriType.Number: {
        if (cookie !== NumberKind.Real) return this.integer(cookie, start);
        this.need(8, "a float");
        const v = this.view.getFloat64(this.at, true);
        this.at += 8;
        return this.keepFloats && Number.isInteger(v) ? new LuaFloat(v) : v;
      }
      case SeriType.Userdata:
        return this.fail("a light userdata (a C pointer) means nothing to another process", start);
      case SeriType.ShortString:
        return this.string(cookie);
      case SeriType.LongString: {
        let n: number;
        if (cookie === 2) {
          this.need(2, "a u16 string length");
          n = this.view.getUint16(this.at, true);
          this.at += 2;
        } else if (cookie === 4) {
          this.need(4, "a u32 string length");
          n = this.view.getUint32(this.at, true);
          this.at += 4;
        } else return this.fail(`a long string with a ${cookie}-byte length`, start);
        return this.string(n);
      }
      case SeriType.Table:
        return this.table(cookie, depth + 1, start);
      default:
        return this.fail(`unknown type ${type}`, start);
    }
  }

  table(cookie: number, depth: number, start: number): unknown {
    if (depth > this.maxDepth) {
      this.fail(`tables nested deeper than maxDepth ${this.maxDepth}`, start);
    }
    let arraySize = cookie;
    if (cookie === MAX_COOKIE - 1) {
      this.need(1, "a table's array size");
      const head = this.bytes[this.at++]!;
      if ((head & 7) !== SeriType.Number || head >> 3 === NumberKind.Real) {
        this.fail("a table's array size is not an integer", this.at - 1);
      }
      const n = this.integer(head >> 3, this.at - 1);
      if (typeof n !== "number" || n < 0) this.fail(`a table's array size of ${n}`, start);
      arraySize = n;
    }
    // Each value takes a byte at least: a larger size is a lie; refuse it
    // before allocating anything.
    if (arraySize > this.bytes.length - this.at) {
      this.fail(
        `a table's array size of ${arraySize} is over the ${
          this.bytes.length - this.at
        } bytes left`,
        start,
      );
    }
    const array: unknown[] = new Array(arraySize);
    for (let i = 0; i < arraySize; i++) array[i] = this.value(depth);
    let map: Map<unknown, unknown> | undefined;
    let object: Record<string, unknown> | undefined;
    for (;;) {
      const keyAt = this.at;
      const key = this.value(depth);
      if (key === null) break;
      if (typeof key === "number" && Number.isNaN(key)) this.fail("a table key is NaN", keyAt);
      const item = this.value(depth);
      if (map === undefined && typeof key === "string" && arraySize === 0) {
        object ??= {};
        Object.defineProperty(object, key, {
          value: item,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        continue;
      }
      if (map === undefined) {
        map = new Map();
        for (let i = 0; i < arraySize; i++) map.set(i + 1, array[i]);
        if (object !== undefined) { for (const k of Object.keys(object)) map.set(k, object[k]); }
      }
      map.set(key instanceof LuaFloat ? key.value : key, item);
    }
    return map ?? object ?? array;
  }
}

/**
 * Unpacks a message as `skynet.unpack(msg, sz)` does: every value in it,
 * in order.
 *
 * @param bytes The packed bytes (not kept: strings are copied).
 * @param options How strings and integral floats decode, and the limits.
 * @returns The values (an empty array for an empty message).
 * @throws {WeftError} `unmarshal failed` naming the byte offset and what was wrong.
 * @throws {RangeError} For an invalid option.
 */
export function unpackValues(bytes: Uint8Array, options: SkynetUnpackOptions = {}): unknown[] {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("Invalid bytes: expected a Uint8Array");
  const strings = options.strings ?? "auto";
  if (strings !== "auto" && strings !== "bytes") {
    throw new RangeError(
      `Invalid option strings: expected "auto" or "bytes", got ${String(strings)}`,
    );
  }
  const unpacker = new Unpacker(
    bytes,
    strings,
    options.keepFloats === true,
    positiveLimit(options.maxDepth, "maxDepth", DEFAULT_SKYNET_MAX_DEPTH),
    positiveLimit(options.maxElements, "maxElements", DEFAULT_SKYNET_MAX_ELEMENTS),
  );
  const values: unknown[] = [];
  try {
    while (unpacker.at < bytes.length) values.push(unpacker.value(0));
  } catch (error) {
    throw new WeftError(
      "unmarshal failed",
      `Cannot unpack skynet values: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return values;
}

/**
 * The first value of a packed message and where it ends: how the skynet
 * protocol mode reads a request's command (the first value, by skynet's
 * `skynet.call(addr, "lua", cmd, ...)` convention) without unpacking the
 * rest.
 *
 * @param bytes The packed bytes (not kept).
 * @param options How strings decode, and the limits.
 * @returns The value (`undefined` for an empty message) and the offset after it.
 * @throws {WeftError} `unmarshal failed` for malformed bytes.
 */
export function unpackFirst(
  bytes: Uint8Array,
  options: SkynetUnpackOptions = {},
): { value: unknown; end: number } {
  if (bytes.length === 0) return { value: undefined, end: 0 };
  const unpacker = new Unpacker(
    bytes,
    options.strings ?? "auto",
    options.keepFloats === true,
    positiveLimit(options.maxDepth, "maxDepth", DEFAULT_SKYNET_MAX_DEPTH),
    positiveLimit(options.maxElements, "maxElements", DEFAULT_SKYNET_MAX_ELEMENTS),
  );
  try {
    const value = unpacker.value(0);
    return { value, end: unpacker.at };
  } catch (error) {
    throw new WeftError(
      "unmarshal failed",
      `Cannot unpack skynet values: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** Options of {@linkcode skynet}. */
export interface SkynetCodecOptions<T extends CommandTable = CommandTable>
  extends SkynetUnpackOptions {
  /**
   * The command table that maps names to numbers. Without one, every `cmd`
   * must already be a number.
   */
  commands?: T | Commands<T>;
}

/**
 * A codec whose bodies travel in skynet's value format: a body is packed as
 * its values ({@linkcode bodyToValues}: `undefined` is none, a
 * {@linkcode LuaValues} several, anything else one) and unpacked back
 * ({@linkcode valuesToBody}). For weft peers that want skynet's format,
 * and for the skynet protocol mode.
 *
 * @typeParam T The declared command table.
 * @param options The command table, how strings decode, the limits.
 * @returns The hook pair (and its `commands`, when given a table).
 *
 * @example
 * ```ts
 * import { type LuaValues, luaValues, skynet } from "@weft/cluster/skynet";
 *
 * const codec = skynet({ commands: { set: 1 } });
 * const [cmd, bytes] = codec.marshal("request", "set", luaValues("k", 1))!;
 * const body = codec.unmarshal("request", cmd, bytes as Uint8Array) as LuaValues;
 * if (body[0] !== "k" || body[1] !== 1) throw new Error("unexpected result");
 * ```
 */
export function skynet<T extends CommandTable = CommandTable>(
  options: SkynetCodecOptions<T> = {},
): TableCodec<T> {
  const unpackOptions: SkynetUnpackOptions = {
    strings: options.strings ?? "auto",
    keepFloats: options.keepFloats ?? false,
    maxDepth: positiveLimit(options.maxDepth, "maxDepth", DEFAULT_SKYNET_MAX_DEPTH),
    maxElements: positiveLimit(options.maxElements, "maxElements", DEFAULT_SKYNET_MAX_ELEMENTS),
  };
  unpackValues(new Uint8Array(0), unpackOptions); // validates the options now
  const maxDepth = unpackOptions.maxDepth!;
  const commands = options.commands === undefined ? undefined : toCommands(options.commands);
  return makeHooks<T>({
    name: "skynet values",
    encode: (body) => packBody(body, maxDepth),
    decode: (bytes) => {
      try {
        return valuesToBody(unpackValues(bytes, unpackOptions));
      } catch (error) {
        // makeHooks words the failure; ours is the cause, without its prefix.
        throw error instanceof WeftError && error.cause instanceof Error ? error.cause : error;
      }
    },
  }, commands);
}

/**
 * Packs one body (see {@linkcode bodyToValues}); errors name its values
 * `body` (one value) or `body[i]` (a {@linkcode LuaValues}).
 *
 * @param body The body.
 * @param maxDepth How deep tables may nest.
 * @returns The packed bytes.
 * @throws {TypeError} Naming the path of a value that cannot be packed.
 */
export function packBody(body: unknown, maxDepth: number = DEFAULT_SKYNET_MAX_DEPTH): Uint8Array {
  const packer = new Packer(maxDepth, "body");
  if (body instanceof LuaValues) {
    for (let i = 0; i < body.length; i++) {
      packer.path.push(i);
      packer.value(body[i], 0);
      packer.path.pop();
    }
  } else if (body !== undefined) packer.value(body, 0);
  return packer.out.buffer.slice(0, packer.out.length);
}
