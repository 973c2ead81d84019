/**
 * `weft bench <host:port>`: calls/s and latency percentiles against a
 * running node (an echo node: `weft serve`), with a progress line while it
 * runs.
 *
 * @module
 */

import { Cluster } from "../cluster/cluster.ts";
import { intArg, UsageError } from "./args.ts";
import {
  addressAndRest,
  cmdArg,
  CONTEXT_HELP,
  formatError,
  NETWORK_BOOLEANS,
  NETWORK_FLAGS,
  NETWORK_HELP,
  networkOptions,
  subcommand,
} from "./common.ts";
import { TRUST_HELP } from "./trust.ts";
import { progress, progressDone } from "./_runtime.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft bench [host:port] [options]

Calls a node as fast as it answers for a while, then prints calls/s and
latency percentiles. Point it at an echo node (weft serve).

  --cmd N                    the command number (default 1)
  --payload BYTES            request body size (default 32)
  --depth N                  calls in flight (default 64)
  --duration MS              how long to run (default 5000)
  --progress MS              progress line interval (default 1000; 0: none)
${NETWORK_HELP}
${TRUST_HELP}
${CONTEXT_HELP}

Example:
  weft bench 127.0.0.1:7000 --depth 64 --duration 3000

Exit code: 0 if every call was answered, 1 if any failed, 2 bad arguments.`;

/** Latency samples kept for the percentiles; beyond it, a uniform sample. */
const MAX_SAMPLES = 1 << 20;

/** The `q` quantile (0-1) of sorted `values`. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The `bench` subcommand. */
export const bench: Subcommand = subcommand({
  name: "bench",
  summary: "measure calls/s and latency against a node",
  help: HELP,
  values: {
    ...NETWORK_FLAGS,
    cmd: "1",
    payload: "32",
    depth: "64",
    duration: "5000",
    progress: "1000",
  },
  booleans: [...NETWORK_BOOLEANS],
  async run(parsed) {
    const { address, rest } = addressAndRest(parsed);
    const target = address!;
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    const cmd = cmdArg(parsed.values.cmd);
    const payload = intArg("--payload", parsed.values.payload, 0, 16 * 1024 * 1024);
    const depth = intArg("--depth", parsed.values.depth, 1, 65536);
    const duration = intArg("--duration", parsed.values.duration, 1, 24 * 3600 * 1000);
    const every = intArg("--progress", parsed.values.progress, 0, 3600 * 1000);
    const { codecName, ...options } = await networkOptions(parsed);
    const body = "x".repeat(payload);

    const cluster = new Cluster({ ...options, logger: { error() {}, warn() {} } });
    const samples = new Float64Array(MAX_SAMPLES);
    let calls = 0;
    let errors = 0;
    let firstError: unknown = undefined;
    const peer = cluster.connect(target);
    try {
      // One call first, so a node that is not there fails fast.
      await cluster.call(peer, cmd, body);
    } catch (error) {
      console.error(`weft bench: ${formatError(error)}`);
      await cluster.close();
      return 1;
    }
    const start = performance.now();
    const end = start + duration;
    let lastCalls = 0;
    let lastAt = start;
    const timer = every === 0 ? undefined : setInterval(() => {
      const now = performance.now();
      const rate = ((calls - lastCalls) * 1000) / (now - lastAt);
      lastCalls = calls;
      lastAt = now;
      progress(
        `bench ${target}: ${((now - start) / 1000).toFixed(1)} s, ${calls} calls, ${
          Math.round(rate)
        } calls/s, ${errors} errors`,
      );
    }, every);
    const worker = async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await cluster.call(peer, cmd, body);
        } catch (error) {
          errors++;
          firstError ??= error;
          continue;
        }
        const ms = performance.now() - t0;
        if (calls < MAX_SAMPLES) samples[calls] = ms;
        else {
          const slot = Math.floor(Math.random() * (calls + 1));
          if (slot < MAX_SAMPLES) samples[slot] = ms;
        }
        calls++;
      }
    };
    try {
      await Promise.all(Array.from({ length: depth }, worker));
    } finally {
      if (timer !== undefined) clearInterval(timer);
      await cluster.close();
    }
    const elapsed = (performance.now() - start) / 1000;
    const sorted = samples.subarray(0, Math.min(calls, MAX_SAMPLES)).sort();
    const ms = (q: number) => quantile(sorted, q).toFixed(3);
    if (every !== 0) progressDone();
    console.log(
      `target ${target}, cmd ${cmd}, ${payload} B, ${depth} in flight, ${codecName}, ${options.protocol}`,
    );
    console.log(`calls      ${calls} in ${elapsed.toFixed(2)} s`);
    console.log(`calls/s    ${Math.round(calls / elapsed)}`);
    console.log(
      `latency ms p50 ${ms(0.5)}  p90 ${ms(0.9)}  p99 ${ms(0.99)}  p99.9 ${ms(0.999)}  max ${
        sorted.length === 0 ? "NaN" : sorted[sorted.length - 1]!.toFixed(3)
      }`,
    );
    console.log(`errors     ${errors}`);
    if (errors > 0) {
      console.error(`weft bench: first error: ${formatError(firstError)}`);
      return 1;
    }
    return 0;
  },
});
