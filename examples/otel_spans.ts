// The spans of one call across three weft nodes, through @weft/cluster/otel.
// A front node calls an api node, whose handler calls a store node (with
// context.call, so that call is a child of the handler's server span). Each
// node has its own in-memory tracer (RecordingTracer: no SDK); the W3C trace
// context crosses the two hops in weft's request head, so all four spans are
// one trace. Every node knows the command table, so each span is named by
// its command (`rpc.method`) on both ends, as OpenTelemetry's RPC semantic
// conventions ask. With an OpenTelemetry SDK registered instead, the same
// spans go to a tracing backend (pass no `tracer`, or the SDK's).
//
//   deno run -A examples/otel_spans.ts
//   bun examples/otel_spans.ts
//   node24 examples/otel_spans.ts
//
// Exits 0 only if every check passed; closes everything.

import { SpanKind } from "@opentelemetry/api";
import { Cluster } from "../src/cluster/cluster.ts";
import { json } from "../src/codec/json.ts";
import { otelTracing, sillyTraceIdOf } from "../src/otel/mod.ts";
import { RecordingTracer } from "../src/otel/recording.ts";
import { check, finish } from "./_check.ts";

const tracers = {
  front: new RecordingTracer(),
  api: new RecordingTracer(),
  store: new RecordingTracer(),
};
let storeSawTraceId = 0n;
const commands = { place: 1, save: 2 };

const store = new Cluster({
  ...json({ commands }),
  tracing: otelTracing({ tracer: tracers.store }),
  call: (_peer, _cmd, body, context) => {
    storeSawTraceId = context.traceId;
    return { stored: body };
  },
});
const storeAddress = `127.0.0.1:${(await store.listen("127.0.0.1:0")).address.port}`;

const api = new Cluster({
  ...json({ commands }),
  tracing: otelTracing({ tracer: tracers.api }),
  call: async (_peer, _cmd, body, context) => {
    const saved = await context.call(api.connect(storeAddress), "save", body);
    return { ok: true, saved };
  },
});
const apiAddress = `127.0.0.1:${(await api.listen("127.0.0.1:0")).address.port}`;

const front = new Cluster({
  ...json({ commands }),
  tracing: otelTracing({ tracer: tracers.front }),
});
try {
  const answer = await front.call(front.connect(apiAddress), "place", "order 42");
  console.log("answer:", JSON.stringify(answer));

  const spans = Object.entries(tracers).flatMap(([node, tracer]) =>
    tracer.spans.map((span) => ({ node, span }))
  );
  console.log("spans (node, kind, name, trace id, span id <- parent):");
  for (const { node, span } of spans) {
    const sc = span.spanContext();
    console.log(
      `  ${node.padEnd(5)} ${SpanKind[span.kind].padEnd(6)} ${
        span.name.padEnd(15)
      } ${sc.traceId} ${sc.spanId} <- ${span.parentSpanId ?? "(root)"}`,
    );
  }

  const traceId = tracers.front.spans[0]?.spanContext().traceId;
  check(spans.length === 4, "four spans: a client span per call, a server span per request");
  check(spans.every(({ span }) => span.spanContext().traceId === traceId), "all in one trace");
  const bySpanId = new Map(spans.map(({ span }) => [span.spanContext().spanId, span]));
  const roots = spans.filter(({ span }) => span.parentSpanId === undefined);
  check(
    roots.length === 1 && roots[0]!.node === "front",
    "one root: the front node's client span",
  );
  check(
    spans.every(({ span }) => span.parentSpanId === undefined || bySpanId.has(span.parentSpanId)),
    "every other span's parent is one of the four",
  );
  check(
    spans.map(({ span }) => `${span.name} ${SpanKind[span.kind]}`).sort().join() ===
      "place CLIENT,place SERVER,save CLIENT,save SERVER",
    "each span is named by its command, on both ends",
  );
  check(
    traceId !== undefined && storeSawTraceId === sillyTraceIdOf(traceId),
    "the frame's 64-bit traceid is the W3C trace id's low 64 bits",
  );
} finally {
  await front.close();
  await api.close();
  await store.close();
}
finish();
