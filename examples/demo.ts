/**
 * The demo, the whole system in one run. First a cluster of three nodes, one
 * on Deno (this process), one on Bun and one on Node (child processes
 * running examples/demo_node.ts): every node calls every other node
 * (`whoami`, then a few `ping`s), and the demo prints who called whom, the
 * runtime that answered, the replies, and the round-trip times. Then, on
 * the embedded registry (a registry node served here) or on etcd: named
 * nodes on the three runtimes that register, follow the registry's node
 * table and call each other by name (examples/_demo_named.ts); and two
 * routers with services in two groups, a master elected by lease, calls in
 * every mode, and kill -9 of the master and of the router in use
 * (examples/_demo_routers.ts). Exits 0 only if everything expected
 * happened (calls that fail while a switch is under way are counted).
 *
 * ```sh
 * deno task demo                              # deno run -A examples/demo.ts
 * deno task demo --etcd http://127.0.0.1:2379 # the same on etcd
 * deno task demo --linger 60000               # keep the cluster (and the dashboard) up 60 s more
 * ```
 *
 * While the registry parts run, the demo serves the dashboard (`weft
 * dashboard`, on 127.0.0.1 and a free port) and prints its address: open it
 * to watch the named nodes, then the routers, services, masters and the
 * kills live.
 *
 * Bun and Node are found as the tests find them (examples/_runtimes.ts):
 * `bun` and `node` on PATH when their versions match the pinned ones, else
 * the pinned versions through `npx -y`.
 */

import { type PairReport, PINGS, startDemoNode } from "./_demo.ts";
import { type RuntimeName, type ScriptChild, spawnScript } from "./_runtimes.ts";
import { isWeftError } from "../src/errors.ts";
import { serveRegistry } from "../src/discovery/remote.ts";
import { runNamed, runRouters } from "./_demo_routers.ts";
import { ClusterWatch } from "../src/cli/cluster_view.ts";
import { serveDashboard } from "../src/cli/dashboard.ts";

const CHILD_SCRIPT = new URL("./demo_node.ts", import.meta.url).pathname;
const CHILDREN: RuntimeName[] = ["bun", "node"];
const START_LIMIT = 60_000;
const RUN_LIMIT = 30_000;
const EXIT_LIMIT = 5_000;

function describe(error: unknown): string {
  return isWeftError(error) ? `${error.code}: ${error.message}` : String(error);
}

function table(reports: PairReport[]): string {
  const header = ["caller", "callee", "callee runtime", "replies", "rtt mean", "min", "max (ms)"];
  const rows = reports.map((r) => {
    const mean = r.rtts.length === 0 ? NaN : r.rtts.reduce((a, b) => a + b, 0) / r.rtts.length;
    const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "-");
    return [
      r.caller,
      `${r.callee} ${r.address}`,
      r.runtime,
      `${r.replies}/${r.calls}`,
      ms(mean),
      ms(Math.min(...r.rtts)),
      ms(Math.max(...r.rtts)),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const node = await startDemoNode();
const children: ScriptChild[] = [];
let ok = false;
try {
  console.log(`node 1 (deno, this process) listening on ${node.address}`);
  const addresses: Record<string, string> = { [node.name]: node.address };
  // Start the children together; each prints its bound address.
  await Promise.all(CHILDREN.map(async (runtime, i) => {
    const child = await spawnScript(runtime, CHILD_SCRIPT);
    children.push(child);
    const [, address] = await child.waitFor(/^listening (\S+)$/m, START_LIMIT);
    addresses[runtime] = address!;
    console.log(`node ${i + 2} (${runtime}, pid ${child.pid}) listening on ${address}`);
  }));

  // Tell every node where the others are, then let each call all the others.
  const peers = CHILDREN.map((runtime) => node.cluster.connect(addresses[runtime]!));
  await Promise.all(peers.map((peer) => node.cluster.call(peer, "peers", addresses)));
  node.setPeers(addresses);
  console.log(`every node calls every other: whoami, then ${PINGS} pings\n`);
  const results = await Promise.allSettled([
    node.run(),
    ...peers.map((peer) => node.cluster.call(peer, "run", undefined, { timeout: RUN_LIMIT })),
  ]);
  const reports: PairReport[] = [];
  const failures: string[] = [];
  results.forEach((result, i) => {
    const caller = i === 0 ? node.name : CHILDREN[i - 1]!;
    if (result.status === "fulfilled") reports.push(...result.value as PairReport[]);
    else failures.push(`${caller} could not run: ${describe(result.reason)}`);
  });
  console.log(table(reports));
  for (const r of reports) {
    for (const error of r.errors) failures.push(`${r.caller} -> ${r.callee}: ${error}`);
    if (r.replies !== r.calls) failures.push(`${r.caller} -> ${r.callee}: missing replies`);
    if (r.runtime !== r.callee) {
      failures.push(`${r.caller} -> ${r.callee}: answered by ${r.runtime}`);
    }
  }
  if (reports.length !== 6) failures.push(`expected 6 caller/callee pairs, got ${reports.length}`);
  console.log();
  if (failures.length === 0) {
    console.log(`all ${reports.reduce((n, r) => n + r.calls, 0)} calls answered`);
    ok = true;
  } else {
    for (const failure of failures) console.log(`FAIL ${failure}`);
  }

  // Ask the children to close and exit by themselves.
  await Promise.allSettled(peers.map((peer) => node.cluster.send(peer, "quit")));
  for (const child of children) {
    const code = await child.exited(EXIT_LIMIT);
    if (code !== 0) {
      console.log(`FAIL ${child.runtime} node did not exit cleanly (${code ?? "still running"})`);
      ok = false;
    }
  }
} catch (error) {
  console.log(`FAIL ${describe(error)}`);
} finally {
  await node.cluster.close();
  // Stop the children this demo started (a no-op for those that exited).
  for (const child of children) {
    const stderr = await child.stop();
    if (!ok && stderr.trim() !== "") console.log(`${child.runtime} node stderr:\n${stderr}`);
  }
}

// The router part, on the embedded registry (a registry node served here)
// or, with --etcd ENDPOINT, on etcd.
const at = Deno.args.indexOf("--etcd");
const lingerAt = Deno.args.indexOf("--linger");
const linger = lingerAt >= 0 ? Number(Deno.args[lingerAt + 1]) : 0;
const registry = at >= 0 ? undefined : await serveRegistry("127.0.0.1:0");
const endpoint = at >= 0 ? Deno.args[at + 1]! : registry!.address;
const namespace = `demo-${Date.now()}/`;
console.log(
  `\nregistry: ${at >= 0 ? `etcd at ${endpoint}` : `registry node (this process) on ${endpoint}`}`,
);
// The dashboard of the cluster the next parts run (weft dashboard, in this process).
const watch = new ClusterWatch({ registry: endpoint, namespace, cluster: {}, interval: 1000 });
const dashboard = await serveDashboard(watch, "127.0.0.1:0");
await watch.start();
console.log(
  `dashboard: open ${dashboard.url} to watch the cluster live while the demo runs\n` +
    `           (or in a terminal: weft top --registry ${endpoint} --namespace ${namespace})`,
);
try {
  if (!await runNamed(endpoint, namespace)) ok = false;
  if (!await runRouters(endpoint, namespace, linger)) ok = false;
} finally {
  await dashboard.close();
  await watch.close();
  await registry?.close();
}
if (!ok) Deno.exit(1);
