// The HELLO extension codec: 8 fixed bytes, then `u8 tag, u16 LE length,
// bytes` fields; unknown tags kept for the caller to ignore; malformed or
// oversized payloads are `protocol` errors.

import assert from "node:assert/strict";
import {
  decodeHelloFields,
  encodeHello,
  HELLO_PAYLOAD,
  HelloField,
  isHello,
  MAX_HELLO_SIZE,
} from "../../src/protocol/weft/protocol.ts";
import { isWeftError } from "../../src/errors.ts";

const enc = new TextEncoder();

Deno.test("HELLO fields: no fields is today's 8 bytes", () => {
  assert.deepEqual(encodeHello(), HELLO_PAYLOAD);
  assert.deepEqual(encodeHello(new Map()), HELLO_PAYLOAD);
  assert.equal(decodeHelloFields(HELLO_PAYLOAD).size, 0);
});

Deno.test("HELLO fields: round trip, exact bytes, unknown tags returned for the caller to ignore", () => {
  const fields = new Map<number, Uint8Array>([
    [HelloField.NodeName, enc.encode("node-a")],
    [HelloField.AuthNonce, new Uint8Array(32).fill(7)],
    [200, Uint8Array.of(1, 2)],
    [HelloField.AuthProof, new Uint8Array(0)],
  ]);
  const bytes = encodeHello(fields);
  assert.ok(isHello(bytes));
  assert.deepEqual([...bytes.subarray(8, 17)], [1, 6, 0, ...enc.encode("node-a")]);
  assert.equal(bytes.length, 8 + (3 + 6) + (3 + 32) + (3 + 2) + 3);
  assert.deepEqual(decodeHelloFields(bytes), fields);
});

Deno.test("HELLO fields: cut short or oversized payloads are protocol errors", () => {
  const good = encodeHello(new Map([[HelloField.AuthKeyId, enc.encode("node-a")]]));
  for (
    const bad of [good.subarray(0, 9), good.subarray(0, 10), good.subarray(0, good.length - 1)]
  ) {
    assert.throws(() => decodeHelloFields(bad), (e) => isWeftError(e, "protocol"));
  }
  const big = new Uint8Array(MAX_HELLO_SIZE + 1);
  big.set(HELLO_PAYLOAD);
  assert.throws(() => decodeHelloFields(big), (e) => isWeftError(e, "protocol"));
  assert.throws(() => encodeHello(new Map([[1, new Uint8Array(MAX_HELLO_SIZE)]])), RangeError);
  assert.throws(() => encodeHello(new Map([[0, new Uint8Array(1)]])), RangeError);
});
