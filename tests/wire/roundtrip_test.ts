// Seeded random round trips: random headers, full 64-bit traceids and
// payloads from 0 bytes to past 64 KiB, encoded through a reused encoder and
// through the one-shot functions, decoded in random splits.

import assert from "node:assert/strict";
import { encodeRequest, encodeResponse, FrameEncoder } from "../../src/wire/frame_encoder.ts";
import { type Framing, REQUEST_HEADER_SIZE, RESPONSE_HEADER_SIZE } from "../../src/wire/frame.ts";
import { concat, decodeChunks, type FrameSnapshot, Random, toHex } from "./_util.ts";

/** Traceid halves worth hitting on purpose: bit 31 set, all ones, zero. */
const EDGE_HALVES = [0, 1, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff];

interface Spec {
  frame: FrameSnapshot;
  payload: Uint8Array;
}

function randomSpec(random: Random, framing: Framing): Spec {
  const request = random.int(0, 1) === 0;
  const max = framing === "v2"
    ? 70_000
    : 0xffff - (request ? REQUEST_HEADER_SIZE : RESPONSE_HEADER_SIZE);
  const shape = random.int(0, 9);
  const size = shape < 5
    ? random.int(0, 64)
    : shape < 8
    ? random.int(0, 2000)
    : shape === 8
    ? max
    : random.int(60_000, max);
  const payload = random.bytes(size);
  const half = () => random.int(0, 2) === 0 ? random.pick(EDGE_HALVES) : random.u32();
  const frame: FrameSnapshot = request
    ? {
      kind: "request",
      session: random.u32() >>> 1,
      cmd: random.int(0, 3) === 0 ? random.pick(EDGE_HALVES) : random.u32(),
      traceHi: half(),
      traceLo: half(),
      payload: toHex(payload),
    }
    : {
      kind: "response",
      session: random.int(0, 3) === 0 ? random.pick([0, 0x7fffffff]) : random.u32() >>> 1,
      cmd: 0,
      traceHi: 0,
      traceLo: 0,
      payload: toHex(payload),
    };
  return { frame, payload };
}

function randomChunks(random: Random, bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const maxChunk = random.pick([1, 7, 100, 1500, 70_000]);
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, random.int(1, maxChunk));
    chunks.push(bytes.slice(at, at + n));
    at += n;
  }
  return chunks;
}

for (const framing of ["v2", "v1"] as const) {
  Deno.test(`\`FrameEncoder\` and \`FrameDecoder\` (${framing}) round-trip random sessions`, () => {
    const random = new Random(framing === "v2" ? 0xc0ffee : 0xbeef);
    // A small capacity makes the reused encoder grow and move on to new buffers.
    const encoder = new FrameEncoder({ framing, capacity: 4096 });
    const batches: { bytes: Uint8Array; copy: Uint8Array }[] = [];
    for (let session = 0; session < 40; session++) {
      const specs = Array.from({ length: random.int(1, 20) }, () => randomSpec(random, framing));
      const oneShot: Uint8Array[] = [];
      for (const { frame, payload } of specs) {
        if (frame.kind === "request") {
          const size = encoder.request(frame, payload);
          assert.equal(size, (framing === "v2" ? 4 : 2) + REQUEST_HEADER_SIZE + payload.length);
          oneShot.push(encodeRequest(frame, payload, { framing }));
        } else {
          encoder.response(frame.session, payload);
          oneShot.push(encodeResponse(frame.session, payload, { framing }));
        }
      }
      // Either take the batch, or copy it out and clear (the reused-buffer path).
      let batch: Uint8Array;
      if (random.int(0, 3) === 0) {
        batch = encoder.peek().slice();
        encoder.clear();
      } else {
        batch = encoder.take();
      }
      assert.equal(encoder.length, 0);
      const joined = concat(oneShot);
      assert.deepEqual(batch, joined, "the encoder batch and the one-shot frames agree");
      const expected = specs.map((s) => s.frame);
      assert.deepEqual(decodeChunks(randomChunks(random, batch), { framing }), expected);
      assert.deepEqual(decodeChunks([batch], { framing }), expected);
      batches.push({ bytes: batch, copy: batch.slice() });
    }
    // take() handed the bytes over: later frames never wrote over them.
    for (const { bytes, copy } of batches) assert.deepEqual(bytes, copy);
  });
}

Deno.test("`FrameEncoder` writes into a caller's buffer, then moves on without touching it again", () => {
  const buffer = new Uint8Array(64);
  const encoder = new FrameEncoder({ buffer });
  encoder.request({ session: 1, cmd: 2, traceHi: 0x80000000, traceLo: 0xffffffff }, "abc");
  const first = encoder.take();
  assert.equal(first.buffer, buffer.buffer, "the first frame went into the caller's buffer");
  const before = buffer.slice();
  encoder.response(1, new Uint8Array(100));
  const second = encoder.take();
  assert.notEqual(second.buffer, buffer.buffer);
  assert.deepEqual(buffer, before);
  assert.deepEqual(decodeChunks([first, second]), [
    {
      kind: "request",
      session: 1,
      cmd: 2,
      traceHi: 0x80000000,
      traceLo: 0xffffffff,
      payload: "616263",
    },
    { kind: "response", session: 1, cmd: 0, traceHi: 0, traceLo: 0, payload: "00".repeat(100) },
  ]);
});

Deno.test("`FrameEncoder` clear() reuses the same bytes for the next batch", () => {
  const encoder = new FrameEncoder({ capacity: 256 });
  encoder.response(1, "x");
  const at = encoder.peek();
  encoder.clear();
  assert.equal(encoder.length, 0);
  encoder.response(2, "y");
  const again = encoder.peek();
  assert.equal(again.buffer, at.buffer);
  assert.equal(again.byteOffset, at.byteOffset);
});
