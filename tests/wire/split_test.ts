// Every valid stream gives the same frames however it is split, and frames
// inside one chunk are views while frames across chunks are copied once.

import assert from "node:assert/strict";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";
import { FrameDecoder, MAX_REUSED_BODY } from "../../src/wire/frame_decoder.ts";
import { type Framing, prefixSize } from "../../src/wire/frame.ts";
import { decodeChunks, type FrameSnapshot, Random, splitAt, toHex } from "./_util.ts";

interface Stream {
  bytes: Uint8Array;
  frames: FrameSnapshot[];
  /** [start, end) of each frame in `bytes`, prefix included. */
  ranges: [number, number][];
}

/** A stream of every frame kind, empty payloads included. */
function buildStream(framing: Framing, payloadSizes: readonly number[], seed: number): Stream {
  const random = new Random(seed);
  const encoder = new FrameEncoder({ framing });
  const frames: FrameSnapshot[] = [];
  const ranges: [number, number][] = [];
  let at = 0;
  payloadSizes.forEach((size, i) => {
    const payload = random.bytes(size);
    let n: number;
    if (i % 2 === 0) {
      const header = {
        session: random.u32() >>> 1,
        cmd: random.u32(),
        traceHi: random.u32(),
        traceLo: random.u32(),
      };
      n = encoder.request(header, payload);
      frames.push({ kind: "request", ...header, payload: toHex(payload) });
    } else {
      const session = random.u32() >>> 1;
      n = encoder.response(session, payload);
      frames.push({
        kind: "response",
        session,
        cmd: 0,
        traceHi: 0,
        traceLo: 0,
        payload: toHex(payload),
      });
    }
    ranges.push([at, at + n]);
    at += n;
  });
  return { bytes: encoder.take().slice(), frames, ranges };
}

const SHORT_SIZES = [0, 0, 1, 3, 5, 0, 17];
const LONG_SIZES = [0, 0, 1, 4, 15, 16, 17, 255, 256, 300, 0, 1000, 70, 3, 0];

for (const framing of ["v2", "v1"] as const) {
  const short = buildStream(framing, SHORT_SIZES, 1);
  const long = buildStream(framing, LONG_SIZES, 2);

  Deno.test(`\`FrameDecoder\` (${framing}) gives the same frames whole and byte by byte`, () => {
    for (const stream of [short, long]) {
      assert.deepEqual(decodeChunks([stream.bytes], { framing }), stream.frames);
      const bytes = Array.from(stream.bytes, (b) => Uint8Array.of(b));
      assert.deepEqual(decodeChunks(bytes, { framing }), stream.frames);
    }
  });

  Deno.test(`\`FrameDecoder\` (${framing}) gives the same frames split at every offset`, () => {
    for (const stream of [short, long]) {
      for (let i = 0; i <= stream.bytes.length; i++) {
        assert.deepEqual(
          decodeChunks(splitAt(stream.bytes, [i]), { framing }),
          stream.frames,
          `split at ${i}`,
        );
      }
    }
  });

  Deno.test(`\`FrameDecoder\` (${framing}) gives the same frames split at every pair of offsets`, () => {
    const n = short.bytes.length;
    assert.ok(n < 200, "the pair test needs a short stream");
    for (let i = 0; i <= n; i++) {
      for (let j = i; j <= n; j++) {
        assert.deepEqual(
          decodeChunks(splitAt(short.bytes, [i, j]), { framing }),
          short.frames,
          `split at ${i} and ${j}`,
        );
      }
    }
  });

  Deno.test(`\`FrameDecoder\` (${framing}) hands out views within a chunk and one copy across chunks`, () => {
    const prefix = prefixSize(framing);
    const random = new Random(3);
    for (let round = 0; round < 300; round++) {
      // Random split points, plus the whole stream once.
      const offsets = round === 0 ? [] : Array.from(
        { length: random.int(1, 8) },
        () => random.int(0, long.bytes.length),
      ).sort((a, b) => a - b);
      const chunks = splitAt(long.bytes, offsets);
      const starts: number[] = [];
      let at = 0;
      for (const chunk of chunks) {
        starts.push(at);
        at += chunk.length;
      }
      const decoder = new FrameDecoder({ framing });
      let index = 0;
      chunks.forEach((chunk) => {
        decoder.decode(chunk, (frame) => {
          const [start, end] = long.ranges[index]!;
          const bodyStart = start + prefix;
          // The chunk holding the whole body, if one does.
          const holder = chunks.findIndex((c, k) =>
            starts[k]! <= bodyStart && end <= starts[k]! + c.length && c.length > 0
          );
          if (holder >= 0) {
            assert.equal(frame.payload.buffer, chunks[holder]!.buffer, `frame ${index} is a view`);
          } else {
            assert.ok(
              chunks.every((c) => c.buffer !== frame.payload.buffer),
              `frame ${index} spans chunks, so it is a copy`,
            );
            assert.ok(frame.payload.buffer.byteLength >= end - bodyStart);
          }
          assert.equal(toHex(frame.payload), long.frames[index]!.payload);
          index++;
        });
      });
      assert.equal(index, long.frames.length);
    }
  });
}

Deno.test("`FrameDecoder` reads large v2 frames split at random offsets", () => {
  const stream = buildStream("v2", [70_000, 0, 65_536, 1, 200_000, 5], 4);
  const random = new Random(5);
  for (let round = 0; round < 50; round++) {
    const offsets = Array.from(
      { length: random.int(1, 40) },
      () => random.int(0, stream.bytes.length),
    )
      .sort((a, b) => a - b);
    assert.deepEqual(decodeChunks(splitAt(stream.bytes, offsets)), stream.frames);
  }
});

Deno.test("`FrameDecoder` reuses one buffer for small spanning bodies, not for huge ones", () => {
  // Frame 2 is a request: its body is the payload plus a 16-byte header.
  const big = MAX_REUSED_BODY + 1 - 16;
  const stream = buildStream("v2", [100, 100, big, 100], 6);
  // Cut every frame in two, so each one spans chunks.
  const cuts = stream.ranges.map(([start, end]) => start + Math.floor((end - start) / 2));
  const chunks = splitAt(stream.bytes, cuts);
  const buffers: ArrayBufferLike[] = [];
  const decoder = new FrameDecoder();
  for (const chunk of chunks) {
    decoder.decode(chunk, (frame) => {
      buffers.push(frame.payload.buffer);
      assert.equal(toHex(frame.payload), stream.frames[buffers.length - 1]!.payload);
    });
  }
  assert.equal(buffers.length, 4);
  assert.ok(chunks.every((c) => !buffers.includes(c.buffer)), "every frame is a copy");
  assert.equal(buffers[0], buffers[1], "small spanning bodies share the reused buffer");
  assert.equal(buffers[1], buffers[3]);
  assert.notEqual(buffers[2], buffers[0]);
  assert.equal(buffers[2]!.byteLength, big + 16, "a huge body gets a buffer of its own size");
});
