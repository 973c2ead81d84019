/**
 * The cluster's limits and edge cases of issue 10, as runtime-neutral cases
 * in both protocols (run like cases.ts: by cluster_test.ts under Deno, by
 * run_cases.ts under Bun and Node).
 */

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { MAX_QUEUED_CANCELS } from "../../src/connection/cancels.ts";
import type { ClusterOptions } from "../../src/cluster/options.ts";
import type { Peer } from "../../src/connection/peer.ts";
import { ControlCmd, HELLO_PAYLOAD } from "../../src/protocol/weft/protocol.ts";
import { json } from "../../src/codec/json.ts";
import { isWeftError, RemoteError } from "../../src/errors.ts";
import type { Connection } from "../../src/transport/types.ts";
import { FrameDecoder } from "../../src/wire/frame_decoder.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";
import { type Case, type CaseEnv, MemoryLogger, rejectsWith, until } from "./cases.ts";

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function hostPort(env: CaseEnv, port: number): string {
  return env.host.includes(":") ? `[${env.host}]:${port}` : `${env.host}:${port}`;
}

function node(env: CaseEnv, options: Partial<ClusterOptions> = {}): Cluster {
  return new Cluster({
    ...json(),
    transport: env.transport,
    protocol: env.protocol,
    logger: new MemoryLogger(),
    ...options,
  });
}

/** The cases of both protocols. */
export const limitCases: Case[] = [
  {
    name:
      "a node calling its own listener, closed while that connect is in flight, rejects with peer closed",
    fn: async (env) => {
      for (let i = 0; i < 20; i++) {
        const self = node(env, { call: (_p, _c, body) => body });
        const listener = await self.listen(`${env.host}:0`);
        const call = self.call(self.connect(hostPort(env, listener.address.port)), 1, "x");
        const closing = self.close();
        await rejectsWith(call, "peer closed");
        await closing;
      }
    },
  },
  {
    name:
      "two nodes calling each other back over one connection, with maxInflightPerConnection 2, do not deadlock",
    fn: async (env) => {
      const s: Cluster = node(env, {
        maxInflightPerConnection: 2,
        call: (peer: Peer, cmd, body) => {
          // cmd 1: call the caller back (cmd 2), over the same connection;
          // cmd 3 answers at once (a synchronous handler takes no slot).
          if (cmd === 1) return s.call(peer, 2, body).then((r) => `s(${r})`);
          return `leaf(${body})`;
        },
      });
      const c: Cluster = node(env, {
        maxInflightPerConnection: 2,
        call: async (peer: Peer, _cmd, body) => `c(${await c.call(peer, 3, body)})`,
      });
      try {
        const listener = await s.listen(`${env.host}:0`);
        const peer = c.connect(hostPort(env, listener.address.port));
        const replies = await Promise.all(
          Array.from({ length: 3 }, (_, i) => c.call(peer, 1, `n${i}`, { timeout: 5000 })),
        );
        assert.deepEqual(replies, ["s(c(leaf(n0)))", "s(c(leaf(n1)))", "s(c(leaf(n2)))"]);
      } finally {
        await c.close();
        await s.close();
      }
    },
  },
  {
    name:
      "maxInflightPerConnection: handlers of one connection never exceed it; the rest run in order as slots free",
    fn: async (env) => {
      let running = 0;
      let most = 0;
      const order: number[] = [];
      const s = node(env, {
        maxInflightPerConnection: 3,
        call: async (_p, _c, body) => {
          order.push(body as number);
          running++;
          most = Math.max(most, running);
          await delay(2);
          running--;
          return body;
        },
      });
      const c = node(env);
      try {
        const listener = await s.listen(`${env.host}:0`);
        const peer = c.connect(hostPort(env, listener.address.port));
        const replies = await Promise.all(
          Array.from({ length: 40 }, (_, i) => c.call(peer, 1, i, { timeout: 10_000 })),
        );
        assert.deepEqual(replies, Array.from({ length: 40 }, (_, i) => i));
        assert.equal(most, 3);
        assert.deepEqual(order, Array.from({ length: 40 }, (_, i) => i));
      } finally {
        await c.close();
        await s.close();
      }
    },
  },
  {
    name:
      "maxHandlersPerNode: handlers of several connections together never exceed it; every call is answered; stats count them",
    fn: async (env) => {
      let running = 0;
      let most = 0;
      const s = node(env, {
        maxHandlersPerNode: 4,
        stats: true,
        call: async (_p, _c, body) => {
          running++;
          most = Math.max(most, running);
          await delay(2);
          running--;
          return body;
        },
      });
      const clients = Array.from({ length: 3 }, () => node(env));
      try {
        const listener = await s.listen(`${env.host}:0`);
        const replies = await Promise.all(
          clients.flatMap((c, k) => {
            const peer = c.connect(hostPort(env, listener.address.port));
            return Array.from({ length: 20 }, (_, i) => c.call(peer, 1, k * 100 + i));
          }),
        );
        assert.deepEqual(
          replies,
          [0, 100, 200].flatMap((k) => Array.from({ length: 20 }, (_, i) => k + i)),
        );
        assert.equal(most, 4);
        const limits = s.stats()!.limits!;
        assert.equal(limits.handlers, 0);
        assert.equal(limits.waitingBytes, 0);
        assert.ok(limits.handlerWaits! > 0, JSON.stringify(limits));
        assert.equal(limits.refused["waiting bytes"], 0);
      } finally {
        for (const c of clients) await c.close();
        await s.close();
      }
    },
  },
  {
    name:
      "maxWaitingBytesPerNode: past it requests are refused busy (weft) or dropped (silly), counted, and logged through the node's fault log, not once per connection",
    fn: async (env) => {
      const log = new MemoryLogger();
      const release = Promise.withResolvers<void>();
      const s = node(env, {
        logger: log,
        stats: true,
        maxHandlersPerNode: 1,
        maxWaitingBytesPerNode: 1,
        call: () => release.promise.then(() => "done"),
      });
      const clients = Array.from({ length: 30 }, () => node(env));
      const weft = env.protocol === "weft";
      try {
        const listener = await s.listen(`${env.host}:0`);
        const peers = clients.map((c) => c.connect(hostPort(env, listener.address.port)));
        // The one slot, held until the end.
        const first = clients[0]!.call(peers[0]!, 1, "first");
        await until(() => s.stats()!.limits!.handlers === 1, 10_000, "the slot taken");
        const began = performance.now();
        const waiting: Promise<unknown>[] = [];
        const refused: Promise<unknown>[] = [];
        clients.forEach((c, i) => {
          // Each connection may queue one request past the budget; the next is refused.
          waiting.push(c.call(peers[i]!, 1, "a"));
          refused.push(c.call(peers[i]!, 1, "b", { timeout: weft ? 60_000 : 300 }).catch((e) => e));
        });
        await until(
          () => s.stats()!.limits!.refused["waiting bytes"] === clients.length,
          20_000,
          "every second request refused",
        );
        const seconds = (performance.now() - began) / 1000;
        for (const error of await Promise.all(refused)) {
          if (weft) {
            assert.ok(error instanceof RemoteError, String(error));
            assert.equal(error.remote.code, "busy");
            assert.match(error.message, /maxWaitingBytesPerNode 1/);
          } else assert.ok(isWeftError(error, "timeout"), String(error));
        }
        const lines = log.warnings.filter((line) => / refused: /.test(line));
        // The fault log's limit, node-wide: 10 lines a second per kind, not one per connection.
        assert.ok(
          lines.length >= 1 && lines.length <= 10 * (Math.ceil(seconds) + 1) &&
            lines.length < clients.length,
          `${lines.length} lines in ${seconds} s`,
        );
        release.resolve();
        assert.deepEqual(await Promise.all([first, ...waiting]), Array(31).fill("done"));
        assert.equal(s.stats()!.limits!.waitingBytes, 0);
      } finally {
        release.resolve();
        for (const c of clients) await c.close();
        await s.close();
      }
    },
  },
  {
    name: "two nodes calling each other back, with maxHandlersPerNode 1 on both, do not deadlock",
    fn: async (env) => {
      const s: Cluster = node(env, {
        maxHandlersPerNode: 1,
        call: (peer: Peer, cmd, body) => {
          if (cmd === 1) return s.call(peer, 2, body).then((r) => `s(${r})`);
          return Promise.resolve(`leaf(${body})`);
        },
      });
      const c: Cluster = node(env, {
        maxHandlersPerNode: 1,
        call: async (peer: Peer, _cmd, body) => `c(${await c.call(peer, 3, body)})`,
      });
      try {
        const listener = await s.listen(`${env.host}:0`);
        const peer = c.connect(hostPort(env, listener.address.port));
        const replies = await Promise.all(
          Array.from({ length: 3 }, (_, i) => c.call(peer, 1, `n${i}`, { timeout: 5000 })),
        );
        assert.deepEqual(replies, ["s(c(leaf(n0)))", "s(c(leaf(n1)))", "s(c(leaf(n2)))"]);
      } finally {
        await c.close();
        await s.close();
      }
    },
  },
  {
    name: "the soft-limit warning is logged by the sender (as silly does) and by the receiver",
    fn: async (env) => {
      const serverLog = new MemoryLogger();
      const clientLog = new MemoryLogger();
      const s = node(env, { logger: serverLog, softLimit: 100, call: () => "small" });
      const c = node(env, { logger: clientLog, softLimit: 100 });
      try {
        const listener = await s.listen(`${env.host}:0`);
        const peer = c.connect(hostPort(env, listener.address.port));
        assert.equal(await c.call(peer, 1, "x".repeat(500)), "small");
        assert.equal(clientLog.warnings.length, 1, clientLog.warnings.join("\n"));
        assert.match(
          clientLog.warnings[0]!,
          /Frame of \d+ bytes to outbound .* over the soft limit 100/,
        );
        await until(() => serverLog.warnings.length > 0, 2000, "the receiver's warning");
        assert.match(serverLog.warnings[0]!, /Frame of \d+ bytes from inbound .* soft limit 100/);
      } finally {
        await c.close();
        await s.close();
      }
    },
  },
  {
    name:
      "a peer's frames over the soft limit are logged by the receiver as a rate-limited fault (faultLogLimit lines per second), not a line each",
    fn: async (env) => {
      const serverLog = new MemoryLogger();
      const s = node(env, {
        logger: serverLog,
        softLimit: 100,
        faultLogLimit: 2,
        call: () => "small",
      });
      const c = node(env, { logger: new MemoryLogger(), softLimit: 100 });
      try {
        const listener = await s.listen(`${env.host}:0`);
        const peer = c.connect(hostPort(env, listener.address.port));
        const started = performance.now();
        const replies = await Promise.all(
          Array.from({ length: 200 }, () => c.call(peer, 1, "x".repeat(500), { timeout: 30_000 })),
        );
        const seconds = (performance.now() - started) / 1000;
        assert.ok(replies.every((r) => r === "small"));
        const lines = serverLog.warnings.filter((w) => /soft limit 100/.test(w));
        assert.ok(lines.length >= 1, "the first one is logged");
        // At most 2 per second of the run (each window of the rate limit).
        assert.ok(
          lines.length <= 2 * (Math.ceil(seconds) + 1),
          `${lines.length} soft-limit lines for 200 frames in ${seconds.toFixed(1)} s`,
        );
      } finally {
        await c.close();
        await s.close();
      }
    },
  },
  {
    name: "bad limit options throw at construction naming the option",
    fn: async (env) => {
      const named = (name: string) => (e: unknown) =>
        e instanceof Error && e.message.includes(name);
      for (const bad of [0, 1.5, -1]) {
        assert.throws(() => node(env, { maxInflightPerConnection: bad }), RangeError);
      }
      assert.throws(
        () => node(env, { maxInflightPerConnection: "9" as unknown as number }),
        named("maxInflightPerConnection"),
      );
      for (const option of ["maxHandlersPerNode", "maxWaitingBytesPerNode"]) {
        for (const bad of [0, 1.5, -1]) {
          assert.throws(() => node(env, { [option]: bad }), RangeError);
          assert.throws(() => node(env, { [option]: bad }), named(option));
        }
        assert.throws(() => node(env, { [option]: "9" }), TypeError);
        assert.throws(() => node(env, { [option]: "9" }), named(option));
      }
      for (const option of ["handshakeTimeout", "idleTimeout", "frameTimeout"]) {
        assert.throws(() => node(env, { [option]: 0 }), named(option));
        assert.throws(() => node(env, { [option]: "1" }), named(option));
      }
      const c = node(env);
      try {
        await assert.rejects(c.listen(`${env.host}:0`, { maxConnections: 0 }), RangeError);
        await assert.rejects(
          c.listen(`${env.host}:0`, { maxConnections: "1" as unknown as number }),
          TypeError,
        );
        await assert.rejects(
          c.listen(`${env.host}:0`, { maxConnectionsPerAddress: 0 }),
          (e) => e instanceof RangeError && named("maxConnectionsPerAddress")(e),
        );
        await assert.rejects(
          c.listen(`${env.host}:0`, { maxConnectionsPerAddress: "1" as unknown as number }),
          (e) => e instanceof TypeError && named("maxConnectionsPerAddress")(e),
        );
      } finally {
        await c.close();
      }
    },
  },
];

/** Weft mode only. */
export const weftLimitCases: Case[] = [
  {
    name:
      "weft: CANCELs wait out a congested connection like everything else, and every one arrives (the bound, MAX_QUEUED_CANCELS, is far above this)",
    fn: async (env) => {
      // A weft peer by hand: it answers HELLO, then stops reading until told.
      const conns: Connection[] = [];
      let cancels = 0;
      let requests = 0;
      const listener = await env.transport.listen(`${env.host}:0`, (conn) => {
        conns.push(conn);
        const decoder = new FrameDecoder();
        const encoder = new FrameEncoder();
        conn.start({
          data: (chunk) => {
            decoder.decode(chunk, (frame) => {
              if (frame.cmd === ControlCmd.Hello) {
                encoder.request(
                  { session: frame.session, cmd: ControlCmd.HelloAck, traceHi: 0, traceLo: 0 },
                  HELLO_PAYLOAD,
                );
              } else if (frame.cmd === ControlCmd.Cancel) cancels++;
              else if (frame.kind === "request") requests++;
            });
            if (encoder.length > 0) conn.write(encoder.take().slice());
          },
          close: () => {},
        });
      }, { highWaterMark: 1024 });
      // The 32 MiB send below is over weft's default hard limit (4 MiB), and
      // partSize above it sends it as one frame that congests the socket
      // (this peer by hand does not acknowledge parts).
      const c = node(env, {
        highWaterMark: 1024,
        hardLimit: 64 * 1024 * 1024,
        partSize: 0xffffffff,
      });
      try {
        const peer = c.connect(hostPort(env, listener.address.port));
        // 1,524 calls: before issue 22 the bound was 1,024 and 500 of these were dropped.
        const n = 1524;
        assert.ok(MAX_QUEUED_CANCELS > n);
        const calls = Array.from(
          { length: n },
          (_, i) => c.call(peer, 1, i, { timeout: 1500 }).catch((e) => e),
        );
        await until(() => requests === n, 5000, "every request read");
        // Stop reading, and congest the connection with a large send.
        conns[0]!.pause();
        const big = c.send(peer, 1, "x".repeat(32 * 1024 * 1024), { timeout: 10_000 })
          .catch((e) => e);
        const results = await Promise.all(calls);
        assert.ok(results.every((r) => (r as { code?: string })?.code === "timeout"));
        conns[0]!.resume();
        await big;
        await until(() => cancels === n, 5000, `${n} CANCELs`);
        await delay(100);
        assert.equal(cancels, n);
      } finally {
        await c.close();
        for (const conn of conns) await conn.close();
        await listener.close();
      }
    },
  },
];
