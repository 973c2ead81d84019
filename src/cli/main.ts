/**
 * The `weft` command's dispatcher: {@linkcode main} runs a command line,
 * {@linkcode SUBCOMMANDS} lists what it dispatches to. The executable is
 * src/cli/weft.ts.
 *
 * Exit codes, for every subcommand: 0 done; 1 a failure with a code (the
 * target did not answer or refused, a call failed, a port is taken), printed
 * on one line as `weft <command>: <code>: <message>`; 2 bad arguments (the
 * message names the argument). Never a stack trace.
 *
 * @module
 */

import { isWeftError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { UsageError } from "./args.ts";
import { bench } from "./bench.ts";
import { call } from "./call.ts";
import { formatError } from "./common.ts";
import { context } from "./context.ts";
import { dashboard } from "./dashboard.ts";
import { describe, ls } from "./ls.ts";
import { node } from "./node.ts";
import { registry } from "./registry.ts";
import { router } from "./router.ts";
import { serve } from "./serve.ts";
import { stats } from "./stats.ts";
import { top } from "./top.ts";
import type { Subcommand } from "./subcommand.ts";

/** The subcommands, by name. Layers with their own servers (a named node) add theirs here. */
export const SUBCOMMANDS: Map<string, Subcommand> = new Map(
  [call, ls, describe, stats, top, dashboard, bench, serve, node, router, registry, context].map((
    s,
  ) => [s.name, s]),
);

function usage(): string {
  const width = Math.max(...[...SUBCOMMANDS.keys()].map((n) => n.length));
  const lines = [...SUBCOMMANDS.values()].map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`);
  return `weft <command> [arguments] [options]

${lines.join("\n")}

weft <command> --help shows a command's arguments, options and examples.
weft --version prints weft's version.

Exit code: 0 done, 1 a failure (its code is printed on one line), 2 bad arguments.`;
}

/** Runs `weft` with `argv`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    if (name === "help" && rest[0] !== undefined && SUBCOMMANDS.has(rest[0])) {
      console.log(SUBCOMMANDS.get(rest[0])!.help);
      return 0;
    }
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    console.log(`weft ${VERSION}`);
    return 0;
  }
  const sub = SUBCOMMANDS.get(name);
  if (sub === undefined) {
    console.error(`weft: unknown command ${name}\n\n${usage()}`);
    return 2;
  }
  try {
    return await sub.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`weft ${name}: ${error.message}\n(weft ${name} --help for usage)`);
      return 2;
    }
    // A coded failure (a taken port, an unreachable registry): one line, no stack.
    if (isWeftError(error)) {
      console.error(`weft ${name}: ${formatError(error)}`);
      return 1;
    }
    console.error(`weft ${name}: ${formatError(error)}`);
    return 1;
  }
}
