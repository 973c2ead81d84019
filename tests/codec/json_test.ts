import assert from "node:assert/strict";
import { json } from "../../src/codec/json.ts";
import type { Codec } from "../../src/codec/types.ts";
import { isWeftError } from "../../src/errors.ts";
import { code } from "./_util.ts";

const utf8 = new TextEncoder();

function toBytes(bytes: Uint8Array | string): Uint8Array {
  return typeof bytes === "string" ? utf8.encode(bytes) : bytes;
}

function roundTrip(codec: Codec, body: unknown): unknown {
  const out = codec.marshal("request", 7, body);
  assert.ok(out !== undefined);
  return codec.unmarshal("request", out[0], toBytes(out[1]));
}

Deno.test("`json()` round-trips JSON values as UTF-8", () => {
  const codec = json();
  const body = { id: 123, name: "héllo ✓ 😀", tags: ["a", "b"], ok: true, none: null };
  assert.deepEqual(roundTrip(codec, body), body);
  for (const value of [0, -1.5, "", "x", false, null, [], {}]) {
    assert.deepEqual(roundTrip(codec, value), value);
  }
  const [, text] = codec.marshal("request", 7, { a: "é" })!;
  assert.equal(text, '{"a":"é"}');
});

Deno.test("`json()` sends undefined as an empty payload and answers it with no response", () => {
  const codec = json();
  const [, empty] = codec.marshal("request", 7, undefined)!;
  assert.equal(empty, "");
  assert.equal(codec.unmarshal("request", 7, new Uint8Array(0)), undefined);
  assert.equal(codec.marshal("response", 7, undefined), undefined);
  assert.deepEqual(codec.marshal("response", 7, null), [7, "null"]);
});

Deno.test("`json()` follows JSON's rules inside objects", () => {
  const codec = json();
  assert.deepEqual(roundTrip(codec, { f: () => 1, u: undefined, a: [undefined] }), { a: [null] });
  assert.equal(roundTrip(codec, new Date(0)), "1970-01-01T00:00:00.000Z");
  assert.deepEqual(roundTrip(codec, new Map([[1, 2]])), {});
});

Deno.test("`json()` fails to marshal what JSON cannot encode", () => {
  const codec = json();
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const body of [() => 1, Symbol("s"), cyclic, 1n, { n: 1n }]) {
    assert.equal(code(() => codec.marshal("request", 7, body)), "marshal failed", String(body));
  }
  let error: unknown;
  try {
    codec.marshal("request", 7, cyclic);
  } catch (caught) {
    error = caught;
  }
  assert.ok(isWeftError(error, "marshal failed"));
  assert.match(error.message, /^Cannot marshal request 7 as JSON: /);
  assert.ok(error.cause instanceof TypeError);
});

Deno.test("`json()` fails to unmarshal malformed UTF-8 and JSON", () => {
  const codec = json();
  for (
    const bytes of [
      new Uint8Array([0x7b, 0xff, 0x7d]), // bad UTF-8
      new Uint8Array([0xc3]), // truncated UTF-8
      utf8.encode("{"),
      utf8.encode("{'a':1}"),
      utf8.encode("1 2"),
    ]
  ) {
    assert.equal(code(() => codec.unmarshal("request", 7, bytes)), "unmarshal failed");
    assert.equal(code(() => codec.unmarshal("response", 7, bytes)), "unmarshal failed");
  }
});

Deno.test("`json()` maps command names, and refuses unknown names and numbers", () => {
  const codec = json({ commands: { ping: { id: 1, response: "pong" }, pong: 2, notify: 16 } });
  assert.equal(codec.commands?.idOf("pong"), 2);
  assert.deepEqual(codec.marshal("request", "ping", { msg: "hi" }), [1, '{"msg":"hi"}']);
  assert.deepEqual(codec.marshal("request", 16, 1), [16, "1"]);
  assert.deepEqual(codec.marshal("response", 1, "pong"), [2, '"pong"']);
  assert.deepEqual(codec.marshal("response", 16, 0), [16, "0"]);
  assert.throws(() => codec.marshal("request", "pnig", {}), TypeError);
  assert.throws(() => codec.marshal("request", 99, {}), TypeError);
  assert.equal(
    code(() => codec.unmarshal("request", 99, utf8.encode("1"))),
    "unmarshal failed",
  );
  assert.equal(codec.unmarshal("request", 1, utf8.encode("1")), 1);
  // A response is decoded whatever cmd the caller gave.
  assert.equal(codec.unmarshal("response", "ping", utf8.encode('"pong"')), "pong");
});

Deno.test("`json()` without a table takes numbers only", () => {
  const codec = json();
  assert.equal(codec.commands, undefined);
  assert.deepEqual(codec.marshal("request", 0xffffffff, 1), [0xffffffff, "1"]);
  assert.throws(() => codec.marshal("request", "ping", {}), TypeError);
  assert.throws(() => codec.marshal("request", "5", {}), TypeError);
  assert.throws(() => codec.marshal("request", 2 ** 32, {}), RangeError);
  assert.throws(() => codec.marshal("request", -1, {}), RangeError);
  // @ts-expect-error: not a message type
  assert.throws(() => codec.marshal("reply", 1, {}), TypeError);
  assert.equal(codec.unmarshal("request", 12345, utf8.encode("true")), true);
});

Deno.test("`json()` hooks are drop-in silly hooks and spread into options", () => {
  const { marshal, unmarshal } = json({
    reviver: (k, v) => (k === "at" ? new Date(v as string) : v),
  });
  const [, text] = marshal("request", 1, { at: new Date(5) })!;
  const back = unmarshal("request", 1, toBytes(text)) as { at: Date };
  assert.equal(back.at.getTime(), 5);
  const options = { ...json({ commands: { a: 1 } }), timeout: 5 };
  assert.equal(typeof options.marshal, "function");
  assert.equal(options.commands?.idOf("a"), 1);
  const withReplacer = json({ replacer: (_k, v) => (typeof v === "bigint" ? String(v) : v) });
  assert.deepEqual(withReplacer.marshal("request", 1, { n: 5n }), [1, '{"n":"5"}']);
});
