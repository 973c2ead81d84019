/**
 * The cluster's behaviour, written once as runtime-neutral cases. They run
 * over the in-memory transport and real loopback sockets under Deno
 * (cluster_test.ts), and under Bun and Node (run_cases.ts, started by
 * runtimes_test.ts as child processes), in both protocols.
 */

import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import type { CallContext } from "../../src/cluster/call_context.ts";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { ClusterOptions, Logger } from "../../src/cluster/options.ts";
import type { Peer } from "../../src/connection/peer.ts";
import { json } from "../../src/codec/json.ts";
import { isWeftError, type RemoteError, type WeftError } from "../../src/errors.ts";
import type { Connection, Transport } from "../../src/transport/types.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";

/** Where a case runs. */
export interface CaseEnv {
  /** The transport under test. */
  transport: Transport;
  /** The loopback host to listen on and connect to. */
  host: string;
  /** The protocol both ends speak. */
  protocol: "weft" | "silly";
}

/** One behaviour. */
export interface Case {
  name: string;
  fn: (env: CaseEnv) => Promise<void>;
}

/** A logger that records instead of printing. */
export class MemoryLogger implements Logger {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  error(message: string): void {
    this.errors.push(message);
  }
  warn(message: string): void {
    this.warnings.push(message);
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The calls' and connects' own bound in the cases: a hang guard, far over any real wait. */
export const CALL_GUARD_MS = 60_000;

import { until } from "../_wait.ts";

export { until };

/** Awaits `promise` and asserts it rejects with a WeftError of `code`. */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
): Promise<WeftError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isWeftError(error), `expected a WeftError ${code}, got ${error}`);
    assert.equal(error.code, code, `expected code ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  assert.fail(`expected a rejection with ${code}`);
}

/** A server and a client cluster on `env`, closed by `fn`'s end. */
async function pair(
  env: CaseEnv,
  server: Partial<ClusterOptions>,
  client: Partial<ClusterOptions>,
  fn: (s: Cluster, c: Cluster, peer: Peer, address: string) => Promise<void>,
): Promise<void> {
  const s = new Cluster({
    ...json(),
    transport: env.transport,
    protocol: env.protocol,
    logger: new MemoryLogger(),
    ...server,
  });
  const c = new Cluster({
    ...json(),
    transport: env.transport,
    protocol: env.protocol,
    logger: new MemoryLogger(),
    // Hang guards, not timings: a loaded machine may be slow. A case that
    // expects a timeout gives its call a short one of its own.
    timeout: CALL_GUARD_MS,
    connectTimeout: CALL_GUARD_MS,
    ...client,
  });
  try {
    const listener = await s.listen(`${env.host}:0`);
    const address = env.host.includes(":")
      ? `[${env.host}]:${listener.address.port}`
      : `${env.host}:${listener.address.port}`;
    await fn(s, c, c.connect(address), address);
  } finally {
    await c.close();
    await s.close();
  }
}

/** Wraps a transport to see its connections and count writes. */
function spyTransport(inner: Transport): {
  transport: Transport;
  connections: Connection[];
  writes: number[];
} {
  const connections: Connection[] = [];
  const writes: number[] = [];
  const wrap = (conn: Connection): Connection => {
    connections.push(conn);
    const write = conn.write.bind(conn);
    conn.write = (bytes: Uint8Array) => {
      writes.push(bytes.length);
      return write(bytes);
    };
    return conn;
  };
  return {
    connections,
    writes,
    transport: {
      name: `spy(${inner.name})`,
      connect: async (address, options) => wrap(await inner.connect(address, options)),
      listen: (address, onAccept, options) =>
        inner.listen(address, (conn) => onAccept(wrap(conn)), options),
    },
  };
}

const echo = { call: (_p: Peer, _cmd: number, body: unknown) => body };

export const cases: Case[] = [
  {
    name: "call() round trip, sync and async handlers, several commands",
    fn: (env) =>
      pair(
        env,
        {
          call: async (_p, cmd, body) => {
            if (cmd === 1) return { echo: body };
            await delay(1);
            return { cmd, sum: (body as number[]).reduce((a, b) => a + b, 0) };
          },
        },
        {},
        async (_s, c, peer) => {
          assert.deepEqual(await c.call(peer, 1, { hi: "there" }), { echo: { hi: "there" } });
          assert.deepEqual(await c.call(peer, 2, [1, 2, 3]), { cmd: 2, sum: 6 });
          const many = await Promise.all(
            Array.from({ length: 200 }, (_, i) => c.call(peer, 1, i)),
          );
          assert.deepEqual(many, Array.from({ length: 200 }, (_, i) => ({ echo: i })));
        },
      ),
  },
  {
    name: "connect() is lazy; the first call connects; DNS names resolve",
    fn: async (env) => {
      let accepted = 0;
      await pair(env, { ...echo, accept: () => accepted++ }, {}, async (_s, c, _peer, address) => {
        await delay(20);
        assert.equal(accepted, 0, "connect() must not connect");
        const port = address.slice(address.lastIndexOf(":") + 1);
        const byName = c.connect(`localhost:${port}`);
        if (env.host === "127.0.0.1") {
          assert.equal(await c.call(byName, 1, "dns"), "dns");
          assert.equal(accepted, 1);
        }
        assert.equal(c.connect(address), c.connect(address), "same address, same peer");
      });
    },
  },
  {
    name: "requests are handled concurrently; responses go out as handlers finish",
    fn: (env) =>
      pair(
        env,
        {
          call: async (_p, _cmd, body) => {
            await delay(body as number);
            return body;
          },
        },
        {},
        async (_s, c, peer) => {
          const order: number[] = [];
          await Promise.all([60, 1].map((ms) => c.call(peer, 1, ms).then(() => order.push(ms))));
          assert.deepEqual(order, [1, 60]);
        },
      ),
  },
  {
    name: "undefined from the handler or from marshal: silly sends no response, weft an empty one",
    fn: (env) => {
      const codec = json();
      return pair(
        env,
        {
          marshal: (type, cmd, body) =>
            type === "response" && cmd === 2 ? undefined : codec.marshal(type, cmd, body),
          call: (_p, cmd) => (cmd === 1 ? undefined : "answer"),
        },
        {},
        async (_s, c, peer) => {
          if (env.protocol === "silly") {
            await rejectsWith(c.call(peer, 1, null, { timeout: 40 }), "timeout");
            await rejectsWith(c.call(peer, 2, null, { timeout: 40 }), "timeout");
          } else {
            assert.equal(await c.call(peer, 1, null), undefined);
            assert.equal(await c.call(peer, 2, null), undefined);
          }
          assert.equal(await c.call(peer, 3, null), "answer");
        },
      );
    },
  },
  {
    name: "send() is a one-way request; a response to it is dropped quietly",
    fn: async (env) => {
      const got: unknown[] = [];
      await pair(
        env,
        {
          call: (_p, cmd, body) => {
            got.push(body);
            return cmd === 2 ? "unexpected answer" : undefined;
          },
        },
        {},
        async (_s, c, peer) => {
          assert.equal(await c.send(peer, 1, "one"), undefined);
          await c.send(peer, 2, "two");
          await until(() => got.length === 2, 2000, "sends to arrive");
          assert.deepEqual(got, ["one", "two"]);
          // The response to send 2 was dropped; a real call still works.
          assert.equal(await c.call(peer, 2, "after"), "unexpected answer");
        },
      );
    },
  },
  {
    name: "call() times out; the late response is dropped and the connection stays healthy",
    fn: (env) =>
      pair(
        env,
        {
          call: async (_p, _cmd, body) => {
            if (body === "slow") await delay(80);
            return body;
          },
        },
        {},
        async (_s, c, peer) => {
          const error = await rejectsWith(c.call(peer, 1, "slow", { timeout: 20 }), "timeout");
          assert.match(error.message, /timed out/);
          await delay(100);
          assert.equal(await c.call(peer, 1, "fast"), "fast");
        },
      ),
  },
  {
    name: "call() aborts with the signal's reason; a pre-aborted signal rejects at once",
    fn: (env) =>
      pair(
        env,
        {
          call: async (_p, _cmd, body) => {
            await delay(50);
            return body;
          },
        },
        {},
        async (_s, c, peer) => {
          const controller = new AbortController();
          const call = c.call(peer, 1, "x", { signal: controller.signal });
          setTimeout(() => controller.abort(new Error("user gave up")), 5);
          const error = await rejectsWith(call, "aborted");
          assert.equal((error.cause as Error).message, "user gave up");
          const gone = AbortSignal.abort("already");
          const early = await rejectsWith(c.call(peer, 1, "x", { signal: gone }), "aborted");
          assert.equal(early.cause, "already");
          await delay(60);
          assert.equal(await c.call(peer, 1, "still fine"), "still fine");
        },
      ),
  },
  {
    name:
      "a dropped connection rejects every pending call with closed at once; the next call reconnects",
    fn: async (env) => {
      let accepted = 0;
      let server!: Cluster;
      await pair(
        env,
        {
          accept: () => accepted++,
          call: (peer, _cmd, body) => {
            if (body === "drop") setTimeout(() => server.close(peer), 5);
            return new Promise(() => {}); // never answers
          },
        },
        { timeout: 120_000 },
        async (s, c, peer) => {
          server = s;
          const started = Date.now();
          const calls = Array.from({ length: 10 }, () => c.call(peer, 1, "wait"));
          const dropper = c.call(peer, 1, "drop");
          for (const call of [...calls, dropper]) await rejectsWith(call, "closed");
          assert.ok(Date.now() - started < 60_000, "rejected long before the timeout");
          await until(() => !peer.isConnected, 2000, "the client to see the close");
          await c.send(peer, 1, "again");
          assert.equal(accepted, 2, "reconnected once");
        },
      );
    },
  },
  {
    name: "connect failed carries the transport's error; each call tries once",
    fn: async (env) => {
      const probe = new Cluster({
        ...json(),
        transport: env.transport,
        protocol: env.protocol,
        logger: new MemoryLogger(),
      });
      const listener = await probe.listen(`${env.host}:0`);
      const port = listener.address.port;
      await probe.close();
      const c = new Cluster({
        ...json(),
        transport: env.transport,
        protocol: env.protocol,
        logger: new MemoryLogger(),
      });
      try {
        const host = env.host.includes(":") ? `[${env.host}]` : env.host;
        const peer = c.connect(`${host}:${port}`);
        const error = await rejectsWith(c.call(peer, 1, null), "connect failed");
        assert.ok(isWeftError(error.cause, "connection refused"), `cause: ${error.cause}`);
        await rejectsWith(c.send(peer, 1, null), "connect failed");
      } finally {
        await c.close();
      }
    },
  },
  {
    name: "close(peer) stops it for good: peer closed, no reconnect, no close hook",
    fn: async (env) => {
      let accepted = 0;
      const closes: string[] = [];
      await pair(env, { ...echo, accept: () => accepted++ }, {
        close: (_p, reason) => closes.push(reason.code),
      }, async (_s, c, peer) => {
        const waiting = c.call(peer, 1, "x");
        assert.equal(await waiting, "x");
        // It rejects during close(), before close() resolves: handle it now.
        const pending = rejectsWith(c.call(peer, 1, "y"), "peer closed");
        await c.close(peer);
        await pending;
        await rejectsWith(c.call(peer, 1, "z"), "peer closed");
        assert.equal(peer.isClosed, true);
        assert.equal(accepted, 1);
        assert.deepEqual(closes, []);
      });
    },
  },
  {
    name:
      "accepted peers are full peers: the server calls the client back; after disconnect, peer closed",
    fn: async (env) => {
      let inbound: Peer | undefined;
      const serverCloses: string[] = [];
      await pair(env, {
        accept: (p) => (inbound = p),
        close: (_p, reason) => serverCloses.push(reason.code),
      }, {
        call: (_p, _cmd, body) => ({ client: body }),
      }, async (s, c, peer) => {
        await c.send(peer, 1, "hello");
        await until(() => inbound !== undefined, 2000, "accept");
        assert.equal(inbound!.inbound, true);
        assert.deepEqual(await s.call(inbound!, 7, "back"), { client: "back" });
        await c.close(peer);
        await until(() => inbound!.isClosed, 2000, "the server to see the close");
        await rejectsWith(s.call(inbound!, 7, "gone"), "peer closed");
        assert.deepEqual(serverCloses, ["closed"]);
      });
    },
  },
  {
    name: "hooks that throw are logged and break nothing; a throwing accept refuses the connection",
    fn: async (env) => {
      const serverLog = new MemoryLogger();
      let first = true;
      await pair(
        env,
        {
          logger: serverLog,
          accept: () => {
            if (first) {
              first = false;
              throw new Error("not this one");
            }
          },
          call: (_p, _cmd, body) => {
            if (body === "throw") throw new Error("handler broke");
            return body;
          },
          close: () => {
            throw new Error("close hook broke");
          },
        },
        {},
        async (_s, c, peer) => {
          // The refusal must come as a close, not a timeout.
          await rejectsWith(c.call(peer, 1, "refused"), "closed");
          await until(() => !peer.isConnected, 2000, "refusal");
          assert.equal(await c.call(peer, 1, "ok"), "ok");
          if (env.protocol === "silly") {
            await rejectsWith(c.call(peer, 1, "throw", { timeout: 40 }), "timeout");
          } else {
            const error = await rejectsWith(c.call(peer, 1, "throw"), "remote");
            assert.match(error.message, /handler broke/);
          }
          assert.ok(serverLog.errors.some((m) => m.includes("accept hook threw")));
          assert.ok(serverLog.errors.some((m) => m.includes("threw")), serverLog.errors.join("\n"));
        },
      );
    },
  },
  {
    name: "frame too large on send writes nothing; the connection stays healthy",
    fn: async (env) => {
      const spy = spyTransport(env.transport);
      await pair(env, echo, { transport: spy.transport, hardLimit: 1024 }, async (_s, c, peer) => {
        assert.equal(await c.call(peer, 1, "small"), "small");
        const before = spy.writes.length;
        await rejectsWith(c.call(peer, 1, "x".repeat(2000)), "frame too large");
        await rejectsWith(c.send(peer, 1, "x".repeat(2000)), "frame too large");
        await delay(5);
        assert.equal(spy.writes.length, before, "nothing written");
        assert.equal(await c.call(peer, 1, "small again"), "small again");
      });
    },
  },
  {
    name: "a received frame over the hard limit closes only that connection, with a coded reason",
    fn: async (env) => {
      const reasons: string[] = [];
      await pair(
        env,
        {
          ...echo,
          hardLimit: 1024,
          close: (_p, reason) => reasons.push(reason.code),
        },
        {},
        async (_s, c, peer, address) => {
          const other = new Cluster({
            ...json(),
            transport: env.transport,
            protocol: env.protocol,
            logger: new MemoryLogger(),
          });
          try {
            const otherPeer = other.connect(address);
            assert.equal(await other.call(otherPeer, 1, "bystander"), "bystander");
            await rejectsWith(c.call(peer, 1, "x".repeat(4000)), "closed");
            await until(() => reasons.length === 1, 2000, "the server's close hook");
            assert.deepEqual(reasons, ["frame too large"]);
            assert.equal(await other.call(otherPeer, 1, "still here"), "still here");
          } finally {
            await other.close();
          }
        },
      );
    },
  },
  {
    name: "marshal failed and unmarshal failed are coded; TypeErrors from marshal stay TypeErrors",
    fn: (env) => {
      const codec = json();
      return pair(env, { call: () => "reply" }, {
        marshal: (type, cmd, body) => {
          if (body === "bug") throw new TypeError("unknown command");
          if (body === "fail") throw new Error("cannot encode");
          return codec.marshal(type, cmd, body);
        },
        unmarshal: (type, cmd, bytes) => {
          if (cmd === 9) return new Error("bad bytes");
          if (cmd === 8) throw new Error("worse bytes");
          return codec.unmarshal(type, cmd, bytes);
        },
      }, async (_s, c, peer) => {
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        await rejectsWith(c.call(peer, 1, cyclic), "marshal failed");
        await rejectsWith(c.call(peer, 1, "fail"), "marshal failed");
        await assert.rejects(c.call(peer, 1, "bug"), TypeError);
        await rejectsWith(c.call(peer, 9, null), "unmarshal failed");
        await rejectsWith(c.call(peer, 8, null), "unmarshal failed");
        assert.equal(await c.call(peer, 1, null), "reply");
      });
    },
  },
  {
    name:
      "a request that fails to decode is logged; silly leaves it unanswered, weft answers remote",
    fn: async (env) => {
      const log = new MemoryLogger();
      const codec = json();
      await pair(
        env,
        {
          logger: log,
          unmarshal: (type, cmd, bytes) => {
            if (type === "request" && cmd === 5) throw new Error("undecodable");
            return codec.unmarshal(type, cmd, bytes);
          },
          call: () => "ok",
        },
        {},
        async (_s, c, peer) => {
          // Connect first, so that a loaded machine's slow handshake is not
          // mistaken for the unanswered request below.
          assert.equal(await c.call(peer, 1, null), "ok");
          if (env.protocol === "silly") {
            await rejectsWith(c.call(peer, 5, null, { timeout: 40 }), "timeout");
          } else {
            const error = await rejectsWith(c.call(peer, 5, null), "remote");
            assert.equal((error as RemoteError).remote.code, "unmarshal failed");
          }
          assert.ok(log.errors.some((m) => m.includes("unmarshal")), log.errors.join("\n"));
          assert.equal(await c.call(peer, 1, null), "ok");
        },
      );
    },
  },
  {
    name: "frames produced in one turn leave in one write",
    fn: async (env) => {
      const spy = spyTransport(env.transport);
      await pair(env, echo, { transport: spy.transport }, async (_s, c, peer) => {
        await c.call(peer, 1, "warm up");
        const before = spy.writes.length;
        await Promise.all(Array.from({ length: 100 }, (_, i) => c.call(peer, 1, i)));
        assert.equal(spy.writes.length - before, 1, `writes: ${spy.writes.slice(before)}`);
      });
    },
  },
  {
    name: "backpressure: calls wait for a congested connection instead of growing memory",
    fn: async (env) => {
      // A raw listener that accepts and never reads: the client's send buffer fills.
      const held: Connection[] = [];
      const raw = await env.transport.listen(`${env.host}:0`, (conn) => {
        held.push(conn);
        conn.start({ data: () => {}, close: () => {} });
        conn.pause();
      });
      const spy = spyTransport(env.transport);
      const c = new Cluster({
        ...json(),
        transport: spy.transport,
        highWaterMark: 16 * 1024,
        logger: new MemoryLogger(),
      });
      try {
        const host = env.host.includes(":") ? `[${env.host}]` : env.host;
        const peer = c.connect(`${host}:${raw.address.port}`);
        const body = "x".repeat(8 * 1024);
        const sends: Promise<unknown>[] = [];
        let settled = 0;
        for (let i = 0; i < 2000; i++) {
          sends.push(c.send(peer, 1, body, { timeout: 300 }).then(() => settled++, () => {}));
        }
        await Promise.allSettled(sends);
        const conn = spy.connections[0]!;
        assert.ok(settled < 2000, "some sends waited and timed out");
        // Bounded: the OS buffers plus the high-water mark and one batch, far below 2000 * 8 KiB.
        assert.ok(conn.bufferedAmount < 8 * 1024 * 1024, `buffered ${conn.bufferedAmount}`);
      } finally {
        await c.close();
        for (const conn of held) await conn.close();
        await raw.close();
      }
    },
  },
  {
    name: "trace ids: fresh per top-level call, propagated through context.call with the node id",
    fn: async (env) => {
      const seen: bigint[] = [];
      const clusters: Cluster[] = [];
      const node = (nodeId: number, call?: ClusterOptions["call"]) => {
        const cluster = new Cluster({
          ...json(),
          transport: env.transport,
          protocol: env.protocol,
          nodeId,
          logger: new MemoryLogger(),
          ...(call === undefined ? {} : { call }),
        });
        clusters.push(cluster);
        return cluster;
      };
      const host = env.host.includes(":") ? `[${env.host}]` : env.host;
      try {
        const leaf = node(3, (_p, _cmd, _body, ctx) => {
          seen.push(ctx.traceId);
          return "leaf";
        });
        const leafAddress = `${host}:${(await leaf.listen(`${env.host}:0`)).address.port}`;
        const middle: Cluster = node(2, async (_p, _cmd, _body, ctx) => {
          seen.push(ctx.traceId);
          await delay(1);
          // Across an await, the context still carries the trace id.
          return await ctx.call(middle.connect(leafAddress), 1, "down");
        });
        const middleAddress = `${host}:${(await middle.listen(`${env.host}:0`)).address.port}`;
        const top = node(1);
        const peer = top.connect(middleAddress);
        assert.equal(await top.call(peer, 1, "top"), "leaf");
        assert.equal(await top.call(peer, 1, "top", { traceId: 0x1122334455660001n }), "leaf");
        assert.equal(seen.length, 4);
        const [a, b, x, y] = seen as [bigint, bigint, bigint, bigint];
        assert.equal(a & 0xffffn, 1n, "first hop names node 1");
        assert.equal(b >> 16n, a >> 16n, "root kept");
        assert.equal(b & 0xffffn, 2n, "second hop names node 2");
        assert.equal(x, 0x1122334455660001n);
        assert.equal(y, 0x1122334455660002n);
      } finally {
        for (const cluster of clusters) await cluster.close();
      }
    },
  },
  {
    name:
      "contextStorage (AsyncLocalStorage): cluster.call under a handler carries its trace id across await",
    fn: async (env) => {
      const seen: bigint[] = [];
      const storage = new AsyncLocalStorage<CallContext>();
      const made: Cluster[] = [];
      const node = (options: Partial<ClusterOptions>) => {
        const cluster = new Cluster({
          ...json(),
          transport: env.transport,
          protocol: env.protocol,
          logger: new MemoryLogger(),
          ...options,
        });
        made.push(cluster);
        return cluster;
      };
      const host = env.host.includes(":") ? `[${env.host}]` : env.host;
      try {
        const leaf = node({
          nodeId: 9,
          call: (_p, _c, _b, ctx) => {
            seen.push(ctx.traceId);
            return "leaf";
          },
        });
        const leafAddress = `${host}:${(await leaf.listen(`${env.host}:0`)).address.port}`;
        const middle: Cluster = node({
          nodeId: 8,
          contextStorage: storage,
          call: async () => {
            await delay(1);
            // No context passed: the storage supplies it.
            return await middle.call(middle.connect(leafAddress), 1, "down");
          },
        });
        const middleAddress = `${host}:${(await middle.listen(`${env.host}:0`)).address.port}`;
        const top = node({ nodeId: 7 });
        assert.equal(
          await top.call(top.connect(middleAddress), 1, "x", { traceId: 0xabcdef0123450007n }),
          "leaf",
        );
        assert.deepEqual(seen, [0xabcdef0123450008n]);
      } finally {
        for (const cluster of made) await cluster.close();
      }
    },
  },
  {
    name: "close() rejects pending calls, closes everything, and later use says peer closed",
    fn: async (env) => {
      const s = new Cluster({
        ...json(),
        transport: env.transport,
        protocol: env.protocol,
        logger: new MemoryLogger(),
        // The handler outlives the client; its context's signal aborts when
        // the connection goes, so it can stop (and stop its timer).
        call: (_p, _cmd, _body, ctx) =>
          new Promise((resolve) => {
            started = true;
            const timer = setTimeout(() => resolve("late"), 60_000);
            ctx.signal.addEventListener("abort", () => {
              clearTimeout(timer);
              aborted = true;
              resolve("aborted");
            });
          }),
      });
      let aborted = false;
      let started = false;
      const listener = await s.listen(`${env.host}:0`);
      const host = env.host.includes(":") ? `[${env.host}]` : env.host;
      const c = new Cluster({
        ...json(),
        transport: env.transport,
        protocol: env.protocol,
        logger: new MemoryLogger(),
      });
      const peer = c.connect(`${host}:${listener.address.port}`);
      const pending = rejectsWith(c.call(peer, 1, null), "peer closed");
      // Closed once the server is handling the call (a 10 ms sleep here let a
      // busy machine close before the request arrived: no handler to abort).
      await until(() => started, 0, "the handler to start");
      await c.close();
      await pending;
      await rejectsWith(c.call(peer, 1, null), "peer closed");
      await rejectsWith(
        c.call(c.connect(`${host}:${listener.address.port}`), 1, null),
        "peer closed",
      );
      await rejectsWith(c.listen(`${env.host}:0`), "peer closed");
      assert.equal(c.isClosed, true);
      await until(() => aborted, 2000, "the handler's signal to abort");
      await c.close();
      await s.close();
      assert.equal(listener.isClosed, true);
    },
  },
  {
    name: "listen() failures are coded: address in use, bad address",
    fn: async (env) => {
      const a = new Cluster({ ...json(), transport: env.transport });
      try {
        const listener = await a.listen(`${env.host}:0`);
        const host = env.host.includes(":") ? `[${env.host}]` : env.host;
        await rejectsWith(a.listen(`${host}:${listener.address.port}`), "address in use");
        await rejectsWith(a.listen("no-port-here"), "bad address");
        assert.throws(() => a.connect("nope"), (e: unknown) => isWeftError(e, "bad address"));
        await a.close(listener);
        assert.equal(listener.isClosed, true);
      } finally {
        await a.close();
      }
    },
  },
  {
    name: "the v1 framing works end to end",
    fn: (env) =>
      pair(env, { ...echo, framing: "v1" }, { framing: "v1" }, async (_s, c, peer) => {
        assert.equal(await c.call(peer, 1, "v1 body"), "v1 body");
        await rejectsWith(c.call(peer, 1, "x".repeat(70000)), "frame too large");
      }),
  },
  {
    name: "silly mode: raw silly bytes from a foreign client are answered byte-exact",
    fn: async (env) => {
      const s = new Cluster({
        transport: env.transport,
        protocol: "silly",
        marshal: (_t, cmd, body) => [Number(cmd), body as string],
        unmarshal: (_t, _cmd, bytes) => new TextDecoder().decode(bytes),
        call: (_p, _cmd, body) => body,
      });
      try {
        const listener = await s.listen(`${env.host}:0`);
        const host = env.host.includes(":") ? `[${env.host}]` : env.host;
        const conn = await env.transport.connect(`${host}:${listener.address.port}`);
        const got: number[] = [];
        conn.start({ data: (chunk) => got.push(...chunk), close: () => {} });
        const encoder = new FrameEncoder();
        encoder.request(
          { session: 0x01020304, cmd: 1, traceHi: 0x11223344, traceLo: 0x55667788 },
          "hello",
        );
        conn.write(encoder.take());
        await until(() => got.length >= 13, 2000, "the response");
        const hex = got.map((b) => b.toString(16).padStart(2, "0")).join("");
        assert.equal(hex, "090000000403028168656c6c6f");
        await conn.close();
      } finally {
        await s.close();
      }
    },
  },
  {
    name: "bad options throw at construction naming the option",
    fn: () => {
      const codec = json();
      const named = (option: string) => (e: unknown) =>
        (e instanceof TypeError || e instanceof RangeError) && e.message.includes(option);
      assert.throws(() => new Cluster({} as ClusterOptions), named("marshal"));
      assert.throws(
        () => new Cluster({ marshal: codec.marshal } as ClusterOptions),
        named("unmarshal"),
      );
      assert.throws(() => new Cluster({ ...codec, timeout: -1 }), named("timeout"));
      assert.throws(
        () => new Cluster({ ...codec, timeout: "5" as unknown as number }),
        named("timeout"),
      );
      assert.throws(() => new Cluster({ ...codec, hardLimit: 1 }), named("hardLimit"));
      assert.throws(() => new Cluster({ ...codec, softLimit: 1.5 }), named("softLimit"));
      assert.throws(() => new Cluster({ ...codec, framing: "v3" as "v1" }), named("framing"));
      assert.throws(() => new Cluster({ ...codec, nodeId: 70000 }), named("nodeId"));
      assert.throws(
        () => new Cluster({ ...codec, call: 5 as unknown as () => void }),
        named("call"),
      );
      assert.throws(
        () => new Cluster({ ...codec, transport: {} as Transport }),
        named("transport"),
      );
      assert.throws(() => new Cluster({ ...codec, highWaterMark: 0 }), named("highWaterMark"));
      return Promise.resolve();
    },
  },
];
