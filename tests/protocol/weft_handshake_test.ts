// weft's handshake driven without a socket: two WeftHandshakes wired to
// each other through their control frames, or one fed frames by hand.

import assert from "node:assert/strict";
import { isWeftError, WeftError } from "../../src/errors.ts";
import { HandshakeAuth, KeyRing } from "../../src/protocol/weft/handshake_auth.ts";
import { MAX_HELD_FRAMES, WeftHandshake } from "../../src/protocol/weft/handshake.ts";
import {
  ControlCmd,
  HELLO_BODY_SIZE,
  HELLO_PAYLOAD,
  HelloField,
} from "../../src/protocol/weft/protocol.ts";
import { FrameDecoder } from "../../src/wire/frame_decoder.ts";
import type { Frame } from "../../src/wire/frame.ts";
import { RecordingLink } from "./_link.ts";
import { waitLimit } from "../_wait.ts";

function control(cmd: number, payload: Uint8Array, session = 0): Frame {
  return { kind: "request", session, cmd, traceHi: 0, traceLo: 0, payload };
}

/** One side: its handshake, what it saw, and the control frames it wrote. */
function side(initiator: boolean, keys?: KeyRing, name?: string) {
  const link = new RecordingLink();
  const sent: Frame[] = [];
  const reader = new FrameDecoder({ hardLimit: 1 << 20 });
  const handshake = new WeftHandshake(
    link,
    {
      writeControl: (cmd, session, payload) => sent.push(control(cmd, payload.slice(), session)),
    },
    reader,
    {
      initiator,
      helloFields: name === undefined
        ? undefined
        : new Map([[HelloField.NodeName, new TextEncoder().encode(name)]]),
      auth: keys && new HandshakeAuth(keys),
    },
  );
  return { link, sent, reader, handshake };
}

/**
 * Delivers every control frame each side wrote to the other until both are
 * ready, or one failed and nothing is left to deliver (a hang guard of
 * tests/_wait.ts's floor: WebCrypto's steps are slow on a loaded machine).
 */
async function exchange(a: ReturnType<typeof side>, b: ReturnType<typeof side>): Promise<void> {
  const settled = (s: ReturnType<typeof side>) => s.link.isReady || s.link.failed !== undefined;
  const end = Date.now() + waitLimit(0);
  for (let round = 0; round < 100_000 && Date.now() < end; round++) {
    for (const frame of a.sent.splice(0)) if (!b.link.closed) deliver(b, frame);
    for (const frame of b.sent.splice(0)) if (!a.link.closed) deliver(a, frame);
    const quiet = a.sent.length === 0 && b.sent.length === 0;
    if (quiet && a.link.isReady && b.link.isReady) return;
    if (quiet && (a.link.failed !== undefined || b.link.failed !== undefined) && settled(a)) return;
    // Key authentication's steps are async (WebCrypto).
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error("the handshake did not settle");
}

function deliver(to: ReturnType<typeof side>, frame: Frame): void {
  try {
    if (to.link.isReady) to.link.frame(frame);
    else to.handshake.onFrame(frame);
  } catch (error) {
    to.link.fail(error as WeftError);
  }
}

const KEY = "0123456789abcdef0123456789abcdef";

/** Waits (a few ms at a time, at most tests/_wait.ts's floor) for `done`. */
async function until(done: () => boolean): Promise<void> {
  const end = Date.now() + waitLimit(0);
  for (let i = 0; i < 100_000 && !done() && Date.now() < end; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(done(), "timed out");
}

Deno.test("`WeftHandshake`: HELLO, HELLO_ACK, both ready, names exchanged, the read limit restored", async () => {
  const client = side(true, undefined, "client-node");
  const server = side(false, undefined, "server-node");
  assert.equal(
    client.reader.limit,
    HELLO_BODY_SIZE,
    "only a HELLO may be read before the handshake",
  );
  client.handshake.start();
  server.handshake.start();
  assert.deepEqual(
    client.sent.map((f) => f.cmd),
    [ControlCmd.Hello],
    "the connecting side speaks first",
  );
  assert.equal(server.sent.length, 0);
  await exchange(client, server);
  assert.ok(client.link.isReady && server.link.isReady);
  assert.equal(
    new TextDecoder().decode(server.link.hello!.get(HelloField.NodeName)),
    "client-node",
  );
  assert.equal(
    new TextDecoder().decode(client.link.hello!.get(HelloField.NodeName)),
    "server-node",
  );
  assert.equal(client.reader.limit, client.reader.hardLimit);
  assert.equal(server.reader.limit, server.reader.hardLimit);
});

Deno.test("`WeftHandshake` with keys: proofs both ways; frames after the proof are held until it is checked", async () => {
  const keys = new KeyRing({ keys: { k1: KEY }, keyId: "k1" });
  const client = side(true, keys);
  const server = side(false, keys);
  client.handshake.start();
  await exchange(client, server);
  assert.ok(client.link.isReady && server.link.isReady);
  assert.equal(client.link.keyId, "k1");
  assert.equal(server.link.keyId, "k1");
  assert.equal(server.link.paused, 0, "reading resumed after the check");

  // The accepting side holds what comes after AUTH while it checks it, and hands it on in order.
  const c2 = side(true, keys);
  const s2 = side(false, keys);
  c2.handshake.start();
  deliver(s2, c2.sent.shift()!); // HELLO
  await until(() => s2.sent.length > 0);
  deliver(c2, s2.sent.shift()!); // HELLO_ACK
  await until(() => c2.sent.length > 0);
  const auth = c2.sent.shift()!;
  assert.equal(auth.cmd, ControlCmd.Auth);
  deliver(s2, auth);
  assert.equal(s2.link.paused, 1, "reading paused while the proof is checked");
  deliver(s2, control(7, Uint8Array.of(1), 1));
  deliver(s2, control(8, Uint8Array.of(2), 2));
  await until(() => s2.link.isReady);
  assert.deepEqual(s2.link.frames.map((f) => f.cmd), [7, 8]);
});

Deno.test("`WeftHandshake` with a wrong key: the connecting side refuses the accepting side's proof", async () => {
  const client = side(true, new KeyRing({ keys: { k1: KEY }, keyId: "k1" }));
  const server = side(false, new KeyRing({ keys: { k1: KEY.replace("0", "x") }, keyId: "k1" }));
  client.handshake.start();
  await exchange(client, server);
  assert.ok(isWeftError(client.link.failed, "authentication failed"), String(client.link.failed));
  assert.match(client.link.failed!.message, /proof for key id "k1" is wrong/);
  assert.ok(!server.link.isReady && !client.link.isReady);
});

Deno.test("`WeftHandshake`: the accepting side refuses a wrong proof with an empty AUTH, saying no more", async () => {
  const good = "fedcba9876543210fedcba9876543210";
  const client = side(true, new KeyRing({ keys: { c: KEY, s: good }, keyId: "c" }));
  const server = side(
    false,
    new KeyRing({ keys: { c: KEY.replace("0", "x"), s: good }, keyId: "s" }),
  );
  client.handshake.start();
  const end = Date.now() + waitLimit(0);
  for (let i = 0; i < 100_000 && server.link.failed === undefined && Date.now() < end; i++) {
    for (const frame of client.sent.splice(0)) deliver(server, frame);
    for (const frame of server.sent.splice(0)) {
      if (frame.cmd === ControlCmd.HelloAck) deliver(client, frame);
      else server.sent.unshift(frame);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(isWeftError(server.link.failed, "authentication failed"), String(server.link.failed));
  assert.ok(client.link.isReady, "the client's check of the server passed");
  const refusal = server.sent.find((f) => f.cmd === ControlCmd.Auth);
  assert.ok(
    refusal !== undefined && refusal.payload.length === 0,
    "an empty AUTH: only that it failed",
  );
});

Deno.test("`WeftHandshake`: too many frames during authentication is a protocol error", async () => {
  const keys = new KeyRing({ keys: { k1: KEY }, keyId: "k1" });
  const server = side(false, keys);
  const client = side(true, keys);
  client.handshake.start();
  deliver(server, client.sent.shift()!);
  await until(() => server.sent.length > 0);
  deliver(client, server.sent.shift()!);
  await until(() => client.sent.length > 0);
  server.handshake.onFrame(client.sent.shift()!); // AUTH: the check starts
  for (let i = 0; i < MAX_HELD_FRAMES; i++) server.handshake.onFrame(control(1, new Uint8Array(0)));
  assert.throws(
    () => server.handshake.onFrame(control(1, new Uint8Array(0))),
    (error) => isWeftError(error, "protocol") && /too many frames/.test(error.message),
  );
  await until(() => server.link.isReady);
});

Deno.test("`WeftHandshake`: a peer without HELLO, another version, or an oversized HELLO is refused by name", () => {
  const server = side(false);
  assert.throws(
    () => server.handshake.onFrame(control(1, new TextEncoder().encode("hello"))),
    (error) =>
      isWeftError(error, "protocol") && /sent frames without weft's HELLO/.test(error.message),
  );
  const v2 = HELLO_PAYLOAD.slice();
  v2[4] = 2;
  assert.throws(
    () => side(false).handshake.onFrame(control(ControlCmd.Hello, v2)),
    (error) => isWeftError(error, "protocol") && /version 2, this node 1/.test(error.message),
  );
  const big = new Uint8Array(600);
  big.set(HELLO_PAYLOAD);
  assert.throws(
    () => side(false).handshake.onFrame(control(ControlCmd.Hello, big)),
    (error) => isWeftError(error, "protocol") && /over the limit of 512/.test(error.message),
  );
  const client = side(true);
  client.handshake.start();
  assert.throws(
    () => client.handshake.onFrame({ ...control(0, new Uint8Array(0), 1), kind: "response" }),
    (error) =>
      isWeftError(error, "protocol") && /answered without weft's HELLO_ACK/.test(error.message),
  );
  const refused = side(true);
  assert.throws(
    () => refused.handshake.onFrame(control(ControlCmd.Auth, new Uint8Array(0))),
    (error) => isWeftError(error, "authentication failed"),
  );
});

Deno.test("`WeftHandshake` words its failures: a close before HELLO_ACK, an expired deadline, an oversized first frame", () => {
  const client = side(true);
  const early = client.handshake.closedEarly({ reason: "remote" });
  assert.ok(isWeftError(early, "closed") && /before it answered weft's HELLO/.test(early.message));
  assert.equal(client.handshake.closedEarly({ reason: "local" }), null);
  assert.equal(side(false).handshake.closedEarly({ reason: "remote" }), null);
  const expiredClient = client.handshake.expired(100, "; hint");
  assert.ok(isWeftError(expiredClient, "protocol"));
  assert.match(expiredClient.message, /did not answer weft's HELLO within 100 ms.*; hint$/);
  const expiredServer = side(false).handshake.expired(100, "");
  assert.ok(isWeftError(expiredServer, "timeout"));
  assert.match(expiredServer.message, /No weft handshake from a test peer within 100 ms/);
  const tooLarge = new WeftError("frame too large", "Cannot decode frame: length 9999 exceeds x");
  const explained = side(false).handshake.explain(tooLarge);
  assert.ok(isWeftError(explained, "protocol"));
  assert.match(explained.message, /without weft's HELLO \(length 9999 exceeds x\)/);
  const other = new WeftError("frame too short", "short");
  assert.equal(side(false).handshake.explain(other), other);
});
