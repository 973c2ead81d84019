/**
 * The transport conformance suite, written once and run against every
 * adapter on its own runtime: the Deno adapter under `deno test`
 * (conformance_test.ts), the Bun and Node adapters under their runtimes
 * (run_conformance.ts, started by conformance_test.ts).
 *
 * Runtime-neutral: plain async functions taking a context, using only web
 * globals and `node:assert/strict`. Every case closes what it opens and
 * asserts that `close()` resolves and that the peer sees the close.
 */

import assert from "node:assert/strict";
import { isWeftError, type WeftError } from "../../src/errors.ts";
import { waitLimit } from "../_wait.ts";
import type {
  Address,
  CloseInfo,
  Connection,
  ConnectOptions,
  Listener,
  Transport,
} from "../../src/transport/types.ts";

/** What a case runs against. */
export interface ConformanceContext {
  /** The transport under test. */
  transport: Transport;
  /** Host names resolve like on a real network: `localhost`, `[::1]` and DNS cases run. */
  network: boolean;
  /**
   * `host:port` of a listener whose accept queue is full, so that a connect
   * to it hangs; the connect timeout case runs only when given.
   */
  stalledAddress?: string;
}

/** One conformance case. */
export interface ConformanceCase {
  /** What it checks. */
  name: string;
  /** What the context must offer for the case to run. */
  needs?: "network" | "stalled";
  /** Runs the case; throws on failure. */
  run(ctx: ConformanceContext): Promise<void>;
}

// ---------------------------------------------------------------- helpers

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Rejects with a clear message if `promise` does not settle within `ms`,
 * raised to the tests' floor (tests/_wait.ts: a bound is a hang guard).
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  ms = waitLimit(ms);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A started connection that records what it receives. */
class Peer {
  readonly conn: Connection;
  received = 0;
  chunks: Uint8Array[] = [];
  drains = 0;
  closes: CloseInfo[] = [];
  readonly closedInfo: Promise<CloseInfo>;
  #onData: ((chunk: Uint8Array) => void) | undefined;
  #waiters: { bytes: number; resolve: () => void }[] = [];
  #resolveClose!: (info: CloseInfo) => void;

  constructor(
    conn: Connection,
    options: { keep?: boolean; onData?: (c: Uint8Array) => void } = {},
  ) {
    this.conn = conn;
    this.#onData = options.onData;
    const keep = options.keep ?? true;
    this.closedInfo = new Promise((resolve) => this.#resolveClose = resolve);
    conn.start({
      data: (chunk) => {
        assert.ok(chunk instanceof Uint8Array, "chunk is a Uint8Array");
        this.received += chunk.length;
        if (keep) this.chunks.push(chunk.slice());
        this.#onData?.(chunk);
        this.#waiters = this.#waiters.filter((w) => {
          if (this.received < w.bytes) return true;
          w.resolve();
          return false;
        });
      },
      drain: () => void this.drains++,
      close: (info) => {
        this.closes.push(info);
        this.#resolveClose(info);
      },
    });
  }

  /** Resolves once `bytes` bytes in total have arrived. */
  bytes(bytes: number, ms = 10_000): Promise<void> {
    if (this.received >= bytes) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.#waiters.push({ bytes, resolve }));
    return within(p, ms, `${bytes} bytes (have ${this.received})`);
  }

  text(): string {
    return dec.decode(concat(this.chunks));
  }

  /** Resolves with the close info the handler saw. */
  seenClose(ms = 10_000): Promise<CloseInfo> {
    return within(this.closedInfo, ms, "close seen by handler");
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A listener on loopback port 0 whose accepted connections come out of `next()`. */
async function server(
  t: Transport,
  host = "127.0.0.1",
): Promise<{ listener: Listener; address: string; next(): Promise<Connection> }> {
  const queue: Connection[] = [];
  const waiting: ((c: Connection) => void)[] = [];
  const listener = await t.listen(`${host}:0`, (conn) => {
    const w = waiting.shift();
    if (w) w(conn);
    else queue.push(conn);
  });
  assert.notEqual(listener.address.port, 0, "listen on port 0 reports the bound port");
  const h = listener.address.hostname;
  const address = h.includes(":")
    ? `[${h}]:${listener.address.port}`
    : `${h}:${listener.address.port}`;
  return {
    listener,
    address,
    next: () => {
      const c = queue.shift();
      if (c) return Promise.resolve(c);
      return within(new Promise((resolve) => waiting.push(resolve)), 10_000, "accept");
    },
  };
}

/** A connected pair on loopback; both ends started as Peers. */
async function pair(
  t: Transport,
  options: ConnectOptions = {},
  keep = true,
): Promise<{ listener: Listener; client: Peer; server: Peer; address: string }> {
  const s = await server(t);
  try {
    const conn = await t.connect(s.address, options);
    const accepted = await s.next();
    return {
      listener: s.listener,
      client: new Peer(conn, { keep }),
      server: new Peer(accepted, { keep }),
      address: s.address,
    };
  } catch (error) {
    await s.listener.close();
    throw error;
  }
}

/** Closes both ends and the listener; asserts both close promises resolve. */
async function closeAll(...items: (Peer | Listener | Connection | undefined)[]): Promise<void> {
  for (const item of items) {
    if (item === undefined) continue;
    if (item instanceof Peer) {
      const info = await within(item.conn.close(), 10_000, "close() resolves");
      assert.ok(["local", "remote", "error"].includes(info.reason));
    } else if ("start" in item) {
      await within(item.close(), 10_000, "close() resolves");
    } else {
      await within(item.close(), 10_000, "listener close() resolves");
    }
  }
}

/** The byte at stream offset `i` of pattern `seed`: position-dependent, so reordering shows. */
function patternByte(i: number, seed: number): number {
  return (i ^ (i >>> 8) ^ (i >>> 16) ^ seed) & 0xff;
}

function fillPattern(buf: Uint8Array, offset: number, seed: number): void {
  for (let k = 0; k < buf.length; k++) buf[k] = patternByte(offset + k, seed);
}

/** xorshift32: deterministic random sizes. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** Writes `total` pattern bytes in random sizes, honouring backpressure. */
async function writeStream(conn: Connection, total: number, seed: number): Promise<void> {
  const rand = random(seed + 1);
  let sent = 0;
  while (sent < total) {
    const size = Math.min(total - sent, 1 + Math.floor(rand() * rand() * 256 * 1024));
    const chunk = new Uint8Array(size);
    fillPattern(chunk, sent, seed);
    sent += size;
    if (!conn.write(chunk)) await within(conn.drained(), 20_000, "drained() while streaming");
  }
}

/** A data callback that checks each byte against the pattern. */
function patternChecker(seed: number): { onData(chunk: Uint8Array): void; offset(): number } {
  let offset = 0;
  return {
    onData(chunk) {
      for (let k = 0; k < chunk.length; k++) {
        if (chunk[k] !== patternByte(offset + k, seed)) {
          throw new Error(
            `Byte ${offset + k} is ${chunk[k]}, expected ${patternByte(offset + k, seed)}`,
          );
        }
      }
      offset += chunk.length;
    },
    offset: () => offset,
  };
}

async function rejectsWithCode(
  promise: Promise<unknown>,
  code: string,
  ms = 10_000,
): Promise<WeftError> {
  try {
    const value = await within(promise, ms, `rejection with ${code}`);
    if (value && typeof value === "object" && "close" in value) {
      await (value as Connection).close();
    }
  } catch (error) {
    if (!isWeftError(error)) throw error;
    assert.equal(error.code, code, `expected code ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  throw new assert.AssertionError({ message: `expected a rejection with ${code}` });
}

function throwsClosed(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => isWeftError(e, "closed"));
}

// ------------------------------------------------------------------ cases

/** Every case, in run order. */
export const cases: ConformanceCase[] = [
  {
    name: "listen on port 0, connect, bytes both ways",
    async run({ transport: t }) {
      const { listener, client, server, address } = await pair(t);
      try {
        assert.equal(client.conn.remoteAddress.port, Number(address.split(":").pop()));
        assert.equal(server.conn.localAddress.port, client.conn.remoteAddress.port);
        assert.equal(server.conn.remoteAddress.port, client.conn.localAddress.port);
        assert.equal(client.conn.isClosed, false);
        assert.equal(client.conn.write(enc.encode("ping from client")), true);
        await server.bytes(16);
        assert.equal(server.text(), "ping from client");
        assert.equal(server.conn.write(enc.encode("pong from server")), true);
        await client.bytes(16);
        assert.equal(client.text(), "pong from server");
        assert.equal(client.conn.write(new Uint8Array(0)), true, "an empty write is harmless");
      } finally {
        await closeAll(client, server, listener);
      }
    },
  },
  {
    name: "nothing is delivered before start(); pause() holds data until resume()",
    async run({ transport: t }) {
      const s = await server(t);
      const conn = await t.connect(s.address);
      const accepted = await s.next();
      let client: Peer | undefined;
      try {
        accepted.write(enc.encode("early"));
        await sleep(30);
        client = new Peer(conn);
        await client.bytes(5);
        assert.equal(client.text(), "early");
        client.conn.pause();
        await sleep(10);
        const before = client.received;
        accepted.write(enc.encode("later"));
        await sleep(50);
        assert.equal(client.received, before, "no data while paused");
        client.conn.resume();
        await client.bytes(10);
        assert.equal(client.text(), "earlylater");
        assert.throws(() => client!.conn.start({ data() {}, close() {} }), TypeError);
      } finally {
        await closeAll(client ?? conn, accepted, s.listener);
      }
    },
  },
  {
    name: "connect by localhost",
    needs: "network",
    async run({ transport: t }) {
      const s = await server(t, "localhost");
      const port = s.listener.address.port;
      let client: Peer | undefined;
      let peer: Peer | undefined;
      try {
        client = new Peer(await t.connect(`localhost:${port}`));
        peer = new Peer(await s.next(), { onData: (c) => peer!.conn.write(c.slice()) });
        client.conn.write(enc.encode("via localhost"));
        await client.bytes(13);
        assert.equal(client.text(), "via localhost");
      } finally {
        await closeAll(client, peer, s.listener);
      }
    },
  },
  {
    name: "connect to [::1]",
    needs: "network",
    async run({ transport: t }) {
      const s = await server(t, "[::1]");
      assert.equal(s.listener.address.hostname, "::1");
      let client: Peer | undefined;
      let peer: Peer | undefined;
      try {
        client = new Peer(await t.connect(`[::1]:${s.listener.address.port}`));
        assert.equal(client.conn.remoteAddress.hostname, "::1");
        peer = new Peer(await s.next(), { onData: (c) => peer!.conn.write(c.slice()) });
        client.conn.write(enc.encode("via ipv6"));
        await client.bytes(8);
        assert.equal(client.text(), "via ipv6");
      } finally {
        await closeAll(client, peer, s.listener);
      }
    },
  },
  {
    name: "16 MiB each way in random write sizes arrives complete and in order",
    async run({ transport: t }) {
      const total = 16 * 1024 * 1024;
      const s = await server(t);
      const upCheck = patternChecker(1);
      const downCheck = patternChecker(2);
      let client: Peer | undefined;
      let peer: Peer | undefined;
      try {
        client = new Peer(await t.connect(s.address), { keep: false, onData: downCheck.onData });
        peer = new Peer(await s.next(), { keep: false, onData: upCheck.onData });
        await within(
          Promise.all([
            writeStream(client.conn, total, 1),
            writeStream(peer.conn, total, 2),
            client.bytes(total, 60_000),
            peer.bytes(total, 60_000),
          ]),
          60_000,
          "16 MiB each way",
        );
        assert.equal(upCheck.offset(), total);
        assert.equal(downCheck.offset(), total);
        assert.equal(client.closes.length, 0);
      } finally {
        await closeAll(client, peer, s.listener);
      }
    },
  },
  {
    name: "backpressure: write() returns false within bounded memory, drain after the peer resumes",
    async run({ transport: t }) {
      const highWaterMark = 64 * 1024;
      const { listener, client, server } = await pair(t, { highWaterMark }, false);
      try {
        server.conn.pause();
        const chunk = new Uint8Array(64 * 1024);
        const limit = 64 * 1024 * 1024; // kernel buffers on loopback are a few MiB
        let written = 0;
        let full = false;
        for (let i = 0; written < limit; i++) {
          written += chunk.length;
          if (!client.conn.write(chunk)) {
            full = true;
            break;
          }
          if (i % 8 === 7) await sleep(1);
        }
        assert.ok(full, `write() never returned false in ${written} bytes`);
        assert.ok(
          client.conn.bufferedAmount > highWaterMark,
          `bufferedAmount ${client.conn.bufferedAmount} over the mark when write() says false`,
        );
        assert.ok(
          client.conn.bufferedAmount <= highWaterMark + chunk.length,
          `bufferedAmount ${client.conn.bufferedAmount} bounded by the mark plus one write`,
        );
        await sleep(30);
        assert.equal(server.received <= written, true);
        const drained = client.conn.drained();
        server.conn.resume();
        await within(drained, 10_000, "drained() after the peer resumes");
        await server.bytes(written, 20_000);
        assert.equal(server.received, written);
        assert.ok(client.drains >= 1, "handler.drain was called");
        assert.equal(client.conn.write(chunk), true, "writes go through again");
      } finally {
        await closeAll(client, server, listener);
      }
    },
  },
  {
    name: "close from the client is seen by the server with its reason, after all data",
    async run({ transport: t }) {
      const { listener, client, server } = await pair(t);
      try {
        client.conn.write(enc.encode("last words"));
        const info = await within(client.conn.close(), 10_000, "client close()");
        assert.deepEqual(info, { reason: "local" });
        assert.deepEqual(await client.seenClose(), { reason: "local" });
        const seen = await server.seenClose();
        assert.equal(seen.reason, "remote");
        assert.equal(server.text(), "last words", "the peer got every byte before EOF");
        assert.equal(server.conn.isClosed, true);
        assert.equal((await server.conn.closed).reason, "remote");
        assert.equal(client.closes.length, 1);
        assert.equal(server.closes.length, 1);
      } finally {
        await closeAll(client, server, listener);
      }
    },
  },
  {
    name: "close from the server is seen by the client with its reason",
    async run({ transport: t }) {
      const { listener, client, server } = await pair(t);
      try {
        server.conn.write(enc.encode("bye"));
        await server.conn.close();
        const seen = await client.seenClose();
        assert.equal(seen.reason, "remote");
        assert.equal(client.text(), "bye");
        assert.deepEqual(await server.seenClose(), { reason: "local" });
      } finally {
        await closeAll(client, server, listener);
      }
    },
  },
  {
    name: "writes after close throw closed; drained() rejects; closing twice is harmless",
    async run({ transport: t }) {
      const { listener, client, server } = await pair(t);
      try {
        const first = client.conn.close();
        const second = client.conn.close();
        assert.equal(first, second, "close() returns the same promise");
        assert.equal(client.conn.isClosed, true);
        throwsClosed(() => client.conn.write(enc.encode("x")));
        await assert.rejects(client.conn.drained(), (e: unknown) => isWeftError(e, "closed"));
        await within(first, 10_000, "close()");
        assert.equal(await client.conn.close(), await first);
        throwsClosed(() => client.conn.write(enc.encode("x")));
        // The remote side: closed by the peer, then written to.
        await server.seenClose();
        throwsClosed(() => server.conn.write(enc.encode("x")));
        assert.equal(client.closes.length, 1, "handler.close fires once");
        assert.equal(server.closes.length, 1, "handler.close fires once");
        client.conn.pause();
        client.conn.resume();
      } finally {
        await closeAll(client, server, listener);
      }
    },
  },
  {
    name: "connect refused and a bad address give their codes",
    async run({ transport: t }) {
      const s = await server(t);
      const address = s.address;
      await s.listener.close();
      await rejectsWithCode(t.connect(address), "connection refused");
      await rejectsWithCode(t.connect("127.0.0.1"), "bad address");
      await rejectsWithCode(t.connect("::1:80"), "bad address");
      // Caller bugs are RangeError/TypeError (thrown or rejected: both accepted).
      await assert.rejects(async () => await t.connect(address, { timeout: -1 }), RangeError);
      await assert.rejects(
        async () => await t.listen("127.0.0.1:0", "nope" as unknown as () => void),
        TypeError,
      );
    },
  },
  {
    name: "an unresolvable name gives host not found",
    needs: "network",
    async run({ transport: t }) {
      const error = await rejectsWithCode(
        t.connect("weft-no-such-host.invalid:80"),
        "host not found",
      );
      if (t.name !== "memory") {
        assert.ok(error.cause !== undefined, "the runtime error is the cause");
      }
    },
  },
  {
    name: "listen on a taken address gives address in use",
    async run({ transport: t }) {
      const s = await server(t);
      try {
        await rejectsWithCode(t.listen(s.address, () => {}), "address in use");
      } finally {
        await s.listener.close();
      }
    },
  },
  {
    name: "a connect timeout to a listener that never accepts fires; abort gives aborted",
    needs: "stalled",
    async run({ transport: t, stalledAddress }) {
      const address = stalledAddress!;
      await rejectsWithCode(t.connect(address, { timeout: 50 }), "connect timeout", 5_000);
      const controller = new AbortController();
      const reason = new Error("stop");
      const attempt = t.connect(address, { signal: controller.signal, timeout: 5_000 });
      setTimeout(() => controller.abort(reason), 20);
      const error = await rejectsWithCode(attempt, "aborted", 5_000);
      assert.equal(error.cause, reason);
      const pre = new AbortController();
      pre.abort(reason);
      const early = await rejectsWithCode(t.connect(address, { signal: pre.signal }), "aborted");
      assert.equal(early.cause, reason);
    },
  },
  {
    name: "500 concurrent connections to one listener each echo correctly",
    async run({ transport: t }) {
      const n = 500;
      const accepted: Connection[] = [];
      const listener = await t.listen("127.0.0.1:0", (conn) => {
        accepted.push(conn);
        conn.start({ data: (chunk) => void conn.write(chunk.slice()), close() {} });
      });
      const peers: Peer[] = [];
      try {
        const address = `127.0.0.1:${listener.address.port}`;
        const conns = await within(
          Promise.all(Array.from({ length: n }, () => t.connect(address))),
          30_000,
          `${n} connects`,
        );
        for (const conn of conns) peers.push(new Peer(conn));
        peers.forEach((p, i) => p.conn.write(enc.encode(`hello from connection ${i}`)));
        await within(
          Promise.all(peers.map((p, i) => p.bytes(`hello from connection ${i}`.length, 30_000))),
          30_000,
          "every echo",
        );
        peers.forEach((p, i) => assert.equal(p.text(), `hello from connection ${i}`));
        assert.equal(accepted.length, n);
      } finally {
        await Promise.all(peers.map((p) => within(p.conn.close(), 10_000, "close()")));
        await within(
          Promise.all(accepted.map((c) => c.closed)),
          10_000,
          "every accepted connection sees the close",
        );
        await listener.close();
      }
    },
  },
  {
    name: "closing the listener stops new connections; existing ones keep working",
    async run({ transport: t }) {
      const { listener, client, server, address } = await pair(t);
      try {
        await within(Promise.all([listener.close(), listener.close()]), 10_000, "listener close()");
        await rejectsWithCode(t.connect(address), "connection refused");
        client.conn.write(enc.encode("still here"));
        await server.bytes(10);
        server.conn.write(enc.encode("me too"));
        await client.bytes(6);
        assert.equal(server.text(), "still here");
        assert.equal(client.text(), "me too");
      } finally {
        await closeAll(client, server);
      }
    },
  },
  {
    name:
      "admit: asked at accept; a refused socket closes unseen by onAccept; release runs once at close; close evicts",
    async run({ transport: t }) {
      const asked: Address[] = [];
      let released = 0;
      let refuse = true;
      let evict: (() => void) | undefined;
      // Started at once, as a cluster does: an unstarted connection reads nothing, its close included.
      const accepted: Peer[] = [];
      const listener = await t.listen("127.0.0.1:0", (conn) => accepted.push(new Peer(conn)), {
        admit: (remote, close) => {
          asked.push(remote);
          if (refuse) return undefined;
          evict = close;
          return () => released++;
        },
      });
      const address = `127.0.0.1:${listener.address.port}`;
      const peers: Peer[] = [];
      try {
        // Refused: the client sees the close (at once or at its first
        // write, over TLS as its handshake fails); onAccept never runs.
        const refused = await t.connect(address).then((conn) => new Peer(conn), () => undefined);
        if (refused !== undefined) {
          peers.push(refused);
          await refused.seenClose();
        }
        assert.equal(asked.length, 1);
        assert.equal(asked[0]!.hostname.replace(/^::ffff:/, ""), "127.0.0.1");
        assert.equal(accepted.length, 0);
        // Admitted: released once when it closes.
        refuse = false;
        const one = new Peer(await t.connect(address));
        peers.push(one);
        await waitUntil(() => accepted.length === 1, "the admitted connection accepted");
        await one.conn.close();
        await waitUntil(() => released === 1, "the release at close");
        // Evicted through the gate's close: the client sees it end, released once.
        const two = new Peer(await t.connect(address));
        peers.push(two);
        await waitUntil(() => accepted.length === 2, "the second accepted");
        evict!();
        await two.seenClose();
        await waitUntil(() => released === 2, "the release after the eviction");
        await sleep(20);
        assert.equal(released, 2);
      } finally {
        for (const p of peers) await within(p.conn.close(), 10_000, "close() resolves");
        for (const c of accepted) await within(c.conn.close(), 10_000, "close() resolves");
        await within(listener.close(), 10_000, "listener close() resolves");
      }
    },
  },
];

/** Polls `check` until true, under the hang guard. */
async function waitUntil(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + waitLimit(10_000);
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Whether a case can run in `ctx`. */
export function applicable(c: ConformanceCase, ctx: ConformanceContext): boolean {
  if (c.needs === "network") return ctx.network;
  if (c.needs === "stalled") return ctx.stalledAddress !== undefined;
  return true;
}
