// The fixtures tests/skynet/capture.ts recorded from real skynet processes,
// read with node:fs so Deno, Bun and Node load them the same way.

import { readFileSync } from "node:fs";

/** One value packed by skynet.pack. */
export interface ValueFixture {
  label: string;
  hex: string;
}

/** One frame recorded between two skynet nodes. */
export interface FrameFixture {
  hex: string;
  step: string;
}

/** One message: its step, session, and its frames (indices into requests/responses). */
export interface MessageFixture {
  step: string;
  session: number;
  request: number[];
  response: number[];
}

/** The recorded cluster traffic. */
export interface ClusterFixture {
  skynet: string;
  requests: FrameFixture[];
  responses: FrameFixture[];
  messages: MessageFixture[];
}

function read<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;
}

/** skynet.pack of each value. */
export const values: ValueFixture[] = read<{ values: ValueFixture[] }>("values.json").values;

/** The cluster traffic. */
export const cluster: ClusterFixture = read<ClusterFixture>("cluster.json");

/** Bytes from hex. */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Hex from bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** One named case, run under Deno by the tests and under Bun and Node by _runner.ts. */
export interface Case {
  name: string;
  fn: () => void;
}
