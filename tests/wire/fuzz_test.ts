// A seeded fuzz run: mutated streams yield frames or a WeftError with a
// known code, never another exception, never a hang, never an oversized
// buffer.

import assert from "node:assert/strict";
import { WeftError } from "../../src/errors.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";
import { FrameDecoder } from "../../src/wire/frame_decoder.ts";
import { prefixSize } from "../../src/wire/frame.ts";
import { Random } from "./_util.ts";

const CASES = 20_000;
const DECODE_CODES = new Set(["frame too large", "frame too short", "request too short"]);
/** Keeps random v2 lengths from allocating up to 128 MiB per case. */
const FUZZ_HARD_LIMIT = 1 << 20;

function validStream(random: Random, framing: "v2" | "v1"): Uint8Array {
  const encoder = new FrameEncoder({ framing, capacity: 256 });
  for (let i = random.int(1, 6); i > 0; i--) {
    const payload = random.bytes(random.pick([0, 1, 5, 16, 40, random.int(0, 600)]));
    if (random.int(0, 1) === 0) {
      encoder.request({
        session: random.u32() >>> 1,
        cmd: random.u32(),
        traceHi: random.u32(),
        traceLo: random.u32(),
      }, payload);
    } else {
      encoder.response(random.u32() >>> 1, payload);
    }
  }
  return encoder.take();
}

function mutate(random: Random, input: Uint8Array): Uint8Array {
  let bytes: Uint8Array = input.slice();
  for (let m = random.int(1, 3); m > 0; m--) {
    switch (random.int(0, 5)) {
      case 0: // bit flips
        for (let i = random.int(1, 8); i > 0 && bytes.length > 0; i--) {
          const at = random.int(0, bytes.length - 1);
          bytes[at] = bytes[at]! ^ (1 << random.int(0, 7));
        }
        break;
      case 1: // truncation
        bytes = bytes.slice(0, random.int(0, bytes.length));
        break;
      case 2: { // insertion of random bytes
        const at = random.int(0, bytes.length);
        const extra = random.bytes(random.int(1, 32));
        bytes = new Uint8Array([...bytes.subarray(0, at), ...extra, ...bytes.subarray(at)]);
        break;
      }
      case 3: { // overwrite a run with random bytes
        const at = random.int(0, bytes.length);
        bytes.set(random.bytes(Math.min(bytes.length - at, random.int(1, 16))), at);
        break;
      }
      case 4: { // delete a run
        const at = random.int(0, bytes.length);
        const n = random.int(1, 16);
        bytes = new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + n)]);
        break;
      }
      default: // all random
        bytes = random.bytes(random.int(0, 300));
    }
  }
  return bytes;
}

Deno.test(`\`FrameDecoder\` survives ${CASES} mutated streams with coded errors only`, () => {
  const random = new Random(20240601);
  const counts: Record<string, number> = { ok: 0 };
  for (let i = 0; i < CASES; i++) {
    const framing = random.int(0, 1) === 0 ? "v2" : "v1";
    const bytes = mutate(random, validStream(random, framing));
    const decoder = new FrameDecoder({ framing, hardLimit: FUZZ_HARD_LIMIT });
    let frames = 0;
    let payloadBytes = 0;
    let failed: WeftError | undefined;
    try {
      for (let at = 0; at < bytes.length;) {
        const n = random.int(1, random.pick([1, 8, 64, 1500]));
        decoder.decode(bytes.subarray(at, at + n), (frame) => {
          frames++;
          payloadBytes += frame.payload.length;
          assert.ok(frame.session >= 0 && frame.session <= 0x7fffffff);
          assert.ok(frame.kind === "request" || frame.kind === "response");
        });
        at += n;
        assert.ok(decoder.buffered <= FUZZ_HARD_LIMIT + prefixSize(framing));
      }
    } catch (error) {
      if (!(error instanceof WeftError) || !DECODE_CODES.has(error.code)) {
        throw new Error(`case ${i}: unexpected ${String(error)}`, { cause: error });
      }
      failed = error;
    }
    assert.ok(payloadBytes <= bytes.length, "no frame invents bytes");
    assert.ok(frames <= bytes.length / 2);
    if (failed === undefined) {
      counts.ok!++;
    } else {
      counts[failed.code] = (counts[failed.code] ?? 0) + 1;
      assert.equal(decoder.error, failed);
      assert.throws(() => decoder.decode(new Uint8Array(8), () => {}), { code: "decoder failed" });
    }
  }
  // The mutations reach every path, not just one.
  for (const code of ["ok", ...DECODE_CODES]) {
    assert.ok((counts[code] ?? 0) > 0, `no case hit ${code}`);
  }
});
