/**
 * `weft node`: a named node (`@weft/cluster/nodes`) as its own process. It
 * takes its node table from a config file (JSON or skynet's Lua form:
 * `name = "host:port"`) or from a registry (`--registry`: it registers as
 * `nodes/NAME` and follows the others), opens itself under `--name`, and
 * registers an echo service, so other named nodes can call it by name.
 * Prints `listening HOST:PORT` and runs until SIGINT or SIGTERM, then
 * closes gracefully.
 *
 * @module
 */

import { isWeftError } from "../errors.ts";
import { Nodes } from "../nodes/nodes.ts";
import { readConfig } from "../nodes/config.ts";
import { follow } from "../nodes/follow.ts";
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

const HELP = `weft node --name NAME (--config FILE | --registry ADDR) [options]

Starts a named node: takes the node table from FILE (JSON, or skynet's Lua
form: name = "host:port") or from a registry, opens this node as NAME at the
address the config gives it (or --listen), and registers an echo service
whose commands are
  echo      answers its body
  whoami    answers { node, caller } (this node's name, the caller's node name)

  --name NAME                this node's name (required)
  --config FILE              the node table
  --registry ADDR            a registry node (host:port) or etcd (http://...): register as
                             nodes/NAME there and take the node table from it
  --namespace NS             the registry's key prefix (default weft/)
  --listen HOST:PORT         listen here instead of the configured address (port 0: any free
                             port; needed with --registry alone)
  --service NAME             the echo service's name (default echo)
  --timeout MS               timeout of calls this node makes (default 5000)
  --stats                    keep stats and answer weft stats (remote stats)
${SERVE_TRUST_HELP}
${TRUST_HELP}
${CONTEXT_HELP}

Examples:
  weft node --config cluster.lua --name alpha
  weft node --name beta --registry 127.0.0.1:7400 --listen 127.0.0.1:0 --stats

Prints "listening HOST:PORT", then runs until Ctrl-C or SIGTERM (exit 0). Exit
code 1 if it cannot listen or register (the error's code is printed), 2 for bad
arguments.`;

/** The `node` subcommand. */
export const node: Subcommand = subcommand({
  name: "node",
  summary: "start a named node (config file or registry), with an echo service",
  help: HELP,
  values: {
    config: undefined,
    name: undefined,
    listen: undefined,
    service: "echo",
    timeout: "5000",
    registry: undefined,
    namespace: undefined,
    ...TRUST_FLAGS,
    ...SERVE_TRUST_FLAGS,
  },
  booleans: ["stats", ...TRUST_BOOLEANS, ...SERVE_TRUST_BOOLEANS],
  positional: false,
  async run(parsed) {
    const { config, name, service, registry: endpoint } = parsed.values;
    if (config === undefined && endpoint === undefined) {
      throw new UsageError("missing --config FILE (or --registry ADDR)");
    }
    if (name === undefined || name === "") throw new UsageError("missing --name NAME");
    const listen = parsed.values.listen === undefined
      ? undefined
      : listenArg("--listen", parsed.values.listen);
    if (config === undefined && listen === undefined) {
      throw new UsageError("--registry without --config needs --listen HOST:PORT");
    }
    if (service === undefined || service === "") throw new UsageError("--service needs a name");
    const timeout = intArg("--timeout", parsed.values.timeout, 1, 2 ** 31 - 1);
    const trust = await networkOptions(parsed, true);
    const {
      tls,
      auth,
      authorize,
      introspect,
      protectedMode,
      maxConnections,
      maxConnectionsPerAddress,
    } = trust;
    let nodes: Nodes;
    try {
      nodes = new Nodes({
        name,
        ...(config === undefined ? {} : { config: await readConfig(config) }),
        timeout,
        ...(tls === undefined ? {} : { tls }),
        ...(auth === undefined ? {} : { auth }),
        ...(authorize === undefined ? {} : { authorize }),
        ...(introspect === undefined ? {} : { introspect }),
        ...(protectedMode === undefined ? {} : { protectedMode }),
        ...(maxConnections === undefined ? {} : { maxConnections }),
        ...(maxConnectionsPerAddress === undefined ? {} : { maxConnectionsPerAddress }),
        ...(parsed.booleans.has("stats") ? { stats: { remote: true } } : {}),
      });
      nodes.register(service, {
        echo: (body) => body,
        whoami: (_body, context) => ({ node: name, caller: context.peer.nodeName ?? null }),
      });
    } catch (error) {
      // A config that does not load, a name too long: the argument's fault.
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    let address: string;
    try {
      const listener = await nodes.open(name, listen === undefined ? {} : { address: listen });
      address = formatAddress(listener.address);
    } catch (error) {
      await nodes.close();
      if (isWeftError(error) && (error.code === "unknown node" || error.code === "node down")) {
        throw new UsageError(`--name ${name}: ${error.message}`);
      }
      throw error;
    }
    const registry = endpoint === undefined
      ? undefined
      : openRegistry(endpoint, parsed.values.namespace, trust);
    const following = new AbortController();
    if (registry !== undefined) {
      try {
        await registry.register({ id: `nodes/${name}`, address });
      } catch (error) {
        await registry.close();
        await nodes.close();
        throw error;
      }
      follow(nodes, registry, { signal: following.signal }).catch(() => {});
    }
    console.log(`listening ${address}`);
    console.log(`node ${name}, service ${service}`);
    await new Promise<void>((resolve) => onInterrupt(resolve));
    following.abort();
    await registry?.close();
    await nodes.close({ grace: 1000 });
    return 0;
  },
});
