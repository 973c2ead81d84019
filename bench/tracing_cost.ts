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

import { otelTracing } from "../src/otel/mod.ts";
import { RecordingTracer } from "../src/otel/recording.ts";
import { echoPair, flags, runCost } from "./_cost.ts";

const tracerKind = flags.get("tracer") ?? "recording";
const tracers: RecordingTracer[] = [];
const tracingOption = () => {
  if (tracerKind === "noop") return otelTracing();
  if (tracerKind === "none") return { startCall: () => undefined, startRequest: () => undefined };
  const tracer = new RecordingTracer(10_000);
  tracers.push(tracer);
  return otelTracing({ tracer });
};

const pair = (stats: boolean) => echoPair(() => (stats ? { tracing: tracingOption() } : {}));

await runCost(pair, () => {
  if (tracerKind === "recording" && tracers.some((t) => t.spans.length === 0)) {
    throw new Error("tracing recorded nothing");
  }
}, { tracer: tracerKind });
