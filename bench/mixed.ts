/**
 * What fairness between connections costs and gives when a heavy client
 * and a light one share a server: a client with `--heavy` calls in flight
 * (256) and one with `--light` (1), each alone, then both at once, against
 * one server child (any runtime; the clients are Deno). Rounds alternate
 * alone and together on the same warm server; medians are printed.
 *
 * The light client's calls/s beside the heavy one, divided by its calls/s
 * alone, is the share it keeps (issue 22); the heavy client's calls/s
 * beside the light one against alone is what its turns cost it.
 *
 * ```sh
 * deno run -A bench/mixed.ts [--runtime=deno] [--heavy=256] [--light=1] [--duration=2000] [--rounds=3]
 * ```
 *
 * @module
 */

import type { RuntimeName } from "../tests/_runtimes.ts";
import { client as runClient, server as startServer, START_LIMIT } from "./_children.ts";
import { args, type LoadResult, median, options } from "./_common.ts";

const { flags } = options(args);
const runtime = (flags.get("runtime") ?? "deno") as RuntimeName;
const heavy = Number(flags.get("heavy") ?? 256);
const light = Number(flags.get("light") ?? 1);
const duration = Math.min(Number(flags.get("duration") ?? 2000), 60_000);
const rounds = Math.min(Number(flags.get("rounds") ?? 3), 50);
const SERVER = new URL("./rpc_server.ts", import.meta.url).pathname;
const CLIENT = new URL("./rpc_client.ts", import.meta.url).pathname;
const WARMUP = 500;

/** One client's calls/s over the window (after a 500 ms warm-up). */
async function client(address: string, depth: number): Promise<number> {
  const result = await runClient<LoadResult>(
    "deno",
    CLIENT,
    [address, `--depth=${depth}`, `--warmup=${WARMUP}`, `--duration=${duration}`],
    null,
    "RESULT",
    WARMUP + duration + START_LIMIT,
  );
  return result.callsPerSec;
}

const { child: server, address } = await startServer(runtime, SERVER, ["127.0.0.1:0"], null);
try {
  const heavyAlone: number[] = [], lightAlone: number[] = [];
  const heavyBeside: number[] = [], lightBeside: number[] = [];
  for (let round = 0; round < rounds; round++) {
    heavyAlone.push(await client(address, heavy));
    lightAlone.push(await client(address, light));
    const [h, l] = await Promise.all([client(address, heavy), client(address, light)]);
    heavyBeside.push(h);
    lightBeside.push(l);
  }
  const row = (what: string, alone: number[], beside: number[]) =>
    `| ${what} | ${median(alone).toFixed(0)} | ${median(beside).toFixed(0)} | ${
      (median(beside) / median(alone)).toFixed(2)
    } |`;
  console.log(`server: ${runtime}; ${rounds} rounds of ${duration} ms; medians`);
  console.log("| client | calls/s alone | calls/s together | together ÷ alone |");
  console.log("| --- | ---: | ---: | ---: |");
  console.log(row(`heavy (${heavy} in flight)`, heavyAlone, heavyBeside));
  console.log(row(`light (${light} in flight)`, lightAlone, lightBeside));
} finally {
  await server.stop();
}
