/**
 * Tracing (the cluster option `tracing`, and `@weft/cluster/otel`) over
 * real sockets, written once as runtime-neutral cases: run by
 * cluster_test.ts under Deno and by run_cases.ts under Bun and Node.
 */

import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { ClusterOptions } from "../../src/cluster/options.ts";
import { ControlCmd, HELLO_PAYLOAD, REQUEST_HEAD_SIZE } from "../../src/protocol/weft/protocol.ts";
import {
  appendTraceContext,
  sillyTraceIdOf,
  type TraceParent,
  type Tracing,
  w3cTraceIdOf,
} from "../../src/cluster/tracing.ts";
import { json } from "../../src/codec/json.ts";
import { otelTracing } from "../../src/otel/mod.ts";
import { RecordingTracer } from "../../src/otel/recording.ts";
import type { Connection } from "../../src/transport/types.ts";
import { FrameDecoder } from "../../src/wire/frame_decoder.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";
import { traceIdToBigInt } from "../../src/wire/frame.ts";
import { CALL_GUARD_MS, type Case, type CaseEnv, MemoryLogger, until } from "./cases.ts";

function hostPort(env: CaseEnv, port: number): string {
  return env.host.includes(":") ? `[${env.host}]:${port}` : `${env.host}:${port}`;
}

/** Clusters made by `node()`, all closed at the end. */
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
        protocol: env.protocol,
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

const FIXED: TraceParent = {
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  flags: 1,
  traceState: "vendor=a1,other=b2",
};

/** A core hook recording what it sees; its client spans send `FIXED`. */
function recordingHook() {
  const remotes: (TraceParent | undefined)[] = [];
  const ended: string[] = [];
  const tracing: Tracing = {
    startCall: (start) => ({
      context: FIXED,
      end: (error) => ended.push(`client ${start.cmd} ${error === undefined ? "ok" : "error"}`),
    }),
    startRequest: (start) => {
      remotes.push(start.remote);
      return {
        end: (error) => ended.push(`server ${start.cmd} ${error === undefined ? "ok" : "error"}`),
      };
    },
  };
  return { tracing, remotes, ended };
}

/** Both protocols. */
export const tracingCases: Case[] = [
  {
    name: "tracing: a call across three nodes is one trace of client and server spans",
    fn: async (env) => {
      await nodes(env, async (node) => {
        const [tA, tB, tC] = [new RecordingTracer(), new RecordingTracer(), new RecordingTracer()];
        const seen: bigint[] = [];
        const c = node({
          tracing: otelTracing({ tracer: tC }),
          call: (_p, _cmd, body, ctx) => {
            seen.push(ctx.traceId);
            if (body === "fail") throw new Error("no");
            return `c:${body}`;
          },
        });
        const cAddress = await serve(env, c);
        const b = node({
          tracing: otelTracing({ tracer: tB }),
          call: async (_p, _cmd, body, ctx) => {
            const peer = b.connect(cAddress);
            return `b:${await b.call(peer, 2, body, { context: ctx })}`;
          },
        });
        const bAddress = await serve(env, b);
        const a = node({ tracing: otelTracing({ tracer: tA }) });
        assert.equal(await a.call(a.connect(bAddress), 1, "x"), "b:c:x");
        const [ca, cb, sb, sc] = [tA.spans[0], tB.spans[0], tB.spans[1], tC.spans[0]];
        // Spans end in order: B's client span before its server span.
        assert.equal(tB.spans.length, 2);
        assert.equal(ca!.kind, SpanKind.CLIENT);
        assert.equal(cb!.kind, SpanKind.CLIENT);
        assert.equal(sb!.kind, SpanKind.SERVER);
        assert.equal(sc!.kind, SpanKind.SERVER);
        // No command table: the method is _OTHER, the span named after the system.
        assert.equal(ca!.name, "weft");
        assert.equal(sb!.name, "weft");
        assert.equal(ca!.attributes["rpc.method"], "_OTHER");
        assert.equal(ca!.attributes["rpc.method_original"], "1");
        assert.equal(cb!.parentSpanId, sb!.spanContext().spanId);
        const traceId = ca!.spanContext().traceId;
        if (env.protocol === "weft") {
          // W3C context crossed both hops: one trace, each span under the last.
          for (const s of [sb, cb, sc]) assert.equal(s!.spanContext().traceId, traceId);
          assert.equal(sb!.parentSpanId, ca!.spanContext().spanId);
          assert.equal(sc!.parentSpanId, cb!.spanContext().spanId);
        } else {
          // silly mode: only the 64-bit id travels; B and C join trace 0^16 + that id.
          const silly = sillyTraceIdOf(traceId);
          assert.equal(sb!.spanContext().traceId, w3cTraceIdOf(silly));
          assert.equal(sb!.parentSpanId, silly.toString(16).padStart(16, "0"));
          assert.equal(sc!.spanContext().traceId, w3cTraceIdOf(silly));
        }
        // silly's id is the W3C id's low 64 bits, on the wire at every hop.
        assert.deepEqual(seen, [sillyTraceIdOf(traceId)]);
        assert.equal(ca!.attributes["rpc.system.name"], "weft");
        assert.equal(ca!.attributes["rpc.status_code"], "ok");
        assert.equal(ca!.status.code, SpanStatusCode.UNSET);
        // A failure marks both ends (silly mode: the caller only times out).
        if (env.protocol === "weft") {
          await assert.rejects(c.call(c.connect(cAddress), 3, "fail"));
          const failed = tC.spans.filter((s) => s.status.code === SpanStatusCode.ERROR);
          assert.deepEqual(failed.map((s) => s.attributes["weft.cmd"]), [3, 3]);
          const client = failed.find((s) => s.kind === SpanKind.CLIENT)!;
          // The handler threw a plain Error: code "error" on both ends.
          assert.equal(client.attributes["error.type"], "error");
          assert.equal(client.attributes["rpc.status_code"], "error");
        }
      });
    },
  },
  {
    name:
      "tracing: the hook's context arrives intact (tracestate too); a node without a hook skips it",
    fn: async (env) => {
      await nodes(env, async (node) => {
        const server = recordingHook();
        const traced = node({ tracing: server.tracing, call: (_p, _c, body) => body });
        const bodies: unknown[] = [];
        const plain = node({
          call: (_p, _c, body) => {
            bodies.push(body);
            return body;
          },
        });
        const client = recordingHook();
        const a = node({ tracing: client.tracing });
        const tracedPeer = a.connect(await serve(env, traced));
        const plainPeer = a.connect(await serve(env, plain));
        assert.deepEqual(await a.call(tracedPeer, 5, { n: 1 }), { n: 1 });
        await a.send(tracedPeer, 6, "one-way");
        assert.deepEqual(await a.call(plainPeer, 7, [1, 2]), [1, 2]);
        await until(() => server.ended.length === 2, 2000, "both server spans");
        assert.deepEqual(
          server.remotes,
          env.protocol === "weft" ? [FIXED, FIXED] : [
            undefined,
            undefined,
          ],
        );
        assert.deepEqual(server.ended.sort(), ["server 5 ok", "server 6 ok"]);
        assert.deepEqual(client.ended.sort(), ["client 5 ok", "client 6 ok", "client 7 ok"]);
        assert.deepEqual(bodies, [[1, 2]]);
      });
    },
  },
  {
    name:
      "tracing: silly mode sends nothing new (the body alone, the W3C id's low 64 bits as traceid); weft adds the extension",
    fn: async (env) => {
      const frames: { payload: number[]; trace: bigint }[] = [];
      const conns: Connection[] = [];
      const listener = await env.transport.listen(`${env.host}:0`, (conn) => {
        conns.push(conn);
        const decoder = new FrameDecoder();
        const encoder = new FrameEncoder();
        conn.start({
          data: (chunk) => {
            decoder.decode(chunk, (f) => {
              if (f.cmd === ControlCmd.Hello) {
                encoder.request(
                  { session: f.session, cmd: ControlCmd.HelloAck, traceHi: 0, traceLo: 0 },
                  HELLO_PAYLOAD,
                );
              } else {
                frames.push({
                  payload: [...f.payload],
                  trace: traceIdToBigInt(f.traceHi, f.traceLo),
                });
              }
            });
            if (encoder.length > 0) conn.write(encoder.take().slice());
          },
          close: () => {},
        });
      });
      try {
        await nodes(env, async (node) => {
          const a = node({ tracing: recordingHook().tracing });
          await a.send(a.connect(hostPort(env, listener.address.port)), 1, "hi");
          await until(() => frames.length === 1, 2000, "the frame");
        });
        const body = [...new TextEncoder().encode('"hi"')];
        const payload = frames[0]!.payload;
        if (env.protocol === "silly") {
          assert.deepEqual(payload, body);
        } else {
          // The 5-byte head (one-way, deadline, trace flags), the extension, the body.
          assert.equal(payload[0], 1 | 2 | 8);
          const extension = appendTraceContext(new Uint8Array(REQUEST_HEAD_SIZE), FIXED);
          assert.deepEqual(payload.slice(REQUEST_HEAD_SIZE), [
            ...extension.subarray(REQUEST_HEAD_SIZE),
            ...body,
          ]);
        }
        assert.equal(frames[0]!.trace, sillyTraceIdOf(FIXED.traceId));
      } finally {
        for (const conn of conns) await conn.close();
        await listener.close();
      }
    },
  },
];

/** Weft mode only (the cases below). */
const namedTraced: Case = {
  name: "weft: names (flag 4) and trace context (flag 8) in one head: both arrive, the body intact",
  fn: async (env) => {
    await nodes(env, async (node) => {
      const hook = recordingHook();
      const seen: unknown[] = [];
      const server = node({
        tracing: hook.tracing,
        call: (_p, _c, body, ctx) => {
          seen.push([ctx.service, ctx.command, body]);
          return body;
        },
      });
      const a = node({ tracing: recordingHook().tracing });
      const peer = a.connect(await serve(env, server));
      const answer = await a.call(peer, 1, { k: "v" }, { service: "store", command: "put" });
      assert.deepEqual(answer, { k: "v" });
      assert.deepEqual(seen, [["store", "put", { k: "v" }]]);
      assert.deepEqual(hook.remotes, [FIXED]);
    });
  },
};

/** A weft handshake by hand, then `payload` as a request; resolves when the node closes. */
async function rawRequest(
  env: CaseEnv,
  address: string,
  payload: Uint8Array,
): Promise<{ closed: Promise<void>; answered: () => number; conn: Connection }> {
  const conn = await env.transport.connect(address, { timeout: 2000 });
  const decoder = new FrameDecoder();
  const encoder = new FrameEncoder();
  let answered = 0;
  const closed = Promise.withResolvers<void>();
  conn.start({
    data: (chunk) =>
      decoder.decode(chunk, (frame) => {
        if (frame.cmd === ControlCmd.HelloAck) {
          encoder.request({ session: 1, cmd: 9, traceHi: 0, traceLo: 1 }, payload);
          conn.write(encoder.take().slice());
        } else if (frame.kind === "response") answered++;
      }),
    close: () => closed.resolve(),
  });
  encoder.request({ session: 0, cmd: ControlCmd.Hello, traceHi: 0, traceLo: 0 }, HELLO_PAYLOAD);
  conn.write(encoder.take().slice());
  return { closed: closed.promise, answered: () => answered, conn };
}

/** Weft mode only. */
export const weftTracingCases: Case[] = [
  namedTraced,
  {
    name: "weft: a malformed trace context closes that connection with protocol; hook or not",
    fn: async (env) => {
      await nodes(env, async (node) => {
        const head = new Uint8Array(REQUEST_HEAD_SIZE);
        const good = appendTraceContext(head, FIXED);
        const body = new TextEncoder().encode('"x"');
        const join = (...parts: Uint8Array[]) => {
          const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let at = 0;
          for (const p of parts) (out.set(p, at), at += p.length);
          return out;
        };
        const version = good.slice();
        version[REQUEST_HEAD_SIZE] = 1;
        const zero = good.slice();
        zero.fill(0, REQUEST_HEAD_SIZE + 1, REQUEST_HEAD_SIZE + 17);
        const badState = good.slice();
        badState[badState.length - 1] = 0x07;
        const malformed = [
          ["cut short", good.subarray(0, REQUEST_HEAD_SIZE + 10)],
          ["version 1", join(version, body)],
          ["all-zero trace id", join(zero, body)],
          ["tracestate byte 7", join(badState, body)],
          ["tracestate longer than the payload", good.subarray(0, good.length - 3)],
        ] as const;
        const logs = [new MemoryLogger(), new MemoryLogger()] as const;
        const withHook = node({
          tracing: recordingHook().tracing,
          logger: logs[0],
          call: (_p, _c, b) => b,
        });
        const without = node({ logger: logs[1], call: (_p, _c, b) => b });
        for (const [i, cluster] of [withHook, without].entries()) {
          const address = await serve(env, cluster);
          for (const [what, payload] of malformed) {
            const raw = await rawRequest(env, address, payload);
            try {
              let timer: ReturnType<typeof setTimeout> | undefined;
              await Promise.race([
                raw.closed,
                new Promise((_, reject) => {
                  timer = setTimeout(() => reject(new Error(`${what}: not closed`)), 3000);
                }),
              ]).finally(() => clearTimeout(timer));
              assert.equal(raw.answered(), 0, what);
            } finally {
              await raw.conn.close();
            }
          }
          const said = [...logs[i]!.errors, ...logs[i]!.warnings].join("\n");
          assert.match(said, /Malformed trace context: unknown version 1/);
          assert.match(said, /Malformed trace context: tracestate byte 7/);
          // A well-formed one is answered, and the body after it is intact.
          const ok = await rawRequest(env, address, join(good, body));
          try {
            await until(() => ok.answered() === 1, 2000, "the answer");
          } finally {
            await ok.conn.close();
          }
        }
      });
    },
  },
];
