/**
 * `weft registry`: a registry node (the embedded discovery store served
 * over weft, `serveRegistry`) as its own process: named nodes, routers and
 * services register in it, and `weft dashboard` and `weft top` read the
 * cluster from it. Prints `listening HOST:PORT`, runs until SIGINT or
 * SIGTERM.
 *
 * @module
 */

import { serveRegistry } from "../discovery/remote.ts";
import { CONTEXT_HELP, listenArg, networkOptions, subcommand } from "./common.ts";
import { onInterrupt } from "./_runtime.ts";
import {
  SERVE_TRUST_BOOLEANS,
  SERVE_TRUST_FLAGS,
  SERVE_TRUST_HELP,
  TRUST_BOOLEANS,
  TRUST_FLAGS,
  TRUST_HELP,
} from "./trust.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft registry [options]

Starts a registry node: the embedded discovery store, served over weft, so
processes on any runtime share one registry with nothing to install
(RemoteRegistry, --registry HOST:PORT). One process: a single point of
failure; use etcd for real deployments.

  --listen HOST:PORT         where to listen (default 127.0.0.1:7400; port 0: any free port)
${SERVE_TRUST_HELP}
${TRUST_HELP}
${CONTEXT_HELP}

Example:
  weft registry --listen 127.0.0.1:7400

Prints "listening HOST:PORT", then runs until Ctrl-C or SIGTERM (exit 0). Exit
code 1 if it cannot listen (the error's code is printed), 2 for bad arguments.`;

/** The `registry` subcommand. */
export const registry: Subcommand = subcommand({
  name: "registry",
  summary: "start a registry node (discovery for nodes, routers and services)",
  help: HELP,
  values: { listen: "127.0.0.1:7400", ...TRUST_FLAGS, ...SERVE_TRUST_FLAGS },
  booleans: [...TRUST_BOOLEANS, ...SERVE_TRUST_BOOLEANS],
  positional: false,
  async run(parsed) {
    const address = listenArg("--listen", parsed.values.listen!);
    const {
      tls,
      auth,
      authorize,
      introspect,
      protectedMode,
      maxConnections,
      maxConnectionsPerAddress,
    } = await networkOptions(parsed, true);
    const server = await serveRegistry(address, {
      ...(tls === undefined ? {} : { tls }),
      ...(auth === undefined ? {} : { auth }),
      ...(authorize === undefined ? {} : { authorize }),
      ...(protectedMode === undefined ? {} : { protectedMode }),
      ...(maxConnections === undefined ? {} : { maxConnections }),
      ...(maxConnectionsPerAddress === undefined ? {} : { maxConnectionsPerAddress }),
      cluster: {
        logger: { error() {}, warn() {} },
        ...(introspect === undefined ? {} : { introspect }),
      },
    });
    console.log(`listening ${server.address}`);
    await new Promise<void>((resolve) => onInterrupt(resolve));
    await server.close();
    return 0;
  },
});
