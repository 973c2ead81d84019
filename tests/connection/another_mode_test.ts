// The seam holds a third mode: a toy protocol shaped like skynet's cluster
// protocol (its own 2-byte big-endian framing, requests one way only, the
// session first in a response, 0 for a push, no handshake, no control
// frames) runs on real Channels over the memory transport, with no change
// to src/connection/. docs/CONNECTION.md says how skynet's would plug in;
// this proves the interface takes a mode that brings its own framing.

import assert from "node:assert/strict";
import { Channel } from "../../src/connection/channel.ts";
import type { ChannelHost } from "../../src/connection/channel_host.ts";
import { Peer } from "../../src/connection/peer.ts";
import { RemoteError, WeftError } from "../../src/errors.ts";
import type {
  FrameReader,
  FrameWriter,
  ModeConnection,
  ModeInfo,
  ModeLink,
  ProtocolMode,
  RequestHead,
} from "../../src/protocol/mode.ts";
import { ResponseStatus } from "../../src/protocol/mode.ts";
import { DeadlineQueue } from "../../src/session/deadline_queue.ts";
import { PendingCall } from "../../src/session/pending_calls.ts";
import { transport } from "../../src/transport/memory.ts";
import type { Connection } from "../../src/transport/types.ts";
import type { Frame, RequestHeader } from "../../src/wire/frame.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * `[u16 BE length][body]`. The side that connected reads responses
 * (`[session u32le][type][payload]`), the other requests
 * (`[type][cmd u32le][session u32le][payload]`), as skynet's sender and agent.
 */
class ToyReader implements FrameReader {
  readonly #responses: boolean;
  #held = new Uint8Array(0);
  readonly #frame: Frame = {
    kind: "request",
    session: 0,
    cmd: 0,
    traceHi: 0,
    traceLo: 0,
    payload: new Uint8Array(0),
  };

  constructor(responses: boolean) {
    this.#responses = responses;
  }

  get buffered(): number {
    return this.#held.length;
  }

  decode(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    const bytes = new Uint8Array(this.#held.length + chunk.length);
    bytes.set(this.#held);
    bytes.set(chunk, this.#held.length);
    let at = 0;
    while (bytes.length - at >= 2) {
      const length = (bytes[at]! << 8) | bytes[at + 1]!;
      if (bytes.length - at - 2 < length) break;
      const body = bytes.subarray(at + 2, at + 2 + length);
      const view = new DataView(body.buffer, body.byteOffset, body.length);
      const frame = this.#frame;
      if (this.#responses) {
        if (length < 5) throw new WeftError("protocol", "Toy response cut short");
        frame.kind = "response";
        frame.session = view.getUint32(0, true);
        frame.cmd = 0;
        frame.payload = body.subarray(4); // the type byte is the response head
      } else {
        if (length < 9 || body[0] !== 0) throw new WeftError("protocol", "Not a toy request");
        frame.kind = "request";
        frame.cmd = view.getUint32(1, true);
        frame.session = view.getUint32(5, true);
        frame.payload = body.subarray(9);
      }
      onFrame(frame);
      at += 2 + length;
    }
    this.#held = bytes.slice(at);
  }
}

class ToyWriter implements FrameWriter {
  #chunks: Uint8Array[] = [];
  length = 0;

  request(header: RequestHeader, payload: Uint8Array | string = "", head?: Uint8Array): number {
    const body = typeof payload === "string" ? enc.encode(payload) : payload;
    const push = head?.[0] === 1;
    const out = new Uint8Array(2 + 9 + body.length);
    const view = new DataView(out.buffer);
    view.setUint16(0, 9 + body.length);
    out[2] = 0;
    view.setUint32(3, header.cmd, true);
    view.setUint32(7, push ? 0 : header.session, true);
    out.set(body, 11);
    return this.#push(out);
  }

  response(session: number, payload: Uint8Array | string = "", head?: Uint8Array): number {
    const body = typeof payload === "string" ? enc.encode(payload) : payload;
    const out = new Uint8Array(2 + 5 + body.length);
    const view = new DataView(out.buffer);
    view.setUint16(0, 5 + body.length);
    view.setUint32(2, session, true);
    out[6] = head?.[0] ?? 1;
    out.set(body, 7);
    return this.#push(out);
  }

  take(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    this.clear();
    return out;
  }

  clear(): void {
    this.#chunks = [];
    this.length = 0;
  }

  #push(frame: Uint8Array): number {
    this.#chunks.push(frame);
    this.length += frame.length;
    return frame.length;
  }
}

const OK = Uint8Array.of(1);
const ERROR = Uint8Array.of(0);
const PUSH = Uint8Array.of(1);
const NO_HEAD: RequestHead = {
  body: 0,
  deadline: Infinity,
  oneWay: false,
  service: undefined,
  command: undefined,
  trace: undefined,
};

const TOY_INFO: ModeInfo = {
  name: "toy",
  can: {
    handshake: false,
    keys: false,
    errors: true,
    cancel: false,
    deadlines: false,
    heartbeats: false,
    parts: false,
    names: false,
    traceContext: false,
    info: false,
  },
  sessions: { lowest: 1, unique: false },
  hardLimit: 0xffff,
  minHardLimit: { bytes: 5, why: "a response's session and type" },
  idleTimeout: Infinity,
  frameTimeout: 60_000,
};

function toyConnection(_link: ModeLink, initiator: boolean): ModeConnection {
  return {
    reader: new ToyReader(initiator),
    writer: new ToyWriter(),
    prefixSize: 2,
    framingHint: () => "",
    handshake: null,
    firstControlCmd: Infinity,
    control: () => false,
    cancel() {},
    ping() {},
    askInfo() {
      throw new WeftError("protocol", "the toy mode has no INFO");
    },
    firstReservedCmd: Infinity,
    requestHead: (oneWay) => oneWay ? PUSH : undefined,
    traceHead: (head) => head,
    readRequest: () => NO_HEAD,
    oneWay: () => false,
    okHead: OK,
    emptyHead: OK,
    errorHead: ERROR,
    encodeError: (info) => enc.encode(info.message),
    responseHeadSize: 1,
    responseStatus: (payload) => payload[0] === 1 ? ResponseStatus.Ok : ResponseStatus.Error,
    decodeError: (body, cmd) =>
      new RemoteError({ name: "Error", message: dec.decode(body) }, `Call ${cmd} failed remotely`),
    parts: undefined,
    partThreshold: Infinity,
    writePart: () => 0,
    close() {},
  };
}

const toy: ProtocolMode = { ...TOY_INFO, open: toyConnection };

/** A host that echoes requests (cmd 2 fails, with an error the mode carries back) and settles calls. */
function host(seen: Frame[], closed: WeftError[]): ChannelHost<Channel> {
  return {
    onRequest(channel, frame) {
      seen.push({ ...frame, payload: frame.payload.slice() });
      const protocol = channel.protocol;
      if (frame.session === 0) return; // a push: nobody waits
      if (frame.cmd === 2) {
        channel.response(
          frame.session,
          protocol.encodeError({ name: "Error", message: "no" }),
          protocol.errorHead!,
        );
      } else channel.response(frame.session, frame.payload.slice(), protocol.okHead);
    },
    onResponse(channel, call, payload) {
      const protocol = channel.protocol;
      const body = payload.subarray(protocol.responseHeadSize);
      if (protocol.responseStatus(payload) === ResponseStatus.Error) {
        call.reject(protocol.decodeError(body, call.cmd));
      } else call.resolve(dec.decode(body));
    },
    onTimeout: (_channel, call) => call.reject(new WeftError("timeout", "timed out")),
    onSoftLimit() {},
    onRefused() {},
    onCancel() {},
    onClosed: (_channel, error) => void closed.push(error),
    onInfo() {},
  };
}

Deno.test("a third mode with its own framing runs on the connection unchanged: calls, errors, pushes", async () => {
  const deadlines = new DeadlineQueue();
  const options = {
    mode: toy,
    softLimit: 0xffff,
    deadlines,
    highWaterMark: 65536,
    maxInflight: 16,
  };
  const serverSeen: Frame[] = [];
  const closed: WeftError[] = [];
  const accepted = Promise.withResolvers<Channel>();
  const listener = await transport.listen("127.0.0.1:0", (connection: Connection) => {
    const channel = new Channel(host(serverSeen, closed), new Peer(undefined), connection, {
      ...options,
      initiator: false,
    });
    channel.start();
    accepted.resolve(channel);
  });
  const connection = await transport.connect(`127.0.0.1:${listener.address.port}`);
  const client = new Channel(host([], closed), new Peer("toy"), connection, {
    ...options,
    initiator: true,
  });
  client.start();
  assert.equal(client.handshaking, false, "no handshake: ready at once");
  const call = (cmd: number, body: string) =>
    new Promise<unknown>((resolve, reject) => {
      client.request(cmd, body, 0, 0, new PendingCall(cmd, resolve, reject), Infinity);
    });
  try {
    assert.equal(await call(1, "hello"), "hello");
    await assert.rejects(
      call(2, "x"),
      (error) => error instanceof RemoteError && error.message.includes("no"),
    );
    client.request(
      1,
      "pushed",
      0,
      0,
      null,
      0,
      client.protocol.requestHead(true, Infinity, undefined, undefined, 6),
    );
    assert.equal(await call(1, "after"), "after");
    const sessions = serverSeen.map((f) => f.session);
    assert.ok(sessions[0]! >= 1, "calls never carry session 0 (the mode's lowest is 1)");
    assert.deepEqual(serverSeen.map((f) => dec.decode(f.payload)), [
      "hello",
      "x",
      "pushed",
      "after",
    ]);
    assert.equal(serverSeen[2]!.session, 0, "the push carried 0");
  } finally {
    await client.close(new WeftError("peer closed", "done"), true);
    (await accepted.promise).close(new WeftError("peer closed", "done"), true);
    await listener.close();
    deadlines.clear();
  }
});
