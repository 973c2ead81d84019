// The golden hex examples of PROTOCOL.md, both directions, both framings.

import assert from "node:assert/strict";
import { encodeRequest, encodeResponse, FrameEncoder } from "../../src/wire/frame_encoder.ts";
import type { Framing, RequestHeader } from "../../src/wire/frame.ts";
import { decodeChunks, type FrameSnapshot, fromHex, toHex } from "./_util.ts";

const HELLO = new TextEncoder().encode("hello");
const HEADER: RequestHeader = {
  session: 0x01020304,
  cmd: 1,
  traceHi: 0x11223344,
  traceLo: 0x55667788,
};

interface Golden {
  name: string;
  framing: Framing;
  hex: string;
  frame: FrameSnapshot;
}

const REQUEST: FrameSnapshot = { kind: "request", ...HEADER, payload: toHex(HELLO) };
const RESPONSE: FrameSnapshot = {
  kind: "response",
  session: 0x01020304,
  cmd: 0,
  traceHi: 0,
  traceLo: 0,
  payload: toHex(HELLO),
};

const GOLDEN: Golden[] = [
  {
    name: "v2 request",
    framing: "v2",
    hex: "15000000 04030201 01000000 8877665544332211 68656c6c6f",
    frame: REQUEST,
  },
  { name: "v2 response", framing: "v2", hex: "09000000 04030281 68656c6c6f", frame: RESPONSE },
  {
    name: "v2 empty response",
    framing: "v2",
    hex: "04000000 07000080",
    frame: { kind: "response", session: 7, cmd: 0, traceHi: 0, traceLo: 0, payload: "" },
  },
  {
    name: "v1 request",
    framing: "v1",
    hex: "0015 68656c6c6f 8877665544332211 01000000 04030201",
    frame: REQUEST,
  },
  { name: "v1 response", framing: "v1", hex: "0009 68656c6c6f 04030281", frame: RESPONSE },
];

function encodeWith(
  how: "encoder" | "function",
  framing: Framing,
  frame: FrameSnapshot,
): Uint8Array {
  const payload = Uint8Array.from(frame.payload.match(/../g) ?? [], (h) => parseInt(h, 16));
  if (how === "function") {
    return frame.kind === "request"
      ? encodeRequest(frame, payload, { framing })
      : encodeResponse(frame.session, payload, { framing });
  }
  const encoder = new FrameEncoder({ framing });
  if (frame.kind === "request") encoder.request(frame, payload);
  else encoder.response(frame.session, payload);
  return encoder.take();
}

for (const golden of GOLDEN) {
  const hex = golden.hex.replace(/\s+/g, "");

  Deno.test(`\`FrameEncoder\` writes the golden ${golden.name} byte for byte`, () => {
    assert.equal(toHex(encodeWith("encoder", golden.framing, golden.frame)), hex);
    assert.equal(toHex(encodeWith("function", golden.framing, golden.frame)), hex);
  });

  Deno.test(`\`FrameDecoder\` reads the golden ${golden.name} field by field`, () => {
    assert.deepEqual(decodeChunks([fromHex(hex)], { framing: golden.framing }), [golden.frame]);
  });
}

Deno.test("`FrameEncoder` writes string payloads as UTF-8 (golden request)", () => {
  for (const framing of ["v2", "v1"] as const) {
    const golden = GOLDEN.find((g) => g.framing === framing && g.name.endsWith(" request"))!;
    const encoder = new FrameEncoder({ framing });
    encoder.request(HEADER, "hello");
    assert.equal(toHex(encoder.take()), golden.hex.replace(/\s+/g, ""));
    const response = GOLDEN.find((g) => g.framing === framing && g.name.endsWith(" response"))!;
    assert.equal(
      toHex(encodeResponse(0x01020304, "hello", { framing })),
      response.hex.replace(/\s+/g, ""),
    );
  }
});

Deno.test("`FrameEncoder` masks the response flag into the session (golden response)", () => {
  // A session with bit 31 set is a caller slip: the encoder keeps 31 bits.
  assert.equal(toHex(encodeResponse(0x81020304, HELLO)), "090000000403028168656c6c6f");
});
