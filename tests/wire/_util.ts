// Helpers shared by the wire tests: a seeded PRNG, hex, frame snapshots.

import type { Frame } from "../../src/wire/frame.ts";
import { FrameDecoder, type FrameDecoderOptions } from "../../src/wire/frame_decoder.ts";

/** A seeded PRNG (mulberry32): the same seed gives the same sequence. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** An unsigned 32-bit integer. */
  u32(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor((this.u32() / 0x100000000) * (max - min + 1));
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
}

/** Bytes to lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Hex (spaces allowed) to bytes. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** A decoded frame copied out of the decoder's shared object. */
export interface FrameSnapshot {
  kind: Frame["kind"];
  session: number;
  cmd: number;
  traceHi: number;
  traceLo: number;
  payload: string;
}

/** Copies a frame (payload as hex) so it outlives the callback. */
export function snapshot(frame: Frame): FrameSnapshot {
  return {
    kind: frame.kind,
    session: frame.session,
    cmd: frame.cmd,
    traceHi: frame.traceHi,
    traceLo: frame.traceLo,
    payload: toHex(frame.payload),
  };
}

/** Feeds `chunks` to a fresh decoder and returns every frame. */
export function decodeChunks(
  chunks: Iterable<Uint8Array>,
  options: FrameDecoderOptions = {},
): FrameSnapshot[] {
  const decoder = new FrameDecoder(options);
  const frames: FrameSnapshot[] = [];
  for (const chunk of chunks) decoder.decode(chunk, (f) => frames.push(snapshot(f)));
  if (decoder.buffered !== 0) throw new Error(`decoder holds ${decoder.buffered} bytes at the end`);
  return frames;
}

/** Splits `bytes` at the given sorted offsets (each chunk a copy in its own buffer). */
export function splitAt(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const end of [...offsets, bytes.length]) {
    chunks.push(bytes.slice(start, end));
    start = end;
  }
  return chunks;
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
