/**
 * Small-call latency while a large body is in flight on the same
 * connection, against idle, in one run: a server child (any runtime) and a
 * Deno client. For each mode, sequential 32 B calls are timed while idle,
 * while 64 MiB requests go back to back (client -> server), and while
 * 64 MiB responses do (server -> client); then the same with parts off
 * (`partSize` above the body size: one frame per body, as before).
 *
 * ```sh
 * deno run -A bench/interleave.ts [--runtime=deno] [--calls=500] [--mib=64] [--part=32768] [--window=131072]
 * ```
 *
 * @module
 */

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { transport } from "../src/transport/deno.ts";
import { type RuntimeName, spawnScript } from "../tests/_runtimes.ts";

const opts = Object.fromEntries(
  Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const runtime = (opts.runtime ?? "deno") as RuntimeName;
const CALLS = Number(opts.calls ?? 500);
const MIB = Number(opts.mib ?? 64);
const PART = Number(opts.part ?? 32 * 1024);
const WINDOW = Number(opts.window ?? 128 * 1024);
const SERVER = new URL("./interleave_server.ts", import.meta.url).pathname;
const small = new Uint8Array(32);
const largeBody = new Uint8Array(MIB * 1024 * 1024);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function measure(partSize: number): Promise<string[]> {
  const child = await spawnScript(runtime, SERVER, [
    "127.0.0.1:0",
    String(partSize),
    String(largeBody.length),
    String(WINDOW),
  ]);
  const rows: string[] = [];
  const client = new Cluster({
    ...raw(),
    transport,
    partSize,
    partWindow: WINDOW,
    maxMessageSize: 2 ** 30,
    hardLimit: 2 ** 30,
    timeout: 120_000,
  });
  try {
    const [, address] = await child.waitFor(/^listening (\S+)$/m, 30_000);
    const peer = client.connect(address!);
    for (let i = 0; i < 200; i++) await client.call(peer, 1, small);
    const label = partSize > largeBody.length
      ? "parts off (one frame)"
      : `parts of ${partSize / 1024} KiB, window ${WINDOW / 1024} KiB`;
    for (const load of ["idle", "64 MiB requests in flight", "64 MiB responses in flight"]) {
      let stop = false;
      let transfers = 0;
      const background = load === "idle" ? Promise.resolve() : (async () => {
        while (!stop) {
          if (load.includes("requests")) await client.call(peer, 3, largeBody);
          else await client.call(peer, 2, small);
          transfers++;
        }
      })();
      if (load !== "idle") await new Promise((r) => setTimeout(r, 20));
      const times: number[] = [];
      const began = performance.now();
      // As one frame a small call waits out a whole body: fewer calls there.
      const calls = partSize > largeBody.length && load !== "idle" ? Math.min(CALLS, 40) : CALLS;
      for (let i = 0; i < calls; i++) {
        const t = performance.now();
        await client.call(peer, 1, small);
        times.push(performance.now() - t);
      }
      const elapsed = performance.now() - began;
      stop = true;
      await background;
      times.sort((a, b) => a - b);
      const mibps = load === "idle" ? "" : `${((transfers * MIB) / (elapsed / 1000)).toFixed(0)}`;
      rows.push(
        `| ${label} | ${load} | ${percentile(times, 0.5).toFixed(3)} | ${
          percentile(times, 0.99).toFixed(3)
        } | ${times.at(-1)!.toFixed(1)} | ${mibps} |`,
      );
      console.error(rows.at(-1));
    }
  } finally {
    await client.close();
    await child.stop();
  }
  return rows;
}

const rows = [
  `Server: ${runtime}; client: deno; ${CALLS} sequential 32 B calls per row (40 with parts off under load); ${MIB} MiB bodies.`,
  "",
  "| parts | load on the same connection | p50 ms | p99 ms | max ms | large MiB/s |",
  "| --- | --- | --- | --- | --- | --- |",
  ...(await measure(PART)),
  ...(await measure(2 ** 31)),
];
console.log(rows.join("\n"));
