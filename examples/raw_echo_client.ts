/**
 * Raw frame echo client: sends a few request and response frames of varied
 * sizes (one over 64 KiB) to an echo server, checks every echoed frame byte
 * for byte, prints what it did, and exits 0 only if every check passed.
 *
 * Runs unchanged under Deno, Bun and Node 24.
 *
 * ```sh
 * deno run -A examples/raw_echo_client.ts 127.0.0.1:PORT
 * bun examples/raw_echo_client.ts 127.0.0.1:PORT
 * node24 examples/raw_echo_client.ts 127.0.0.1:PORT
 * ```
 */

import type { FrameKind } from "../src/wire/frame.ts";
import { FrameDecoder } from "../src/wire/frame_decoder.ts";
import { FrameEncoder } from "../src/wire/frame_encoder.ts";
import { defaultTransport } from "../src/transport/detect.ts";

declare const process: { argv: string[]; exit(code: number): never };

const LIMIT_MS = 15_000;

interface Sent {
  kind: FrameKind;
  session: number;
  cmd: number;
  traceHi: number;
  traceLo: number;
  payload: Uint8Array;
}

function payload(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff;
  return bytes;
}

const address = process.argv[2];
if (address === undefined) {
  console.error("usage: raw_echo_client.ts HOST:PORT");
  process.exit(2);
}

const frames: Sent[] = [
  {
    kind: "request",
    session: 1,
    cmd: 7,
    traceHi: 0x11223344,
    traceLo: 0x55667788,
    payload: payload(0, 1),
  },
  { kind: "request", session: 2, cmd: 0xffffffff, traceHi: 0, traceLo: 1, payload: payload(5, 2) },
  {
    kind: "response",
    session: 0x7fffffff,
    cmd: 0,
    traceHi: 0,
    traceLo: 0,
    payload: payload(1000, 3),
  },
  {
    kind: "request",
    session: 3,
    cmd: 42,
    traceHi: 0xdeadbeef,
    traceLo: 0xcafebabe,
    payload: payload(70_000, 4),
  },
  { kind: "request", session: 4, cmd: 1, traceHi: 1, traceLo: 2, payload: payload(1024 * 1024, 5) },
  { kind: "response", session: 5, cmd: 0, traceHi: 0, traceLo: 0, payload: payload(65_536, 6) },
];

const transport = await defaultTransport();
const conn = await transport.connect(address, { timeout: 5_000 });
const encoder = new FrameEncoder();
const decoder = new FrameDecoder();
let next = 0;
let failures = 0;

function check(got: Sent): void {
  const want = frames[next++];
  const label = `frame ${next}/${frames.length}`;
  if (want === undefined) {
    failures++;
    console.log(`${label}: unexpected extra frame`);
    return;
  }
  const problems: string[] = [];
  for (const key of ["kind", "session", "cmd", "traceHi", "traceLo"] as const) {
    if (got[key] !== want[key]) problems.push(`${key} ${got[key]} != ${want[key]}`);
  }
  if (got.payload.length !== want.payload.length) {
    problems.push(`payload length ${got.payload.length} != ${want.payload.length}`);
  } else {
    const at = got.payload.findIndex((b, i) => b !== want.payload[i]);
    if (at >= 0) problems.push(`payload differs at byte ${at}`);
  }
  if (problems.length > 0) failures++;
  console.log(
    `${label}: ${want.kind} session=${want.session} cmd=${want.cmd} ` +
      `payload=${want.payload.length} bytes: ${
        problems.length === 0 ? "echo ok" : problems.join(", ")
      }`,
  );
}

const done = new Promise<string>((resolve) => {
  const timer = setTimeout(() => resolve(`timed out after ${LIMIT_MS} ms`), LIMIT_MS);
  conn.start({
    data(chunk) {
      try {
        decoder.decode(chunk, (f) => check({ ...f, payload: f.payload.slice() }));
      } catch (error) {
        failures++;
        clearTimeout(timer);
        resolve(`bad echo stream: ${error}`);
        return;
      }
      if (next >= frames.length) {
        clearTimeout(timer);
        resolve("all echoes received");
      }
    },
    close(info) {
      clearTimeout(timer);
      resolve(`connection closed early (${info.reason})`);
    },
  });
});

console.log(`${transport.name} client: sending ${frames.length} frames to ${address}`);
for (const f of frames) {
  if (f.kind === "request") encoder.request(f, f.payload);
  else encoder.response(f.session, f.payload);
  if (!conn.write(encoder.take())) await conn.drained();
}
const outcome = await done;
await conn.close();
const ok = failures === 0 && next === frames.length;
console.log(
  `${outcome}; ${next}/${frames.length} checked, ${failures} failed: ${ok ? "PASS" : "FAIL"}`,
);
process.exit(ok ? 0 : 1);
