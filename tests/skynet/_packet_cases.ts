// skynet's cluster packets (src/wire/skynet_packet.ts), written once:
// packet_test.ts runs these under Deno, and _runner.ts under Bun and Node.

import assert from "node:assert/strict";
import { isWeftError } from "../../src/errors.ts";
import {
  decodeSkynetRequest,
  decodeSkynetResponse,
  encodeSkynetRequest,
  encodeSkynetResponse,
  encodeSkynetTrace,
  nextSkynetSession,
  SKYNET_MAX_SESSION,
  type SkynetAssembledRequest,
  type SkynetAssembledResponse,
  SkynetFrameSplitter,
  SkynetRequestAssembler,
  SkynetResponseAssembler,
} from "../../src/wire/skynet_packet.ts";
import { unpackValues } from "../../src/codec/skynet.ts";
import { type Case, cluster, fromHex, type MessageFixture, toHex } from "./_fixtures.ts";

export const cases: Case[] = [];
const test = (name: string, fn: () => void) => cases.push({ name, fn });

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isWeftError(error)) return error.code;
    throw error;
  }
  return "no error";
}

const requestFrames = (m: MessageFixture) =>
  m.request.map((i) => fromHex(cluster.requests[i]!.hex));
const responseFrames = (m: MessageFixture) =>
  m.response.map((i) => fromHex(cluster.responses[i]!.hex));
const hexes = (frames: Uint8Array[]) => frames.map(toHex);

function assembleRequest(frames: Uint8Array[]): SkynetAssembledRequest {
  const assembler = new SkynetRequestAssembler();
  let out: SkynetAssembledRequest | undefined;
  for (const frame of frames) {
    assert.equal((frame[0]! << 8) | frame[1]!, frame.length - 2, "length prefix");
    const got = assembler.push(decodeSkynetRequest(frame.subarray(2)));
    if (got !== undefined) {
      assert.equal(out, undefined, "one request per message");
      out = got;
    }
  }
  assert.ok(out !== undefined, "a whole request");
  assert.equal(assembler.partials, 0);
  return out;
}

function assembleResponse(frames: Uint8Array[]): SkynetAssembledResponse {
  const assembler = new SkynetResponseAssembler();
  let out: SkynetAssembledResponse | undefined;
  for (const frame of frames) {
    const got = assembler.push(decodeSkynetResponse(frame.subarray(2)));
    if (got !== undefined) out = got;
  }
  assert.ok(out !== undefined, "a whole response");
  return out;
}

const find = (step: string) => {
  const m = cluster.messages.find((x) => x.step.startsWith(step));
  assert.ok(m, `no message "${step}"`);
  return m;
};

test("every captured request decodes, reassembles, and encodes back to skynet's frames byte for byte", () => {
  assert.ok(cluster.messages.length >= 18);
  for (const m of cluster.messages) {
    const frames = requestFrames(m);
    const request = assembleRequest(frames);
    assert.equal(request.kind, "request", m.step);
    if (request.kind !== "request") continue;
    const again = [
      ...(request.trace === undefined ? [] : [encodeSkynetTrace(request.trace)]),
      ...encodeSkynetRequest(
        request.address,
        request.session === 0 ? 1 : request.session,
        request.message,
        request.push,
      ),
    ];
    assert.deepEqual(hexes(again), hexes(frames), m.step);
  }
});

test("every captured response decodes, reassembles, and encodes back to skynet's frames byte for byte", () => {
  let checked = 0;
  for (const m of cluster.messages) {
    const frames = responseFrames(m);
    if (frames.length === 0) continue;
    const response = assembleResponse(frames);
    assert.equal(response.session, m.session, m.step);
    assert.deepEqual(
      hexes(encodeSkynetResponse(response.session, response.ok, response.message)),
      hexes(frames),
      m.step,
    );
    checked++;
  }
  assert.ok(checked >= 14, `${checked} responses`);
});

test("the captured requests are the documented types, addresses and sessions", () => {
  const head = (step: string) =>
    requestFrames(find(step)).map((f) => f[2]!.toString(16).padStart(2, "0")).join(",");
  assert.equal(head("call @name, small"), "80");
  assert.equal(head("cluster.query (address 0)"), "00");
  assert.equal(head("push @name, small"), "80");
  assert.equal(head("call @name, multipart request"), "81,02,03");
  assert.equal(head("call numeric address, multipart"), "01,02,03");
  assert.equal(head("push @name, multipart"), "c1,02,03");
  assert.equal(head("push numeric address, multipart"), "41,02,03");
  assert.equal(head("call @name, request of exactly 32768"), "81,03");
  assert.equal(head("call @name, request of 32767"), "80");
  assert.equal(head("call with a trace tag"), "04,80");
  const query = assembleRequest(requestFrames(find("cluster.query (address 0)")));
  assert.ok(query.kind === "request" && query.address === 0);
  assert.deepEqual(unpackValues(query.message), ["sdb"]);
  const byName = assembleRequest(requestFrames(find("call @name, small")));
  assert.ok(byName.kind === "request" && byName.address === "@sdb");
  assert.deepEqual(unpackValues(byName.message), ["SET", "a", "foobar"]);
  const push = assembleRequest(requestFrames(find("push numeric address, small")));
  assert.ok(
    push.kind === "request" && push.push && push.session === 0 && typeof push.address === "number",
  );
});

test("the captured responses are the documented types: ok, error text, multipart", () => {
  const types = (step: string) => responseFrames(find(step)).map((f) => f[6]).join(",");
  assert.equal(types("call @name, small"), "1");
  assert.equal(types("call @name, multipart response"), "2,3,4");
  assert.equal(types("call @name, response of exactly 32768"), "1");
  assert.equal(types("call @name, response of 32769"), "2,3,4");
  assert.equal(types("call @name, handler error"), "0");
  const text = (step: string) =>
    new TextDecoder().decode(assembleResponse(responseFrames(find(step))).message);
  assert.equal(text("call unknown @name"), "Invalid name");
  assert.equal(text("cluster.query unknown name"), "name not found");
  assert.match(text("call @name, handler error"), /call failed$/);
  const query = assembleResponse(responseFrames(find("cluster.query (address 0)")));
  assert.ok(query.ok);
  assert.equal(typeof unpackValues(query.message)[0], "number"); // the service's handle
  const none = assembleResponse(responseFrames(find("call @name, no return value")));
  assert.deepEqual(unpackValues(none.message), []);
});

test("sessions go up by one per request and per multipart push, small pushes carry 0", () => {
  let expected = 1;
  for (const m of cluster.messages) {
    const request = assembleRequest(requestFrames(m));
    assert.ok(request.kind === "request");
    if (request.session === 0) {
      assert.ok(request.push, m.step);
      continue;
    }
    assert.equal(request.session, expected, m.step);
    expected = nextSkynetSession(expected);
  }
  assert.equal(nextSkynetSession(SKYNET_MAX_SESSION - 1), SKYNET_MAX_SESSION);
  assert.equal(nextSkynetSession(SKYNET_MAX_SESSION), 1);
  assert.throws(() => encodeSkynetRequest(1, 0, new Uint8Array(1)), RangeError);
  assert.throws(
    () => encodeSkynetRequest(1, SKYNET_MAX_SESSION + 1, new Uint8Array(1)),
    RangeError,
  );
});

/** Feeds `stream` to a splitter in the chunks `cuts` makes; returns the packets' hex. */
function split(stream: Uint8Array, cuts: number[]): string[] {
  const splitter = new SkynetFrameSplitter();
  const out: string[] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    splitter.push(stream.subarray(from, cut), (p) => out.push(toHex(p)));
    from = cut;
  }
  assert.equal(splitter.buffered, 0);
  return out;
}

function concat(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

test("`SkynetFrameSplitter` gives the same packets whole, byte by byte, and split at every offset", () => {
  for (const m of cluster.messages) {
    for (const frames of [requestFrames(m), responseFrames(m)]) {
      if (frames.length === 0) continue;
      const stream = concat(frames);
      const expected = frames.map((f) => toHex(f.subarray(2)));
      assert.deepEqual(split(stream, []), expected, m.step);
      // Every offset for small messages; for large ones every offset near the
      // ends and the frame boundaries, and a stride through the rest.
      const offsets = new Set<number>();
      if (stream.length <= 4096) { for (let i = 1; i < stream.length; i++) offsets.add(i); }
      else {
        let at = 0;
        for (const f of frames) {
          for (let d = -40; d <= 40; d++) {
            if (at + d > 0 && at + d < stream.length) offsets.add(at + d);
          }
          at += f.length;
        }
        for (let i = 1; i < stream.length; i += 997) offsets.add(i);
        for (let d = 1; d <= 40; d++) offsets.add(stream.length - d);
      }
      for (const cut of offsets) {
        assert.deepEqual(split(stream, [cut]), expected, `${m.step} cut at ${cut}`);
      }
      if (stream.length <= 4096) {
        assert.deepEqual(
          split(stream, Array.from({ length: stream.length - 1 }, (_, i) => i + 1)),
          expected,
        );
      }
    }
  }
  // The whole recorded request stream, byte by byte.
  const all = concat(cluster.requests.map((f) => fromHex(f.hex)));
  const ones = Array.from({ length: all.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(split(all, ones), cluster.requests.map((f) => f.hex.slice(4)));
});

test("encoding at the edges: 32767 bytes is one frame, 32768 a header and one last part, error text cut at 32 KiB", () => {
  const small = encodeSkynetRequest("@a", 5, new Uint8Array(32767));
  assert.equal(small.length, 1);
  assert.equal(small[0]!.length, 2 + 6 + 2 + 32767);
  const exact = encodeSkynetRequest(7, 5, new Uint8Array(32768));
  assert.deepEqual(exact.map((f) => f[2]), [0x01, 0x03]);
  const push = encodeSkynetRequest(7, 9, new Uint8Array(65537), true);
  assert.deepEqual(push.map((f) => f[2]), [0x41, 0x02, 0x02, 0x03]);
  assert.equal(decodeSkynetRequest(push[0]!.subarray(2)).kind, "multi");
  const smallPush = encodeSkynetRequest("@a", 9, new Uint8Array(3), true);
  const decoded = decodeSkynetRequest(smallPush[0]!.subarray(2));
  assert.ok(decoded.kind === "request" && decoded.session === 0);
  const error = encodeSkynetResponse(3, false, new Uint8Array(40000));
  assert.equal(error.length, 1);
  assert.equal(error[0]!.length, 2 + 5 + 32768);
  assert.equal(encodeSkynetResponse(3, true, new Uint8Array(32768)).length, 1);
  assert.equal(encodeSkynetResponse(3, true, new Uint8Array(32769)).length, 3);
  assert.throws(() => encodeSkynetRequest("", 1, new Uint8Array(0)), TypeError);
  assert.throws(() => encodeSkynetRequest("@" + "x".repeat(255), 1, new Uint8Array(0)), TypeError);
  assert.throws(() => encodeSkynetTrace("x".repeat(32769)), TypeError);
});

test("malformed packets are refused with coded errors", () => {
  const bad: [string, "request" | "response", string][] = [
    ["", "request", "frame too short"],
    ["0001000000", "request", "frame too short"], // type 0 under 9 bytes
    ["01010000000100000001", "request", "protocol"], // large header not 13 bytes
    ["80", "request", "frame too short"],
    ["80054061", "request", "frame too short"], // name longer than the packet
    ["8101400100000020", "request", "frame too short"],
    ["020100", "request", "frame too short"],
    ["05", "request", "protocol"],
    ["ff0000", "request", "protocol"],
    ["01000000", "response", "frame too short"],
    ["0100000002ff", "response", "protocol"], // begin not 9 bytes
    ["0100000009", "response", "protocol"],
  ];
  for (const [hex, side, expected] of bad) {
    const packet = fromHex(hex);
    const decode = side === "request" ? decodeSkynetRequest : decodeSkynetResponse;
    assert.equal(code(() => decode(packet)), expected, `${side} ${hex}`);
  }
});

test('`SkynetRequestAssembler` answers parts that do not add up with skynet\'s "Invalid large req", and bounds what it holds', () => {
  const parts = encodeSkynetRequest("@s", 4, new Uint8Array(40000)).map((f) =>
    decodeSkynetRequest(f.subarray(2))
  );
  // a last part too soon: the sizes differ
  const short = new SkynetRequestAssembler();
  short.push(parts[0]!);
  const tooSoon = short.push({ ...parts[1]!, last: true } as typeof parts[1] & object);
  assert.ok(
    tooSoon?.kind === "invalid" && tooSoon.reason === "Invalid large req" && tooSoon.session === 4,
  );
  assert.equal(short.partials, 0);
  assert.equal(short.held, 0);
  // a last part with no header
  assert.equal(new SkynetRequestAssembler().push(parts[2]!)?.kind, "invalid");
  // limits
  assert.equal(
    code(() => new SkynetRequestAssembler({ maxMessageSize: 1000 }).push(parts[0]!)),
    "frame too large",
  );
  const few = new SkynetRequestAssembler({ maxPartialMessages: 1 });
  few.push(parts[0]!);
  const other = decodeSkynetRequest(
    encodeSkynetRequest("@s", 5, new Uint8Array(40000))[0]!.subarray(2),
  );
  assert.equal(code(() => few.push(other)), "protocol");
  assert.equal(code(() => few.push(parts[0]!)), "protocol"); // the same session twice
  const small = new SkynetRequestAssembler({ maxPartialBytes: 1000 });
  small.push(parts[0]!);
  assert.equal(code(() => small.push(parts[1]!)), "protocol");
  assert.throws(() => new SkynetRequestAssembler({ maxPartialBytes: 0 }), RangeError);
  // a trace tag goes with the next request only
  const traced = new SkynetRequestAssembler();
  traced.push(decodeSkynetRequest(encodeSkynetTrace("t1").subarray(2)));
  const first = traced.push(
    decodeSkynetRequest(encodeSkynetRequest(1, 1, new Uint8Array(1))[0]!.subarray(2)),
  );
  const second = traced.push(
    decodeSkynetRequest(encodeSkynetRequest(1, 2, new Uint8Array(1))[0]!.subarray(2)),
  );
  assert.ok(first?.kind === "request" && first.trace !== undefined);
  assert.ok(second?.kind === "request" && second.trace === undefined);
});

test("`SkynetResponseAssembler` refuses parts without a begin, overruns and short ends", () => {
  const frames = encodeSkynetResponse(8, true, new Uint8Array(70000)).map((f) =>
    decodeSkynetResponse(f.subarray(2))
  );
  assert.equal(code(() => new SkynetResponseAssembler().push(frames[1]!)), "protocol");
  const early = new SkynetResponseAssembler();
  early.push(frames[0]!);
  assert.equal(
    code(() => early.push({ ...frames[1]!, last: true } as typeof frames[1] & object)),
    "protocol",
  );
  assert.equal(
    code(() => new SkynetResponseAssembler({ maxMessageSize: 100 }).push(frames[0]!)),
    "frame too large",
  );
  const whole = new SkynetResponseAssembler();
  let out: SkynetAssembledResponse | undefined;
  for (const f of frames) out = whole.push(f) ?? out;
  assert.equal(out?.message.length, 70000);
});
