// The skynet protocol mode (src/protocol/skynet/): its writer and reader
// against the frames recorded between two real skynet nodes
// (fixtures/cluster.json, bytes exact), and two weft Clusters in skynet
// mode over real loopback sockets. Run by mode_test.ts under Deno and by
// tests/_cases_runner.ts under Bun and Node.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { Nodes } from "../../src/nodes/nodes.ts";
import type { CallContext } from "../../src/cluster/call_context.ts";
import { RemoteError, WeftError } from "../../src/errors.ts";
import {
  type LuaValues,
  luaValues,
  packValues,
  skynet,
  unpackFirst,
  unpackValues,
} from "../../src/codec/skynet.ts";
import type { ModeLink } from "../../src/protocol/mode.ts";
import { createMode } from "../../src/protocol/mod.ts";
import { resolvePartOptions } from "../../src/protocol/weft/parts.ts";
import type { SkynetConnection } from "../../src/protocol/skynet/skynet_mode.ts";
import type { Frame } from "../../src/wire/frame.ts";
import { decodeSkynetRequest, decodeSkynetResponse } from "../../src/wire/skynet_packet.ts";
import { cluster as recorded, fromHex, toHex } from "./_fixtures.ts";

/** A named case; async ones run over sockets. */
export interface ModeCase {
  name: string;
  fn: () => void | Promise<void>;
}

const mode = createMode("skynet", {
  framing: "v2",
  hardLimit: 4 * 1024 * 1024,
  softLimit: 65535,
  helloFields: undefined,
  parts: resolvePartOptions({ hardLimit: 4 * 1024 * 1024 }),
  keys: undefined,
});

/** A link that records what the mode asks of its connection. */
function link(): ModeLink & { flushes: number } {
  const l = {
    flushes: 0,
    peer: { toString: () => "fixture" },
    closed: false,
    flush() {
      l.flushes++;
    },
    pauseReading() {},
    resumeReading() {},
    ready() {},
    peerHello() {},
    peerProved() {},
    frame() {},
    fail(error: WeftError) {
      throw error;
    },
    overSoftLimit() {},
    cancelled() {},
    pong() {},
    partsAcked() {},
    info() {},
  };
  return l;
}

function open(initiator: boolean): SkynetConnection {
  return mode.open(link(), initiator) as SkynetConnection;
}

function frames(indices: number[], from: "requests" | "responses"): Uint8Array[] {
  return indices.map((i) => fromHex(recorded[from][i]!.hex));
}

function joined(list: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of list) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

/** The request a recorded message carried: address, session, push, message bytes. */
function requestOf(list: Uint8Array[]) {
  const packets = list.map((f) => decodeSkynetRequest(f.subarray(2)));
  const first = packets.find((p) => p.kind === "request" || p.kind === "multi")!;
  const message = first.kind === "request" ? first.message : joined(
    packets.filter((p) => p.kind === "part").map((p) =>
      p.kind === "part" ? p.chunk : new Uint8Array(0)
    ),
  );
  const push = first.kind === "multi" ? first.push : first.session === 0;
  return { address: first.address, session: first.session, push, message };
}

/** The response bytes a recorded message carried (ok flag and message). */
function responseOf(list: Uint8Array[]) {
  const packets = list.map((f) => decodeSkynetResponse(f.subarray(2)));
  const first = packets[0]!;
  if (first.kind === "ok" || first.kind === "error") {
    return { ok: first.kind === "ok", message: first.message, session: first.session };
  }
  const parts = packets.filter((p) => p.kind === "part").map((p) =>
    p.kind === "part" ? p.chunk : new Uint8Array(0)
  );
  return { ok: true, message: joined(parts), session: first.session };
}

/** Writes a request through the mode as a Channel would, returning every byte. */
function writeRequest(
  conn: SkynetConnection,
  address: number | string,
  session: number,
  push: boolean,
  message: Uint8Array,
): Uint8Array {
  // The command is the first packed value (skynet's convention); the body the rest.
  const first = unpackFirst(message);
  const command = typeof first.value === "string" ? first.value : undefined;
  const body = command === undefined ? message : message.subarray(first.end);
  const service = typeof address === "string" ? address : undefined;
  const head = conn.requestHead(push, Infinity, service, command, body.length);
  const cmd = typeof address === "number" ? address : 0;
  if (head.length + body.length <= conn.partThreshold) {
    conn.writer.request({ session, cmd, traceHi: 0, traceLo: 0 }, body, head);
  } else {
    const out = {
      stream: 1,
      response: false,
      session,
      cmd,
      traceHi: 0,
      traceLo: 0,
      head,
      body,
      sent: 0,
      aborted: false,
    };
    while (out.sent < head.length + body.length) conn.writePart(out, conn.partThreshold);
  }
  return conn.writer.take();
}

/** Writes a response through the mode as a Channel would. */
function writeResponse(
  conn: SkynetConnection,
  session: number,
  ok: boolean,
  message: Uint8Array,
): Uint8Array {
  const head = ok ? conn.okHead : conn.errorHead;
  if (!ok || head.length + message.length <= conn.partThreshold) {
    conn.writer.response(session, message, head);
  } else {
    const out = {
      stream: 1,
      response: true,
      session: (session | 0x80000000) >>> 0,
      cmd: 0,
      traceHi: 0,
      traceLo: 0,
      head,
      body: message,
      sent: 0,
      aborted: false,
    };
    while (out.sent < head.length + message.length) conn.writePart(out, conn.partThreshold);
  }
  return conn.writer.take();
}

function read(conn: SkynetConnection, bytes: Uint8Array, cut = 7): Frame[] {
  const out: Frame[] = [];
  // Fed in small pieces: the reader must not care where chunks end.
  for (let at = 0; at < bytes.length; at += cut) {
    conn.reader.decode(
      bytes.subarray(at, at + cut),
      (f) => out.push({ ...f, payload: f.payload.slice() }),
    );
  }
  return out;
}

// weft sends no trace tag (see the README): the recorded tagged request is read, not written.
const withRequest = recorded.messages.filter((m) => !m.step.includes("trace tag"));
const quiet = { error() {}, warn() {} };

export const cases: ModeCase[] = [
  ...withRequest.map((m): ModeCase => ({
    name: `skynet mode writes skynet's request bytes: ${m.step}`,
    fn: () => {
      const list = frames(m.request, "requests");
      const r = requestOf(list);
      const written = writeRequest(open(true), r.address, m.session || 99, r.push, r.message);
      assert.equal(toHex(written), toHex(joined(list)));
    },
  })),
  ...recorded.messages.map((m): ModeCase => ({
    name: `skynet mode reads skynet's request: ${m.step}`,
    fn: () => {
      const list = frames(m.request, "requests");
      const r = requestOf(list);
      const conn = open(false);
      const got = read(conn, joined(list));
      assert.equal(got.length, 1);
      const frame = got[0]!;
      assert.equal(frame.kind, "request");
      assert.equal(frame.session, r.session);
      assert.equal(frame.cmd, typeof r.address === "number" ? r.address : 0);
      const head = conn.readRequest(frame.payload, 0);
      assert.equal(head.oneWay, r.push);
      assert.equal(
        head.service,
        typeof r.address === "string" ? r.address.replace(/^@/, "") : undefined,
      );
      const values = unpackValues(r.message);
      if (r.address === 0) {
        assert.equal(head.command, undefined, "cluster.query: no command, the name is the body");
        assert.deepEqual(unpackValues(frame.payload.subarray(head.body)), values);
      } else {
        assert.equal(head.command, values[0]);
        assert.deepEqual(unpackValues(frame.payload.subarray(head.body)), values.slice(1));
      }
    },
  })),
  ...recorded.messages.filter((m) => m.response.length > 0).map((m): ModeCase => ({
    name: `skynet mode writes skynet's response bytes: ${m.step}`,
    fn: () => {
      const list = frames(m.response, "responses");
      const r = responseOf(list);
      const written = writeResponse(open(false), r.session, r.ok, r.message);
      assert.equal(toHex(written), toHex(joined(list)));
    },
  })),
  ...recorded.messages.filter((m) => m.response.length > 0).map((m): ModeCase => ({
    name: `skynet mode reads skynet's response: ${m.step}`,
    fn: () => {
      const list = frames(m.response, "responses");
      const r = responseOf(list);
      const conn = open(true);
      const got = read(conn, joined(list), 1000);
      assert.equal(got.length, 1);
      assert.equal(got[0]!.kind, "response");
      assert.equal(got[0]!.session, m.session);
      const payload = got[0]!.payload;
      assert.equal(conn.responseStatus(payload), r.ok ? 0 : 1);
      assert.equal(toHex(payload.subarray(conn.responseHeadSize)), toHex(r.message));
    },
  })),
  {
    name: "skynet mode: the agent's own error texts get weft's codes, others are SkynetErrors",
    fn: () => {
      const conn = open(true);
      const enc = new TextEncoder();
      const invalid = conn.decodeError(enc.encode("Invalid name"), "GET");
      assert.ok(invalid instanceof RemoteError);
      assert.equal(invalid.remote.code, "unknown service");
      assert.equal(invalid.mayHaveRun, false);
      const query = conn.decodeError(enc.encode("name not found"), 0);
      assert.equal((query as RemoteError).remote.code, "unknown service");
      const large = conn.decodeError(enc.encode("Invalid large req"), "SET");
      assert.equal(large.code, "protocol");
      assert.equal(large.mayHaveRun, false);
      const failed = conn.decodeError(enc.encode("./lualib/skynet.lua:720: call failed"), "X");
      assert.ok(failed instanceof RemoteError);
      assert.equal(failed.remote.name, "SkynetError");
      assert.equal(failed.mayHaveRun, true);
      assert.equal(
        new TextDecoder().decode(
          open(false).encodeError({ name: "WeftError", code: "unknown service", message: "x" }),
        ),
        "Invalid name",
      );
    },
  },
  {
    name:
      'skynet mode: parts that do not add up are answered "Invalid large req", as skynet\'s agent',
    fn: () => {
      const l = link();
      const conn = mode.open(l, false) as SkynetConnection;
      // A large request announcing 40000 bytes, then a last part of 10.
      const head = fromHex("000e81044073646207000000409c0000");
      const part = fromHex("000f030700000000000000000000000000".slice(0, 2 * 17));
      assert.equal(read(conn, joined([head, part])).length, 0);
      assert.equal(l.flushes, 1);
      const answer = decodeSkynetResponse(conn.writer.take().subarray(2));
      assert.equal(answer.kind, "error");
      assert.equal(answer.session, 7);
      assert.equal(
        new TextDecoder().decode(answer.kind === "error" ? answer.message : undefined),
        "Invalid large req",
      );
    },
  },
  {
    name:
      "skynet mode: a request back over an accepted connection is refused (skynet's sender reads only responses)",
    fn: () => {
      assert.throws(
        () => open(false).requestHead(false, Infinity, "@sdb", "GET", 0),
        (e) => e instanceof WeftError && e.code === "protocol",
      );
    },
  },
  {
    name: "skynet mode: a header announcing more than maxMessageSize closes the connection",
    fn: () => {
      const conn = open(false);
      const head = fromHex("000e81044073646207000000" + "00000001"); // 16 MiB
      assert.throws(
        () => read(conn, head),
        (e) => e instanceof WeftError && e.code === "frame too large",
      );
    },
  },
  {
    name:
      "skynet mode over loopback: calls by name and handle, pushes, several values, multipart both ways, errors",
    fn: loopback,
  },
  {
    name:
      "Nodes with skynet nodes: a skynet-mode listener serves registered services by @name, handle and query; calls to a node marked skynet",
    fn: nodesLoopback,
  },
];

async function nodesLoopback(): Promise<void> {
  const store = new Map<unknown, unknown>();
  const pinged = Promise.withResolvers<unknown>();
  const db = new Nodes({ name: "db", logger: quiet });
  db.register("sdb", {
    // skynet's examples/simpledb.lua, as a weft service.
    SET: (body) => {
      const [key, value] = body as LuaValues;
      const last = store.get(key);
      store.set(key, value);
      return last;
    },
    GET: (key) => store.get(key),
    PING: (text) => void pinged.resolve(text),
  });
  const listener = await db.open("db", { address: "127.0.0.1:0", protocol: "skynet" });
  const web = new Nodes({
    config: { db: `127.0.0.1:${listener.address.port}` },
    skynet: ["db"],
    logger: quiet,
    probeTimeout: 500,
  });
  try {
    assert.equal(await web.call("db", "@sdb", "SET", luaValues("a", "foobar")), undefined);
    assert.equal(await web.call("db", "@sdb", "SET", luaValues("a", "foobar2")), "foobar");
    assert.equal(await web.call("db", "sdb", "GET", "a"), "foobar2");
    const info = await web.query("db", "sdb");
    assert.equal(typeof info?.address, "number");
    assert.equal(await web.call("db", info!.address!, "GET", "a"), "foobar2");
    assert.equal(await web.query("db", "nosuch"), undefined, "skynet's name not found");
    await web.send("db", "@sdb", "PING", "proxy");
    assert.equal(await pinged.promise, "proxy");
    const key = "X".repeat(128 * 1024);
    const large = "R".repeat(100 * 1024);
    await web.call("db", "@sdb", "SET", luaValues(key, large));
    assert.equal(await web.call("db", "@sdb", "GET", key), large);
    await assert.rejects(web.call("db", "@nosuch", "GET", "a"), (e) => {
      assert.ok(e instanceof WeftError);
      assert.equal(e.code, "unknown service");
      assert.match(e.message, /Node db/, "names the node");
      assert.equal(e.mayHaveRun, false);
      return true;
    });
    await assert.rejects(web.call("db", "@sdb", "NOPE"), (e) => {
      assert.ok(e instanceof RemoteError);
      assert.match(e.message, /Call to db\/@sdb/);
      return true;
    });
    // A number addresses a skynet node's service only.
    await assert.rejects(db.call("db", 1, "GET", "a"), TypeError);
    // reload probes a node marked skynet with a cluster.query.
    const outcomes = await web.reload({ db3: `127.0.0.1:${listener.address.port}` });
    assert.equal(
      outcomes.find((o) => o.node === "db3")?.reachable,
      false,
      "db3 is a weft node to this config",
    );
  } finally {
    await web.close();
    await db.close();
  }
}

async function loopback(): Promise<void> {
  const seen: { service: string | undefined; command: string | undefined; cmd: number }[] = [];
  const server = new Cluster({
    ...skynet(),
    protocol: "skynet",
    logger: quiet,
    call(_peer, cmd, body, context: CallContext) {
      seen.push({ service: context.service, command: context.command, cmd });
      return luaValues(context.command ?? null, body ?? null);
    },
  });
  const client = new Cluster({ ...skynet(), protocol: "skynet" });
  try {
    const listener = await server.listen("127.0.0.1:0");
    const peer = client.connect(`127.0.0.1:${listener.address.port}`);
    // A numeric handle: the call's cmd is the address (type 0).
    const got = await client.call(peer, 10, "a", { command: "GET" }) as LuaValues;
    assert.deepEqual([...got], ["GET", "a"]);
    assert.deepEqual(seen[0], { service: undefined, command: "GET", cmd: 10 });
    // No command: every value is the body (for services off the convention).
    const raw = await client.call(peer, 10, 42, { service: "@calc" }) as LuaValues;
    assert.deepEqual([...raw], [null, 42]);
    assert.deepEqual(seen[1], { service: "calc", command: undefined, cmd: 0 });
  } finally {
    await client.close();
    await server.close();
  }
  await loopbackRest();
}

async function loopbackRest(): Promise<void> {
  const pushed = Promise.withResolvers<unknown>();
  const store = new Map<unknown, unknown>();
  const server = new Cluster({
    ...skynet(),
    protocol: "skynet",
    logger: quiet,
    call(_peer, _cmd, body, context: CallContext) {
      if (context.service !== "sdb") {
        throw new WeftError("unknown service", `No service ${context.service}`);
      }
      const args = (body instanceof Array ? body : [body]) as unknown[];
      switch (context.command) {
        case "SET":
          store.set(args[0], args[1]);
          return undefined;
        case "GET":
          return store.get(args[0]);
        case "PING":
          if (context.oneWay) pushed.resolve(body);
          return undefined;
        case "TWO":
          return luaValues(1, "two", true);
        case "FAIL":
          throw new Error("sdb failed on purpose");
        case "BACK":
          // A call back over the connection the caller opened: refused.
          return context.call(context.peer, 0, undefined, { service: "@sdb", command: "GET" });
      }
      throw new WeftError("unknown command", `No command ${context.command}`);
    },
  });
  const client = new Cluster({ ...skynet(), protocol: "skynet" });
  try {
    const listener = await server.listen("127.0.0.1:0");
    const peer = client.connect(`127.0.0.1:${listener.address.port}`);
    const call = (service: string, command: string, body?: unknown) =>
      client.call(peer, 0, body, { service, command });
    await call("@sdb", "SET", luaValues("a", "foobar"));
    assert.equal(await call("sdb", "GET", "a"), "foobar");
    const two = await call("@sdb", "TWO") as LuaValues;
    assert.deepEqual([...two], [1, "two", true]);
    // Multipart both ways: a 100 KiB value in, a 128 KiB key, the value back out.
    const key = "k".repeat(128 * 1024);
    const value = "v".repeat(100 * 1024);
    await call("@sdb", "SET", luaValues(key, value));
    assert.equal(await call("@sdb", "GET", key), value);
    // A push (cluster.send): session 0, no answer; a large push too.
    await client.send(peer, 0, "hello", { service: "@sdb", command: "PING" });
    assert.equal(await pushed.promise, "hello");
    // Errors: the handler's text; an unknown service is skynet's "Invalid name".
    await assert.rejects(call("@sdb", "FAIL"), (e) => {
      assert.ok(e instanceof RemoteError, String(e));
      assert.equal(e.remote.name, "SkynetError");
      assert.match(e.remote.message, /sdb failed on purpose/);
      assert.equal(e.mayHaveRun, true);
      return true;
    });
    await assert.rejects(call("@nosuch", "GET", "a"), (e) => {
      assert.ok(e instanceof RemoteError, String(e));
      assert.equal(e.remote.code, "unknown service");
      assert.equal(e.remote.message, "Invalid name");
      assert.equal(e.mayHaveRun, false);
      return true;
    });
    await assert.rejects(call("@sdb", "BACK"), (e) => {
      assert.ok(e instanceof RemoteError, String(e));
      assert.match(e.remote.message, /skynet's sender reads only responses/);
      return true;
    });
    // The values skynet.pack writes went on the wire: a raw message of the codec.
    assert.equal(toHex(packValues(["GET", "a"])), "1c4745540c61");
  } finally {
    await client.close();
    await server.close();
  }
}
