/**
 * skynet's own cluster example (examples/cluster1.lua, cluster2.lua from
 * the SKYNET tree, not copied) against weft nodes in skynet mode, on Deno,
 * Bun and Node. Needs a skynet build (see tests/skynet/capture.ts):
 *
 * ```sh
 * SKYNET=/path/to/skynet deno run -A tests/skynet/interop.ts [--runtimes=deno,bun,node]
 * ```
 *
 * 0. The reference: skynet's cluster1 and cluster2, both skynet (cluster1
 *    listens on 127.0.0.1:2528 and 2529, as the example has it).
 * 1. skynet calls weft: tests/skynet/_interop_node.ts plays cluster1 (the
 *    simpledb service "sdb" on nodes "db" and "db2", skynet-mode
 *    listeners on free ports named by a clustername.lua of ours); skynet
 *    runs its own cluster2. What cluster2 prints, and the pings the callee
 *    saw, must be what they are against skynet's cluster1.
 * 2. weft calls skynet: skynet runs its own cluster1; the weft child does
 *    what cluster2 does with Nodes (and a query, a call by handle, the
 *    agent's error texts); skynet's log must show the pings.
 *
 * `cluster.snax("db3", "pingserver")` needs snax on the callee, which weft
 * does not have: reported as not supported (against weft, cluster2's main
 * coroutine ends there with "Invalid name", where skynet's prints the
 * ping). Every process is stopped by its pid. Prints `N passed, N failed`.
 *
 * @module
 */

import { type RuntimeName, spawnScript } from "../_runtimes.ts";
import { freePort, SkynetProcess, skynetRoot, writeConfig } from "./capture.ts";

const args = new Map(
  Deno.args.filter((a) => a.startsWith("--")).map((a) => {
    const [k, v] = a.slice(2).split("=");
    return [k!, v ?? ""];
  }),
);
const runtimes = (args.get("runtimes") ?? "deno,bun,node").split(",") as RuntimeName[];
const root = skynetRoot();
const dir = Deno.makeTempDirSync({ prefix: "weft-skynet-interop-" });
const NODE = new URL("./_interop_node.ts", import.meta.url).pathname;
const EXAMPLE_DIRS = [`${root}/examples`, `${root}/test`];
const SNAX = { snax: `${root}/test/?.lua` };

let passed = 0;
let failed = 0;
function expect(name: string, ok: boolean, detail = ""): void {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail === "" ? "" : `: ${detail}`}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until something listens on `port` (cluster1 opens after its local calls). */
async function listening(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`nothing listens on ${port} after ${ms} ms`);
}

/** skynet's cluster1 from the SKYNET tree (ports 2528 and 2529). */
async function skynetCluster1(): Promise<SkynetProcess> {
  const proc = new SkynetProcess(
    root,
    writeConfig(dir, root, "cluster1", "cluster1", undefined, EXAMPLE_DIRS, SNAX),
  );
  await listening(2528, 20_000);
  await listening(2529, 20_000);
  return proc;
}

/** skynet's cluster2 against `db`/`db2` ports; what it printed once its reload step ran. */
async function skynetCluster2(portDb: number, portDb2: number): Promise<string[]> {
  Deno.writeTextFileSync(
    `${dir}/clustername.lua`,
    `__nowaiting = true\ndb = "127.0.0.1:${portDb}"\ndb2 = "127.0.0.1:${portDb2}"\n`,
  );
  const proc = new SkynetProcess(
    root,
    writeConfig(dir, root, "cluster2", "cluster2", `${dir}/clustername.lua`, EXAMPLE_DIRS, SNAX),
  );
  try {
    // cluster2 reloads db = false after 3 s (skynet.timeout(300)) and prints the pcall.
    await proc.waitFor("false\t", 30_000).catch(() => {});
    // cluster.snax answers right after (against skynet): let it print.
    await sleep(1500);
    return [...proc.lines];
  } finally {
    await proc.stop();
  }
}

/** The lines of cluster2's output that say what happened (skynet's log prefix dropped). */
function outcomeLines(lines: string[]): string[] {
  return lines.filter((l) => /^(foobar|false|true)/.test(l.trim())).map((l) =>
    l.trim().replace(/\s+/g, " ")
  );
}

/** What simpledb's PING logged (snax's pingserver logs "ping server start" too: not ours). */
function pings(lines: string[]): string[] {
  return lines.map((l) => /(?:^|\s)(?:PING|ping) (.+)$/.exec(l)?.[1]?.trim())
    .filter((x): x is string => x !== undefined && !x.startsWith("server start")).sort();
}

try {
  // 0. The reference: skynet against skynet.
  const c1 = await skynetCluster1();
  let reference: string[];
  let referencePings: string[];
  let snax: boolean;
  try {
    const all = await skynetCluster2(2528, 2529);
    reference = outcomeLines(all);
    snax = all.some((l) => l.trim() === "hello");
    await sleep(300);
    referencePings = pings(c1.lines);
  } finally {
    await c1.stop();
  }
  console.log(`reference (skynet cluster2 -> skynet cluster1): ${JSON.stringify(reference)}`);
  console.log(`reference pings seen by cluster1: ${JSON.stringify(referencePings)}`);
  console.log(`reference cluster.snax("db3", "pingserver") printed hello: ${snax}`);

  for (const runtime of runtimes) {
    // 1. skynet's cluster2 calls a weft cluster1.
    const portDb = freePort();
    const portDb2 = freePort();
    const child = await spawnScript(runtime, NODE, ["cluster1", String(portDb), String(portDb2)]);
    let lines: string[];
    try {
      await child.waitFor(/^READY$/m, 60_000);
      lines = outcomeLines(await skynetCluster2(portDb, portDb2));
      await sleep(300);
    } finally {
      await child.stop();
    }
    const weftPings = pings(child.stdout().split("\n"));
    // skynet's "db is down" line names its own source file; compare the meaning.
    const shape = (xs: string[]) => xs.map((l) => l.startsWith("false") ? "false (db is down)" : l);
    expect(
      `${runtime}: skynet cluster2 -> weft cluster1 prints what it prints against skynet`,
      JSON.stringify(shape(lines)) === JSON.stringify(shape(reference)),
      JSON.stringify(lines),
    );
    expect(
      `${runtime}: weft cluster1 got cluster2's pings (proxy; db2 multipart push)`,
      JSON.stringify(weftPings) === JSON.stringify(referencePings),
      JSON.stringify(weftPings),
    );
    console.log(
      `     ${runtime}: cluster.snax("db3", "pingserver"): not supported by weft (no snax); skipped`,
    );

    // 2. A weft cluster2 calls skynet's cluster1.
    const skynet = await skynetCluster1();
    try {
      const weft = await spawnScript(runtime, NODE, ["cluster2", "2528", "2529"]);
      try {
        await weft.waitFor(/^DONE$/m, 60_000);
      } finally {
        await weft.stop();
      }
      await sleep(300);
      for (const line of weft.stdout().split("\n")) {
        const m = /^STEP (.*?) (ok|FAIL)(.*)$/.exec(line);
        if (m) {
          expect(
            `${runtime}: weft cluster2 -> skynet cluster1: ${m[1]}`,
            m[2] === "ok",
            m[3]!.trim(),
          );
        } else if (line.startsWith("STEP")) console.log(`     ${runtime}: ${line.slice(5)}`);
      }
      const seen = pings(skynet.lines);
      expect(
        `${runtime}: skynet cluster1 got weft's pings`,
        JSON.stringify(seen) === JSON.stringify(referencePings),
        JSON.stringify(seen),
      );
    } finally {
      await skynet.stop();
    }
  }
} finally {
  Deno.removeSync(dir, { recursive: true });
}
console.log(`${passed} passed, ${failed} failed`);
if (failed > 0) Deno.exit(1);
