// weft-mode mechanisms the named-nodes layer builds on: the node name in
// HELLO's tagged fields, names travelling with requests through a
// per-connection table, and large bodies in parts that interleave with small
// frames, reassembled within bounds. Codecs on their own, then over real
// loopback sockets.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { CallContext } from "../../src/cluster/call_context.ts";
import {
  decodeHelloFields,
  encodeHello,
  HELLO_PAYLOAD,
  HelloField,
  MAX_HELLO_SIZE,
} from "../../src/protocol/weft/protocol.ts";
import { NAME_TABLE_SIZE, NameReader, NameWriter } from "../../src/protocol/weft/names.ts";
import {
  nextPart,
  type OutgoingMessage,
  PartFlag,
  Reassembler,
  resolvePartOptions,
} from "../../src/protocol/weft/parts.ts";
import { raw } from "../../src/codec/raw.ts";
import { isWeftError, WeftError } from "../../src/errors.ts";
import { transport } from "../../src/transport/deno.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";
import { MemoryLogger, rejectsWith, until } from "./cases.ts";

const te = new TextEncoder();
const num = (bytes: unknown) => Number(new TextDecoder().decode(bytes as Uint8Array));

function throwsCode(fn: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(fn, (e) => isWeftError(e) && e.code === code && (pattern?.test(e.message) ?? true));
}

Deno.test("encodeHello()/decodeHelloFields(): tagged fields after the fixed bytes, bounded", () => {
  assert.deepEqual(encodeHello(), HELLO_PAYLOAD);
  const fields = new Map([[HelloField.NodeName, te.encode("db")], [200, Uint8Array.of(1, 2)]]);
  const payload = encodeHello(fields);
  assert.deepEqual([...payload.subarray(8)], [1, 2, 0, 0x64, 0x62, 200, 2, 0, 1, 2]);
  assert.deepEqual(decodeHelloFields(payload), fields);
  assert.equal(decodeHelloFields(HELLO_PAYLOAD).size, 0);
  throwsCode(
    () => decodeHelloFields(payload.subarray(0, payload.length - 1)),
    "protocol",
    /claims/,
  );
  throwsCode(() => decodeHelloFields(payload.subarray(0, 9)), "protocol", /cut short/);
  throwsCode(
    () => decodeHelloFields(new Uint8Array(MAX_HELLO_SIZE + 1)),
    "protocol",
    /over the limit/,
  );
  assert.throws(() => encodeHello(new Map([[1, new Uint8Array(MAX_HELLO_SIZE)]])), RangeError);
  assert.throws(() => encodeHello(new Map([[256, new Uint8Array(1)]])), RangeError);
});

Deno.test("NameWriter/NameReader: a name is defined once per connection, then costs 2 bytes", () => {
  const writer = new NameWriter();
  const reader = new NameReader();
  const head = new Uint8Array(5);
  const first = writer.head(head, "calc", "add", false);
  assert.equal(first.length, 5 + (3 + 4) + (3 + 3));
  assert.equal(first[0]! & 4, 4);
  assert.equal(reader.read(first), first.length);
  assert.deepEqual([reader.service, reader.command], ["calc", "add"]);
  const second = writer.head(head, "calc", "add", false);
  assert.equal(second.length, 5 + 2 + 2);
  assert.equal(reader.read(second), 9);
  assert.deepEqual([reader.service, reader.command], ["calc", "add"]);
  const noCommand = writer.head(head, "calc", undefined, false);
  reader.read(noCommand);
  assert.deepEqual([reader.service, reader.command], ["calc", undefined]);
  // Inline names are never stored: a fresh reader can read them.
  const inline = writer.head(head, "other", "x", true);
  const fresh = new NameReader();
  fresh.read(inline);
  assert.deepEqual([fresh.service, fresh.command], ["other", "x"]);
  throwsCode(() => fresh.read(second), "protocol", /never defined/);
  // The table fills at NAME_TABLE_SIZE; names after that go inline.
  const full = new NameWriter();
  for (let i = 0; i < NAME_TABLE_SIZE; i++) full.head(head, `s${i}`, undefined, false);
  const overflow = full.head(head, "one more", undefined, false);
  assert.equal(overflow[5]! | (overflow[6]! << 8), 0xffff);
  // Hostile refs.
  throwsCode(
    () => new NameReader().read(Uint8Array.of(4, 0, 0, 0, 0, 0x00, 0x84, 1, 0x61, 0xff, 0x7f)),
    "protocol",
    /out of range/,
  );
  throwsCode(
    () => new NameReader().read(Uint8Array.of(4, 0, 0, 0, 0, 0x00, 0x80, 3, 0x61)),
    "protocol",
    /cut short/,
  );
  throwsCode(
    () => new NameReader().read(Uint8Array.of(4, 0, 0, 0, 0, 0x00, 0x80, 1, 0xff, 0xff, 0x7f)),
    "protocol",
    /UTF-8/,
  );
  throwsCode(
    () => new NameReader().read(Uint8Array.of(4, 0, 0, 0, 0, 0x00)),
    "protocol",
    /cut short/,
  );
  assert.throws(
    () => writer.head(head, "n".repeat(256), undefined, false),
    (e) => isWeftError(e, "name too long"),
  );
});

function message(size: number, response = false): OutgoingMessage {
  const body = new Uint8Array(size);
  for (let i = 0; i < size; i++) body[i] = i * 7;
  return {
    stream: 1,
    response,
    session: response ? 0x80000009 : 9,
    cmd: 3,
    traceHi: 0x11223344,
    traceLo: 0x55667788,
    head: Uint8Array.of(0, 1, 2, 3, 4),
    body,
    sent: 0,
    aborted: false,
  };
}

Deno.test("nextPart()/Reassembler: every part size gives back the same frame", () => {
  const limits = resolvePartOptions({});
  for (const size of [1, 2, 5, 6, 7, 100, 999, 1000, 1005, 4096]) {
    const m = message(1000);
    const r = new Reassembler(limits);
    let frame;
    let parts = 0;
    while (m.sent < m.head.length + m.body.length) {
      assert.equal(frame, undefined);
      frame = r.accept(m.stream, nextPart(m, size));
      parts++;
    }
    assert.equal(parts, Math.ceil(1005 / size));
    assert.ok(frame);
    assert.equal(frame.kind, "request");
    assert.deepEqual([frame.session, frame.cmd, frame.traceHi, frame.traceLo], [
      9,
      3,
      0x11223344,
      0x55667788,
    ]);
    assert.deepEqual(frame.payload.subarray(0, 5), m.head);
    assert.deepEqual(frame.payload.subarray(5), m.body);
    assert.equal(r.size, 0);
    assert.equal(r.bytes, 0);
  }
  const resp = message(3000, true);
  const r = new Reassembler(limits);
  let frame;
  while (resp.sent < 3005) frame = r.accept(1, nextPart(resp, 1024));
  assert.equal(frame?.kind, "response");
  assert.equal(frame?.session, 9);
});

Deno.test("Reassembler: a hostile peer cannot exceed the byte, count and size limits; abort drops", () => {
  const limits = resolvePartOptions({
    maxMessageSize: 10_000,
    maxPartialMessages: 2,
    maxPartialBytes: 15_000,
  });
  const first = (stream: number, total: number) => {
    const m = message(total - 5);
    return { m, part: nextPart({ ...m, stream }, 100) };
  };
  const r = new Reassembler(limits);
  throwsCode(() => r.accept(1, first(1, 10_001).part), "frame too large", /maxMessageSize/);
  r.accept(1, first(1, 8000).part);
  throwsCode(() => r.accept(2, first(2, 8000).part), "protocol", /maxPartialBytes/);
  r.accept(2, first(2, 5000).part);
  throwsCode(() => r.accept(3, first(3, 100).part), "protocol", /maxPartialMessages/);
  throwsCode(() => r.accept(1, first(1, 100).part), "protocol", /already open/);
  throwsCode(() => r.accept(7, Uint8Array.of(0, 1, 2)), "protocol", /never opened/);
  throwsCode(() => r.accept(7, new Uint8Array(0)), "protocol", /empty/);
  assert.equal(r.size, 2);
  r.accept(1, Uint8Array.of(PartFlag.Abort));
  assert.equal(r.size, 1);
  assert.equal(r.bytes, 5000);
  // Parts longer than announced, or a last part short of it.
  const r2 = new Reassembler(limits);
  r2.accept(1, first(1, 200).part);
  throwsCode(() => r2.accept(1, new Uint8Array(1 + 150)), "protocol", /longer than/);
  const r3 = new Reassembler(limits);
  r3.accept(1, first(1, 200).part);
  throwsCode(() => r3.accept(1, Uint8Array.of(PartFlag.Last, 1)), "protocol", /last part at/);
  assert.throws(() => resolvePartOptions({ partSize: 10 }), RangeError);
  assert.throws(() => resolvePartOptions({ maxPartialBytes: "1" as never }), TypeError);
});

Deno.test("Reassembler: a message holds only the bytes that arrived, within the node's budget; a stalled one times out", () => {
  const limits = resolvePartOptions({ maxPartialBytesPerNode: 3000, partTimeout: 100 });
  // A message's whole buffer once an eighth of it arrived: the budget sees it.
  const whole = new Reassembler(resolvePartOptions({ maxPartialBytesPerNode: 1 << 20 }));
  const eighth = { ...message(8000 - 5), stream: 5 };
  whole.accept(5, nextPart(eighth, 999));
  assert.equal(whole.held, 999);
  whole.accept(5, nextPart(eighth, 1));
  assert.equal(whole.held, 8000);
  let done;
  while (eighth.sent < 8000) done = whole.accept(5, nextPart(eighth, 3000));
  assert.deepEqual(done?.payload.subarray(5), eighth.body);
  assert.equal(whole.held, 0);
  const budget = limits.budget;
  const a = new Reassembler(limits);
  const b = new Reassembler(limits);
  // A first part announcing 4 MiB with 1000 bytes: 1000 bytes held, node-wide too.
  const big = { ...message(4 * 1024 * 1024 - 5), stream: 1 };
  a.accept(1, nextPart(big, 1000));
  assert.equal(a.bytes, 4 * 1024 * 1024);
  assert.equal(a.held, 1000);
  assert.equal(budget.held, 1000);
  // Another connection's parts count against the same budget: copies of its
  // parts until an eighth of it arrived, then its whole buffer, charged in full.
  const m = { ...message(16_000 - 5), stream: 2 };
  b.accept(2, nextPart(m, 1000));
  assert.equal(b.held, 1000);
  assert.equal(budget.held, 2000);
  throwsCode(
    () => b.accept(2, nextPart(m, 1000)),
    "over budget",
    /maxPartialBytesPerNode 3000/,
  );
  assert.equal(budget.refused, 1);
  assert.equal(budget.held, 2000);
  b.clear();
  assert.equal(budget.held, 1000);
  // The deadline of the next part: marked at the first sweep, stalled after partTimeout,
  // not while this side does not read.
  assert.equal(a.sweep(0, false), null);
  assert.equal(a.sweep(150, true), null);
  assert.equal(a.sweep(200, false), null);
  a.accept(1, nextPart(big, 1000));
  assert.equal(a.sweep(350, false), null);
  const stalled = a.sweep(450, false);
  assert.equal(stalled?.code, "timeout");
  assert.match(stalled!.message, /partTimeout/);
  assert.equal(budget.timedOut, 1);
  a.clear();
  assert.equal(budget.held, 0);
  // A complete message gives its bytes back to the budget.
  const c = new Reassembler(limits);
  const small = { ...message(2000), stream: 3 };
  let frame;
  while (small.sent < 2005) frame = c.accept(3, nextPart(small, 700));
  assert.deepEqual(frame?.payload.subarray(5), small.body);
  assert.equal(budget.held, 0);
  assert.throws(() => resolvePartOptions({ partTimeout: 0 }), /partTimeout/);
  assert.throws(() => resolvePartOptions({ partTimeout: "1" as never }), TypeError);
  assert.throws(() => resolvePartOptions({ maxPartialBytesPerNode: 0 }), /maxPartialBytesPerNode/);
});

async function pair(
  serverOptions: Partial<ConstructorParameters<typeof Cluster>[0]>,
  clientOptions: Partial<ConstructorParameters<typeof Cluster>[0]>,
  fn: (server: Cluster, client: Cluster, peer: ReturnType<Cluster["connect"]>) => Promise<void>,
): Promise<void> {
  // Bodies up to 128 MiB (weft's default is the 4 MiB hard limit).
  const base = { ...raw(), transport, maxMessageSize: 128 * 1024 * 1024 };
  const server = new Cluster({ ...base, logger: new MemoryLogger(), ...serverOptions });
  const client = new Cluster({ ...base, logger: new MemoryLogger(), ...clientOptions });
  try {
    const listener = await server.listen("127.0.0.1:0");
    await fn(server, client, client.connect(`127.0.0.1:${listener.address.port}`));
  } finally {
    await client.close();
    await server.close();
  }
}

Deno.test("Cluster: nodeName travels in HELLO both ways; service and command names reach the handler", async () => {
  const seen: [string | undefined, string | undefined, string | undefined][] = [];
  await pair(
    {
      nodeName: "server",
      call: (_peer, _cmd, body, context: CallContext) => {
        seen.push([context.peer.nodeName, context.service, context.command]);
        return body;
      },
    },
    { nodeName: "client" },
    async (_s, client, peer) => {
      assert.deepEqual(
        await client.call(peer, 1, te.encode("a"), { service: "calc", command: "add" }),
        te.encode("a"),
      );
      await client.call(peer, 1, te.encode("b"), { service: "calc", command: "add" });
      await client.call(peer, 1, te.encode("c"));
      assert.equal(peer.nodeName, "server");
      assert.equal(peer.helloFields?.get(HelloField.NodeName)?.length, 6);
      assert.deepEqual(seen, [
        ["client", "calc", "add"],
        ["client", "calc", "add"],
        ["client", undefined, undefined],
      ]);
      await assert.rejects(
        client.call(peer, 1, te.encode("x"), { service: "s".repeat(256) }),
        (e) => isWeftError(e, "name too long"),
      );
    },
  );
  assert.throws(() => new Cluster({ ...raw(), nodeName: "n".repeat(256) }), RangeError);
  assert.throws(() => new Cluster({ ...raw(), nodeName: 5 as never }), TypeError);
});

Deno.test("Cluster: a request naming an undefined name id closes only that connection with protocol", async () => {
  const reasons: string[] = [];
  await pair(
    { call: (_p, _c, body) => body, close: (_p, reason) => reasons.push(reason.code) },
    {},
    async (server, client, peer) => {
      assert.deepEqual(await client.call(peer, 1, te.encode("ok")), te.encode("ok"));
      const address = (await server.listen("127.0.0.1:0")).address;
      const conn = await transport.connect(`127.0.0.1:${address.port}`);
      let closed = false;
      conn.start({ data: () => {}, close: () => closed = true });
      const encoder = new FrameEncoder();
      encoder.request({ session: 0, cmd: 0xffffff00, traceHi: 0, traceLo: 0 }, HELLO_PAYLOAD);
      // Named flag, ref id 5 never defined.
      encoder.request(
        { session: 1, cmd: 1, traceHi: 0, traceLo: 0 },
        Uint8Array.of(4, 0, 0, 0, 0, 5, 0, 0x7f, 0x7f),
      );
      conn.write(encoder.take());
      await until(() => closed, 2000, "the server to close the hostile connection");
      await until(() => reasons.length === 1, 2000, "the close hook");
      assert.deepEqual(reasons, ["protocol"]);
      assert.deepEqual(await client.call(peer, 1, te.encode("still")), te.encode("still"));
    },
  );
});

function big(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) out[i] = (i / 4096 + seed) & 0xff;
  out[size - 1] = seed;
  return out;
}

Deno.test("Cluster: large bodies go in parts both ways and small calls overtake them", async () => {
  const huge = big(32 * 1024 * 1024, 7);
  await pair(
    {
      call: (_p, cmd, body) =>
        cmd === 2
          ? big(32 * 1024 * 1024, 9)
          : cmd === 3
          ? te.encode(String((body as Uint8Array).length))
          : body,
    },
    {},
    async (_s, client, peer) => {
      assert.deepEqual(await client.call(peer, 1, te.encode("warm")), te.encode("warm"));
      const order: string[] = [];
      // A large request: the small call made after it answers first.
      const large = client.call(peer, 3, huge, { timeout: 30_000 }).then((n) => {
        order.push("large");
        return n;
      });
      const small = client.call(peer, 1, te.encode("small")).then(() => order.push("small"));
      await Promise.all([large, small]);
      assert.equal(num(await large), huge.length);
      assert.deepEqual(order, ["small", "large"]);
      // A large response, the other direction.
      order.length = 0;
      const down = client.call(peer, 2, new Uint8Array(0), { timeout: 30_000 }).then((b) => {
        order.push("large");
        return b as Uint8Array;
      });
      await new Promise((r) => setTimeout(r, 5));
      const small2 = client.call(peer, 1, te.encode("small")).then(() => order.push("small"));
      await Promise.all([down, small2]);
      assert.deepEqual(await down, big(32 * 1024 * 1024, 9));
      assert.deepEqual(order, ["small", "large"]);
    },
  );
});

Deno.test("Cluster: a large body is taken when sent; a caller reusing its buffer cannot change what is still to go", async () => {
  await pair({ call: (_p, _cmd, body) => body }, {}, async (_s, client, peer) => {
    // Connected first: before that, the body is marshalled only once connected.
    assert.deepEqual(await client.call(peer, 1, te.encode("warm")), te.encode("warm"));
    const buffer = big(1024 * 1024, 3);
    const expected = buffer.slice();
    // The call returns before its parts have left; the caller then reuses
    // its buffer (as a forwarder reusing a read buffer would).
    const call = client.call(peer, 1, buffer, { timeout: 30_000 });
    buffer.fill(0xee);
    const echoed = await call as Uint8Array;
    // Compared by hand: a failing deepEqual of a megabyte prints (and holds) a huge diff.
    const first = echoed.findIndex((b, i) => b !== expected[i]);
    assert.ok(echoed.length === expected.length && first === -1, `echo differs at byte ${first}`);
  });
});

Deno.test("Cluster: maxMessageSize bounds what is sent and what a peer may announce", async () => {
  await pair({
    call: (_p, _c, body) => te.encode(String((body as Uint8Array).length)),
    maxMessageSize: 100_000,
  }, {
    maxMessageSize: 200_000,
  }, async (_s, client, peer) => {
    assert.equal(num(await client.call(peer, 1, new Uint8Array(90_000))), 90_000);
    await rejectsWith(client.call(peer, 1, new Uint8Array(300_000)), "frame too large");
    // 150 KB passes the sender's limit but not the receiver's: that connection closes.
    await rejectsWith(client.call(peer, 1, new Uint8Array(150_000)), "closed");
    assert.equal(num(await client.call(peer, 1, new Uint8Array(10))), 10);
  });
});

Deno.test("Cluster: cancelling a large call mid-transfer stops its parts (an abort part), the connection stays healthy", async () => {
  let handled = 0;
  await pair(
    {
      call: (_p, _c, body) => {
        handled++;
        return te.encode(String((body as Uint8Array).length));
      },
    },
    {},
    async (_s, client, peer) => {
      const controller = new AbortController();
      const call = client.call(peer, 1, new Uint8Array(64 * 1024 * 1024), {
        signal: controller.signal,
        timeout: 30_000,
      });
      await new Promise((r) => setTimeout(r, 5));
      controller.abort();
      await rejectsWith(call, "aborted");
      assert.equal(num(await client.call(peer, 1, new Uint8Array(5))), 5);
      assert.equal(handled, 1, "the large request never reached its handler");
    },
  );
  assert.ok(WeftError);
});
