import assert from "node:assert/strict";
import { raw } from "../../src/codec/raw.ts";
import { code } from "./_util.ts";

Deno.test("`raw()` passes bytes and strings through untouched", () => {
  const codec = raw();
  const bytes = new Uint8Array([1, 2, 3]);
  const [cmd, out] = codec.marshal("request", 4, bytes)!;
  assert.equal(cmd, 4);
  assert.equal(out, bytes, "the same object, not a copy");
  assert.deepEqual(codec.marshal("request", 4, "héllo"), [4, "héllo"]);
  assert.deepEqual(codec.marshal("response", 4, "ok"), [4, "ok"]);
  const [, empty] = codec.marshal("request", 4, undefined)!;
  assert.equal((empty as Uint8Array).length, 0);
});

Deno.test("`raw()` answers undefined with no response, and empty bytes with an empty one", () => {
  const codec = raw();
  assert.equal(codec.marshal("response", 4, undefined), undefined);
  assert.equal((codec.marshal("response", 4, new Uint8Array(0))![1] as Uint8Array).length, 0);
  assert.deepEqual(codec.marshal("response", 4, ""), [4, ""]);
});

Deno.test("`raw()` returns a copy of the lent view", () => {
  const codec = raw();
  const chunk = new Uint8Array([9, 1, 2, 3, 9]);
  const view = chunk.subarray(1, 4);
  const body = codec.unmarshal("request", 4, view) as Uint8Array;
  chunk.fill(0);
  assert.deepEqual([...body], [1, 2, 3]);
  assert.notEqual(body.buffer, chunk.buffer);
  assert.ok(body.buffer.byteLength <= 8192, "at most a slab is kept, not the lent buffer");
  assert.equal((codec.unmarshal("response", 4, new Uint8Array(0)) as Uint8Array).length, 0);
});

Deno.test("`raw()` pools small copies in slabs and gives large ones their own buffer", () => {
  const codec = raw();
  const lent = new Uint8Array(4096).map((_, i) => i & 0xff);
  const copies: Uint8Array[] = [];
  // 40 copies of 250 B fill more than one 8 KiB slab.
  for (let i = 0; i < 40; i++) {
    copies.push(codec.unmarshal("request", 4, lent.subarray(i, i + 250)) as Uint8Array);
  }
  lent.fill(0);
  for (let i = 0; i < 40; i++) {
    const c = copies[i]!;
    assert.equal(c.length, 250);
    assert.equal(c[0], i & 0xff, `copy ${i} kept its bytes`);
    assert.equal(c[249], (i + 249) & 0xff, `copy ${i} kept its last byte`);
    assert.equal(c.byteOffset % 8, 0);
    assert.equal(c.buffer.byteLength, 8192);
  }
  assert.equal(copies[0]!.buffer, copies[1]!.buffer, "small copies share a slab");
  assert.notEqual(copies[0]!.buffer, copies[39]!.buffer, "a full slab is left to its copies");
  // Writing into one copy leaves its neighbours alone.
  copies[1]!.fill(0xee);
  assert.equal(copies[0]![249], 249 & 0xff);
  assert.equal(copies[2]![0], 2);
  const big = codec.unmarshal("response", 4, new Uint8Array(1025).fill(7)) as Uint8Array;
  assert.equal(big.buffer.byteLength, 1025, "over 1 KiB: a buffer of its own");
  // A holder that transfers a slab away does not break later copies.
  const moved = (copies[39]!.buffer as ArrayBuffer).transfer();
  assert.equal(moved.byteLength, 8192);
  const after = codec.unmarshal("request", 4, new Uint8Array([1, 2])) as Uint8Array;
  assert.deepEqual([...after], [1, 2]);
});

Deno.test("`raw({ pool: false })` gives every copy a buffer of its own", () => {
  const codec = raw({ pool: false });
  const chunk = new Uint8Array([9, 1, 2, 3, 9]);
  const body = codec.unmarshal("request", 4, chunk.subarray(1, 4)) as Uint8Array;
  chunk.fill(0);
  assert.deepEqual([...body], [1, 2, 3]);
  assert.equal(body.byteOffset, 0);
  assert.equal(body.buffer.byteLength, 3, "a copy of the payload only");
  assert.throws(() => raw({ pool: "yes" as unknown as boolean }), TypeError);
});

Deno.test("`raw({ text: true })` decodes strict UTF-8", () => {
  const codec = raw({ text: true });
  assert.equal(codec.unmarshal("request", 4, new TextEncoder().encode("héllo")), "héllo");
  assert.equal(codec.unmarshal("request", 4, new Uint8Array(0)), "");
  assert.equal(
    code(() => codec.unmarshal("request", 4, new Uint8Array([0xff]))),
    "unmarshal failed",
  );
});

Deno.test("`raw()` fails to marshal bodies that are not bytes or text", () => {
  const codec = raw();
  for (const body of [1, null, { a: 1 }, [1], new ArrayBuffer(1), new Uint16Array(1)]) {
    assert.equal(code(() => codec.marshal("request", 4, body)), "marshal failed", String(body));
    assert.equal(code(() => codec.marshal("response", 4, body)), "marshal failed", String(body));
  }
});

Deno.test("`raw()` with a command table maps names and refuses unknown ones", () => {
  const codec = raw({ commands: { echo: { id: 1, response: "echoed" }, echoed: 2 } });
  assert.deepEqual(codec.marshal("request", "echo", "x"), [1, "x"]);
  assert.deepEqual(codec.marshal("response", 1, "x"), [2, "x"]);
  assert.throws(() => codec.marshal("request", "ech", "x"), TypeError);
  assert.equal(code(() => codec.unmarshal("request", 3, new Uint8Array(1))), "unmarshal failed");
});
