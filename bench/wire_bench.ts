/**
 * Frame codec throughput, one group per payload size. Each group holds the
 * same stream of request frames (about 1 MiB; `N` frames), and measures:
 *
 * - `copy ... (baseline)`: copying the stream's bytes with
 *   `Uint8Array.prototype.set` in 64 KiB chunks, the floor to compare with;
 * - `copy random chunks`: the same copy in the random 1-1500 B chunks;
 * - `encode`: writing the N frames into a reused `FrameEncoder` (`clear()`
 *   after each batch: the allocation-free path);
 * - `decode 64 KiB chunks`: decoding the stream cut into 64 KiB chunks;
 * - `decode random chunks`: decoding it cut at seeded random 1-1500 B sizes.
 *
 * Then batches of responses (64-1024 per turn) encoded and taken the way a
 * server answering pipelined calls does, against a buffer that fits them.
 *
 * Every iteration handles all N frames, so frames per second is
 * `N / (time per iteration)`; N is printed first, per group.
 *
 * Run with `deno bench -A bench/wire_bench.ts`.
 *
 * @module
 */

import { FrameDecoder } from "../src/wire/frame_decoder.ts";
import { FrameEncoder } from "../src/wire/frame_encoder.ts";
import type { Frame, RequestHeader } from "../src/wire/frame.ts";

const STREAM_BYTES = 1 << 20;
const CHUNK = 64 * 1024;

/** mulberry32: the seeded random chunk sizes are the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    let t = (state = (state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  };
}

interface Case {
  label: string;
  size: number;
  payload: Uint8Array;
  count: number;
  stream: Uint8Array;
  chunks64k: Uint8Array[];
  chunksRandom: Uint8Array[];
}

const header: RequestHeader = { session: 1, cmd: 7, traceHi: 0x80000001, traceLo: 0x12345678 };

function buildCase(label: string, size: number): Case {
  const payload = new Uint8Array(size).map((_, i) => i * 7);
  const frameSize = 4 + 16 + size;
  const count = Math.max(16, Math.floor(STREAM_BYTES / frameSize));
  const encoder = new FrameEncoder({ capacity: count * frameSize });
  for (let i = 0; i < count; i++) {
    header.session = i;
    encoder.request(header, payload);
  }
  const stream = encoder.take();
  const chunks64k: Uint8Array[] = [];
  for (let at = 0; at < stream.length; at += CHUNK) {
    chunks64k.push(stream.slice(at, at + CHUNK));
  }
  const next = random(size);
  const chunksRandom: Uint8Array[] = [];
  for (let at = 0; at < stream.length;) {
    const n = 1 + Math.floor(next() * 1500);
    chunksRandom.push(stream.slice(at, at + n));
    at += n;
  }
  return { label, size, payload, count, stream, chunks64k, chunksRandom };
}

const CASES = [buildCase("32 B", 32), buildCase("1 KiB", 1024), buildCase("64 KiB", 64 * 1024)];

// Sinks that keep the work observable, so nothing is optimized away.
let frames = 0;
let checksum = 0;
const onFrame = (frame: Frame) => {
  frames++;
  checksum = (checksum + frame.session + frame.payload.length) | 0;
};

for (const c of CASES) {
  const group = `${c.label} payload (N = ${c.count} frames per iteration)`;
  const copyTarget = new Uint8Array(c.stream.length);
  const encoder = new FrameEncoder({ capacity: c.stream.length + 64 });
  const decoder = new FrameDecoder({ softLimit: 0xffffffff });
  const frameHeader: RequestHeader = { ...header };

  Deno.bench({
    name: `${c.label}: copy 64 KiB chunks`,
    group,
    baseline: true,
    fn() {
      let at = 0;
      for (const chunk of c.chunks64k) {
        copyTarget.set(chunk, at);
        at += chunk.length;
      }
    },
  });

  Deno.bench({
    name: `${c.label}: copy random chunks`,
    group,
    fn() {
      let at = 0;
      for (const chunk of c.chunksRandom) {
        copyTarget.set(chunk, at);
        at += chunk.length;
      }
    },
  });

  Deno.bench({
    name: `${c.label}: encode (reused buffer)`,
    group,
    fn() {
      for (let i = 0; i < c.count; i++) {
        frameHeader.session = i;
        encoder.request(frameHeader, c.payload);
      }
      checksum = (checksum + encoder.length) | 0;
      encoder.clear();
    },
  });

  Deno.bench({
    name: `${c.label}: decode 64 KiB chunks`,
    group,
    fn() {
      for (const chunk of c.chunks64k) decoder.decode(chunk, onFrame);
    },
  });

  Deno.bench({
    name: `${c.label}: decode random chunks`,
    group,
    fn() {
      for (const chunk of c.chunksRandom) decoder.decode(chunk, onFrame);
    },
  });
}

// Batches of responses written in one turn and taken as one write, as a
// server answering pipelined calls does: an encoder with the default
// capacity (64 KiB), whose batch outgrows it when a read brings many
// requests (Bun hands a server ~150 KB per read). The baseline encodes the
// same batch into a buffer that already fits it. Growth is linear: the
// ratio should stay flat as the batch grows (it grew with the batch while
// `#grow` allocated the exact pending size plus one frame).
for (const [count, size] of [[64, 1024], [256, 1024], [1024, 1024], [256, 32]] as const) {
  const payload = new Uint8Array(size).fill(0x61);
  const label = `${count} × ${size >= 1024 ? `${size / 1024} KiB` : `${size} B`}`;
  const group = `response batch ${label} per turn`;
  const fits = new FrameEncoder({ capacity: count * (size + 8) + 64 });
  const server = new FrameEncoder();
  Deno.bench({
    name: `batch ${label}: encode into a buffer that fits (baseline)`,
    group,
    baseline: true,
    fn() {
      for (let i = 0; i < count; i++) fits.response(i, payload);
      checksum = (checksum + fits.length) | 0;
      fits.clear();
    },
  });
  Deno.bench({
    name: `batch ${label}: encode and take(), default capacity`,
    group,
    fn() {
      for (let i = 0; i < count; i++) server.response(i, payload);
      checksum = (checksum + server.take().length) | 0;
    },
  });
}

// One untimed check that the decode benches see every frame.
{
  const c = CASES[0]!;
  const before = frames;
  const decoder = new FrameDecoder();
  for (const chunk of c.chunksRandom) decoder.decode(chunk, onFrame);
  if (frames - before !== c.count) throw new Error("bench stream decodes to the wrong count");
}
