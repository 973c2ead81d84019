// Each malformed input gets its own code; limits and bad options.

import assert from "node:assert/strict";
import { isWeftError } from "../../src/errors.ts";
import { encodeRequest, encodeResponse, FrameEncoder } from "../../src/wire/frame_encoder.ts";
import { FrameDecoder, type FrameDecoderOptions } from "../../src/wire/frame_decoder.ts";
import type { Framing } from "../../src/wire/frame.ts";
import { type FrameSnapshot, fromHex, snapshot } from "./_util.ts";

const HEADER = { session: 5, cmd: 6, traceHi: 7, traceLo: 8 };

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (error) => {
    assert.ok(isWeftError(error), `expected a WeftError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

/** Feeds `hex` whole and one byte at a time; both must fail with `code`. */
function failsWith(hex: string, code: string, options: FrameDecoderOptions = {}): FrameSnapshot[] {
  const bytes = fromHex(hex);
  let before: FrameSnapshot[] = [];
  for (const whole of [true, false]) {
    const decoder = new FrameDecoder(options);
    const frames: FrameSnapshot[] = [];
    const push = (chunk: Uint8Array) => decoder.decode(chunk, (f) => frames.push(snapshot(f)));
    throwsCode(() => {
      if (whole) push(bytes);
      else for (const b of bytes) push(Uint8Array.of(b));
    }, code);
    assert.equal(decoder.error?.code, code);
    // A failed decoder refuses input until reset().
    assert.throws(() => push(fromHex("04000000 01000080")), (error) => {
      assert.ok(isWeftError(error, "decoder failed"));
      assert.equal((error as Error).cause, decoder.error);
      return true;
    });
    decoder.reset();
    assert.equal(decoder.error, null);
    assert.equal(decoder.buffered, 0);
    const after: FrameSnapshot[] = [];
    const ok = options.framing === "v1" ? "0004 01000080" : "04000000 01000080";
    decoder.decode(fromHex(ok), (f) => after.push(snapshot(f)));
    assert.equal(after.length, 1, "a reset decoder reads frames again");
    if (!whole) assert.deepEqual(frames, before, "the same frames came first either way");
    before = frames;
  }
  return before;
}

Deno.test("`FrameDecoder` refuses a body shorter than 4 with frame too short", () => {
  for (let n = 0; n < 4; n++) {
    failsWith(`0${n}000000` + "aa".repeat(n), "frame too short");
    failsWith(`000${n}` + "aa".repeat(n), "frame too short", { framing: "v1" });
  }
});

Deno.test("`FrameDecoder` refuses a v2 request body shorter than 16 with request too short", () => {
  for (let n = 4; n < 16; n++) {
    const body = "01000000" + "bb".repeat(n - 4);
    failsWith(n.toString(16).padStart(2, "0") + "000000" + body, "request too short");
  }
  // A response of 4 to 15 bytes is fine.
  const decoder = new FrameDecoder();
  let count = 0;
  decoder.decode(fromHex("05000000 01000080 ff"), () => count++);
  assert.equal(count, 1);
});

Deno.test("`FrameDecoder` refuses a v1 request too short for its trailer with frame too short", () => {
  for (let n = 4; n < 16; n++) {
    // The last u32 is the session, bit 31 clear: a request.
    const body = "cc".repeat(n - 4) + "01000000";
    failsWith("00" + n.toString(16).padStart(2, "0") + body, "frame too short", { framing: "v1" });
  }
});

Deno.test("`FrameDecoder` delivers the frames before a bad one", () => {
  const frames = failsWith("04000000 01000080 04000000 02000080 02000000 aaaa", "frame too short");
  assert.deepEqual(frames.map((f) => f.session), [1, 2]);
});

Deno.test("`FrameDecoder` refuses a length over the hard limit as soon as the prefix is read", () => {
  const cases: { framing: Framing; hardLimit?: number; prefix: string }[] = [
    { framing: "v2", hardLimit: 100, prefix: "65000000" },
    { framing: "v2", prefix: "01000008" }, // 128 MiB + 1 over the default
    { framing: "v2", prefix: "ffffffff" },
    { framing: "v1", hardLimit: 100, prefix: "0065" },
  ];
  for (const { framing, hardLimit, prefix } of cases) {
    const options: FrameDecoderOptions = hardLimit === undefined
      ? { framing }
      : { framing, hardLimit };
    for (const split of [0, 1, prefix.length / 2 - 1]) {
      const decoder = new FrameDecoder(options);
      const bytes = fromHex(prefix);
      if (split > 0) decoder.decode(bytes.subarray(0, split), () => {});
      // Only the prefix has arrived: the decoder already knows, and holds
      // at most the prefix, never the body.
      throwsCode(() => decoder.decode(bytes.subarray(split), () => {}), "frame too large");
      assert.ok(decoder.buffered <= bytes.length, `buffered ${decoder.buffered}`);
      throwsCode(() => decoder.decode(new Uint8Array(1000), () => {}), "decoder failed");
      assert.ok(decoder.buffered <= bytes.length);
    }
  }
  // At the limit itself is fine.
  const decoder = new FrameDecoder({ hardLimit: 100 });
  let payload = -1;
  decoder.decode(fromHex("64000000 01000080" + "00".repeat(96)), (f) => payload = f.payload.length);
  assert.equal(payload, 96);
});

Deno.test("`FrameDecoder` fails with decoder failed after the frame handler throws", () => {
  const decoder = new FrameDecoder();
  const boom = new Error("boom");
  assert.throws(() =>
    decoder.decode(fromHex("04000000 01000080"), () => {
      throw boom;
    }), (error) => error === boom);
  assert.ok(isWeftError(decoder.error, "decoder failed"));
  throwsCode(() => decoder.decode(fromHex("04000000 01000080"), () => {}), "decoder failed");
});

Deno.test("`FrameDecoder` calls onSoftLimit once per frame over it, without failing", () => {
  const seen: number[] = [];
  const bytes = new Uint8Array([
    ...encodeResponse(1, new Uint8Array(96)), // body 100: at the limit
    ...encodeResponse(2, new Uint8Array(97)), // body 101: over
    ...encodeRequest(HEADER, new Uint8Array(200)), // body 216: over
  ]);
  for (const step of [bytes.length, 1, 3]) {
    seen.length = 0;
    const decoder = new FrameDecoder({ softLimit: 100, onSoftLimit: (n) => seen.push(n) });
    let frames = 0;
    for (let at = 0; at < bytes.length; at += step) {
      decoder.decode(bytes.subarray(at, at + step), () => frames++);
    }
    assert.equal(frames, 3);
    assert.deepEqual(seen, [101, 216], `fed ${step} bytes at a time`);
  }
});

Deno.test("`FrameEncoder` over the hard limit throws frame too large and writes nothing", () => {
  const cases: { framing: Framing; hardLimit?: number; request: number; response: number }[] = [
    { framing: "v2", hardLimit: 100, request: 84, response: 96 },
    { framing: "v1", hardLimit: 100, request: 84, response: 96 },
    // v1's ceiling: a u16 length, whatever the hard limit says.
    { framing: "v1", request: 65519, response: 65531 },
    { framing: "v1", hardLimit: 1 << 20, request: 65519, response: 65531 },
  ];
  for (const { framing, hardLimit, request, response } of cases) {
    const options = hardLimit === undefined ? { framing } : { framing, hardLimit };
    const encoder = new FrameEncoder({ ...options, capacity: 64 });
    encoder.response(9, "pending");
    const pending = encoder.peek().slice();
    const check = (fn: () => unknown) => {
      throwsCode(fn, "frame too large");
      assert.equal(encoder.length, pending.length, "length unchanged");
      assert.deepEqual(encoder.peek(), pending, "pending bytes intact");
    };
    check(() => encoder.request(HEADER, new Uint8Array(request + 1)));
    check(() => encoder.response(1, new Uint8Array(response + 1)));
    // Strings: ASCII over by one, and multi-byte text whose UTF-8 is over
    // although its UTF-16 length is under.
    check(() => encoder.request(HEADER, "a".repeat(request + 1)));
    check(() => encoder.response(1, "é".repeat(Math.ceil((response + 1) / 2))));
    throwsCode(
      () => encodeRequest(HEADER, new Uint8Array(request + 1), options),
      "frame too large",
    );
    throwsCode(() => encodeResponse(1, "é".repeat(response), options), "frame too large");
    // At the limit is fine.
    encoder.request(HEADER, new Uint8Array(request));
    encoder.response(1, "a".repeat(response));
    assert.equal(
      encodeRequest(HEADER, "a".repeat(request), options).length,
      request + 16 + (framing === "v2" ? 4 : 2),
    );
  }
});

Deno.test("`FrameEncoder` and `FrameDecoder` reject bad options naming the option", () => {
  const bad: [() => unknown, string, RegExp][] = [
    [() => new FrameEncoder({ framing: "v3" as Framing }), "TypeError", /framing/],
    [() => new FrameDecoder({ framing: 2 as unknown as Framing }), "TypeError", /framing/],
    [() => new FrameEncoder({ hardLimit: "1" as unknown as number }), "TypeError", /hardLimit/],
    [() => new FrameEncoder({ hardLimit: 3 }), "RangeError", /hardLimit/],
    [() => new FrameDecoder({ hardLimit: 1.5 }), "RangeError", /hardLimit/],
    [() => new FrameDecoder({ hardLimit: 2 ** 32 }), "RangeError", /hardLimit/],
    [() => new FrameDecoder({ softLimit: -1 }), "RangeError", /softLimit/],
    [() => new FrameDecoder({ softLimit: Number.NaN }), "RangeError", /softLimit/],
    [
      () => new FrameDecoder({ onSoftLimit: 5 as unknown as () => void }),
      "TypeError",
      /onSoftLimit/,
    ],
    [() => new FrameEncoder({ capacity: 8 }), "RangeError", /capacity/],
    [() => new FrameEncoder({ capacity: "64" as unknown as number }), "TypeError", /capacity/],
    [() => new FrameEncoder({ buffer: [1, 2] as unknown as Uint8Array }), "TypeError", /buffer/],
    [() => encodeRequest(HEADER, "x", { framing: "v0" as Framing }), "TypeError", /framing/],
  ];
  for (const [fn, name, message] of bad) assert.throws(fn, { name, message });
});
