// A replayed handshake fails: the bytes a genuine client sent (HELLO, its
// proof, a request) are captured by a tap between it and the server, then
// replayed by a hostile raw-socket peer in a separate process (under Node).
// The server's fresh challenge makes the old proof wrong: the hostile peer
// gets only the refusal and the close, and the replayed request never
// reaches the handler.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { ControlCmd } from "../../src/protocol/weft/protocol.ts";
import { json } from "../../src/codec/json.ts";
import { transport } from "../../src/transport/deno.ts";
import { FrameDecoder } from "../../src/wire/frame_decoder.ts";
import { MemoryLogger, until } from "../cluster/cases.ts";
import { runScript } from "../_runtimes.ts";

const KEYS = {
  node: "a key both nodes share, 32 bytes",
  server: "the server's own key, 32 bytes..",
};
const HOSTILE = new URL("./_replay.ts", import.meta.url).pathname;

/** A one-connection tap: forwards both ways, records what the client sent. */
function tap(
  target: number,
): { port: number; sent: Uint8Array[]; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sent: Uint8Array[] = [];
  const done = (async () => {
    const inbound = await listener.accept();
    listener.close();
    const outbound = await Deno.connect({ hostname: "127.0.0.1", port: target });
    const pump = async (from: Deno.Conn, to: Deno.Conn, record: boolean) => {
      const buffer = new Uint8Array(65536);
      try {
        while (true) {
          const n = await from.read(buffer);
          if (n === null) break;
          if (record) sent.push(buffer.slice(0, n));
          await to.write(buffer.subarray(0, n));
        }
      } catch { /* the other side closed */ }
      try {
        to.close();
      } catch { /* already closed */ }
    };
    await Promise.all([pump(inbound, outbound, true), pump(outbound, inbound, false)]);
  })();
  return { port: (listener.addr as Deno.NetAddr).port, sent, done };
}

const toHex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("replay: a captured handshake replayed by a hostile process is refused; its request never runs", async () => {
  const logger = new MemoryLogger();
  const handled: string[] = [];
  const server = new Cluster({
    ...json({ commands: { echo: 1 } }),
    transport,
    logger,
    auth: { keys: KEYS, keyId: "server" },
    call: (peer, _cmd, body) => {
      handled.push(`${peer.identity.keyId}:${JSON.stringify(body)}`);
      return body;
    },
  });
  const client = new Cluster({
    ...json({ commands: { echo: 1 } }),
    transport,
    logger: new MemoryLogger(),
    auth: { keys: KEYS, keyId: "node" },
  });
  try {
    const listener = await server.listen("127.0.0.1:0");
    const t = tap(listener.address.port);
    const peer = client.connect(`127.0.0.1:${t.port}`);
    assert.deepEqual(await client.call(peer, "echo", { n: 1 }), { n: 1 });
    await client.close();
    await t.done;
    assert.deepEqual(handled, ['node:{"n":1}']);

    // The capture: HELLO (the first frame), then the proof and the request.
    const captured = new Uint8Array(t.sent.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of t.sent) {
      captured.set(c, at);
      at += c.length;
    }
    const helloLength = 4 + new DataView(captured.buffer).getUint32(0, true);
    const hello = captured.subarray(0, helloLength);
    const rest = captured.subarray(helloLength);
    assert.ok(rest.length > 0, "the capture holds the proof and the request");

    const result = await runScript(
      "node",
      HOSTILE,
      [`127.0.0.1:${listener.address.port}`, toHex(hello), toHex(rest)],
      30_000,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^closed$/m, "the server hung up on the replay");
    const received = Uint8Array.from(
      result.stdout.match(/^received ([0-9a-f]*)$/m)![1]!.match(/../g)!.map((h) => parseInt(h, 16)),
    );
    // What came back: a fresh HELLO_ACK, then only the empty AUTH refusal.
    const frames: { cmd: number; length: number }[] = [];
    new FrameDecoder().decode(
      received,
      (f) => frames.push({ cmd: f.cmd, length: f.payload.length }),
    );
    assert.deepEqual(frames.map((f) => f.cmd), [ControlCmd.HelloAck, ControlCmd.Auth]);
    assert.equal(frames[1]!.length, 0, "the refusal says nothing");
    await until(
      () => logger.errors.some((e) => e.includes('proof for key id "node" is wrong')),
      5000,
      "the server logs the failed proof",
    );
    assert.deepEqual(handled, ['node:{"n":1}'], "the replayed request never reached the handler");
  } finally {
    await client.close();
    await server.close();
  }
});
