/**
 * The examples of modules the package does not export (a doc example
 * imports the package by name, and these are not in it), run as tests:
 * src/protocol/weft/handshake.ts.
 */

import { FrameDecoder } from "../../src/wire/frame_decoder.ts";
import { ControlCmd, HELLO_PAYLOAD } from "../../src/protocol/weft/protocol.ts";
import { WeftHandshake } from "../../src/protocol/weft/handshake.ts";
import type { ModeLink } from "../../src/protocol/mode.ts";

Deno.test("WeftHandshake (src/protocol/weft/handshake.ts): The accepting side answers HELLO and is ready", () => {
  const sent: number[] = [];
  let ready = false;
  const link = { peer: "a peer", closed: false, ready: () => (ready = true), peerHello: () => {} };
  const handshake = new WeftHandshake(
    link as unknown as ModeLink,
    { writeControl: (cmd) => sent.push(cmd) },
    new FrameDecoder(),
    { initiator: false, helloFields: undefined, auth: undefined },
  );
  handshake.onFrame({
    kind: "request",
    session: 0,
    cmd: ControlCmd.Hello,
    traceHi: 0,
    traceLo: 0,
    payload: HELLO_PAYLOAD,
  });
  if (!ready || sent[0] !== ControlCmd.HelloAck) throw new Error("no HELLO_ACK");
});
