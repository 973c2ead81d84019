// The msgpack codec's cases, written once: msgpack_test.ts runs them under
// Deno, and _msgpack_runner.ts runs them under Bun and Node (which resolve
// @msgpack/msgpack through package.json and node_modules, not deno.json).

import assert from "node:assert/strict";
import { isWeftError } from "../../src/errors.ts";
import type { Codec } from "../../src/codec/types.ts";
import { MAP_EXT_TYPE, msgpack, SET_EXT_TYPE } from "../../src/codec/msgpack.ts";

/** One named case. */
export interface Case {
  name: string;
  fn: () => void;
}

function roundTrip(codec: Codec, body: unknown): unknown {
  const out = codec.marshal("request", 5, body);
  assert.ok(out !== undefined);
  const [cmd, bytes] = out;
  assert.equal(cmd, 5);
  assert.ok(bytes instanceof Uint8Array);
  return codec.unmarshal("request", 5, bytes);
}

function marshalCode(codec: Codec, body: unknown): string {
  try {
    codec.marshal("request", 5, body);
  } catch (error) {
    if (isWeftError(error)) return error.code;
    throw error;
  }
  return "no error";
}

function unmarshalCode(codec: Codec, bytes: Uint8Array, cmd = 5): string {
  try {
    codec.unmarshal("request", cmd, bytes);
  } catch (error) {
    if (isWeftError(error)) return error.code;
    throw error;
  }
  return "no error";
}

/** Every case of the msgpack codec. */
export const cases: Case[] = [
  {
    name: "`msgpack()` round-trips plain values",
    fn() {
      const codec = msgpack();
      const body = {
        id: 123,
        name: "hello ✓",
        tags: ["a", "b"],
        ok: true,
        nothing: null,
        f: -1.5,
        big: 2 ** 40,
        neg: -(2 ** 40),
        nested: { deep: [[1], { x: "y" }] },
      };
      assert.deepEqual(roundTrip(codec, body), body);
      for (
        const value of [0, -1, 255, 65536, 2 ** 32, Number.MAX_SAFE_INTEGER, "", "x", true, null]
      ) {
        assert.deepEqual(roundTrip(codec, value), value);
      }
    },
  },
  {
    name: "`msgpack()` round-trips Uint8Array, Date, bigint, Map and Set",
    fn() {
      const codec = msgpack();
      const bytes = new Uint8Array([0, 1, 2, 255]);
      const key = { k: 1 };
      const body = {
        bytes,
        at: new Date(1_700_000_000_123),
        before: new Date(-1),
        max: (1n << 64n) - 1n,
        min: -(1n << 63n),
        small: 7n,
        map: new Map<unknown, unknown>([[1, "one"], ["two", 2], [true, new Date(0)], [key, [1]]]),
        set: new Set<unknown>(["a", 1, new Map([[2, new Set([3])]])]),
      };
      const back = roundTrip(codec, body) as typeof body;
      assert.deepEqual(back.bytes, bytes);
      assert.ok(back.bytes instanceof Uint8Array);
      assert.equal(back.at.getTime(), body.at.getTime());
      assert.equal(back.before.getTime(), -1);
      assert.equal(back.max, body.max);
      assert.equal(back.min, body.min);
      assert.equal(back.small, 7n);
      assert.ok(back.map instanceof Map);
      assert.equal(back.map.get(1), "one");
      assert.equal(back.map.get("two"), 2);
      assert.deepEqual(back.map.get(true), new Date(0));
      assert.deepEqual([...back.map.keys()][3], { k: 1 });
      assert.ok(back.set instanceof Set);
      assert.deepEqual(back.set, body.set);
    },
  },
  {
    name: "`msgpack()` decodes bin as a copy that outlives the lent view",
    fn() {
      const codec = msgpack();
      const [, bytes] = codec.marshal("request", 5, { b: new Uint8Array([9, 8, 7]) })!;
      const lent = new Uint8Array(bytes as Uint8Array);
      const back = codec.unmarshal("request", 5, lent) as { b: Uint8Array };
      lent.fill(0);
      assert.deepEqual([...back.b], [9, 8, 7]);
      // Inside a Map extension, and in a payload too large to scan.
      for (
        const body of [new Map([["b", new Uint8Array([5])]]), { b: new Uint8Array(5000).fill(5) }]
      ) {
        const [, out] = codec.marshal("request", 5, body)!;
        const view = new Uint8Array(out as Uint8Array);
        const decoded = codec.unmarshal("request", 5, view) as Map<string, Uint8Array> | {
          b: Uint8Array;
        };
        view.fill(0);
        const b = decoded instanceof Map ? decoded.get("b")! : decoded.b;
        assert.ok(b.every((x) => x === 5));
      }
    },
  },
  {
    name: "`msgpack()` does not share output between calls (one encoder reused)",
    fn() {
      const codec = msgpack();
      const first = codec.marshal("request", 5, "first")![1] as Uint8Array;
      const copy = first.slice();
      codec.marshal("request", 5, "second and longer");
      assert.deepEqual(first, copy);
      assert.equal(codec.unmarshal("request", 5, first), "first");
    },
  },
  {
    name: "`msgpack()` documents what does not round-trip",
    fn() {
      const codec = msgpack();
      assert.deepEqual(roundTrip(codec, { u: undefined, a: [undefined] }), { u: null, a: [null] });
      assert.deepEqual(roundTrip(codec, new Int16Array([1])), new Uint8Array([1, 0]));
      assert.deepEqual(roundTrip(codec, new ArrayBuffer(2)), {});
      // A request body of undefined is an empty payload, and back.
      const [, empty] = codec.marshal("request", 5, undefined)!;
      assert.equal((empty as Uint8Array).length, 0);
      assert.equal(codec.unmarshal("request", 5, new Uint8Array(0)), undefined);
    },
  },
  {
    name: "`msgpack()` answers undefined with no response",
    fn() {
      const codec = msgpack({ commands: { ping: { id: 1, response: "pong" }, pong: 2 } });
      assert.equal(codec.marshal("response", 1, undefined), undefined);
      const answer = codec.marshal("response", 1, null);
      assert.ok(answer !== undefined);
      assert.equal(answer[0], 2);
      assert.equal(codec.unmarshal("response", "ping", answer[1] as Uint8Array), null);
    },
  },
  {
    name: "`msgpack()` fails to marshal functions, symbols, cycles and wide bigints",
    fn() {
      const codec = msgpack();
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const cyclicMap = new Map<string, unknown>();
      cyclicMap.set("self", cyclicMap);
      for (
        const body of [
          () => 1,
          { f: () => 1 },
          Symbol("x"),
          cyclic,
          cyclicMap,
          1n << 64n,
          -(1n << 63n) - 1n,
          new Date(Number.NaN),
        ]
      ) {
        assert.equal(marshalCode(codec, body), "marshal failed", String(body));
      }
      // After a failure the reused encoder still works.
      assert.deepEqual(roundTrip(codec, { ok: 1 }), { ok: 1 });
    },
  },
  {
    name: "`msgpack({ bigint: false })` refuses bigints and decodes int 64 as numbers",
    fn() {
      const wide = msgpack();
      const narrow = msgpack({ bigint: false });
      assert.equal(marshalCode(narrow, 1n), "marshal failed");
      const [, bytes] = wide.marshal("request", 5, 1n << 40n)!;
      assert.equal(narrow.unmarshal("request", 5, bytes as Uint8Array), 2 ** 40);
    },
  },
  {
    name: "`msgpack({ extensions: false })` refuses Map and Set and their ext types",
    fn() {
      const plain = msgpack({ extensions: false });
      assert.equal(marshalCode(plain, new Map([[1, 2]])), "marshal failed");
      assert.equal(marshalCode(plain, { s: new Set([1]) }), "marshal failed");
      // An empty Map is a fixext 1 (0xd4) holding an empty array (0x90).
      const [, bytes] = msgpack().marshal("request", 5, new Map())!;
      assert.deepEqual([...(bytes as Uint8Array)], [0xd4, MAP_EXT_TYPE, 0x90]);
      assert.equal(unmarshalCode(plain, bytes as Uint8Array), "unmarshal failed");
      const [, set] = msgpack().marshal("request", 5, new Set())!;
      assert.deepEqual([...(set as Uint8Array)], [0xd4, SET_EXT_TYPE, 0x90]);
    },
  },
  {
    name: "`msgpack()` fails to unmarshal malformed input",
    fn() {
      const codec = msgpack();
      for (
        const bytes of [
          new Uint8Array([0xc1]), // never used
          new Uint8Array([0x92, 0x01]), // array of 2, one item
          new Uint8Array([0x01, 0x02]), // extra bytes
          new Uint8Array([0xd4, MAP_EXT_TYPE, 0x01]), // Map ext holding a number
          new Uint8Array([0x81, 0xc0, 0x01]), // map with a nil key
        ]
      ) {
        assert.equal(unmarshalCode(codec, bytes), "unmarshal failed", bytes.join());
      }
    },
  },
  {
    name: "`msgpack()` maps command names and refuses unknown ones",
    fn() {
      const codec = msgpack({ commands: { add: { id: 3, response: "sum" }, sum: 4 } });
      assert.equal(codec.marshal("request", "add", { a: 1 })![0], 3);
      assert.equal(codec.marshal("response", 3, { r: 2 })![0], 4);
      assert.throws(() => codec.marshal("request", "nope", {}), TypeError);
      const [, bytes] = codec.marshal("request", "add", { a: 1 })!;
      assert.equal(unmarshalCode(codec, bytes as Uint8Array, 99), "unmarshal failed");
    },
  },
];
