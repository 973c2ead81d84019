/**
 * `weft node`: a named node (`@weft/cluster/nodes`) as its own process. It
 * loads a config file (JSON or skynet's Lua form: `name = "host:port"`),
 * opens itself under `--name` at its configured address (or `--listen`),
 * and registers an echo service, so other named nodes can call it by name.
 * Prints `listening HOST:PORT` and runs until SIGINT or SIGTERM, then
 * closes gracefully.
 *
 * @module
 */

import { isWeftError } from "../errors.ts";
import { Nodes } from "../nodes/nodes.ts";
import { readConfig } from "../nodes/config.ts";
import { formatAddress } from "../transport/address.ts";
import { intArg, UsageError } from "./args.ts";
import { subcommand } from "./common.ts";
import { onInterrupt } from "./_runtime.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft node --config FILE --name NAME [options]

Starts a named node: loads the node table from FILE (JSON, or skynet's Lua
form: name = "host:port"), opens this node as NAME at the address the
config gives it, and registers an echo service whose commands are
  echo      answers its body
  whoami    answers { node, caller } (this node's name, the caller's node name)

  --config FILE              the node table (required)
  --name NAME                this node's name in the config (required)
  --listen HOST:PORT         listen here instead of the configured address (port 0: any free port)
  --service NAME             the echo service's name (default echo)
  --timeout MS               timeout of calls this node makes (default 5000)

Prints "listening HOST:PORT", then runs until Ctrl-C or SIGTERM.`;

/** The `node` subcommand. */
export const node: Subcommand = subcommand({
  name: "node",
  summary: "start a named node from a config file, with an echo service",
  help: HELP,
  values: {
    config: undefined,
    name: undefined,
    listen: undefined,
    service: "echo",
    timeout: "5000",
  },
  positional: false,
  async run(parsed) {
    const { config, name, listen, service } = parsed.values;
    if (config === undefined) throw new UsageError("missing --config FILE");
    if (name === undefined || name === "") throw new UsageError("missing --name NAME");
    if (listen !== undefined && !/^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/.test(listen)) {
      throw new UsageError(`--listen must look like 127.0.0.1:7000 or :7000, got ${listen}`);
    }
    if (service === undefined || service === "") throw new UsageError("--service needs a name");
    const timeout = intArg("--timeout", parsed.values.timeout, 1, 2 ** 31 - 1);
    let nodes: Nodes;
    try {
      nodes = new Nodes({ name, config: await readConfig(config), timeout });
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
      const at = listen?.startsWith(":") ? `0.0.0.0${listen}` : listen;
      const listener = await nodes.open(name, at === undefined ? {} : { address: at });
      address = formatAddress(listener.address);
    } catch (error) {
      await nodes.close();
      if (isWeftError(error) && (error.code === "unknown node" || error.code === "node down")) {
        throw new UsageError(`--name ${name}: ${error.message}`);
      }
      throw error;
    }
    console.log(`listening ${address}`);
    console.log(`node ${name}, service ${service}`);
    await new Promise<void>((resolve) => onInterrupt(resolve));
    await nodes.close({ grace: 1000 });
    return 0;
  },
});
