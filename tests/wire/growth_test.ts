/**
 * The decoder allocates as bytes arrive, not as a length prefix claims, and
 * its current limit (lowered, e.g., until a handshake completes) refuses a
 * longer frame at the prefix.
 */

import assert from "node:assert/strict";
import { FrameDecoder, MAX_REUSED_BODY, MIN_BODY_BUFFER } from "../../src/wire/frame_decoder.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";
import type { Frame, Framing } from "../../src/wire/frame.ts";
import { isWeftError } from "../../src/errors.ts";

const MiB = 1024 * 1024;

/** A v2 prefix announcing `n` body bytes, then the start of a request header. */
function prefix(n: number): Uint8Array {
  const bytes = new Uint8Array(5);
  new DataView(bytes.buffer).setUint32(0, n, true);
  return bytes;
}

function request(framing: Framing, payload: Uint8Array): Uint8Array {
  const encoder = new FrameEncoder({ framing, hardLimit: 256 * MiB });
  encoder.request({ session: 7, cmd: 3, traceHi: 1, traceLo: 2 }, payload);
  return encoder.take().slice();
}

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

Deno.test("`FrameDecoder` allocates little for a prefix claiming 128 MiB and grows with what arrives", () => {
  const decoder = new FrameDecoder({ hardLimit: 128 * MiB });
  const frames: Frame[] = [];
  // The 20 bytes of the issue: a prefix claiming 128 MiB and a few body bytes.
  decoder.decode(prefix(128 * MiB - 1), (f) => frames.push(f));
  assert.ok(decoder.allocated <= MIN_BODY_BUFFER, `allocated ${decoder.allocated}`);
  decoder.decode(new Uint8Array(15), (f) => frames.push(f));
  assert.ok(decoder.allocated <= MIN_BODY_BUFFER, `allocated ${decoder.allocated}`);
  // As bytes arrive, the buffer stays within twice what was received (or the minimum).
  let received = 1 + 15;
  const chunk = new Uint8Array(1000);
  for (let i = 0; i < 3000; i++) {
    decoder.decode(chunk, (f) => frames.push(f));
    received += chunk.length;
    assert.ok(
      decoder.allocated <= Math.max(MIN_BODY_BUFFER, 2 * received),
      `allocated ${decoder.allocated} after ${received} bytes`,
    );
  }
  assert.equal(decoder.buffered, 4 + received);
  assert.equal(frames.length, 0);
});

for (const framing of ["v2", "v1"] as const) {
  Deno.test(`\`FrameDecoder\` (${framing}) assembles spanning bodies byte-exact as its buffer grows`, () => {
    const sizes = framing === "v2" ? [100, 5000, 70_000, MAX_REUSED_BODY + 12_345, 3 * MiB] : [
      100,
      5000,
      65_000,
    ];
    const decoder = new FrameDecoder({ framing, hardLimit: 16 * MiB });
    for (const size of sizes) {
      const payload = pattern(size);
      const bytes = request(framing, payload);
      // Chunks of uneven sizes, so growth happens at odd offsets.
      const got: Uint8Array[] = [];
      let at = 0;
      for (let step = 1; at < bytes.length; step = (step * 7 + 3) % 9000 + 1) {
        const end = Math.min(bytes.length, at + step);
        decoder.decode(bytes.subarray(at, end), (f) => {
          assert.equal(f.session, 7);
          assert.equal(f.cmd, 3);
          got.push(f.payload.slice());
        });
        at = end;
      }
      assert.equal(got.length, 1, `size ${size}`);
      assert.deepEqual(got[0], payload, `size ${size}`);
      assert.equal(decoder.allocated, 0);
    }
  });
}

Deno.test("`FrameDecoder.setLimit` refuses a longer frame at its prefix, naming the limit; the hard limit comes back", () => {
  const decoder = new FrameDecoder({ hardLimit: 1000 });
  assert.equal(decoder.limit, 1000);
  decoder.setLimit(24, "the handshake frame's size");
  assert.equal(decoder.limit, 24);
  const small = request("v2", new Uint8Array(8)); // body 24
  const big = request("v2", new Uint8Array(9)); // body 25
  let n = 0;
  // A frame of exactly the limit passes; inside its callback the limit is
  // raised, and the next frame of the same chunk is read under the new one.
  decoder.decode(new Uint8Array([...small, ...big]), () => {
    n++;
    decoder.setLimit();
  });
  assert.equal(n, 2);
  assert.equal(decoder.limit, 1000);

  decoder.setLimit(24, "the handshake frame's size");
  let error: unknown;
  try {
    decoder.decode(big.subarray(0, 4), () => n++);
  } catch (e) {
    error = e;
  }
  assert.ok(isWeftError(error, "frame too large"), String(error));
  assert.match((error as Error).message, /length 25 exceeds the handshake frame's size 24/);
  assert.equal(decoder.allocated, 0);

  for (const bad of [3, 1001, 1.5, Number.NaN]) {
    assert.throws(() => new FrameDecoder({ hardLimit: 1000 }).setLimit(bad), RangeError);
  }
});
