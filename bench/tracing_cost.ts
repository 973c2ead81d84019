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
import { args, exit, options, runtime, sleep } from "./_common.ts";

declare const process: { cpuUsage(): { user: number; system: number } };

/** CPU microseconds this process used so far (user + system). */
function cpu(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * `depth` loops of `call` for a warm-up, then a measured window: calls per
 * wall second, and calls per CPU second (which other processes' load on a
 * shared machine does not skew the way it skews wall time).
 */
async function drive(call: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  let running = true;
  let calls = 0;
  const loop = async () => {
    while (running) {
      await call();
      calls++;
    }
  };
  const loops = Array.from({ length: depth }, loop);
  await sleep(warmupMs);
  const c0 = calls, t0 = performance.now(), u0 = cpu();
  await sleep(durationMs);
  const n = calls - c0, t = performance.now() - t0, u = cpu() - u0;
  running = false;
  await Promise.all(loops);
  return { wall: (n * 1000) / t, cpu: (n * 1e6) / u };
}

const { flags } = options(args);
const num = (name: string, fallback: number) => Number(flags.get(name) ?? fallback);
const rounds = num("rounds", 20);
const durationMs = num("duration", 500);
const warmupMs = num("warmup", 200);
const depth = num("depth", 256);
const payloadSize = num("payload", 32);

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
    stats,
    call: () => client.call(peer, 1, payload),
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

const payload = new Uint8Array(payloadSize).fill(0x61);
const off = await pair(false);
const on = await pair(true);
const rates = { off: [] as number[], on: [] as number[] };
const perCpu = { off: [] as number[], on: [] as number[] };
for (let r = 0; r < rounds; r++) {
  const only = flags.get("only");
  const order = (r % 2 === 0 ? [off, on] : [on, off]).filter((p) =>
    only === undefined || p.stats === (only === "on")
  );
  for (const p of order) {
    const result = await drive(p.call);
    (p.stats ? rates.on : rates.off).push(result.wall);
    (p.stats ? perCpu.on : perCpu.off).push(result.cpu);
  }
  console.log(
    `round ${r + 1}: off ${Math.round(rates.off.at(-1)!)} calls/s (${
      Math.round(perCpu.off.at(-1)!)
    } per CPU s), on ${Math.round(rates.on.at(-1)!)} calls/s (${
      Math.round(perCpu.on.at(-1)!)
    } per CPU s)`,
  );
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const cost = 1 - median(rates.on.map((on, i) => on / rates.off[i]!));
const cpuCost = 1 - median(perCpu.on.map((on, i) => on / perCpu.off[i]!));
const mOff = median(rates.off);
const mOn = median(rates.on);
if (tracerKind === "recording" && tracers.some((t) => t.spans.length === 0)) {
  throw new Error("tracing recorded nothing");
}
console.log(
  `RESULT ${
    JSON.stringify({
      runtime,
      tracer: tracerKind,
      depth,
      payload: payloadSize,
      rounds,
      offCallsPerSec: Math.round(mOff),
      onCallsPerSec: Math.round(mOn),
      cost: Number(cost.toFixed(4)),
      offCallsPerCpuSec: Math.round(median(perCpu.off)),
      onCallsPerCpuSec: Math.round(median(perCpu.on)),
      cpuCost: Number(cpuCost.toFixed(4)),
    })
  }`,
);
await off.close();
await on.close();
exit(0);
