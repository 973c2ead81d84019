/**
 * `@weft/cluster/otel` against the real OpenTelemetry SDK
 * (`@opentelemetry/sdk-trace-base`, pinned as a dev dependency, spans kept
 * by its in-memory exporter), over real loopback sockets: the spans of both
 * ends follow the RPC semantic conventions (semantic-conventions v1.44): the
 * span name and `rpc.method` are the command's name on both sides when the
 * command table is known (`service/name` for a named call, `_OTHER` and the
 * span named `weft` without a table), `rpc.system.name`, `server.address`
 * and `server.port` on the client, `network.peer.*` on both, `rpc.status_code`,
 * and for failures `error.type` and status ERROR; none of the deprecated
 * attributes (`rpc.system`, `rpc.service`, `net.peer.name`, ...).
 */

import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { ClusterOptions } from "../../src/cluster/options.ts";
import { json } from "../../src/codec/json.ts";
import { WeftError } from "../../src/errors.ts";
import { otelTracing } from "../../src/otel/mod.ts";
import { transport } from "../../src/transport/deno.ts";
import { until } from "../cluster/cases.ts";

const commands = { ping: 1, fail: 2, slow: 3, named: 0 };

/** Attributes the conventions replaced: none may appear. */
const DEPRECATED = [
  "rpc.system",
  "rpc.service",
  "rpc.grpc.status_code",
  "rpc.response.status_code",
  "net.peer.name",
  "net.peer.port",
  "net.peer.ip",
  "net.transport",
  "weft.error_code",
];

/** An SDK provider per node, its spans kept in memory. */
function sdk() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, provider, tracer: provider.getTracer("weft-test") };
}

async function pair(
  server: Partial<ClusterOptions>,
  client: Partial<ClusterOptions>,
  fn: (ctx: {
    client: Cluster;
    address: string;
    port: number;
    serverSpans: () => ReadableSpan[];
    clientSpans: () => ReadableSpan[];
  }) => Promise<void>,
): Promise<void> {
  const s = sdk();
  const c = sdk();
  const serverNode = new Cluster({
    transport,
    logger: { error() {}, warn() {} },
    tracing: otelTracing({ tracer: s.tracer }),
    ...server,
  } as ClusterOptions);
  const clientNode = new Cluster({
    transport,
    logger: { error() {}, warn() {} },
    tracing: otelTracing({ tracer: c.tracer }),
    ...client,
  } as ClusterOptions);
  try {
    const listener = await serverNode.listen("127.0.0.1:0");
    const port = listener.address.port;
    await fn({
      client: clientNode,
      address: `127.0.0.1:${port}`,
      port,
      serverSpans: () => s.exporter.getFinishedSpans(),
      clientSpans: () => c.exporter.getFinishedSpans(),
    });
  } finally {
    await clientNode.close();
    await serverNode.close();
    // The in-memory exporter answers each export on a timer: wait for them.
    for (const { provider } of [s, c]) {
      await provider.forceFlush();
      await provider.shutdown();
    }
  }
}

function conventional(span: ReadableSpan, kind: SpanKind): void {
  assert.equal(span.kind, kind);
  assert.equal(span.attributes["rpc.system.name"], "weft", "rpc.system.name is required");
  const method = span.attributes["rpc.method"];
  assert.equal(typeof method, "string", "rpc.method");
  assert.equal(span.name, method === "_OTHER" ? "weft" : method, "span name is rpc.method");
  for (const key of DEPRECATED) assert.ok(!(key in span.attributes), `no deprecated ${key}`);
  assert.equal(typeof span.attributes["network.peer.address"], "string");
  assert.equal(typeof span.attributes["network.peer.port"], "number");
  if (kind === SpanKind.CLIENT) {
    assert.equal(span.attributes["server.address"], "127.0.0.1");
    assert.equal(typeof span.attributes["server.port"], "number");
  } else {
    // The conventions: not from the connection; weft's server does not know what the client dialled.
    assert.ok(!("server.address" in span.attributes));
  }
  const failed = span.status.code === SpanStatusCode.ERROR;
  assert.equal("error.type" in span.attributes, failed, "error.type if and only if it failed");
  if (failed) assert.equal(span.attributes["error.type"], span.attributes["rpc.status_code"]);
  else {
    assert.equal(span.status.code, SpanStatusCode.UNSET, "status left unset on success");
    assert.equal(span.attributes["rpc.status_code"], "ok");
  }
}

Deno.test("otel + SDK: a call's client and server spans follow the RPC conventions, named by the command on both ends", async () => {
  await pair(
    { ...json({ commands }), call: (_p, _c, body) => body },
    { ...json({ commands }) },
    async ({ client, address, port, serverSpans, clientSpans }) => {
      assert.equal(await client.call(client.connect(address), "ping", "hi"), "hi");
      await client.send(client.connect(address), 1, "one-way");
      await until(() => serverSpans().length === 2, 20_000, "both server spans");
      const [call, send] = clientSpans();
      const [handled, sent] = serverSpans();
      for (const span of [call!, send!]) conventional(span, SpanKind.CLIENT);
      for (const span of [handled!, sent!]) conventional(span, SpanKind.SERVER);
      // By name on the client, by number on the send: the same method both ways.
      assert.deepEqual(
        [call!.name, send!.name, handled!.name, sent!.name],
        ["ping", "ping", "ping", "ping"],
      );
      assert.equal(call!.attributes["server.port"], port);
      assert.equal(call!.attributes["network.peer.port"], port);
      assert.equal(call!.attributes["weft.cmd"], 1);
      assert.equal(send!.attributes["weft.one_way"], true);
      assert.equal(sent!.attributes["weft.one_way"], true);
      assert.ok(!("weft.one_way" in call!.attributes));
      // One trace, the server span under the client span.
      assert.equal(handled!.spanContext().traceId, call!.spanContext().traceId);
      assert.equal(handled!.parentSpanContext?.spanId, call!.spanContext().spanId);
      assert.equal(handled!.attributes["network.peer.address"], "127.0.0.1");
      assert.notEqual(handled!.attributes["network.peer.port"], port, "the client's port");
    },
  );
});

Deno.test("otel + SDK: failures set status ERROR, error.type and rpc.status_code: the handler's code on both ends, or the client's own", async () => {
  await pair(
    {
      ...json({ commands }),
      call: async (_p, cmd, _body, context) => {
        if (cmd === 2) throw new WeftError("forbidden", "not you");
        if (cmd === 3) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 60_000);
            context.signal.addEventListener("abort", () => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
        return "late";
      },
    },
    { ...json({ commands }) },
    async ({ client, address, serverSpans, clientSpans }) => {
      const peer = client.connect(address);
      await assert.rejects(client.call(peer, "fail", {}), /not you/);
      await assert.rejects(client.call(peer, "slow", {}, { timeout: 50 }), /timed out/);
      await until(() => serverSpans().length === 2, 20_000, "both server spans");
      const [fail, slow] = clientSpans();
      const [failed] = serverSpans();
      for (const span of [fail!, slow!]) conventional(span, SpanKind.CLIENT);
      conventional(failed!, SpanKind.SERVER);
      assert.equal(fail!.status.code, SpanStatusCode.ERROR);
      assert.equal(
        fail!.attributes["rpc.status_code"],
        "forbidden",
        "the code the server answered",
      );
      assert.equal(failed!.attributes["rpc.status_code"], "forbidden");
      assert.equal(failed!.status.code, SpanStatusCode.ERROR);
      assert.equal(failed!.status.message, "not you");
      assert.equal(slow!.attributes["error.type"], "timeout", "the client's own code");
      assert.equal(slow!.name, "slow");
    },
  );
});

Deno.test("otel + SDK: a named call's method is service/command; without a command table the method is _OTHER", async () => {
  await pair(
    { ...json(), call: (_p, _c, _b, context) => `${context.service}/${context.command}` },
    { ...json() },
    async ({ client, address, serverSpans, clientSpans }) => {
      const peer = client.connect(address);
      assert.equal(
        await client.call(peer, 0, {}, { service: "accounts", command: "open" }),
        "accounts/open",
      );
      assert.equal(await client.call(peer, 7, {}), "undefined/undefined");
      await until(() => serverSpans().length === 2, 20_000, "both server spans");
      const [named, bare] = clientSpans();
      const [namedIn, bareIn] = serverSpans();
      for (const span of [named!, bare!]) conventional(span, SpanKind.CLIENT);
      for (const span of [namedIn!, bareIn!]) conventional(span, SpanKind.SERVER);
      assert.equal(named!.attributes["rpc.method"], "accounts/open");
      assert.equal(namedIn!.attributes["rpc.method"], "accounts/open");
      assert.equal(bare!.attributes["rpc.method"], "_OTHER");
      assert.equal(bare!.attributes["rpc.method_original"], "7");
      assert.equal(bareIn!.attributes["rpc.method_original"], "7");
      assert.equal(bare!.name, "weft");
    },
  );
});

Deno.test("otel + SDK: with the SDK's provider registered globally, otelTracing() needs no tracer", async () => {
  const { exporter, provider } = sdk();
  trace.setGlobalTracerProvider(provider);
  try {
    await pair(
      { ...json({ commands }), tracing: otelTracing(), call: (_p, _c, b) => b },
      { ...json({ commands }), tracing: otelTracing() },
      async ({ client, address }) => {
        await client.call(client.connect(address), "ping", 1);
        await until(() => exporter.getFinishedSpans().length === 2, 20_000, "two spans");
        const spans = exporter.getFinishedSpans();
        assert.deepEqual(spans.map((s) => `${s.name} ${SpanKind[s.kind]}`).sort(), [
          "ping CLIENT",
          "ping SERVER",
        ]);
        assert.equal(spans[0]!.instrumentationScope.name, "@weft/cluster");
      },
    );
  } finally {
    trace.disable();
    await provider.forceFlush();
    await provider.shutdown();
  }
});
