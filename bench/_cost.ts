// The alternating on/off harness shared by the option-cost bench scripts
// (stats_cost, tracing_cost): two echo pairs built by the script, one with
// the option off and one with it on, measured in alternating rounds in the
// same run so machine noise falls on both alike. Prints each round, then a
// RESULT line with the medians and the cost: 1 - the median of each round's
// on/off ratio (adjacent measurements, so a busy machine skews both alike).
// Bench code, not library code: it may touch each runtime's globals.

import { Cluster } from "../src/cluster/cluster.ts";
import type { ClusterOptions } from "../src/cluster/options.ts";
import { raw } from "../src/codec/raw.ts";
import { args, exit, options, runtime, sleep } from "./_common.ts";

declare const process: { cpuUsage(): { user: number; system: number } };

/** CPU microseconds this process used so far (user + system). */
function cpu(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** The script's flags, and the run's shape read from them. */
export const { flags } = options(args);
const num = (name: string, fallback: number) => Number(flags.get(name) ?? fallback);
const rounds = num("rounds", 20);
const durationMs = num("duration", 500);
const warmupMs = num("warmup", 200);
const depth = num("depth", 256);
const payloadSize = num("payload", 32);

/** The body every call sends. */
const payload: Uint8Array = new Uint8Array(payloadSize).fill(0x61);

/** One echo pair as the script builds it. */
export interface CostPair {
  /** One call over the pair. */
  call(): Promise<unknown>;
  /** Closes both ends. */
  close(): Promise<void>;
}

/**
 * An echo pair over loopback (raw codec): a server answering every call with
 * its body and a client connected to it, each built with `options()` (called
 * once for the server, then once for the client).
 */
export async function echoPair(
  options: () => ClusterOptions,
): Promise<CostPair & { server: Cluster }> {
  const server = new Cluster({ codec: raw(), ...options(), call: (_peer, _cmd, body) => body });
  const listener = await server.listen("127.0.0.1:0");
  const client = new Cluster({ codec: raw(), ...options() });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  return {
    call: () => client.call(peer, 1, payload),
    close: async () => {
      await client.close();
      await server.close();
    },
    server,
  };
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

/**
 * Builds the off pair then the on pair with `pair`, measures them in
 * alternating rounds (`--only=on|off` measures one alone), runs `verify`
 * on the on pair (it throws if the option did nothing), prints the RESULT
 * line with `extra` after the runtime, closes both pairs and exits.
 */
export async function runCost<P extends CostPair>(
  pair: (on: boolean) => Promise<P>,
  verify: (on: P) => void,
  extra: Record<string, unknown> = {},
): Promise<never> {
  const off = { on: false, pair: await pair(false) };
  const on = { on: true, pair: await pair(true) };
  const rates = { off: [] as number[], on: [] as number[] };
  const perCpu = { off: [] as number[], on: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const only = flags.get("only");
    const order = (r % 2 === 0 ? [off, on] : [on, off]).filter((p) =>
      only === undefined || p.on === (only === "on")
    );
    for (const p of order) {
      const result = await drive(p.pair.call);
      (p.on ? rates.on : rates.off).push(result.wall);
      (p.on ? perCpu.on : perCpu.off).push(result.cpu);
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
  verify(on.pair);
  console.log(
    `RESULT ${
      JSON.stringify({
        runtime,
        ...extra,
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
  await off.pair.close();
  await on.pair.close();
  return exit(0);
}
