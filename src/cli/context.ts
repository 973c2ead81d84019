/**
 * `weft context`: saved contexts, as nats's (see contexts.ts). `save NAME
 * [flags]` stores an address and the flags that reach it; `use NAME` makes
 * it the one applied when a subcommand names none; `ls`, `show NAME`, `rm
 * NAME`.
 *
 * @module
 */

import { UsageError } from "./args.ts";
import { subcommand } from "./common.ts";
import { type Context, PATH_FLAGS, readContexts, writeContexts } from "./contexts.ts";
import { NETWORK_FLAGS } from "./common.ts";
import { TARGET_FLAGS } from "./target.ts";
import { TRUST_BOOLEANS } from "./trust.ts";
import type { Subcommand } from "./subcommand.ts";

const HELP = `weft context <save|use|ls|show|rm> [NAME] [flags]

Saved contexts: an address with the flags that reach it, typed once.

  weft context save NAME [--address HOST:PORT] [flags]   save (or replace) a context
  weft context use NAME                                   apply NAME when none is named
  weft context use --none                                 apply none by default
  weft context ls                                         list them (* marks the current)
  weft context show NAME                                  print one
  weft context rm NAME                                    remove one

Flags a context can hold: --address, --codec, --protocol, --framing,
--timeout, --tls, --tls-ca, --tls-cert, --tls-key, --tls-server-name,
--auth-keys, --auth-id, --node, --config, --registry, --namespace,
--router, --route, --id, --commands. Every subcommand takes --context NAME
(or $WEFT_CONTEXT) and uses a context's flags where the command line gives
none. File paths are saved absolute; files are not copied (keys stay in
their files).

The file: $WEFT_CONTEXTS, else $XDG_CONFIG_HOME/weft/contexts.json, else
~/.config/weft/contexts.json (mode 0600).

Examples:
  weft context save prod --address 10.0.0.5:7000 --tls-ca ca.pem --auth-keys ops.keys
  weft context use prod
  weft ls                      # 10.0.0.5:7000 over TLS with the key in ops.keys

Exit code: 0 done, 2 bad arguments or no such context.`;

const CONTEXT_FLAGS: Record<string, string | undefined> = {
  address: undefined,
  ...Object.fromEntries(Object.keys(NETWORK_FLAGS).map((k) => [k, undefined])),
  ...TARGET_FLAGS,
};

/** The `context` subcommand. */
export const context: Subcommand = subcommand({
  name: "context",
  summary: "save, choose and list contexts (an address with its credentials)",
  help: HELP,
  values: CONTEXT_FLAGS,
  booleans: [...TRUST_BOOLEANS, "none"],
  context: false,
  async run(parsed) {
    const [action, name, extra] = parsed.positional;
    if (extra !== undefined) throw new UsageError(`unexpected argument ${extra}`);
    const file = await readContexts();
    const need = () => {
      if (name === undefined || name === "") throw new UsageError(`weft context ${action} NAME`);
      return name;
    };
    const exists = (n: string) => {
      if (file.contexts[n] === undefined) throw new UsageError(`no context ${n} (weft context ls)`);
      return file.contexts[n]!;
    };
    switch (action) {
      case "save": {
        const n = need();
        const saved: Context = {};
        const { resolve } = await import("node:path");
        for (const flag of parsed.given) {
          if (flag === "none") continue;
          if (parsed.booleans.has(flag)) saved[flag] = true;
          else {
            const value = parsed.values[flag]!;
            saved[flag] = PATH_FLAGS.includes(flag) ? resolve(value) : value;
          }
        }
        if (Object.keys(saved).length === 0) {
          throw new UsageError("nothing to save: give --address and the flags to keep");
        }
        file.contexts[n] = saved;
        const path = await writeContexts(file);
        console.log(`saved context ${n} in ${path}`);
        return 0;
      }
      case "use": {
        if (parsed.booleans.has("none")) delete file.current;
        else {
          const n = need();
          exists(n);
          file.current = n;
        }
        await writeContexts(file);
        console.log(file.current === undefined ? "no context by default" : `using ${name}`);
        return 0;
      }
      case "ls":
      case "list": {
        const names = Object.keys(file.contexts).sort();
        if (names.length === 0) console.log("(no contexts: weft context save NAME ...)");
        for (const n of names) {
          const c = file.contexts[n]!;
          console.log(
            `${n === file.current ? "*" : " "} ${n.padEnd(16)} ${
              c.address ?? c.router ?? c.registry ?? ""
            }`,
          );
        }
        return 0;
      }
      case "show": {
        console.log(JSON.stringify(exists(need()), null, 2));
        return 0;
      }
      case "rm":
      case "remove": {
        exists(need());
        delete file.contexts[name!];
        if (file.current === name) delete file.current;
        await writeContexts(file);
        console.log(`removed context ${name}`);
        return 0;
      }
      case undefined:
        throw new UsageError("missing <save|use|ls|show|rm>");
      default:
        throw new UsageError(`unknown action ${action}: save, use, ls, show or rm`);
    }
  },
});
