// Runs @weft/cluster/otel in an npm project with whichever
// @opentelemetry/api version it has installed (tests/npm/package_test.ts
// installs the lowest and the newest of the package's peer range): a
// recording TracerProvider (written here against the API alone, so any
// 1.x API works with it) is registered globally, two clusters call each
// other over loopback, and the spans are checked. Plain JavaScript, so the
// oldest Node runs it as it is. Prints `otel ok <api version>` and exits 0,
// or exits 1 naming what failed.

import { readFileSync } from "node:fs";
import { context, trace, TraceFlags } from "@opentelemetry/api";
import { Cluster } from "@weft/cluster";
import { json } from "@weft/cluster/json";
import { otelTracing } from "@weft/cluster/otel";

const apiVersion = JSON.parse(
  readFileSync(new URL("./node_modules/@opentelemetry/api/package.json", import.meta.url), "utf8"),
).version;

const hex = (bytes) =>
  Array.from({ length: bytes }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, "0"))
    .join("") || "01";

const spans = [];
class RecordingSpan {
  constructor(name, options, parent) {
    const parentContext = parent === undefined ? undefined : trace.getSpanContext(parent);
    this.name = name;
    this.kind = options?.kind;
    this.attributes = { ...options?.attributes };
    this.status = { code: 0 };
    this.parentSpanId = parentContext?.spanId;
    this.context = {
      traceId: parentContext?.traceId ?? hex(16),
      spanId: hex(8),
      traceFlags: TraceFlags.SAMPLED,
    };
    this.ended = false;
  }
  spanContext() {
    return this.context;
  }
  setAttribute(key, value) {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes) {
    Object.assign(this.attributes, attributes);
    return this;
  }
  addEvent() {
    return this;
  }
  setStatus(status) {
    this.status = status;
    return this;
  }
  updateName(name) {
    this.name = name;
    return this;
  }
  end() {
    this.ended = true;
    spans.push(this);
  }
  isRecording() {
    return !this.ended;
  }
  recordException() {}
}
trace.setGlobalTracerProvider({
  getTracer: () => ({
    startSpan: (name, options, ctx) => new RecordingSpan(name, options, ctx ?? context.active()),
    startActiveSpan: () => {
      throw new Error("not used by weft");
    },
  }),
});

function check(ok, what) {
  if (!ok) {
    console.log(`otel FAILED with @opentelemetry/api ${apiVersion}: ${what}`);
    console.log(JSON.stringify(spans, null, 1));
    process.exit(1);
  }
}

const commands = { ping: 1, fail: 2 };
const server = new Cluster({
  ...json({ commands }),
  tracing: otelTracing(),
  logger: { error() {}, warn() {} },
  call: (_peer, cmd, body) => {
    if (cmd === 2) throw Object.assign(new Error("refused"), { code: "forbidden" });
    return body;
  },
});
const listener = await server.listen("127.0.0.1:0");
const client = new Cluster({ ...json({ commands }), tracing: otelTracing() });
const peer = client.connect(`127.0.0.1:${listener.address.port}`);
try {
  check((await client.call(peer, "ping", "hi")) === "hi", "the call answered");
  let failed;
  await client.call(peer, "fail", {}).catch((error) => (failed = error));
  check(failed?.code === "remote", "the failing call failed remotely");
  for (let i = 0; i < 200 && spans.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
  check(spans.length === 4, `four spans, got ${spans.length}`);
  const [pingClient, pingServer] = [
    spans.find((s) => s.name === "ping" && s.kind === 2),
    spans.find((s) => s.name === "ping" && s.kind === 1),
  ];
  check(pingClient !== undefined && pingServer !== undefined, "ping's client and server spans");
  check(pingClient.attributes["rpc.system.name"] === "weft", "rpc.system.name");
  check(pingClient.attributes["rpc.method"] === "ping", "rpc.method on the client");
  check(pingServer.attributes["rpc.method"] === "ping", "rpc.method on the server");
  check(pingClient.attributes["server.port"] === listener.address.port, "server.port");
  check(pingServer.parentSpanId === pingClient.context.spanId, "the server span's parent");
  check(pingServer.context.traceId === pingClient.context.traceId, "one trace");
  const failClient = spans.find((s) => s.name === "fail" && s.kind === 2);
  check(failClient?.status.code === 2, "status ERROR on the failed call");
  check(failClient?.attributes["error.type"] === "forbidden", "error.type: the server's code");
  console.log(`otel ok ${apiVersion}`);
} finally {
  await client.close();
  await server.close();
}
