/**
 * `weft call [host:port] <target> [body]`: one call at any layer, the
 * answer printed (like grpcurl or `nats req`): a plain peer's command by
 * number or name, a named node's `service.command` (`--node`), or services
 * through a router by route (`--router`, `--route`). On failure a coded
 * error on stderr and exit 1.
 *
 * @module
 */

import { UsageError } from "./args.ts";
import { bodyArg } from "./body.ts";
import {
  CONTEXT_HELP,
  formatBody,
  formatError,
  NETWORK_BOOLEANS,
  NETWORK_FLAGS,
  NETWORK_HELP,
  networkOptions,
  subcommand,
} from "./common.ts";
import { openOrReport, TARGET_FLAGS, TARGET_HELP, targetArgs } from "./target.ts";
import { TRUST_HELP } from "./trust.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft call [host:port] <target> [body] [options]

Makes one call and prints the answer.

  [host:port]   the node, e.g. 127.0.0.1:7000 or [::1]:7000 (or the context's address;
                not needed with --router, or with --node and --config/--registry)
  <target>      a command number (decimal or 0x hex), a command name (from --commands or
                the node's own command table), or SERVICE.COMMAND on a named node
  [body]        the request body: JSON text for json and msgpack, text for raw;
                @FILE reads it from FILE, - (or @-) from stdin (default: no body)

${TARGET_HELP}
${NETWORK_HELP}
  --send                     a one-way request: no answer is waited for
${TRUST_HELP}
${CONTEXT_HELP}

Examples:
  weft call 127.0.0.1:7000 1 '{"msg":"hi"}'
  weft call 127.0.0.1:7000 ping @request.json
  weft call --node db --config cluster.lua sdb.get '"key"'
  echo '{"to":"bob"}' | weft call --router 127.0.0.1:7000 --route hash:2:alice 1 -

Exit code: 0 answered, 1 the call failed (the error's code is printed), 2 bad
arguments.`;

/** The `call` subcommand. */
export const call: Subcommand = subcommand({
  name: "call",
  summary: "make one call (plain peer, named node, or through a router) and print the answer",
  help: HELP,
  values: { ...NETWORK_FLAGS, ...TARGET_FLAGS },
  booleans: ["send", ...NETWORK_BOOLEANS],
  async run(parsed) {
    const { address, rest } = targetArgs(parsed);
    const [cmd, bodyText, extra] = rest;
    if (cmd === undefined) throw new UsageError("missing <target>");
    if (extra !== undefined) throw new UsageError(`unexpected argument ${extra}`);
    const options = await networkOptions(parsed);
    const body = await bodyArg(bodyText, options.codecName);
    const target = await openOrReport("call", parsed, address, options);
    if (target === undefined) return 1;
    try {
      const send = parsed.booleans.has("send");
      const answer = await target.call(cmd, body, send);
      console.log(send ? "sent" : formatBody(answer, options.codecName));
      return 0;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      console.error(`weft call: ${formatError(error)}`);
      return 1;
    } finally {
      await target.close();
    }
  },
});
