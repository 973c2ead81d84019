/**
 * Weft protocol mode's extensions, and proof that silly mode sends none of
 * them, written once as runtime-neutral cases (run like cases.ts: by
 * cluster_test.ts under Deno, by run_cases.ts under Bun and Node).
 */

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { ClusterOptions } from "../../src/cluster/options.ts";
import { ControlCmd, HELLO_PAYLOAD } from "../../src/protocol/weft/protocol.ts";
import { json } from "../../src/codec/json.ts";
import type { RemoteError, WeftError } from "../../src/errors.ts";
import type { Connection, Transport } from "../../src/transport/types.ts";
import { FrameDecoder } from "../../src/wire/frame_decoder.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";
import {
  CALL_GUARD_MS,
  type Case,
  type CaseEnv,
  MemoryLogger,
  rejectsWith,
  until,
} from "./cases.ts";

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function hostPort(env: CaseEnv, port: number): string {
  return env.host.includes(":") ? `[${env.host}]:${port}` : `${env.host}:${port}`;
}

/** Clusters made by `node()`, all closed by `nodes()`'s end. */
async function nodes(
  env: CaseEnv,
  fn: (node: (options?: Partial<ClusterOptions>) => Cluster) => Promise<void>,
): Promise<void> {
  const made: Cluster[] = [];
  try {
    await fn((options = {}) => {
      const cluster = new Cluster({
        ...json(),
        transport: env.transport,
        protocol: "weft",
        logger: new MemoryLogger(),
        // Hang guards (a loaded machine is slow); cases that expect a
        // timeout give their calls short ones.
        timeout: CALL_GUARD_MS,
        connectTimeout: CALL_GUARD_MS,
        ...options,
      });
      made.push(cluster);
      return cluster;
    });
  } finally {
    for (const cluster of made) await cluster.close();
  }
}

async function serve(env: CaseEnv, cluster: Cluster): Promise<string> {
  const listener = await cluster.listen(`${env.host}:0`);
  return hostPort(env, listener.address.port);
}

/** Records every byte a transport's connections write. */
function recordingTransport(inner: Transport): { transport: Transport; written: number[][] } {
  const written: number[][] = [];
  const wrap = (conn: Connection): Connection => {
    const log: number[] = [];
    written.push(log);
    const write = conn.write.bind(conn);
    conn.write = (bytes: Uint8Array) => {
      log.push(...bytes);
      return write(bytes);
    };
    return conn;
  };
  return {
    written,
    transport: {
      name: `recording(${inner.name})`,
      connect: async (address, options) => wrap(await inner.connect(address, options)),
      listen: (address, onAccept, options) =>
        inner.listen(address, (conn) => onAccept(wrap(conn)), options),
    },
  };
}

/**
 * A raw listener speaking frames by hand: `onFrame` decides what to answer.
 * Used to play a frozen weft peer or a real silly node.
 */
async function rawPeer(
  env: CaseEnv,
  onFrame: (frame: { kind: string; session: number; cmd: number }, reply: FrameEncoder) => void,
): Promise<{ address: string; accepted: () => number; close: () => Promise<void> }> {
  const conns: Connection[] = [];
  const listener = await env.transport.listen(`${env.host}:0`, (conn) => {
    conns.push(conn);
    const decoder = new FrameDecoder();
    const encoder = new FrameEncoder();
    conn.start({
      data: (chunk) => {
        try {
          decoder.decode(chunk, (frame) => onFrame(frame, encoder));
        } catch {
          conn.close();
          return;
        }
        if (encoder.length > 0 && !conn.isClosed) conn.write(encoder.take().slice());
      },
      close: () => {},
    });
  });
  return {
    address: hostPort(env, listener.address.port),
    accepted: () => conns.length,
    close: async () => {
      for (const conn of conns) await conn.close();
      await listener.close();
    },
  };
}

export const weftCases: Case[] = [
  {
    name: "weft: a handler's error travels back as RemoteError: name, code, message, no stack",
    fn: (env) =>
      nodes(env, async (node) => {
        const server = node({
          call: (_p, cmd) => {
            if (cmd === 1) throw Object.assign(new RangeError("amount too big"), { code: "E_BIG" });
            return Promise.reject(new Error("async failure"));
          },
        });
        const address = await serve(env, server);
        const client = node();
        const peer = client.connect(address);
        const started = Date.now();
        const error = await rejectsWith(client.call(peer, 1, null, { timeout: 120_000 }), "remote");
        assert.ok(Date.now() - started < 60_000, "rejected at once, not at the timeout");
        const remote = (error as RemoteError).remote;
        assert.equal(remote.name, "RangeError");
        assert.equal(remote.code, "E_BIG");
        assert.equal(remote.message, "amount too big");
        assert.equal(remote.stack, undefined);
        assert.equal((error as RemoteError).name, "RemoteError");
        const second = await rejectsWith(client.call(peer, 2, null), "remote");
        assert.equal((second as RemoteError).remote.message, "async failure");
      }),
  },
  {
    name: "weft: the errorInfo hook opts in to sending the stack",
    fn: (env) =>
      nodes(env, async (node) => {
        const server = node({
          call: () => {
            throw new Error("with stack");
          },
          errorInfo: (error) => ({
            name: (error as Error).name,
            message: (error as Error).message,
            stack: (error as Error).stack ?? "",
          }),
        });
        const client = node();
        const error = await rejectsWith(
          client.call(client.connect(await serve(env, server)), 1, null),
          "remote",
        );
        assert.match((error as RemoteError).remote.stack ?? "", /with stack/);
      }),
  },
  {
    name: "weft: no handler, or an undecodable request, answers with a remote error",
    fn: (env) =>
      nodes(env, async (node) => {
        const bare = node();
        const client = node();
        const error = await rejectsWith(
          client.call(client.connect(await serve(env, bare)), 1, null),
          "remote",
        );
        assert.match(error.message, /No handler/);
      }),
  },
  {
    name: "weft: aborting a call cancels the handler's signal; the late response is dropped",
    fn: (env) =>
      nodes(env, async (node) => {
        let sawAbort = false;
        let finished = 0;
        const server = node({
          call: async (_p, _cmd, body, ctx) => {
            if (body === "slow") {
              await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, 300);
                ctx.signal.addEventListener("abort", () => {
                  sawAbort = true;
                  clearTimeout(timer);
                  resolve();
                });
              });
              finished++;
              return "late";
            }
            return body;
          },
        });
        const client = node();
        const peer = client.connect(await serve(env, server));
        const controller = new AbortController();
        const call = client.call(peer, 1, "slow", { signal: controller.signal });
        await delay(20);
        controller.abort(new Error("stop"));
        await rejectsWith(call, "aborted");
        await until(() => sawAbort && finished === 1, 2000, "the handler to see the abort");
        assert.equal(await client.call(peer, 1, "fine"), "fine");
      }),
  },
  {
    name: "weft: a timed-out call also cancels the handler",
    fn: (env) =>
      nodes(env, async (node) => {
        let sawAbort = false;
        const server = node({
          call: (_p, _cmd, _body, ctx) =>
            new Promise((resolve) => {
              ctx.signal.addEventListener("abort", () => {
                sawAbort = true;
                resolve("too late");
              });
            }),
        });
        const client = node();
        const peer = client.connect(await serve(env, server));
        await rejectsWith(client.call(peer, 1, null, { timeout: 30 }), "timeout");
        await until(() => sawAbort, 2000, "the cancel to arrive");
      }),
  },
  {
    name: "weft: a call's timeout counts from when its request is written, and travels whole",
    fn: (env) =>
      nodes(env, async (node) => {
        const remaining: number[] = [];
        const server = node({
          call: (_p, cmd, _body, ctx) => {
            if (cmd === 2) return "ready";
            remaining.push(ctx.timeRemaining);
            // Held until the caller gives up (its CANCEL aborts this).
            return new Promise((resolve) =>
              ctx.signal.addEventListener("abort", () => resolve(undefined))
            );
          },
        });
        const client = node();
        const peer = client.connect(await serve(env, server));
        assert.equal(await client.call(peer, 2, null), "ready");
        const call = client.call(peer, 1, null, { timeout: 50 });
        // The rest of this task runs for 80 ms before the batch is written:
        // the call's 50 ms start at the write, not at call(). (A deadline
        // fixed at call() would have passed before the request left.)
        const busyUntil = performance.now() + 80;
        while (performance.now() < busyUntil) { /* the task's own work */ }
        const written = performance.now();
        await rejectsWith(call, "timeout");
        const waited = performance.now() - written;
        assert.ok(waited >= 45, `timed out ${waited.toFixed(1)} ms after the write`);
        // The whole timeout travelled in the request head (ms, rounded up).
        await until(() => remaining.length === 1, 2000, "the request to arrive");
        assert.ok(remaining[0]! > 0 && remaining[0]! <= 50, `remaining ${remaining[0]}`);
      }),
  },
  {
    name: "weft: the deadline travels, and a chain of calls across nodes stops together",
    fn: (env) =>
      nodes(env, async (node) => {
        let leafAborted = false;
        let middleError: string | undefined;
        let remainingSeen = -1;
        const leaf = node({
          call: (_p, _cmd, _body, ctx) =>
            new Promise((resolve) => {
              ctx.signal.addEventListener("abort", () => {
                leafAborted = true;
                resolve(undefined);
              });
            }),
        });
        const leafAddress = await serve(env, leaf);
        const middle: Cluster = node({
          call: async (_p, _cmd, _body, ctx) => {
            remainingSeen = ctx.timeRemaining;
            try {
              // No timeout of its own: it inherits the caller's deadline.
              return await ctx.call(middle.connect(leafAddress), 1, "down", { timeout: 60_000 });
            } catch (error) {
              middleError = (error as WeftError).code;
              throw error;
            }
          },
        });
        const client = node();
        const peer = client.connect(await serve(env, middle));
        await rejectsWith(client.call(peer, 1, "top", { timeout: 120 }), "timeout");
        assert.ok(remainingSeen > 0 && remainingSeen <= 120, `remaining ${remainingSeen}`);
        await until(() => middleError !== undefined && leafAborted, 3000, "the chain to stop");
        // The middle's own copy of the deadline, or the caller's CANCEL, whichever came first.
        assert.ok(middleError === "timeout" || middleError === "aborted", middleError);
      }),
  },
  {
    name:
      "weft: heartbeats find a frozen peer; its calls reject with closed; the next call reconnects",
    fn: async (env) => {
      // A peer that answers HELLO and then nothing at all: not even PINGs.
      const frozen = await rawPeer(env, (frame, reply) => {
        if (frame.kind === "request" && frame.cmd === ControlCmd.Hello) {
          reply.request(
            { session: frame.session, cmd: ControlCmd.HelloAck, traceHi: 0, traceLo: 0 },
            HELLO_PAYLOAD,
          );
        }
      });
      try {
        await nodes(env, async (node) => {
          const closes: string[] = [];
          const client = node({
            heartbeatInterval: 20,
            heartbeatMisses: 2,
            close: (_p, reason) => closes.push(reason.message),
          });
          const peer = client.connect(frozen.address);
          // "closed", not "timeout": the calls' own timeout is far off, the
          // heartbeat found the peer (the close reason says so).
          const calls = Array.from(
            { length: 20 },
            () => client.call(peer, 1, "x", { timeout: 120_000 }),
          );
          for (const call of calls) await rejectsWith(call, "closed");
          assert.match(closes[0] ?? "", /heartbeats unanswered/);
          await rejectsWith(client.call(peer, 1, "again", { timeout: 120_000 }), "closed");
          assert.equal(frozen.accepted(), 2, "a fresh connection, not the dead one");
        });
      } finally {
        await frozen.close();
      }
    },
  },
  {
    name:
      "weft: a peer whose pong is queued behind the megabytes it is sending is not taken for dead",
    fn: (env) =>
      nodes(env, async (node) => {
        // The client reads slowly (each send costs its handler 4 ms), so the
        // server's pong waits behind megabytes of sends: 1.2 s and more,
        // twice the client's heartbeat window (600 ms: 300 ms took a live
        // peer for dead when a loaded machine left that long between two
        // of its reads), while bytes keep arriving.
        const SENDS = 300;
        const pad = "p".repeat(32 * 1024);
        let accepted = 0;
        const server: Cluster = node({
          accept: () => accepted++,
          // Only the client's judgement is tested: the server's own pings
          // wait unread behind what it sends, so its window must outlast
          // the slow reading (tens of seconds on a loaded machine).
          heartbeatInterval: 600_000,
          call: (peer, cmd) => {
            if (cmd !== 1) return undefined;
            for (let n = 0; n < SENDS; n++) {
              // No timeout: they wait for the slow reader as long as it takes.
              server.send(peer, 2, { n, pad }, { timeout: Infinity }).catch(() => {});
            }
            return "flooding";
          },
        });
        let received = 0;
        const closes: string[] = [];
        const client = node({
          heartbeatInterval: 50,
          heartbeatMisses: 12,
          close: (_p, reason) => closes.push(reason.message),
          call: (_p, cmd) => {
            if (cmd !== 2) return undefined;
            const until = performance.now() + 4;
            while (performance.now() < until) { /* a slow handler */ }
            received++;
            return undefined;
          },
        });
        const peer = client.connect(await serve(env, server));
        assert.equal(await client.call(peer, 1, null), "flooding");
        await until(() => received === SENDS || closes.length > 0, 120_000, "every send");
        assert.deepEqual(closes, [], "the client took the flooding server for dead");
        assert.equal(received, SENDS);
        assert.equal(peer.isConnected, true);
        assert.equal(await client.call(peer, 1, null), "flooding");
        assert.equal(accepted, 1, "one connection throughout");
      }),
  },
  {
    name:
      "weft: a peer whose pong waits unread behind requests this node runs turn by turn is not taken for dead",
    fn: (env) =>
      nodes(env, async (node) => {
        // The server runs 4 requests per read turn (each costs its handler
        // 5 ms), so 200 pipelined requests keep its reading paused for its
        // own turns for 250 ms and more, 25 of its heartbeat intervals,
        // while the client's pong waits unread behind them: a pause of this
        // node's choosing, no sign of a dead peer.
        const REQUESTS = 200;
        const closes: string[] = [];
        let served = 0;
        const server = node({
          heartbeatInterval: 10,
          heartbeatMisses: 3,
          maxRequestsPerTurn: 4,
          soloTurnTime: 0,
          close: (_p, reason) => closes.push(reason.message),
          call: () => {
            const until = performance.now() + 5;
            while (performance.now() < until) { /* a slow handler */ }
            return ++served;
          },
        });
        // Only the server's judgement is tested.
        const client = node({ heartbeatInterval: 600_000 });
        const peer = client.connect(await serve(env, server));
        assert.equal(await client.call(peer, 1, null), 1);
        const calls = Array.from({ length: REQUESTS }, () => client.call(peer, 1, null));
        const answers = await Promise.allSettled(calls);
        assert.deepEqual(closes, [], "the server took the client for dead");
        assert.equal(answers.filter((a) => a.status === "fulfilled").length, REQUESTS);
        assert.equal(served, REQUESTS + 1);
        assert.equal(peer.isConnected, true);
      }),
  },
  {
    name: "weft: a healthy idle connection survives many heartbeat intervals",
    fn: (env) =>
      nodes(env, async (node) => {
        let accepted = 0;
        // The client's pings, counted where they are written.
        let pings = 0;
        const counting: Transport = {
          name: `counting(${env.transport.name})`,
          connect: async (address, options) => {
            const conn = await env.transport.connect(address, options);
            const write = conn.write.bind(conn);
            conn.write = (bytes: Uint8Array) => {
              if (bytes.length >= 12 && bytes[8] === 3 && bytes[9] === 0xff && bytes[10] === 0xff) {
                pings++;
              }
              return write(bytes);
            };
            return conn;
          },
          listen: (address, onAccept, options) => env.transport.listen(address, onAccept, options),
        };
        const server = node({
          call: (_p, _c, body) => body,
          accept: () => accepted++,
          heartbeatInterval: 25,
          heartbeatMisses: 20,
        });
        // A 500 ms window (20 misses), so a loaded machine's stalls do not
        // close it; 40 pings, twice the misses allowed, prove that each pong
        // counted (unanswered, the connection would have closed at 20).
        const client = node({ transport: counting, heartbeatInterval: 25, heartbeatMisses: 20 });
        const peer = client.connect(await serve(env, server));
        assert.equal(await client.call(peer, 1, "a"), "a");
        await until(() => pings >= 40 || !peer.isConnected, 60_000, "40 pings");
        assert.equal(peer.isConnected, true);
        assert.equal(await client.call(peer, 1, "b"), "b");
        assert.equal(accepted, 1);
      }),
  },
  {
    name: "weft: close({ grace }) lets running handlers finish and refuses new requests",
    fn: (env) =>
      nodes(env, async (node) => {
        // The running handler waits for the test, not for a time: it is
        // surely still running when the close starts, however slow the machine.
        const release = Promise.withResolvers<void>();
        let started = 0;
        const server = node({
          call: async (_p, _cmd, body) => {
            if (body === "hold") {
              started++;
              await release.promise;
            }
            return body;
          },
        });
        const address = await serve(env, server);
        const client = node();
        const peer = client.connect(address);
        assert.equal(await client.call(peer, 1, 1), 1);
        const running = client.call(peer, 1, "hold", { timeout: 60_000 });
        await until(() => started === 1, 0, "the handler to start");
        const closing = server.close({ grace: 60_000 });
        const refused = await rejectsWith(client.call(peer, 1, 1), "remote");
        assert.equal((refused as RemoteError).remote.code, "peer closed");
        release.resolve();
        assert.equal(await running, "hold", "the running handler finished and answered");
        await closing;
        await until(() => !peer.isConnected, 2000, "the client to see the close");
        await rejectsWith(client.call(peer, 1, 1), "connect failed");
      }),
  },
  {
    name: "weft: the grace period ends: a handler still running is cut off",
    fn: (env) =>
      nodes(env, async (node) => {
        const server = node({
          call: (_p, _cmd, _body, ctx) =>
            new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve("cut"))),
        });
        const client = node();
        const peer = client.connect(await serve(env, server));
        await client.call(peer, 2, null, { timeout: 50 }).catch(() => {});
        // Handle the rejection now: it comes while the close below is awaited.
        const running = rejectsWith(client.call(peer, 1, null, { timeout: 10_000 }), "closed");
        await delay(10);
        // The handler never ends by itself: close() resolving (the case's
        // hang guard bounds it) shows the grace period cut it off.
        await server.close({ grace: 30 });
        await running;
      }),
  },
  {
    name: "weft vs silly mode: both sides fail at once and name the mismatch",
    fn: (env) =>
      nodes(env, async (node) => {
        const sillyLog = new MemoryLogger();
        const sillyServer = node({ protocol: "silly", logger: sillyLog, call: (_p, _c, b) => b });
        const weftClient = node();
        const error = await rejectsWith(
          weftClient.call(weftClient.connect(await serve(env, sillyServer)), 1, "x", {
            timeout: 5000,
          }),
          "closed",
        );
        assert.match(error.message, /silly mode/);
        await until(() => sillyLog.errors.length > 0, 2000, "the silly side's log");
        assert.match(sillyLog.errors.join("\n"), /Protocol mismatch/);

        const weftLog = new MemoryLogger();
        const weftServer = node({ logger: weftLog, call: (_p, _c, b) => b });
        const sillyClient = node({ protocol: "silly" });
        const started = Date.now();
        await rejectsWith(
          sillyClient.call(sillyClient.connect(await serve(env, weftServer)), 1, "x", {
            timeout: 120_000,
          }),
          "closed",
        );
        assert.ok(Date.now() - started < 60_000, "not at the timeout");
        await until(() => weftLog.errors.length > 0, 2000, "the weft side's log");
        assert.match(weftLog.errors.join("\n"), /Protocol mismatch: .*without weft's HELLO/);
      }),
  },
  {
    name:
      "weft vs a real silly node (answers requests, ignores HELLO): nothing but HELLO is sent; protocol error at the connect timeout",
    fn: async (env) => {
      const seen: number[] = [];
      const silly = await rawPeer(env, (frame, reply) => {
        seen.push(frame.cmd);
        // A silly node cannot decode HELLO's cmd: it logs and answers nothing.
        if (frame.kind === "request" && frame.cmd < 0xffffff00) {
          reply.response(frame.session, '"pong"');
        }
      });
      try {
        await nodes(env, async (node) => {
          const client = node({ connectTimeout: 300 });
          const peer = client.connect(silly.address);
          const [call, send] = await Promise.all([
            rejectsWith(client.call(peer, 1, "ping", { timeout: 5000 }), "protocol"),
            rejectsWith(client.send(peer, 1, "ping", { timeout: 5000 }), "protocol"),
          ]);
          assert.match(call.message, /HELLO/);
          assert.match(call.message, /protocol "silly"/);
          assert.equal(send.message, call.message);
          // The silly node ran nothing: it saw HELLO only.
          assert.deepEqual(seen, [0xffffff00]);
        });
      } finally {
        await silly.close();
      }
    },
  },
  {
    name: "weft: marshal may not use the reserved control cmd range; silly mode may",
    fn: (env) =>
      nodes(env, async (node) => {
        const reserved = {
          marshal: (_t: string, _c: string | number, body: unknown) =>
            [0xffffff02, JSON.stringify(body)] as const,
          unmarshal: (_t: string, _c: string | number, bytes: Uint8Array) =>
            JSON.parse(new TextDecoder().decode(bytes)),
        };
        const server = node({ ...reserved, call: (_p, _c, body) => body });
        const client = node(reserved);
        await rejectsWith(
          client.call(client.connect(await serve(env, server)), 1, "x"),
          "marshal failed",
        );
        const sillyServer = node({ ...reserved, protocol: "silly", call: (_p, _c, body) => body });
        const sillyClient = node({ ...reserved, protocol: "silly" });
        assert.equal(
          await sillyClient.call(sillyClient.connect(await serve(env, sillyServer)), 1, "x"),
          "x",
        );
      }),
  },
  {
    name: "silly mode is byte-exact: a call and its answer are silly's frames and nothing else",
    fn: async (env) => {
      const recorded = recordingTransport(env.transport);
      await nodes(env, async (node) => {
        const server = node({
          protocol: "silly",
          transport: recorded.transport,
          heartbeatInterval: 5,
          call: (_p, _c, body) => body,
        });
        const client = node({
          protocol: "silly",
          transport: recorded.transport,
          heartbeatInterval: 5,
        });
        const peer = client.connect(await serve(env, server));
        assert.equal(await client.call(peer, 7, "hi", { traceId: 0x1122334455667788n }), "hi");
        await delay(40); // several heartbeat intervals: silly mode sends no PING
      });
      const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
      const clientBytes = recorded.written.find((b) => b[8] === 7);
      const serverBytes = recorded.written.find((b) => b !== clientBytes);
      // Request: length 16 + 4, session 1, cmd 7, traceid, payload "\"hi\"".
      assert.equal(
        hex(clientBytes!),
        "14000000" + "01000000" + "07000000" + "8877665544332211" + "22686922",
      );
      // Response: length 4 + 4, session 1 | 0x80000000, payload.
      assert.equal(hex(serverBytes!), "08000000" + "01000080" + "22686922");
    },
  },
  {
    name: "weft mode's bytes: HELLO first, then requests with their 5-byte head",
    fn: async (env) => {
      const recorded = recordingTransport(env.transport);
      await nodes(env, async (node) => {
        const server = node({ transport: recorded.transport, call: (_p, _c, body) => body });
        const client = node({ transport: recorded.transport });
        const peer = client.connect(await serve(env, server));
        assert.equal(
          await client.call(peer, 7, "hi", { traceId: 0x1122334455667788n, timeout: Infinity }),
          "hi",
        );
      });
      const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
      const hello = "18000000" + "00000000" + "00ffffff" + "0000000000000000" + "5745465401000000";
      const request = "19000000" + "01000000" + "07000000" + "8877665544332211" + "0000000000" +
        "22686922";
      // Each connection's bytes, whichever was recorded first.
      const clientBytes = recorded.written.find((b) => hex(b).startsWith(hello.slice(0, 24)));
      const serverBytes = recorded.written.find((b) => b !== clientBytes);
      assert.equal(hex(clientBytes!), hello + request);
      const ack = "18000000" + "00000000" + "01ffffff" + "0000000000000000" + "5745465401000000";
      const response = "09000000" + "01000080" + "00" + "22686922";
      assert.equal(hex(serverBytes!), ack + response);
    },
  },
];
