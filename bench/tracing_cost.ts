/**
 * What the `tracing` option costs: two echo pairs in one process over
 * loopback (raw codec, 32 B, 256 calls in flight), one with tracing off on
 * both ends and one with `otelTracing` on both ends (`--tracer=recording`,
 * the default: a `RecordingTracer` keeping the last 10 000 spans, so every
 * span is created, carries ids, and crosses the wire as trace context;
 * `--tracer=noop`: the API's no-op tracer, as with no SDK registered), measured in alternating
 * rounds in the same run so machine noise falls on both alike. Prints each
 * round, the medians, and the cost: 1 - the median of each round's on/off
 * ratio (adjacent measurements, so a busy machine skews both alike). Runs unchanged under Deno, Bun and Node
 * 24.
 *
 * ```sh
 * deno run -A bench/tracing_cost.ts --rounds=20 --duration=500 --warmup=200
 * ```
 *
 * @module
 */

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { otelTracing } from "../src/otel/mod.ts";
import { RecordingTracer } from "../src/otel/recording.ts";
import { flags, payload, runCost } from "./_cost.ts";

const tracerKind = flags.get("tracer") ?? "recording";
const tracers: RecordingTracer[] = [];
const tracingOption = () => {
  if (tracerKind === "noop") return otelTracing();
  if (tracerKind === "none") return { startCall: () => undefined, startRequest: () => undefined };
  const tracer = new RecordingTracer(10_000);
  tracers.push(tracer);
  return otelTracing({ tracer });
};

async function pair(stats: boolean) {
  const server = new Cluster({
    codec: raw(),
    ...(stats ? { tracing: tracingOption() } : {}),
    call: (_peer, _cmd, body) => body,
  });
  const listener = await server.listen("127.0.0.1:0");
  const client = new Cluster({ codec: raw(), ...(stats ? { tracing: tracingOption() } : {}) });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  return {
    call: () => client.call(peer, 1, payload),
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

await runCost(pair, () => {
  if (tracerKind === "recording" && tracers.some((t) => t.spans.length === 0)) {
    throw new Error("tracing recorded nothing");
  }
}, { tracer: tracerKind });
