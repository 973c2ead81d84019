/**
 * The JSON and MessagePack codecs' element and depth limits: counted exactly
 * by a scan of the bytes, refused before decoding with `unmarshal failed`
 * naming the option.
 */

import assert from "node:assert/strict";
import { json } from "../../src/codec/json.ts";
import { msgpack } from "../../src/codec/msgpack.ts";
import { isWeftError } from "../../src/errors.ts";
import type { TableCodec } from "../../src/codec/commands.ts";

const enc = new TextEncoder();

/** Values of a plain body as the codecs count them: containers, items, and (msgpack) map keys. */
function count(value: unknown, keys: boolean): number {
  if (Array.isArray(value)) return 1 + value.reduce((n, v) => n + count(v, keys), 0);
  if (value !== null && typeof value === "object") {
    return 1 +
      Object.values(value).reduce((n: number, v) => n + count(v, keys) + (keys ? 1 : 0), 0);
  }
  return 1;
}

function nest(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}

const BODIES: unknown[] = [
  Array.from({ length: 300 }, () => ({})),
  Array.from({ length: 200 }, (_, i) => [i, "a,b]}[{", { x: [i, null, true] }, []]),
  { s: 'quote " and \\ and , [ ] { }', list: [1, 2, 3, [4, [5, [6]]]], e: {}, a: [] },
  nest(60),
  Array.from({ length: 150 }, (_, i) => `string ${i} with "escapes" \\ ,[{`),
];

function codecs(maxElements: number, maxDepth = 1000): [string, TableCodec, boolean][] {
  return [
    ["json", json({ maxElements, maxDepth }), false],
    ["msgpack", msgpack({ maxElements, maxDepth }), true],
  ];
}

function bytesOf(codec: TableCodec, body: unknown): Uint8Array {
  const [, bytes] = codec.marshal("request", 1, body)!;
  return typeof bytes === "string" ? enc.encode(bytes) : bytes;
}

function refusal(fn: () => unknown): Error | undefined {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

Deno.test("json() and msgpack() count a body's values exactly: at maxElements it decodes, one under it is refused", () => {
  for (const body of BODIES) {
    for (const [name, , keys] of codecs(1)) {
      const n = count(body, keys);
      const [, at] = codecs(n).find(([c]) => c === name)!;
      const bytes = bytesOf(at, body);
      assert.deepEqual(at.unmarshal("request", 1, bytes), body, `${name} at ${n}`);
      const [, under] = codecs(n - 1).find(([c]) => c === name)!;
      const error = refusal(() => under.unmarshal("request", 1, bytes));
      assert.ok(isWeftError(error, "unmarshal failed"), `${name} under ${n}: ${error}`);
      assert.match(error!.message, new RegExp(`maxElements ${n - 1}`));
    }
  }
});

Deno.test("json() and msgpack() refuse nesting deeper than maxDepth (default 100) before decoding", () => {
  for (const levels of [100, 101]) {
    // Written by hand: the encoders refuse to write more than 100 levels.
    const input = {
      json: enc.encode("[".repeat(levels) + "1" + "]".repeat(levels)),
      msgpack: Uint8Array.from([...new Array(levels).fill(0x91), 0x01]), // fixarrays of one
    };
    for (const [name, codec] of [["json", json()], ["msgpack", msgpack()]] as const) {
      const error = refusal(() => codec.unmarshal("request", 1, input[name]));
      if (levels <= 100) assert.equal(error, undefined, `${name} ${levels}: ${error}`);
      else {
        assert.ok(isWeftError(error, "unmarshal failed"), `${name} ${levels}: ${error}`);
        assert.match(error!.message, /maxDepth 100/);
      }
    }
  }
  // A deep body written by hand (the encoders refuse to write one).
  const deep = enc.encode("[".repeat(100_000) + "]".repeat(100_000));
  assert.match(refusal(() => json().unmarshal("request", 1, deep))!.message, /maxDepth 100/);
  const deepPack = new Uint8Array(100_000).fill(0x91); // fixarray of 1, nested
  assert.match(refusal(() => msgpack().unmarshal("request", 1, deepPack))!.message, /maxDepth/);
});

Deno.test("the issue's bodies (empty maps, [{},{},...]) are refused at the default 1,000,000 values", () => {
  const n = 1_100_000;
  // msgpack: array 32 of n empty fixmaps.
  const pack = new Uint8Array(5 + n).fill(0x80);
  pack[0] = 0xdd;
  new DataView(pack.buffer).setUint32(1, n);
  const error = refusal(() => msgpack().unmarshal("request", 1, pack));
  assert.ok(isWeftError(error, "unmarshal failed"), String(error));
  assert.match(error!.message, /maxElements 1000000/);
  const text = enc.encode("[" + "{},".repeat(n - 1) + "{}]");
  const jsonError = refusal(() => json().unmarshal("request", 1, text));
  assert.ok(isWeftError(jsonError, "unmarshal failed"), String(jsonError));
  assert.match(jsonError!.message, /maxElements 1000000/);
  // Maps and Sets (weft's extensions) are counted inside too.
  const set = new Set(Array.from({ length: 2000 }, (_, i) => i));
  const bytes = bytesOf(msgpack(), { set });
  assert.match(
    refusal(() => msgpack({ maxElements: 1000 }).unmarshal("request", 1, bytes))!.message,
    /maxElements 1000/,
  );
  assert.equal((msgpack().unmarshal("request", 1, bytes) as { set: Set<number> }).set.size, 2000);
  // A chain of Map extensions, each straight inside the previous one's data:
  // refused by depth at once, not followed 10,000 levels down.
  let chain = Uint8Array.of(0x90); // an empty array
  for (let i = 0; i < 10_000; i++) {
    const next = new Uint8Array(6 + chain.length);
    next[0] = 0xc9; // ext 32: length, type, data
    new DataView(next.buffer).setUint32(1, chain.length);
    next[5] = 1; // weft's Map
    next.set(chain, 6);
    chain = next;
  }
  assert.match(refusal(() => msgpack().unmarshal("request", 1, chain))!.message, /maxDepth 100/);
  // 49 nested Maps (98 levels) decode.
  let maps: unknown = 1;
  for (let i = 0; i < 49; i++) maps = new Map([[i, maps]]);
  const nestedMaps = bytesOf(msgpack(), maps);
  assert.ok(msgpack().unmarshal("request", 1, nestedMaps) instanceof Map);
});

Deno.test("json() and msgpack() check maxElements and maxDepth, naming the option", () => {
  for (const make of [json, msgpack] as const) {
    assert.throws(
      () => make({ maxElements: 0 }),
      (e: Error) => e instanceof RangeError && /maxElements/.test(e.message),
    );
    assert.throws(
      () => make({ maxDepth: 1.5 }),
      (e: Error) => e instanceof RangeError && /maxDepth/.test(e.message),
    );
    assert.throws(
      () => make({ maxElements: "9" as unknown as number }),
      (e: Error) => e instanceof TypeError && /maxElements/.test(e.message),
    );
    make({ maxElements: Infinity, maxDepth: Infinity });
  }
});

Deno.test("json() and msgpack() scans take any bytes: a value or unmarshal failed, nothing else", () => {
  let x = 0x1234567;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const valid = bytesOf(msgpack(), BODIES[1]);
  for (let i = 0; i < 3000; i++) {
    // Random bytes, and a valid body with a few bytes changed.
    const n = 101 + (next() % 2000);
    const bytes = i % 2 === 0 ? Uint8Array.from({ length: n }, () => next() & 0xff) : valid.slice();
    if (i % 2 === 1) { for (let k = 0; k < 4; k++) bytes[next() % bytes.length] = next() & 0xff; }
    for (
      const codec of [
        json({ maxElements: 50, maxDepth: 5 }),
        msgpack({ maxElements: 50, maxDepth: 5 }),
      ]
    ) {
      const error = refusal(() => codec.unmarshal("request", 1, bytes));
      assert.ok(error === undefined || isWeftError(error, "unmarshal failed"), String(error));
    }
  }
});
