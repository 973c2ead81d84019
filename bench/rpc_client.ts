/**
 * The weft side of the loopback benchmark: one cluster peer, `depth` calls
 * in flight, for a warm-up then a measured window. Prints one
 * `RESULT {json}` line (calls/s; mean, p50, p99 in µs with depth 1; the
 * server's and this process's CPU µs per call in the measured window).
 * `--tls=DIR` connects over TLS, trusting the test CA in DIR.
 * With `--burst=N` it runs rounds of N calls that the server holds and
 * then answers all in one turn (one batch of N responses; see
 * rpc_server.ts `burst`). With `--slices` it warms up, prints `READY`,
 * then runs one measured slice of `depth` calls in flight per `run MS`
 * line on its stdin, printing a `SLICE {json}` line for each, until `quit`
 * or the end of stdin: bench/compare.ts alternates two warm clients (old and
 * new) slice by slice. Runs unchanged under Deno, Bun and Node 24.
 *
 * ```sh
 * deno run -A bench/rpc_client.ts 127.0.0.1:PORT --payload=32 --depth=1 --warmup=1000 --duration=5000
 * deno run -A bench/rpc_client.ts 127.0.0.1:PORT --payload=1024 --burst=1024
 * ```
 *
 * @module
 */

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import {
  args,
  cpuMicros,
  drive,
  exit,
  type LoadCase,
  loadCase,
  type LoadResult,
  options,
  report,
  runtime,
} from "./_common.ts";
import { readCerts } from "../tests/security/_certs.ts";
import process from "node:process";
import { createInterface } from "node:readline";

const CMD_ECHO = 1;
const CMD_BURST = 5;
const CMD_CPU = 6;
const c = loadCase(args);
const flags = options(args).flags;
const pass = flags.get("codec") === "pass";
const tlsDir = flags.get("tls");
const hwm = flags.get("hwm");
const cluster = new Cluster({
  ...(pass
    ? {
      marshal: (_type, cmd, body) => [cmd as number, body as Uint8Array],
      unmarshal: (_type, _cmd, bytes) => bytes,
    }
    : { codec: raw() }),
  ...(tlsDir === undefined ? {} : { tls: { ca: readCerts(tlsDir).ca } }),
  ...(hwm === undefined ? {} : { highWaterMark: Number(hwm) }),
});
const peer = cluster.connect(c.address);
const payload = new Uint8Array(c.payload).fill(0x61);
const first = await cluster.call(peer, CMD_ECHO, payload) as Uint8Array;
if (first.length !== c.payload) throw new Error(`echo returned ${first.length} bytes`);
const burst = Number(options(args).flags.get("burst") ?? 0);
if (flags.has("slices")) await slices();
else report(burst > 0 ? await bursts(burst) : await calls(c));
await cluster.close();

/** Slices on demand (see above): the warm-up, then one measured slice per `run MS` line. */
async function slices(): Promise<void> {
  await calls({ ...c, durationMs: 0 });
  console.log("READY");
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const match = line.match(/^run (\d+)$/);
    if (match === null) break;
    const result = await calls({ ...c, warmupMs: 0, durationMs: Number(match[1]) });
    console.log(`SLICE ${JSON.stringify(result)}`);
  }
  lines.close();
}

/** `depth` calls in flight; CPU per call of both sides over the measured window. */
async function calls(c: LoadCase): Promise<LoadResult> {
  const empty = new Uint8Array(0);
  const dec = new TextDecoder();
  // Both processes' CPU time as the window opens and as it closes.
  const mark = async () => {
    const client = cpuMicros();
    const server = Number(dec.decode(await cluster.call(peer, CMD_CPU, empty) as Uint8Array));
    return { client, server };
  };
  const { marks, ...result } = await drive(() => cluster.call(peer, CMD_ECHO, payload), c, mark);
  if (marks === undefined || result.calls === 0) return result;
  const [a, b] = marks;
  const per = (x: number) => (Number.isFinite(x) ? x / result.calls : undefined);
  const server = per(b.server - a.server);
  const client = per(b.client - a.client);
  return {
    ...result,
    ...(server === undefined ? {} : { serverCpuUs: server }),
    ...(client === undefined ? {} : { clientCpuUs: client }),
  };
}

/**
 * Rounds of `n` calls that the server holds until it has all n, then
 * answers in one turn: each round makes it encode n responses, n x payload
 * bytes, as one batch.
 */
async function bursts(n: number): Promise<LoadResult> {
  if (c.payload < 4) throw new RangeError("--burst needs --payload of at least 4 bytes");
  const body = payload.slice();
  new DataView(body.buffer).setUint32(0, n, true);
  const round = async (): Promise<void> => {
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) calls.push(cluster.call(peer, CMD_BURST, body));
    for (const answer of await Promise.all(calls)) {
      if ((answer as Uint8Array).length !== c.payload) throw new Error("burst echo lost bytes");
    }
  };
  const warmupEnd = performance.now() + c.warmupMs;
  while (performance.now() < warmupEnd) await round();
  let calls = 0;
  const start = performance.now();
  const stop = start + c.durationMs;
  while (performance.now() < stop) {
    await round();
    calls += n;
  }
  const seconds = (performance.now() - start) / 1000;
  return { runtime, calls, seconds, callsPerSec: calls / seconds };
}
exit(0);
