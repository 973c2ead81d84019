// The two modes behind src/protocol/mode.ts, driven without a socket: what
// each writes and reads, and what each cannot do.

import assert from "node:assert/strict";
import { isWeftError, RemoteError } from "../../src/errors.ts";
import { checkProtocol, createMode, MODES } from "../../src/protocol/mod.ts";
import { FirstBytes, ResponseStatus } from "../../src/protocol/mode.ts";
import { resolvePartOptions } from "../../src/protocol/weft/parts.ts";
import {
  ControlCmd,
  HELLO_PAYLOAD,
  REQUEST_HEAD_SIZE,
  RequestFlag,
} from "../../src/protocol/weft/protocol.ts";
import type { WeftConnection } from "../../src/protocol/weft/weft_mode.ts";
import { FrameDecoder } from "../../src/wire/frame_decoder.ts";
import type { Frame } from "../../src/wire/frame.ts";
import { RecordingLink } from "./_link.ts";

const settings = {
  framing: "v2" as const,
  hardLimit: 1 << 20,
  softLimit: 65535,
  helloFields: undefined,
  parts: resolvePartOptions({ partSize: 1024, hardLimit: 1 << 20 }),
  keys: undefined,
};

function open(protocol: "silly" | "weft", initiator = true) {
  const link = new RecordingLink();
  const connection = createMode(protocol, settings).open(link, initiator);
  return { link, connection };
}

/** The frames a mode connection wrote and has not handed over yet. */
function written(writer: { take(): Uint8Array }): Frame[] {
  const frames: Frame[] = [];
  new FrameDecoder().decode(
    writer.take(),
    (f) => frames.push({ ...f, payload: f.payload.slice() }),
  );
  return frames;
}

function request(cmd: number, payload: Uint8Array, session = 1): Frame {
  return { kind: "request", session, cmd, traceHi: 0, traceLo: 0, payload };
}

Deno.test("`checkProtocol` and `MODES`: the modes by name, their abilities and defaults", () => {
  assert.equal(checkProtocol(undefined), "weft");
  assert.equal(checkProtocol("silly"), "silly");
  assert.equal(checkProtocol("skynet"), "skynet");
  assert.throws(() => checkProtocol("lua"), TypeError);
  assert.throws(() => checkProtocol(1), /expected "weft" or "silly" or "skynet", got 1/);
  assert.equal(MODES.skynet.can.errors, true);
  assert.equal(MODES.skynet.can.handshake, false);
  assert.equal(MODES.skynet.sessions.lowest, 1, "session 0 is skynet's push");
  assert.equal(MODES.silly.can.errors, false);
  assert.equal(MODES.weft.can.errors, true);
  assert.equal(MODES.weft.hardLimit, 4 * 1024 * 1024);
  assert.equal(MODES.silly.hardLimit, 128 * 1024 * 1024);
  assert.deepEqual(Object.values(MODES.silly.can), Object.values(MODES.silly.can).map(() => false));
});

Deno.test("silly mode: no head either way, names refused, weft's HELLO named, errors never encoded", () => {
  const { connection, link } = open("silly");
  assert.equal(connection.handshake, null);
  assert.equal(connection.requestHead(false, 100, undefined, undefined, 0), undefined);
  assert.throws(() => connection.requestHead(false, 100, "svc", undefined, 0), TypeError);
  const head = connection.readRequest(Uint8Array.of(1, 2, 3), 0);
  assert.deepEqual(
    { ...head },
    {
      body: 0,
      deadline: Infinity,
      oneWay: false,
      service: undefined,
      command: undefined,
      trace: undefined,
    },
  );
  assert.equal(connection.responseStatus(Uint8Array.of(9)), ResponseStatus.Ok);
  assert.equal(connection.responseHeadSize, 0);
  assert.equal(connection.emptyHead, null);
  assert.equal(connection.errorHead, null);
  assert.equal(connection.partThreshold, Infinity);
  assert.equal(connection.firstReservedCmd, Infinity, "silly reserves no cmd");
  assert.equal(
    connection.control(request(ControlCmd.Cancel, new Uint8Array(0))),
    false,
    "an ordinary request",
  );
  assert.throws(
    () => connection.control(request(ControlCmd.Hello, HELLO_PAYLOAD)),
    (error) =>
      isWeftError(error, "protocol") && /a test peer speaks weft's protocol/.test(error.message),
  );
  connection.cancel(1);
  connection.ping(1);
  assert.equal(connection.writer.length, 0, "no CANCEL, no PING in silly mode");
  assert.equal(link.flushes, 0);
});

Deno.test("silly mode: the framing hint names the other framing from the first bytes", () => {
  const { connection } = open("silly");
  const first = new FirstBytes();
  first.note(Uint8Array.of(0, 8, 1, 2, 3, 4, 5, 6, 7, 8));
  assert.match(connection.framingHint(first), /framing "v1"/);
});

Deno.test("weft mode: the request head carries one-way, the time left, names and trace context, and reads back", () => {
  const sender = open("weft").connection;
  const receiver = open("weft", false).connection;
  const trace = {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    flags: 1,
    traceState: "a=b",
  };
  let head = sender.requestHead(true, 250.2, "svc", "cmd", 3)!;
  head = sender.traceHead(head, trace)!;
  assert.equal(head[0]! & RequestFlag.OneWay, RequestFlag.OneWay);
  const payload = new Uint8Array(head.length + 3);
  payload.set(head);
  payload.set([7, 8, 9], head.length);
  const read = receiver.readRequest(payload, 1000);
  assert.equal(read.oneWay, true);
  assert.equal(read.deadline, 1000 + 251, "the time left, rounded up, from when the bytes arrived");
  assert.equal(read.service, "svc");
  assert.equal(read.command, "cmd");
  assert.deepEqual(read.trace, trace);
  assert.deepEqual([...payload.subarray(read.body)], [7, 8, 9]);
  assert.equal(receiver.oneWay(payload), true);
  // The names are defined once per connection, then sent as ids.
  const again = sender.requestHead(false, Infinity, "svc", "cmd", 3)!;
  assert.ok(again.length < head.length);
  const second = receiver.readRequest(again, 0);
  assert.equal(second.service, "svc");
  assert.equal(second.deadline, Infinity);
  assert.equal(second.trace, undefined);
  assert.throws(
    () => receiver.readRequest(new Uint8Array(REQUEST_HEAD_SIZE - 1), 0),
    (error) =>
      isWeftError(error, "protocol") &&
      /shorter than weft's 5-byte request head/.test(error.message),
  );
});

Deno.test("weft mode: response statuses and error bodies", () => {
  const { connection } = open("weft");
  assert.equal(connection.responseStatus(connection.okHead), ResponseStatus.Ok);
  assert.equal(connection.responseStatus(connection.emptyHead!), ResponseStatus.Empty);
  assert.equal(connection.responseStatus(connection.errorHead!), ResponseStatus.Error);
  assert.throws(
    () => connection.responseStatus(Uint8Array.of(9)),
    (error) =>
      isWeftError(error, "protocol") && /Unknown weft response status 9/.test(error.message),
  );
  const body = connection.encodeError({ name: "TypeError", code: "bad", message: "no" });
  const error = connection.decodeError(body, "ping");
  assert.ok(error instanceof RemoteError);
  assert.equal(error.remote.code, "bad");
  assert.throws(
    () => connection.decodeError(Uint8Array.of(1), "ping"),
    (e) => isWeftError(e, "protocol"),
  );
});

Deno.test("weft mode: control frames call back into the connection, and answer what needs an answer", () => {
  const { connection, link } = open("weft");
  const weft = connection as WeftConnection;
  assert.ok(connection.control(request(ControlCmd.Ping, new Uint8Array(0), 5)));
  assert.ok(connection.control(request(ControlCmd.Info, new TextEncoder().encode("describe"), 6)));
  assert.ok(connection.control(request(ControlCmd.Cancel, new Uint8Array(0), 7)));
  assert.ok(connection.control(request(ControlCmd.Pong, new Uint8Array(0), 8)));
  assert.ok(connection.control(request(ControlCmd.PartAck, new Uint8Array(0), 300)));
  const answers = written(weft.writer);
  assert.deepEqual(answers.map((f) => [f.cmd, f.session]), [
    [ControlCmd.Pong, 5],
  ]);
  // INFO goes up to the node, which answers with an ordinary response.
  assert.deepEqual(
    link.infos.map(([session, payload]) => [session, new TextDecoder().decode(payload)]),
    [[6, "describe"]],
  );
  weft.askInfo(9, new TextEncoder().encode("stats"));
  const asked = written(weft.writer);
  assert.deepEqual(asked.map((f) => [f.cmd, f.session]), [[ControlCmd.Info, 9]]);
  assert.equal(new TextDecoder().decode(asked[0]!.payload), "stats");
  assert.deepEqual(link.cancels, [7]);
  assert.deepEqual(link.pongs, [8]);
  assert.deepEqual(link.acked, [300]);
  assert.throws(
    () => connection.control(request(ControlCmd.Auth, new Uint8Array(0))),
    (error) => isWeftError(error, "authentication failed"),
  );
  assert.throws(
    () => connection.control(request(0xffffffee, new Uint8Array(0))),
    (error) =>
      isWeftError(error, "protocol") && /Unexpected control frame 0xffffffee/.test(error.message),
  );
  connection.cancel(11);
  connection.ping(12);
  assert.deepEqual(written(weft.writer).map((f) => [f.cmd, f.session]), [
    [ControlCmd.Cancel, 11],
    [ControlCmd.Ping, 12],
  ]);
});

Deno.test("weft mode: a message written in parts is put back together by the peer's mode, each part acknowledged", () => {
  const sender = open("weft").connection;
  const { connection: receiver, link } = open("weft", false);
  const body = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
  const message = {
    stream: 1,
    response: false,
    session: 42,
    cmd: 9,
    traceHi: 1,
    traceLo: 2,
    head: new Uint8Array(0),
    body,
    sent: 0,
    aborted: false,
  };
  let windowBytes = 0;
  while (message.sent < body.length) windowBytes += sender.writePart(message, sender.partThreshold);
  const parts = written(sender.writer);
  assert.equal(parts.length, 3, "1024-byte parts");
  assert.ok(windowBytes > body.length, "the window counts each part's payload");
  for (const part of parts) assert.ok(receiver.control(part));
  assert.equal(link.frames.length, 1);
  const whole = link.frames[0]!;
  assert.deepEqual([whole.kind, whole.session, whole.cmd, whole.traceHi, whole.traceLo], [
    "request",
    42,
    9,
    1,
    2,
  ]);
  assert.deepEqual(whole.payload, body);
  const acks = written(receiver.writer);
  assert.deepEqual(acks.map((f) => f.cmd), [
    ControlCmd.PartAck,
    ControlCmd.PartAck,
    ControlCmd.PartAck,
  ]);
  receiver.close();
});
