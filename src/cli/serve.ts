/**
 * `weft serve`: an echo node. Every request is answered with its own body,
 * on the codec, protocol and framing given. Prints `listening HOST:PORT`,
 * runs until SIGINT or SIGTERM, then closes gracefully.
 *
 * @module
 */

import { Cluster } from "../cluster/cluster.ts";
import { UsageError } from "./args.ts";
import { clusterOptions, NETWORK_FLAGS, NETWORK_HELP, subcommand } from "./common.ts";
import { formatAddress } from "../transport/address.ts";
import { onInterrupt } from "./_runtime.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft serve [options]

Starts an echo node: every request is answered with its own body.

  --listen HOST:PORT         where to listen (default 127.0.0.1:7000; port 0: any free port)
${NETWORK_HELP}
  --stats                    answer weft stats requests (remote stats; weft mode)
  --quiet                    no line per connection

Prints "listening HOST:PORT", then runs until Ctrl-C or SIGTERM.`;

/** The `serve` subcommand. */
export const serve: Subcommand = subcommand({
  name: "serve",
  summary: "start an echo node",
  help: HELP,
  values: { ...NETWORK_FLAGS, listen: "127.0.0.1:7000" },
  booleans: ["quiet", "stats"],
  positional: false,
  async run(parsed) {
    const listen = parsed.values.listen!;
    if (!/^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/.test(listen)) {
      throw new UsageError(`--listen must look like 127.0.0.1:7000 or :7000, got ${listen}`);
    }
    const { codecName: _codec, ...options } = clusterOptions(parsed);
    const quiet = parsed.booleans.has("quiet");
    const cluster = new Cluster({
      ...options,
      stats: { remote: parsed.booleans.has("stats") },
      call: (_peer, _cmd, body) => body,
      accept: () => {
        if (!quiet) console.log("accepted a connection");
      },
    });
    const address = listen.startsWith(":") ? `0.0.0.0${listen}` : listen;
    const listener = await cluster.listen(address);
    console.log(`listening ${formatAddress(listener.address)}`);
    await new Promise<void>((resolve) => onInterrupt(resolve));
    await cluster.close({ grace: 1000 });
    return 0;
  },
});
