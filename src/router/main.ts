/**
 * A router as its own process, the same file on every runtime:
 *
 * ```sh
 * deno run -A src/router/main.ts --listen 127.0.0.1:7000
 * bun src/router/main.ts --listen 127.0.0.1:7000
 * node src/router/main.ts --listen 127.0.0.1:7000
 * ```
 *
 * Options: `--listen HOST:PORT` (repeatable; port 0 picks a free port),
 * `--heartbeat MS` and `--misses N` (how fast a dead service is found),
 * `--hwm BYTES` (send-buffer bytes over which a service counts as
 * congested), `--per-turn N` (forwards from one read of one service before
 * others are served; default 256), `--master GROUP=ID@FENCE` (repeatable: a static master),
 * `--stats MS` (print the router's counters every MS), `--exit-after MS`
 * (close and exit, e.g. for `node --cpu-prof`). Prints `listening
 * HOST:PORT` for each address once it listens, then routes until killed.
 * Bad arguments exit 2 naming the argument; an address it cannot listen on
 * (taken: `address in use`) exits 1 with one line giving the code. `weft
 * router` (src/cli/router.ts) is the same router with the command's flags.
 *
 * @module
 */

import { formatAddress } from "../transport/address.ts";
import { Router, type RouterOptions } from "./router.ts";

declare const process: { argv: string[]; exit(code: number): never };

function usage(message: string): never {
  console.error(`${message}
usage: main.ts --listen HOST:PORT [--listen ...] [--heartbeat MS] [--misses N] [--hwm BYTES]
               [--per-turn N] [--master GROUP=ID@FENCE ...] [--stats MS] [--exit-after MS]`);
  process.exit(2);
}

const args = process.argv.slice(2);
const listen: string[] = [];
const masters: [number, number, number][] = [];
const options: RouterOptions = {};
let statsEvery = 0;
let exitAfter = 0;
for (let i = 0; i < args.length; i++) {
  const flag = args[i]!;
  const value = args[++i];
  if (value === undefined) usage(`Missing value after ${flag}`);
  const number = Number(value);
  if (flag !== "--listen" && flag !== "--master" && !(Number.isInteger(number) && number >= 0)) {
    usage(`${flag} must be a whole number, got ${value}`);
  }
  switch (flag) {
    case "--listen":
      listen.push(value);
      break;
    case "--heartbeat":
      options.heartbeatInterval = number;
      break;
    case "--misses":
      options.heartbeatMisses = number;
      break;
    case "--hwm":
      options.highWaterMark = number;
      break;
    case "--per-turn":
      options.maxRequestsPerTurn = number;
      break;
    case "--stats":
      statsEvery = number;
      break;
    case "--exit-after":
      exitAfter = number;
      break;
    case "--master": {
      const match = /^(\d+)=(\d+)@(\d+)$/.exec(value);
      if (match === null) usage(`Bad --master ${value}: expected GROUP=ID@FENCE`);
      masters.push([Number(match[1]), Number(match[2]), Number(match[3])]);
      break;
    }
    default:
      usage(`Unknown option ${flag}`);
  }
}
if (listen.length === 0) usage("Nothing to listen on");

let router: Router;
try {
  router = new Router(options);
  for (const [group, id, fence] of masters) router.setMaster(group, id, fence);
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
for (const address of listen) {
  try {
    const listener = await router.listen(address);
    console.log(`listening ${formatAddress(listener.address)}`);
  } catch (error) {
    // One line with the code (a taken port: address in use), no stack; exit 1.
    const e = error as { code?: string; message?: string };
    console.error(`router: ${e.code ?? "error"}: ${e.message ?? error}`);
    await router.close();
    process.exit(1);
  }
}
if (exitAfter > 0) {
  // For profilers that write their profile at a normal exit.
  setTimeout(() => router.close().then(() => process.exit(0)), exitAfter);
}
if (statsEvery > 0) {
  setInterval(() => console.log(`stats ${JSON.stringify(router.stats)}`), statsEvery);
}
