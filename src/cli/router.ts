/**
 * `weft router`: a router (`@weft/cluster/router`) as its own process, so
 * `npx @weft/cluster router --listen :7000` or `bunx @weft/cluster router
 * --listen :7000` starts one. Prints `listening HOST:PORT` per address, then
 * routes until SIGINT or SIGTERM, then closes.
 *
 * @module
 */

import { Router, type RouterOptions } from "../router/router.ts";
import { registryMasters } from "../router/registry_masters.ts";
import { routerPolicy, type RouterRule } from "../router/policy.ts";
import type { RouterPolicy } from "../router/policy.ts";
import { registerRouter, registryMembers } from "../router/registry_members.ts";
import { formatAddress } from "../transport/address.ts";
import { intArg, UsageError } from "./args.ts";
import { CONTEXT_HELP, listenArg, networkOptions, subcommand } from "./common.ts";
import { onInterrupt } from "./_runtime.ts";
import { openRegistry } from "./registry_client.ts";
import {
  SERVE_TRUST_BOOLEANS,
  SERVE_TRUST_FLAGS,
  SERVE_TRUST_HELP,
  TRUST_BOOLEANS,
  TRUST_FLAGS,
  TRUST_HELP,
} from "./trust.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft router --listen HOST:PORT [options]

Starts a router: services connect to it, announce their ids, and call each
other through it by target, random, hash, broadcast or master routes.

  --listen HOST:PORT         where to listen (default 127.0.0.1:7000; :PORT for every address;
                             port 0: any free port); a comma-separated list for several
  --heartbeat MS             heartbeat interval towards services
  --misses N                 unanswered heartbeats before a service counts as dead
  --hwm BYTES                send-buffer bytes over which a service counts as congested
  --per-turn N               forwards from one read of one service before others are served
                             (fairness; default 256)
  --master GROUP=ID@FENCE    a static master (comma-separated for several)
  --registry ADDR            a registry node (host:port) or etcd (http://...): register this
                             router there (routers/HOST:PORT), for weft dashboard and top
  --namespace NS             the registry's key prefix (default weft/)
  --groups G,...             with --registry: take these groups' masters from its elections
  --members                  with --registry: a service is a member only while registered
  --stats                    keep stats (per group too) and answer weft stats (remote stats)
  --print-stats MS           print the router's counters every MS (0: never; default 0)
  --policy FILE              who may be what: a JSON routerPolicy, {"identity": {"announce":
                             [{"group": G, "from": I, "to": J}], "master": [G]}, "*": ...}
${SERVE_TRUST_HELP}
${TRUST_HELP}
${CONTEXT_HELP}

Examples:
  weft router --listen 127.0.0.1:7000 --stats
  weft router --listen :7000 --registry 127.0.0.1:7400 --groups 1,2 --members

Prints "listening HOST:PORT", then runs until Ctrl-C or SIGTERM (exit 0). Exit
code 1 if it cannot listen or register (the error's code is printed), 2 for bad
arguments.`;

/** The `router` subcommand. */
export const router: Subcommand = subcommand({
  name: "router",
  summary: "start a router (luabus-style routing between services)",
  help: HELP,
  values: {
    listen: "127.0.0.1:7000",
    heartbeat: undefined,
    misses: undefined,
    hwm: undefined,
    "per-turn": undefined,
    master: undefined,
    registry: undefined,
    namespace: undefined,
    groups: undefined,
    policy: undefined,
    "print-stats": "0",
    ...TRUST_FLAGS,
    ...SERVE_TRUST_FLAGS,
  },
  booleans: ["stats", "members", ...TRUST_BOOLEANS, ...SERVE_TRUST_BOOLEANS],
  positional: false,
  async run(parsed) {
    const listen = parsed.values.listen!.split(",").map((a) => listenArg("--listen", a.trim()));
    const options: RouterOptions = {};
    const { heartbeat, misses, hwm, master, registry: endpoint, groups } = parsed.values;
    if (heartbeat !== undefined) {
      options.heartbeatInterval = intArg("--heartbeat", heartbeat, 1, 2 ** 31 - 1);
    }
    if (misses !== undefined) options.heartbeatMisses = intArg("--misses", misses, 1, 1000);
    if (hwm !== undefined) options.highWaterMark = intArg("--hwm", hwm, 1, 2 ** 31 - 1);
    const perTurn = parsed.values["per-turn"];
    if (perTurn !== undefined) {
      options.maxRequestsPerTurn = intArg("--per-turn", perTurn, 1, 2 ** 31 - 1);
    }
    const masters: [number, number, number][] = [];
    for (const m of master === undefined ? [] : master.split(",")) {
      const match = /^(\d+)=(\d+)@(\d+)$/.exec(m.trim());
      if (match === null) throw new UsageError(`--master must be GROUP=ID@FENCE, got ${m}`);
      masters.push([Number(match[1]), Number(match[2]), Number(match[3])]);
    }
    const groupList = groups === undefined
      ? []
      : groups.split(",").map((g) => intArg("--groups", g.trim(), 0, 255));
    if (endpoint === undefined && (groupList.length > 0 || parsed.booleans.has("members"))) {
      throw new UsageError("--groups and --members need --registry ADDR");
    }
    const every = intArg("--print-stats", parsed.values["print-stats"], 0, 2 ** 31 - 1);
    if (parsed.booleans.has("stats")) options.stats = { remote: true };
    const trust = await networkOptions(parsed, true);
    for (const key of ["tls", "auth", "authorize", "introspect", "protectedMode"] as const) {
      if (trust[key] !== undefined) (options as Record<string, unknown>)[key] = trust[key];
    }
    if (trust.maxConnections !== undefined) options.maxConnections = trust.maxConnections;
    if (trust.maxConnectionsPerAddress !== undefined) {
      options.maxConnectionsPerAddress = trust.maxConnectionsPerAddress;
    }
    if (parsed.values.policy !== undefined) options.policy = await policyArg(parsed.values.policy);
    const registry = endpoint === undefined
      ? undefined
      : openRegistry(endpoint, parsed.values.namespace, trust);
    if (registry !== undefined) {
      const onError = () => {};
      if (groupList.length > 0) {
        options.masters = registryMasters(registry, { groups: groupList, onError });
      }
      if (parsed.booleans.has("members")) options.members = registryMembers(registry, { onError });
    }
    let node: Router;
    try {
      node = new Router(options);
      for (const [group, id, fence] of masters) node.setMaster(group, id, fence);
    } catch (error) {
      await registry?.close();
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    try {
      for (const address of listen) {
        const listener = await node.listen(address);
        const bound = formatAddress(listener.address);
        if (registry !== undefined) await registerRouter(registry, bound);
        console.log(`listening ${bound}`);
      }
    } catch (error) {
      await node.close();
      await registry?.close();
      throw error;
    }
    const timer = every === 0
      ? undefined
      : setInterval(() => console.log(`stats ${JSON.stringify(node.stats)}`), every);
    await new Promise<void>((resolve) => onInterrupt(resolve));
    if (timer !== undefined) clearInterval(timer);
    await node.close();
    await registry?.close();
    return 0;
  },
});

/** A `--policy` file as a router policy. */
async function policyArg(path: string): Promise<RouterPolicy> {
  let rules: Record<string, RouterRule>;
  try {
    const fs = await import("node:fs/promises");
    rules = JSON.parse(await fs.readFile(path, "utf8"));
  } catch (error) {
    throw new UsageError(`--policy ${path}: cannot read it as JSON (${(error as Error).message})`);
  }
  try {
    return routerPolicy(rules);
  } catch (error) {
    throw new UsageError(`--policy ${path}: ${(error as Error).message}`);
  }
}
