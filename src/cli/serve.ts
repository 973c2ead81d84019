/**
 * `weft serve`: an echo node. Every request is answered with its own body,
 * on the codec, protocol and framing given, with the trust flags of any
 * serving subcommand. Prints `listening HOST:PORT`, runs until SIGINT or
 * SIGTERM, then closes gracefully.
 *
 * @module
 */

import { Cluster } from "../cluster/cluster.ts";
import { Commands } from "../codec/commands.ts";
import { formatAddress } from "../transport/address.ts";
import { onInterrupt } from "./_runtime.ts";
import { UsageError } from "./args.ts";
import {
  CONTEXT_HELP,
  listenArg,
  NETWORK_HELP,
  networkOptions,
  SERVE_BOOLEANS,
  SERVE_FLAGS,
  subcommand,
} from "./common.ts";
import { commandsArg } from "./target.ts";
import { SERVE_TRUST_HELP, TRUST_HELP } from "./trust.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft serve [options]

Starts an echo node: every request is answered with its own body.

  --listen HOST:PORT         where to listen (default 127.0.0.1:7000; :PORT for every address;
                             port 0: any free port)
  --commands NAME=N,...      a command table, so callers can use names (weft call ... NAME)
  --stats                    keep stats and answer weft stats (remote stats; weft mode)
  --quiet                    no line per connection
${NETWORK_HELP}
${SERVE_TRUST_HELP}
${TRUST_HELP}
${CONTEXT_HELP}

Example:
  weft serve --listen 127.0.0.1:7000 --stats --commands ping=1,add=2

Prints "listening HOST:PORT", then runs until Ctrl-C or SIGTERM (exit 0). Exit
code 1 if it cannot listen (the error's code is printed: address in use, ...),
2 for bad arguments.`;

/** The `serve` subcommand. */
export const serve: Subcommand = subcommand({
  name: "serve",
  summary: "start an echo node",
  help: HELP,
  values: { ...SERVE_FLAGS, listen: "127.0.0.1:7000", commands: undefined },
  booleans: ["quiet", "stats", ...SERVE_BOOLEANS],
  positional: false,
  async run(parsed) {
    const address = listenArg("--listen", parsed.values.listen!);
    const {
      codecName: _codec,
      protectedMode,
      maxConnections,
      maxConnectionsPerAddress,
      ...options
    } = await networkOptions(parsed, true);
    if (protectedMode === false) {
      throw new UsageError("--no-protected-mode: an echo node has no protected mode to leave");
    }
    const table = parsed.values.commands;
    const quiet = parsed.booleans.has("quiet");
    const cluster = new Cluster({
      ...options,
      ...(table === undefined
        ? {}
        : { commands: new Commands(Object.fromEntries(commandsArg(table))) }),
      ...(parsed.booleans.has("stats") ? { stats: { remote: true } } : {}),
      call: (_peer, _cmd, body) => body,
      accept: () => {
        if (!quiet) console.log("accepted a connection");
      },
    });
    try {
      const listener = await cluster.listen(address, {
        ...(maxConnections === undefined ? {} : { maxConnections }),
        ...(maxConnectionsPerAddress === undefined ? {} : { maxConnectionsPerAddress }),
      });
      console.log(`listening ${formatAddress(listener.address)}`);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    await new Promise<void>((resolve) => onInterrupt(resolve));
    await cluster.close({ grace: 1000 });
    return 0;
  },
});
