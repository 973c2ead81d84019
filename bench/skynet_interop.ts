/**
 * skynet cluster calls/s on loopback, one table: skynet→skynet (skynet's
 * own clustersender and clusteragent, the baseline); weft's skynet
 * protocol mode (a `Cluster` with `protocol: "skynet"`, the whole
 * connection: writer, parts queue, backpressure) in both directions,
 * weft→skynet and skynet→weft; and, for comparison, the bare sans-I/O
 * ends (src/session/skynet_link.ts) over plain Deno sockets. At 1 and 100
 * calls in flight, the rows run alternately `--rounds` times (default 3)
 * and the median kept.
 *
 * ```sh
 * SKYNET=/path/to/skynet deno run -A bench/skynet_interop.ts [--calls=20000] [--rounds=3]
 * ```
 *
 * Every skynet process it starts is stopped by its pid.
 *
 * @module
 */

import { packValues, skynet, unpackValues } from "../src/codec/skynet.ts";
import { Cluster } from "../src/cluster/cluster.ts";
import { SkynetAgent, SkynetSender } from "../src/session/skynet_link.ts";
import { freePort, SkynetProcess, skynetRoot, writeConfig } from "../tests/skynet/capture.ts";
import { pumpSocket, socketWriter } from "../tests/skynet/_sockets.ts";

const args = new Map(
  Deno.args.filter((a) => a.startsWith("--")).map((a) => {
    const [k, v] = a.slice(2).split("=");
    return [k!, v ?? ""];
  }),
);
const CALLS = Number(args.get("calls") ?? 20_000);
const ROUNDS = Number(args.get("rounds") ?? 3);
const root = skynetRoot();
const dir = Deno.makeTempDirSync({ prefix: "weft-skynet-bench-" });

/** A skynet node "db" (our store: @sdb GET "a" answers "foobar"), on a free port. */
async function startDb(): Promise<{ proc: SkynetProcess; port: number }> {
  const port = freePort();
  Deno.writeTextFileSync(`${dir}/db.lua`, `db = "127.0.0.1:${port}"\n`);
  const proc = new SkynetProcess(root, writeConfig(dir, root, "db", "capture_db", `${dir}/db.lua`));
  await proc.waitFor("CAPTURE READY", 20_000);
  return { proc, port };
}

/** skynet's bench client calling node "db" at `port`; calls/s. */
async function skynetClient(port: number, inflight: number): Promise<number> {
  Deno.writeTextFileSync(`${dir}/client.lua`, `db = "127.0.0.1:${port}"\n`);
  const proc = new SkynetProcess(
    root,
    writeConfig(dir, root, "client", "bench_client", `${dir}/client.lua`, [], {
      bench_calls: CALLS,
      bench_inflight: inflight,
    }),
  );
  try {
    const line = await proc.waitFor("BENCH\t", 120_000);
    const seconds = Number(line.split("\t")[3]);
    return CALLS / seconds;
  } finally {
    await proc.stop();
  }
}

async function skynetToSkynet(inflight: number): Promise<number> {
  const db = await startDb();
  try {
    return await skynetClient(db.port, inflight);
  } finally {
    await db.proc.stop();
  }
}

async function weftToSkynet(inflight: number): Promise<number> {
  const db = await startDb();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: db.port });
  const sender = new SkynetSender({ write: socketWriter(conn) });
  const reading = pumpSocket(conn, (chunk) => sender.receive(chunk));
  const message = packValues(["GET", "a"]);
  const run = async (calls: number) => {
    let left = calls;
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (left > 0) {
          left--;
          unpackValues(await sender.call("@sdb", message).response);
        }
      }),
    );
  };
  try {
    await run(Math.min(CALLS, 2000));
    const start = performance.now();
    await run(CALLS);
    return CALLS / ((performance.now() - start) / 1000);
  } finally {
    conn.close();
    await reading;
    await db.proc.stop();
  }
}

async function skynetToWeft(inflight: number): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const answer = packValues(["foobar"]);
  const conns: Deno.Conn[] = [];
  const serving: Promise<void>[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.push(conn);
        const agent = new SkynetAgent({
          write: socketWriter(conn),
          dispatch: (incoming) => {
            unpackValues(incoming.message);
            return { ok: true, message: answer };
          },
        });
        serving.push(pumpSocket(conn, (chunk) => agent.receive(chunk)));
      }
    } catch {
      // closed
    }
  })();
  try {
    return await skynetClient(port, inflight);
  } finally {
    listener.close();
    for (const conn of conns) conn.close();
    await accepting;
    await Promise.all(serving);
  }
}

/** weft's skynet mode calling skynet: a Cluster with protocol "skynet". */
async function modeToSkynet(inflight: number): Promise<number> {
  const db = await startDb();
  const client = new Cluster({ ...skynet(), protocol: "skynet" });
  const peer = client.connect(`127.0.0.1:${db.port}`);
  const options = { service: "@sdb", command: "GET" };
  const run = async (calls: number) => {
    let left = calls;
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (left > 0) {
          left--;
          await client.call(peer, 0, "a", options);
        }
      }),
    );
  };
  try {
    await run(Math.min(CALLS, 2000));
    const start = performance.now();
    await run(CALLS);
    return CALLS / ((performance.now() - start) / 1000);
  } finally {
    await client.close();
    await db.proc.stop();
  }
}

/** skynet calling weft's skynet mode: a Cluster listening with protocol "skynet". */
async function skynetToMode(inflight: number): Promise<number> {
  const server = new Cluster({ ...skynet(), protocol: "skynet", call: () => "foobar" });
  const listener = await server.listen("127.0.0.1:0");
  try {
    return await skynetClient(listener.address.port, inflight);
  } finally {
    await server.close();
  }
}

const rows: [string, (inflight: number) => Promise<number>][] = [
  ["skynet → skynet (skynet's cluster, the baseline)", skynetToSkynet],
  ["weft → skynet (skynet mode: Cluster)", modeToSkynet],
  ["skynet → weft (skynet mode: Cluster)", skynetToMode],
  ["weft → skynet (SkynetSender, plain Deno socket)", weftToSkynet],
  ["skynet → weft (SkynetAgent, plain Deno socket)", skynetToWeft],
];
const results = new Map<string, number[]>();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const inflight of [1, 100]) {
      for (const [name, run] of rows) {
        const key = `${name}\t${inflight}`;
        const value = await run(inflight);
        results.set(key, [...(results.get(key) ?? []), value]);
        console.error(
          `round ${round + 1}: ${name}, ${inflight} in flight: ${Math.round(value)} calls/s`,
        );
      }
    }
  }
} finally {
  Deno.removeSync(dir, { recursive: true });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(
  `${CALLS} calls of @sdb GET "a" (a 6-byte request, a 9-byte answer) per row, median of ${ROUNDS} alternating rounds; Deno ${Deno.version.deno}; load average ${load}\n`,
);
console.log("| path | in flight | calls/s | ratio to skynet → skynet |");
console.log("| --- | --- | --- | --- |");
for (const inflight of [1, 100]) {
  const base = median(results.get(`${rows[0]![0]}\t${inflight}`)!);
  for (const [name] of rows) {
    const value = median(results.get(`${name}\t${inflight}`)!);
    console.log(`| ${name} | ${inflight} | ${Math.round(value)} | ${(value / base).toFixed(2)} |`);
  }
}
