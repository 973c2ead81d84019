/**
 * The demo's router part (examples/demo.ts): two routers (Bun and Node
 * processes) that take group masters from the registry, services of groups
 * 1 and 2 on Deno, Bun and Node (examples/_demo_part.ts) that campaign for
 * master by lease, and a client here that calls in every mode (target,
 * random, hash, broadcast, master) every 100 ms. It kills -9 the master of
 * group 1, then the router the client uses, and prints a row per round as it
 * goes, then what was answered, what failed with which code, and how long
 * each switch took.
 */

import { json } from "../src/codec/json.ts";
import { isWeftError } from "../src/errors.ts";
import {
  broadcast,
  type BroadcastOutcome,
  formatServiceId,
  hash,
  master,
  random,
  type Route,
  Service,
  serviceId,
  target,
} from "../src/router/mod.ts";
import { type RuntimeName, type ScriptChild, spawnScript } from "./_runtimes.ts";
import {
  NAMED_CALLS,
  type NamedNode,
  type NamedReport,
  openRegistry,
  startNamedNode,
} from "./_demo_named.ts";

const PART = new URL("./_demo_part.ts", import.meta.url).pathname;
const START_LIMIT = 60_000;
const ROUND_MS = 100;
/** Rounds a switch may take before the demo gives up on it (with the lease TTL of 1 s). */
const SWITCH_ROUNDS = 150;
const SERVICES: [number, number, RuntimeName][] = [
  [1, 1, "deno"],
  [1, 2, "bun"],
  [1, 3, "node"],
  [2, 1, "node"],
  [2, 2, "bun"],
];
const MODES = ["target", "random", "hash", "broadcast", "master"] as const;
type ModeName = typeof MODES[number];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const codeOf = (error: unknown) => isWeftError(error) ? error.code : String(error);

/**
 * Runs the named-nodes part on the registry at `endpoint` (under
 * `namespace`): named nodes on
 * Deno (here), Bun and Node register, follow the registry's node table and
 * call each other by name. True if every call was answered by its callee.
 */
export async function runNamed(endpoint: string, namespace: string): Promise<boolean> {
  const registry = openRegistry(endpoint, namespace);
  const children: ScriptChild[] = [];
  let node: NamedNode | undefined;
  const failures: string[] = [];
  try {
    node = await startNamedNode(registry);
    console.log(`named node deno (this process) registered as nodes/deno`);
    await Promise.all((["bun", "node"] as const).map(async (runtime) => {
      const child = await spawnScript(runtime, PART, ["node", endpoint, namespace]);
      children.push(child);
      await child.waitFor(/^started$/m, START_LIMIT);
      console.log(`named node ${runtime} (pid ${child.pid}) registered as nodes/${runtime}`);
    }));
    const reports: NamedReport[] = await node.run(30_000);
    for (const child of children) {
      const [, json] = await child.waitFor(/^named (.*)$/m, 30_000);
      reports.push(...JSON.parse(json!) as NamedReport[]);
    }
    console.log(`\neach calls the others' demo.whoami by name (table from the registry)`);
    console.log("caller  callee  answered by       failed");
    for (const r of reports) {
      const by = [...new Set(r.answeredBy)].join(",") || "-";
      const answered = `${r.answeredBy.length}/${NAMED_CALLS} ${by}`;
      console.log(
        `${r.caller.padEnd(7)} ${r.callee.padEnd(7)} ${answered.padEnd(17)} ${
          r.errors.join(",") || "-"
        }`,
      );
      if (r.answeredBy.length !== NAMED_CALLS || r.answeredBy.some((x) => x !== r.callee)) {
        failures.push(
          `${r.caller} -> ${r.callee}: ${r.answeredBy.join(",")} ${r.errors.join(",")}`,
        );
      }
    }
    if (reports.length !== 6) {
      failures.push(`expected 6 named caller/callee pairs, got ${reports.length}`);
    }
  } catch (error) {
    failures.push(error instanceof Error ? error.message : String(error));
  } finally {
    await node?.close();
    for (const child of children) {
      const stderr = await child.stop();
      if (failures.length > 0 && stderr.trim() !== "") {
        console.log(`${child.runtime} pid ${child.pid} stderr:\n${stderr}`);
      }
    }
    await registry.close();
  }
  for (const failure of failures) console.log(`FAIL ${failure}`);
  return failures.length === 0;
}

/**
 * Runs the router part on the registry at `endpoint` (under `namespace`);
 * true if everything expected happened. With `linger` ms, the client goes
 * on calling (a round every 100 ms) that long before everything stops, so
 * the dashboard can be looked at.
 */
export async function runRouters(
  endpoint: string,
  namespace: string,
  linger = 0,
): Promise<boolean> {
  const routers = new Map<string, ScriptChild>(); // address -> process
  const services = new Map<number, ScriptChild>(); // service id -> process
  const all: ScriptChild[] = [];
  const start = async (runtime: RuntimeName, args: string[], ready: RegExp) => {
    const child = await spawnScript(runtime, PART, [
      args[0]!,
      endpoint,
      namespace,
      ...args.slice(1),
    ]);
    all.push(child);
    return { child, match: await child.waitFor(ready, START_LIMIT) };
  };
  let client: Service | undefined;
  const failures: string[] = [];
  try {
    await Promise.all((["bun", "node"] as const).map(async (runtime) => {
      const { child, match } = await start(runtime, ["router", "1,2"], /^listening (\S+)$/m);
      routers.set(match[1]!, child);
      console.log(`router (${runtime}, pid ${child.pid}) listening on ${match[1]}`);
    }));
    const routerList = [...routers.keys()].join(",");
    await Promise.all(SERVICES.map(async ([group, index, runtime]) => {
      const id = serviceId(group, index);
      const { child } = await start(runtime, ["service", String(id), routerList], /^started$/m);
      services.set(id, child);
      console.log(`service ${group}.${index} (${runtime}, pid ${child.pid}) started`);
    }));
    client = new Service({
      id: serviceId(9, 1),
      routers: [...routers.keys()],
      ...json({ commands: { whoami: 1 } }),
      heartbeatInterval: 300,
      retryInterval: 200,
      timeout: 1000,
    });
    await client.start();
    const c = client;

    const answered: Record<string, number> = {};
    const failed: Record<string, Map<string, number>> = {};
    for (const mode of MODES) (answered[mode] = 0, failed[mode] = new Map());
    const began = Date.now();
    let round = 0;
    const routes = (): Record<ModeName, Route> => ({
      target: target(serviceId(2, 1 + (round % 2))),
      random: random(1),
      hash: hash(2, `player${round % 7}`),
      broadcast: broadcast(1),
      master: master(1),
    });
    console.log(`\nevery ${ROUND_MS} ms the client calls whoami in every mode through its router`);
    const header = ["t (ms)", "router", ...MODES];
    console.log(header.map((h, i) => h.padEnd(i < 2 ? 8 : 12)).join(" "));
    /** One round: every mode once; returns who answered master(1), or undefined. */
    const callRound = async (): Promise<{ master: number | undefined; ok: boolean }> => {
      round++;
      const via = c.router ?? "none";
      const r = routes();
      const results = await Promise.all(MODES.map(async (mode) => {
        try {
          const value = await c.call(r[mode], "whoami", {});
          answered[mode]!++;
          if (mode === "broadcast") {
            const outcomes = value as BroadcastOutcome[];
            const ok = outcomes.filter((o) => o.ok).length;
            return { cell: `${ok}/${outcomes.length} ok`, ok: true };
          }
          const { id, runtime } = value as { id: number; runtime: string };
          return { cell: `${formatServiceId(id)} ${runtime}`, id, ok: true };
        } catch (error) {
          const code = codeOf(error);
          failed[mode]!.set(code, (failed[mode]!.get(code) ?? 0) + 1);
          return { cell: code, ok: false };
        }
      }));
      const port = via.replace(/.*:/, ":");
      console.log(
        [String(Date.now() - began), port, ...results.map((x) => x.cell)]
          .map((cell, i) => cell.padEnd(i < 2 ? 8 : 12)).join(" ").trimEnd(),
      );
      return { master: results[4]!.id, ok: results.every((x) => x.ok) };
    };

    // Wait for a master, then a few clean rounds.
    let first: number | undefined;
    for (let i = 0; i < SWITCH_ROUNDS && first === undefined; i++) {
      first = (await callRound()).master;
      await sleep(ROUND_MS);
    }
    if (first === undefined) throw new Error("no master of group 1 was elected");
    let clean = 0;
    for (let i = 0; i < SWITCH_ROUNDS && clean < 3; i++) {
      clean = (await callRound()).ok ? clean + 1 : 0;
      await sleep(ROUND_MS);
    }
    if (clean < 3) failures.push("no three clean rounds before the kills");

    // Kill the master; time until a call to master(1) is answered by another.
    const victim = services.get(first)!;
    console.log(
      `-- kill -9 master ${formatServiceId(first)} (${victim.runtime}, pid ${victim.pid})`,
    );
    let killed = Date.now();
    victim.signal("SIGKILL");
    let masterSwitch: number | undefined;
    let second: number | undefined;
    for (let i = 0; i < SWITCH_ROUNDS && masterSwitch === undefined; i++) {
      const { master } = await callRound();
      if (master !== undefined && master !== first) {
        (second = master, masterSwitch = Date.now() - killed);
      } else await sleep(ROUND_MS);
    }
    if (masterSwitch === undefined) failures.push("no new master answered after the kill");

    // Kill the router in use; time until a call is answered through the other.
    const usedRouter = c.router!;
    const routerChild = routers.get(usedRouter)!;
    console.log(`-- kill -9 router ${usedRouter} (${routerChild.runtime}, pid ${routerChild.pid})`);
    killed = Date.now();
    routerChild.signal("SIGKILL");
    let routerSwitch: number | undefined;
    for (let i = 0; i < SWITCH_ROUNDS && routerSwitch === undefined; i++) {
      const { master } = await callRound();
      if (master !== undefined && c.router !== undefined && c.router !== usedRouter) {
        routerSwitch = Date.now() - killed;
      } else await sleep(ROUND_MS);
    }
    if (routerSwitch === undefined) failures.push("no call answered through the other router");

    // After both switches, everything must answer again.
    clean = 0;
    for (let i = 0; i < SWITCH_ROUNDS && clean < 3; i++) {
      clean = (await callRound()).ok ? clean + 1 : 0;
      await sleep(ROUND_MS);
    }
    if (clean < 3) failures.push("no three clean rounds after the switches");

    console.log(`\n${"mode".padEnd(10)} ${"answered".padEnd(9)} failed (code x count)`);
    for (const mode of MODES) {
      const codes = [...failed[mode]!].map(([code, n]) => `${code} x${n}`).join(", ");
      console.log(`${mode.padEnd(10)} ${String(answered[mode]).padEnd(9)} ${codes || "-"}`);
    }
    console.log();
    const ms = (v: number | undefined) => v === undefined ? "did not happen" : `${v} ms`;
    const name = (id: number | undefined) =>
      id === undefined ? "?" : `${formatServiceId(id)} (${services.get(id)!.runtime})`;
    console.log(
      `master switch ${name(first)} -> ${name(second)}: ${
        ms(masterSwitch)
      } (kill -> first call answered by the new master)`,
    );
    console.log(
      `router switch ${usedRouter} -> ${c.router}: ${
        ms(routerSwitch)
      } (kill -> first call answered through the other router)`,
    );
    if (linger > 0) {
      console.log(`\nthe cluster stays up ${linger} ms more (--linger), calls go on`);
      const until = Date.now() + linger;
      while (Date.now() < until) {
        await Promise.all(
          MODES.map((mode) => c.call(routes()[mode], "whoami", {}).catch(() => {})),
        );
        round++;
        await sleep(ROUND_MS);
      }
    }
  } catch (error) {
    failures.push(error instanceof Error ? error.message : String(error));
  } finally {
    await client?.close();
    for (const child of all) {
      const stderr = await child.stop();
      if (failures.length > 0 && stderr.trim() !== "") {
        console.log(`${child.runtime} pid ${child.pid} stderr:\n${stderr}`);
      }
    }
  }
  for (const failure of failures) console.log(`FAIL ${failure}`);
  return failures.length === 0;
}
