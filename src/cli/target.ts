/**
 * What a `weft` subcommand talks to, at every layer: a plain peer at an
 * address (commands by number, or by name from its command table), a named
 * node (`--node NAME`: `service.command`, its address from the argument,
 * `--config FILE` or `--registry`), or services through a router
 * (`--router HOST:PORT --route master:2`). {@linkcode openTarget} gives one
 * object that calls, sends and asks INFO whichever it is.
 *
 * @module
 */

import { Cluster } from "../cluster/cluster.ts";
import type { ClusterOptions } from "../cluster/options.ts";
import type { Peer } from "../connection/peer.ts";
import { RESERVED_CMD_MIN } from "../protocol/weft/protocol.ts";
import { readConfig } from "../nodes/config.ts";
import { WeftError } from "../errors.ts";
import { broadcast, hash, master, random, type Route, target } from "../router/route.ts";
import { Service } from "../router/service.ts";
import { formatServiceId, serviceId } from "../router/service_id.ts";
import { intArg, type Parsed, UsageError } from "./args.ts";
import { addressAndRest, addressArg, type CodecName, formatError } from "./common.ts";
import { openRegistry } from "./registry_client.ts";

/** The flags that say where to go, beyond an address. */
export const TARGET_FLAGS: Record<string, string | undefined> = {
  node: undefined,
  config: undefined,
  registry: undefined,
  namespace: undefined,
  router: undefined,
  route: undefined,
  id: undefined,
  commands: undefined,
};

/** The help lines of {@linkcode TARGET_FLAGS}. */
export const TARGET_HELP =
  `  --node NAME                a named node: <target> is SERVICE.COMMAND; its address is
                             <host:port>, or from --config FILE or --registry
  --config FILE              a node table (JSON or skynet's Lua form) naming --node's address
  --registry ADDR            a registry node (host:port) or etcd (http://...) where named
                             nodes are registered (nodes/NAME)
  --namespace NS             the registry's key prefix (default weft/)
  --router HOST:PORT[,...]   go through a router (every router's address; one is used)
  --route ROUTE              where the router sends it: target:G.I, random:G, hash:G:KEY,
                             hash-slots:G:KEY, master:G, broadcast:G (default: the router itself)
  --id G.I                   this command's own service id at the router (default 255.random)
  --commands NAME=N,...      command names of a plain peer or service (default: its own
                             command table, asked with an INFO describe request)`;

/** Someone to call and ask: a plain peer, a named node, or services through a router. */
export interface Target {
  /** For messages: `127.0.0.1:7000`, `node db (127.0.0.1:7001)`, `master:2 via 127.0.0.1:7000`. */
  readonly where: string;
  /** Calls `cmd` (a number, a name, or SERVICE.COMMAND) with `body` (one way: `send`). */
  call(cmd: string, body: unknown, send: boolean): Promise<unknown>;
  /** INFO of `kind` (`describe`, `stats`). */
  info(kind: string): Promise<unknown>;
  /** Closes the connections. */
  close(): Promise<void>;
}

/**
 * A `--route` value as a route.
 *
 * @throws {UsageError} Naming the flag.
 */
export function routeArg(value: string): Route {
  const [mode, group, ...rest] = value.split(":");
  const bad = () =>
    new UsageError(
      `--route must be target:G.I, random:G, hash:G:KEY, hash-slots:G:KEY, master:G or broadcast:G, got ${value}`,
    );
  if (group === undefined || group === "") throw bad();
  const g = () => {
    const n = Number(group);
    if (!Number.isInteger(n) || n < 0 || n > 255) throw bad();
    return n;
  };
  switch (mode) {
    case "target":
      if (rest.length > 0) throw bad();
      return target(serviceIdArg("--route target", group));
    case "random":
      if (rest.length > 0) throw bad();
      return random(g());
    case "master":
      if (rest.length > 0) throw bad();
      return master(g());
    case "broadcast":
      if (rest.length > 0) throw bad();
      return broadcast(g(), { self: false });
    case "hash":
    case "hash-slots": {
      const key = rest.join(":");
      if (key === "") throw bad();
      const numeric = /^\d+$/.test(key) && Number(key) <= 0xffffffff;
      return hash(g(), numeric ? Number(key) : key, { slots: mode === "hash-slots" });
    }
    default:
      throw bad();
  }
}

/**
 * A service id written `G.I` (as `formatServiceId` writes it) or as a number.
 *
 * @throws {UsageError} Naming `flag`.
 */
export function serviceIdArg(flag: string, value: string): number {
  const dotted = /^(\d{1,3})\.(\d{1,5})$/.exec(value);
  if (dotted !== null) {
    const group = Number(dotted[1]);
    const index = Number(dotted[2]);
    if (group <= 255 && index <= 65535) return serviceId(group, index);
  } else if (/^\d+$/.test(value) && Number(value) <= 0xffffff) {
    return Number(value);
  }
  throw new UsageError(
    `${flag} must be a service id G.I (group 0-255, index 0-65535), got ${value}`,
  );
}

/**
 * A `--commands` value (`name=N,...`) as a table.
 *
 * @throws {UsageError} Naming the flag.
 */
export function commandsArg(value: string): Map<string, number> {
  const table = new Map<string, number>();
  for (const item of value.split(",")) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`--commands must be NAME=N,..., got ${value}`);
    table.set(
      item.slice(0, eq).trim(),
      intArg(`--commands ${item.slice(0, eq)}`, item.slice(eq + 1), 0, RESERVED_CMD_MIN - 1),
    );
  }
  return table;
}

/** A `<cmd>` that is a number (decimal or 0x hex), or undefined. */
function cmdNumber(cmd: string): number | undefined {
  if (!/^(\d+|0x[0-9a-fA-F]+)$/.test(cmd)) return undefined;
  return intArg("<cmd>", cmd, 0, RESERVED_CMD_MIN - 1);
}

/** The command table a describe answer carries, if any. */
function tableOf(described: unknown): Map<string, number> | undefined {
  const commands = (described as { commands?: Record<string, number> } | undefined)?.commands;
  if (commands === undefined || commands === null || typeof commands !== "object") return undefined;
  return new Map(Object.entries(commands));
}

/**
 * Resolves a command name to its number: `--commands`, else the target's
 * own table (asked once).
 */
async function resolveName(
  cmd: string,
  given: Map<string, number> | undefined,
  ask: () => Promise<unknown>,
  where: string,
): Promise<number> {
  const number = cmdNumber(cmd);
  if (number !== undefined) return number;
  const table = given ?? tableOf(await ask());
  const found = table?.get(cmd);
  if (found === undefined) {
    throw new WeftError(
      "unknown command",
      table === undefined
        ? `${where} has no command table to name "${cmd}" (give a number, or --commands ${cmd}=N)`
        : `${where} has no command "${cmd}" (it has ${[...table.keys()].join(", ") || "none"})`,
    );
  }
  return found;
}

/** Where `--node NAME` is: the address given, the --config table, or the registry. */
async function nodeAddress(
  parsed: Parsed,
  name: string,
  address: string | undefined,
  options: ClusterOptions,
): Promise<string> {
  if (address !== undefined) return address;
  const config = parsed.values.config;
  if (config !== undefined) {
    let table;
    try {
      table = await readConfig(config);
    } catch (error) {
      throw new UsageError(`--config ${config}: ${(error as Error).message}`);
    }
    const at = table.nodes.get(name);
    if (at === undefined) throw new UsageError(`--node ${name}: not in --config ${config}`);
    if (at === false) throw new WeftError("node down", `Node ${name} is marked down in ${config}`);
    return at;
  }
  const endpoint = parsed.values.registry;
  if (endpoint === undefined) {
    throw new UsageError(`--node ${name} needs its <host:port>, --config FILE or --registry`);
  }
  const registry = openRegistry(endpoint, parsed.values.namespace, options);
  try {
    for await (const event of registry.watch(`nodes/${name}`)) {
      if (event.type !== "snapshot") continue;
      const found = event.members.find((m) => m.id === `nodes/${name}`);
      if (found === undefined) {
        throw new WeftError("unknown node", `Node ${name} is not registered at ${endpoint}`);
      }
      return found.address;
    }
    throw new WeftError("registry unreachable", `No answer from the registry at ${endpoint}`);
  } finally {
    await registry.close();
  }
}

/**
 * The target the flags name: through a router (`--router`), a named node
 * (`--node`), or the plain peer at `address`.
 *
 * @throws {UsageError} For flags that do not fit together.
 */
export async function openTarget(
  parsed: Parsed,
  address: string | undefined,
  options: ClusterOptions & { codecName: CodecName },
): Promise<Target> {
  const v = parsed.values;
  const commands = v.commands === undefined ? undefined : commandsArg(v.commands);
  const { codecName: _codec, ...clusterOptions } = options;
  const quiet = { ...clusterOptions, logger: { error() {}, warn() {} } };
  if (v.router !== undefined) {
    if (v.node !== undefined) throw new UsageError("--node and --router do not go together");
    const routers = v.router.split(",").map((a) => addressArg(a.trim()));
    if (v.route === undefined) {
      // The router itself.
      return plainTarget(routers[0]!, quiet, commands);
    }
    return await routedTarget(routers, routeArg(v.route), v.id, quiet, commands);
  }
  if (v.route !== undefined) throw new UsageError("--route needs --router HOST:PORT");
  if (v.node !== undefined) {
    const at = await nodeAddress(parsed, v.node, address, clusterOptions);
    return plainTarget(at, quiet, commands, v.node);
  }
  if (address === undefined) throw new UsageError("missing <host:port>");
  return plainTarget(address, quiet, commands);
}

function plainTarget(
  address: string,
  options: ClusterOptions,
  commands: Map<string, number> | undefined,
  node?: string,
): Target {
  const cluster = new Cluster(options);
  const peer: Peer = cluster.connect(address);
  const where = node === undefined ? address : `node ${node} (${address})`;
  let described: Promise<unknown> | undefined;
  const describe = () => described ??= cluster.info(peer, "describe");
  return {
    where,
    async call(cmd, body, send) {
      const dot = cmd.indexOf(".");
      if (dot > 0 && cmdNumber(cmd) === undefined) {
        // SERVICE.COMMAND: a named node's service (names travel, cmd 0).
        const named = { service: cmd.slice(0, dot), command: cmd.slice(dot + 1) };
        return send ? cluster.send(peer, 0, body, named) : cluster.call(peer, 0, body, named);
      }
      if (node !== undefined) {
        throw new UsageError(`<target> of --node ${node} must be SERVICE.COMMAND, got ${cmd}`);
      }
      const number = await resolveName(cmd, commands, describe, where);
      return send ? cluster.send(peer, number, body) : cluster.call(peer, number, body);
    },
    info: (kind) => kind === "describe" ? describe() : cluster.info(peer, kind),
    close: () => cluster.close(),
  };
}

async function routedTarget(
  routers: string[],
  route: Route,
  idText: string | undefined,
  options: ClusterOptions,
  commands: Map<string, number> | undefined,
): Promise<Target> {
  let service: Service | undefined;
  // The command's own id: given, or a random one in group 255 (tried again on a duplicate).
  for (let attempt = 0; service === undefined; attempt++) {
    const id = idText === undefined
      ? serviceId(255, 1 + Math.floor(Math.random() * 65535))
      : serviceIdArg("--id", idText);
    const { call: _c, accept: _a, close: _cl, ...rest } = options;
    const candidate = new Service({ ...rest, id, routers, retryInterval: 60_000 });
    try {
      await candidate.start();
      service = candidate;
    } catch (error) {
      await candidate.close();
      if ((error as WeftError).code !== "duplicate id" || idText !== undefined || attempt >= 3) {
        throw error;
      }
    }
  }
  const s = service;
  const where = `${describeRoute(route)} via ${s.router}`;
  let described: Promise<unknown> | undefined;
  const describe = async () => {
    const answer = await (described ??= s.info(route, "describe"));
    // A broadcast answers per member: the first that answered names the commands.
    if (Array.isArray(answer)) {
      return answer.find((o: { ok: boolean }) => o.ok)?.value;
    }
    return answer;
  };
  return {
    where,
    async call(cmd, body, send) {
      const number = await resolveName(cmd, commands, describe, where);
      const answer = send ? await s.send(route, number, body) : await s.call(route, number, body);
      return route.isBroadcast ? outcomes(answer) : answer;
    },
    async info(kind) {
      const answer = await s.info(route, kind);
      return route.isBroadcast ? outcomes(answer) : answer;
    },
    close: () => s.close(),
  };
}

/** A broadcast's outcomes as plain JSON: `{ id: "2.1", ok, value | error }`. */
function outcomes(answer: unknown): unknown {
  return (answer as { id: number; ok: boolean; value?: unknown; error?: Error }[]).map((o) =>
    o.ok ? { id: formatServiceId(o.id), ok: true, value: o.value } : {
      id: formatServiceId(o.id),
      ok: false,
      error: { code: (o.error as { code?: string })?.code, message: o.error?.message },
    }
  );
}

/** A route as `--route` writes it. */
export function describeRoute(route: Route): string {
  const names: Record<number, string> = {
    1: "target",
    2: "random",
    3: "hash",
    4: "broadcast",
    5: "master",
  };
  const mode = names[route.mode] ?? `mode ${route.mode}`;
  return mode === "target" ? `target:${formatServiceId(route.to)}` : `${mode}:${route.to}`;
}

/**
 * The address and the other positional arguments of a subcommand that
 * takes a target: the address is needed unless `--router` or `--node`
 * says where to go (`--node` finds it in `--config` or `--registry`, or
 * says it needs one).
 */
export function targetArgs(parsed: Parsed): { address: string | undefined; rest: string[] } {
  const elsewhere = parsed.values.router !== undefined || parsed.values.node !== undefined;
  return addressAndRest(parsed, !elsewhere);
}

/**
 * {@linkcode openTarget}, printing a failure to reach it as `weft
 * <command>: <code>: <message>` (undefined: exit 1).
 *
 * @throws {UsageError} For flags that do not fit together.
 */
export async function openOrReport(
  command: string,
  parsed: Parsed,
  address: string | undefined,
  options: ClusterOptions & { codecName: CodecName },
): Promise<Target | undefined> {
  try {
    return await openTarget(parsed, address, options);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    console.error(`weft ${command}: ${formatError(error)}`);
    return undefined;
  }
}
