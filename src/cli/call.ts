/**
 * `weft call <host:port> <cmd> [json]`: one call, the answer printed (like
 * grpcurl or `nats req`); on failure a coded error on stderr and exit 1.
 *
 * @module
 */

import { Cluster } from "../cluster/cluster.ts";
import { UsageError } from "./args.ts";
import {
  addressArg,
  clusterOptions,
  cmdArg,
  formatBody,
  formatError,
  NETWORK_FLAGS,
  NETWORK_HELP,
  subcommand,
} from "./common.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft call <host:port> <cmd> [body] [options]

Makes one call to a node and prints the answer.

  <host:port>   the node, e.g. 127.0.0.1:7000 or [::1]:7000
  <cmd>         the command number (decimal or 0x hex)
  [body]        the request body: JSON text for json and msgpack, text for raw
                (default: no body)

${NETWORK_HELP}
  --send                     a one-way request: no answer is waited for

Exit code: 0 answered, 1 the call failed (the error's code is printed), 2 bad
arguments.`;

/** The `call` subcommand. */
export const call: Subcommand = subcommand({
  name: "call",
  summary: "make one call and print the answer",
  help: HELP,
  values: { ...NETWORK_FLAGS },
  booleans: ["send"],
  async run(parsed) {
    const [address, cmdText, bodyText, extra] = parsed.positional;
    const target = addressArg(address);
    const cmd = cmdArg(cmdText);
    if (extra !== undefined) throw new UsageError(`unexpected argument ${extra}`);
    const { codecName, ...options } = clusterOptions(parsed);
    let body: unknown = undefined;
    if (bodyText !== undefined) {
      if (codecName === "raw") body = bodyText;
      else {
        try {
          body = JSON.parse(bodyText);
        } catch (error) {
          throw new UsageError(`[body] is not JSON: ${(error as Error).message}`);
        }
      }
    }
    const cluster = new Cluster({ ...options, logger: { error() {}, warn() {} } });
    try {
      const peer = cluster.connect(target);
      if (parsed.booleans.has("send")) {
        await cluster.send(peer, cmd, body);
        console.log("sent");
      } else {
        console.log(formatBody(await cluster.call(peer, cmd, body), codecName));
      }
      return 0;
    } catch (error) {
      console.error(`weft call: ${formatError(error)}`);
      return 1;
    } finally {
      await cluster.close();
    }
  },
});
