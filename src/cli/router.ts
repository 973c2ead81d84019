/**
 * `weft router`: a router (`@weft/cluster/router`) as its own process, so
 * `npx @weft/cluster router --listen :7000` or `bunx @weft/cluster router
 * --listen :7000` starts one. Prints `listening HOST:PORT` per address, then
 * routes until SIGINT or SIGTERM, then closes.
 *
 * @module
 */

import { Router, type RouterOptions } from "../router/router.ts";
import { formatAddress } from "../transport/address.ts";
import { intArg, UsageError } from "./args.ts";
import { subcommand } from "./common.ts";
import { onInterrupt } from "./_runtime.ts";
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
  --stats MS                 print the router's counters every MS (0: never; default 0)`;

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
    stats: "0",
  },
  positional: false,
  async run(parsed) {
    const listen = parsed.values.listen!.split(",").map((a) => a.trim());
    for (const address of listen) {
      if (!/^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/.test(address)) {
        throw new UsageError(`--listen must look like 127.0.0.1:7000 or :7000, got ${address}`);
      }
    }
    const options: RouterOptions = {};
    const { heartbeat, misses, hwm, master } = parsed.values;
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
    const every = intArg("--stats", parsed.values.stats, 0, 2 ** 31 - 1);
    let node: Router;
    try {
      node = new Router(options);
      for (const [group, id, fence] of masters) node.setMaster(group, id, fence);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    for (const address of listen) {
      const listener = await node.listen(address.startsWith(":") ? `0.0.0.0${address}` : address);
      console.log(`listening ${formatAddress(listener.address)}`);
    }
    const timer = every === 0
      ? undefined
      : setInterval(() => console.log(`stats ${JSON.stringify(node.stats)}`), every);
    await new Promise<void>((resolve) => onInterrupt(resolve));
    if (timer !== undefined) clearInterval(timer);
    await node.close();
    return 0;
  },
});
