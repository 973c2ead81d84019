// skynet's value format (src/codec/skynet.ts), written once: codec_test.ts
// runs these under Deno, and _runner.ts under Bun and Node.

import assert from "node:assert/strict";
import { isWeftError } from "../../src/errors.ts";
import {
  bodyToValues,
  LuaFloat,
  LuaValues,
  luaValues,
  packValues,
  skynet,
  unpackValues,
  valuesToBody,
} from "../../src/codec/skynet.ts";
import { type Case, fromHex, toHex, values as fixtures } from "./_fixtures.ts";

export const cases: Case[] = [];
const test = (name: string, fn: () => void) => cases.push({ name, fn });

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isWeftError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  return { code: "no error", message: "" };
}

const fixture = (label: string) => {
  const found = fixtures.find((f) => f.label === label);
  assert.ok(found, `no fixture "${label}"`);
  return fromHex(found.hex);
};

// ---- the captured bytes ----------------------------------------------------

const POINTER = "light userdata (a pointer: meaningless to another process)";
const NAN = "real nan";

test("`unpackValues()` then `packValues()` gives back skynet's bytes for every captured value", () => {
  let checked = 0;
  for (const { label, hex } of fixtures) {
    if (label === POINTER || label === NAN) continue;
    const bytes = fromHex(hex);
    const decoded = unpackValues(bytes, { keepFloats: true });
    assert.equal(toHex(packValues(decoded)), hex, label);
    checked++;
  }
  assert.ok(checked >= 50, `only ${checked} fixtures`);
});

test("`unpackValues()` decodes the captured values to the documented JavaScript values", () => {
  const one = (label: string) => {
    const values = unpackValues(fixture(label));
    assert.equal(values.length, 1, label);
    return values[0];
  };
  assert.equal(one("nil"), null);
  assert.deepEqual(unpackValues(fixture("no values")), []);
  assert.equal(one("true"), true);
  assert.equal(one("false"), false);
  assert.equal(one("integer 0"), 0);
  assert.equal(one("integer 255 (byte)"), 255);
  assert.equal(one("integer 65535 (word)"), 65535);
  assert.equal(one("integer 2^31-1 (dword)"), 0x7fffffff);
  assert.equal(one("integer -1 (dword)"), -1);
  assert.equal(one("integer -2^31 (dword)"), -0x80000000);
  assert.equal(one("integer 2^31 (qword)"), 0x80000000);
  assert.equal(one("integer 2^53-1 (qword)"), Number.MAX_SAFE_INTEGER);
  assert.equal(one("integer 2^53 (qword)"), 2n ** 53n);
  assert.equal(one("integer -2^53-1 (qword)"), -(2n ** 53n) - 1n);
  assert.equal(one("integer maxinteger (qword)"), 2n ** 63n - 1n);
  assert.equal(one("integer mininteger (qword)"), -(2n ** 63n));
  assert.equal(one("real 0.5"), 0.5);
  assert.equal(one("real 1.0 (a float with an integral value)"), 1);
  assert.ok(Object.is(one("real -0.0"), -0));
  assert.equal(one("real inf"), Infinity);
  assert.ok(Number.isNaN(one(NAN)));
  assert.equal(one("string empty"), "");
  assert.equal(one("string UTF-8"), "h\u00e9llo \u4e16\u754c \u{1f600}");
  assert.deepEqual(one("string bytes (not UTF-8)"), new Uint8Array([0xff, 0xfe, 0x00, 0x80]));
  assert.equal(one("string with a BOM"), "\ufeffbom");
  assert.equal((one("string 65536 bytes (u32 long)") as string).length, 65536);
  assert.deepEqual(one("table empty"), []);
  assert.deepEqual(one("table array 3"), [1, 2, 3]);
  assert.equal((one("table array 300 (size as a word)") as number[])[299], 300);
  assert.deepEqual(one("table hash string keys"), { a: 1 });
  assert.deepEqual(
    one("table mixed array and hash"),
    new Map<unknown, unknown>([[1, "x"], [2, "y"], ["k", "v"]]),
  );
  assert.deepEqual(one("table array with a hole"), new Map([[1, 1], [3, 3]]));
  assert.deepEqual(
    one("table integer keys beyond the array"),
    new Map([[10, "ten"], [-1, "minus one"]]),
  );
  assert.deepEqual(
    one("table boolean and float keys"),
    new Map<unknown, unknown>([[1.5, "f"], [true, "t"]]),
  );
  assert.deepEqual(one("table nested"), { a: { b: { c: [1, 2] } }, list: [[1], [2]] });
  assert.deepEqual(unpackValues(fixture("several values")), [1, "two", null, true, [3]]);
  assert.deepEqual(unpackValues(fixture("request GET a")), ["GET", "a"]);
});

test("`unpackValues()` with `keepFloats` keeps integral floats as `LuaFloat`", () => {
  const [one] = unpackValues(fixture("real 1.0 (a float with an integral value)"), {
    keepFloats: true,
  });
  assert.ok(one instanceof LuaFloat && one.value === 1);
  const [big] = unpackValues(fixture("real 2^53 as a float"), { keepFloats: true });
  assert.ok(big instanceof LuaFloat && big.value === 2 ** 53);
  // Without it, the same bytes are a plain number, which packs as an integer.
  assert.equal(unpackValues(fixture("real 1.0 (a float with an integral value)"))[0], 1);
  assert.equal(toHex(packValues([1])), "0a01");
});

test("a NaN packs as a NaN float (its sign bit may differ from skynet's by runtime)", () => {
  assert.equal(toHex(fixture(NAN)), "42000000000000f8ff");
  // V8 keeps a NaN's bits through a DataView; JavaScriptCore may not: either
  // way it is a NaN float.
  assert.match(toHex(packValues(unpackValues(fixture(NAN)))), /^42000000000000f8(7f|ff)$/);
});

test("`unpackValues()` refuses a light userdata (a C pointer) with a coded error naming the offset", () => {
  const { code, message } = failure(() => unpackValues(fixture(POINTER)));
  assert.equal(code, "unmarshal failed");
  assert.match(message, /at byte 0: a light userdata/);
});

test('`unpackValues()` with `strings: "bytes"` gives every string as bytes', () => {
  const [s] = unpackValues(fixture("string short"), { strings: "bytes" });
  assert.deepEqual(s, new TextEncoder().encode("hello"));
});

test("33 nested tables pack (skynet's limit) and 34 are refused naming the path", () => {
  const nest = (n: number) => {
    let t: unknown = [];
    for (let i = 1; i < n; i++) t = [t];
    return t;
  };
  assert.equal(
    toHex(packValues([nest(33)])),
    toHex(fixture("table nested 33 deep (the deepest skynet packs)")),
  );
  const { code, message } = failure(() => packValues([nest(34)], { path: "body" }));
  assert.equal(code, "marshal failed");
  assert.match(message, /body\[0\](\[0\]){33}: tables nested deeper than 33/);
  assert.equal(unpackValues(packValues([nest(34)], { maxDepth: 34 }), { maxDepth: 34 }).length, 1);
  assert.equal(
    failure(() => unpackValues(packValues([nest(34)], { maxDepth: 34 }))).code,
    "unmarshal failed",
  );
});

// ---- what cannot be packed ----------------------------------------------------

test("`packValues()` refuses what skynet.pack cannot carry, naming the path of the value", () => {
  const cases: [unknown, RegExp][] = [
    [
      { items: [1, 2, 3, { fn: () => 1 }] },
      /body\[0\]\.items\[3\]\.fn: a function cannot be packed/,
    ],
    [{ s: Symbol("x") }, /body\[0\]\.s: a symbol cannot be packed/],
    [{ when: new Date(0) }, /body\[0\]\.when: an instance of Date cannot be packed/],
    [{ set: new Set([1]) }, /body\[0\]\.set: an instance of Set/],
    [{ "odd key": class Foo {} }, /body\[0\]\["odd key"\]: a function/],
    [new Map([[{ k: 1 }, 1]]), /body\[0\]\[\[object Object\]\]: an object cannot be a table key/],
    [new Map([[null, 1]]), /a table key cannot be nil/],
    [new Map([[NaN, 1]]), /a table key cannot be NaN/],
    [{ big: 2n ** 63n }, /body\[0\]\.big: 9223372036854775808n is outside int64/],
    [{ s: "\ud800" }, /lone surrogate/],
  ];
  for (const [value, pattern] of cases) {
    const { code, message } = failure(() => packValues([value], { path: "body" }));
    assert.equal(code, "marshal failed", String(pattern));
    assert.match(message, pattern);
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.match(
    failure(() => packValues([cyclic])).message,
    /values\[0\](\.self){33}: tables nested deeper/,
  );
});

// ---- property-style round trips --------------------------------------------------

/** A small deterministic generator (xorshift32). */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function randomValue(r: () => number, depth: number): unknown {
  const pick = Math.floor(r() * (depth > 3 ? 7 : 10));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2: {
      const widths = [
        0,
        1,
        0xff,
        0x100,
        0xffff,
        0x10000,
        0x7fffffff,
        2 ** 40,
        Number.MAX_SAFE_INTEGER,
      ];
      const v = widths[Math.floor(r() * widths.length)]! - Math.floor(r() * 3);
      return r() < 0.5 ? -v : v;
    }
    case 3:
      return [0.5, -1.25, 1e300, Infinity, -Infinity, 2 ** 60, 3.14][Math.floor(r() * 7)];
    case 4: {
      const n = [0, 5, 31, 32, 300, 70000][Math.floor(r() * 6)]!;
      return "\u00e9x".repeat(Math.ceil(n / 3)).slice(0, n);
    }
    case 5:
      return r() < 0.5 ? new Uint8Array([0xff, Math.floor(r() * 256)]) : BigInt(2 ** 53) * 3n;
    case 6:
      return r() < 0.5 ? 2n ** 62n : -(2n ** 63n);
    case 7: {
      const n = Math.floor(r() * 8);
      return Array.from({ length: n }, () => randomValue(r, depth + 1));
    }
    case 8: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 5); i > 0; i--) {
        o[`k${Math.floor(r() * 100)}`] = randomValue(r, depth + 1);
      }
      return Object.keys(o).length === 0 ? [] : o;
    }
    default: {
      const m = new Map<unknown, unknown>([[1, randomValue(r, depth + 1)], [true, 1], [2.5, "x"], [
        -7,
        null,
      ]]);
      return m;
    }
  }
}

test("`packValues()` then `unpackValues()` round-trips 2000 generated values", () => {
  const r = rng(24);
  for (let i = 0; i < 2000; i++) {
    const values = Array.from({ length: 1 + Math.floor(r() * 3) }, () => randomValue(r, 0));
    const bytes = packValues(values);
    const back = unpackValues(bytes);
    assert.deepEqual(back, values, `case ${i}`);
    // and the bytes are stable
    assert.equal(toHex(packValues(back)), toHex(bytes), `case ${i} bytes`);
  }
});

// ---- hostile input --------------------------------------------------------------

test("`unpackValues()` refuses every truncation of every captured value with a coded error", () => {
  for (const { label, hex } of fixtures) {
    if (label === POINTER || hex.length > 2000) continue;
    const bytes = fromHex(hex);
    for (let cut = 1; cut < bytes.length; cut++) {
      const part = bytes.subarray(0, cut);
      let result: unknown[] | undefined;
      const { code } = failure(() => (result = unpackValues(part)));
      // A cut between two top-level values is a shorter, valid message.
      if (code === "no error") assert.ok(result!.length >= 1, `${label} cut at ${cut}`);
      else assert.equal(code, "unmarshal failed", `${label} cut at ${cut}`);
    }
  }
});

test("`unpackValues()` refuses lying lengths and unknown types before allocating", () => {
  const bad: [string, RegExp][] = [
    ["2500000080", /truncated: a string of 2147483648 bytes/], // u32 string length 2^31
    ["15ffff", /truncated: a string of 65535 bytes/],
    ["fe22ffffff7f", /array size of 2147483647 is over the 0 bytes left/],
    ["fe22ffffffff", /array size of -1/],
    ["fe42000000000000f03f", /array size is not an integer/],
    ["fe0c61", /array size is not an integer/],
    ["07", /unknown type 7/],
    ["3d", /a long string with a 7-byte length/],
    ["12", /truncated: a u16 integer/],
    ["1a", /unknown number kind 3/],
    ["06", /truncated: a value/],
    ["0642000000000000f87f0a0100", /a table key is NaN/],
  ];
  for (const [hex, pattern] of bad) {
    const { code, message } = failure(() => unpackValues(fromHex(hex)));
    assert.equal(code, "unmarshal failed", hex);
    assert.match(message, pattern, hex);
  }
});

test("`unpackValues()` bounds nesting and element counts by its options", () => {
  const deep = fromHex("0e".repeat(10000) + "0a01" + "00".repeat(10000));
  assert.match(failure(() => unpackValues(deep)).message, /nested deeper than maxDepth 33/);
  const many = fromHex("00".repeat(2000));
  assert.match(
    failure(() => unpackValues(many, { maxElements: 1000 })).message,
    /more than maxElements 1000/,
  );
  assert.equal(unpackValues(many).length, 2000);
  assert.throws(() => unpackValues(many, { maxDepth: 0 }), RangeError);
  assert.throws(() => unpackValues(many, { strings: "x" as "auto" }), RangeError);
});

test("`unpackValues()` keeps no view of its input: strings and bytes are copies", () => {
  const bytes = packValues([new Uint8Array([0xff, 1])]);
  const [out] = unpackValues(bytes) as [Uint8Array];
  bytes.fill(0);
  assert.deepEqual(out, new Uint8Array([0xff, 1]));
});

test("`__proto__` as a key is an own property, never the prototype", () => {
  const bytes = fromHex("06" + "4c5f5f70726f746f5f5f" + "06" + "0c78" + "0a01" + "00" + "00");
  const [o] = unpackValues(bytes) as [Record<string, unknown>];
  assert.equal(Object.getPrototypeOf(o), Object.prototype);
  assert.deepEqual(Object.keys(o), ["__proto__"]);
});

// ---- several values and the codec -------------------------------------------

test("`bodyToValues()` and `valuesToBody()`: none is undefined, one is itself, several a LuaValues", () => {
  assert.deepEqual(bodyToValues(undefined), []);
  assert.deepEqual(bodyToValues(null), [null]);
  assert.deepEqual(bodyToValues([1, 2]), [[1, 2]]);
  assert.deepEqual(bodyToValues(luaValues(1, 2)), [1, 2]);
  assert.equal(valuesToBody([]), undefined);
  assert.equal(valuesToBody(["a"]), "a");
  const two = valuesToBody(["k", "v"]);
  assert.ok(two instanceof LuaValues && Array.isArray(two));
  const [k, v] = two as LuaValues;
  assert.equal(k, "k");
  assert.equal(v, "v");
});

test("`skynet()` codec: a LuaValues body travels as several values, undefined as none", () => {
  const codec = skynet();
  const [, bytes] = codec.marshal("request", 3, luaValues("GET", "a"))!;
  assert.equal(toHex(bytes as Uint8Array), toHex(fixture("request GET a")));
  assert.equal(codec.marshal("response", 3, undefined), undefined);
  const multi = codec.unmarshal("response", 3, fixture("several values"));
  assert.ok(multi instanceof LuaValues);
  assert.deepEqual([...multi], [1, "two", null, true, [3]]);
  const bad = failure(() => codec.marshal("request", 3, { f: () => 0 }));
  assert.equal(bad.code, "marshal failed");
  assert.match(bad.message, /body\.f: a function/);
  assert.equal(
    failure(() => codec.unmarshal("request", 3, fromHex("07"))).code,
    "unmarshal failed",
  );
});
