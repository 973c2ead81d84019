/**
 * The `weft` command's dispatcher: {@linkcode main} runs a command line,
 * {@linkcode SUBCOMMANDS} lists what it dispatches to. The executable is
 * src/cli/weft.ts.
 *
 * @module
 */

import { UsageError } from "./args.ts";
import { bench } from "./bench.ts";
import { call } from "./call.ts";
import { node } from "./node.ts";
import { router } from "./router.ts";
import { serve } from "./serve.ts";
import { stats } from "./stats.ts";
import type { Subcommand } from "./subcommand.ts";

/** The subcommands, by name. Layers with their own servers (a named node) add theirs here. */
export const SUBCOMMANDS: Map<string, Subcommand> = new Map(
  [call, serve, router, node, stats, bench].map((s) => [s.name, s]),
);

function usage(): string {
  const width = Math.max(...[...SUBCOMMANDS.keys()].map((n) => n.length));
  const lines = [...SUBCOMMANDS.values()].map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`);
  return `weft <command> [arguments] [options]

${lines.join("\n")}

weft <command> --help shows a command's arguments and options.`;
}

/** Runs `weft` with `argv`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? 2 : 0;
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
    throw error;
  }
}
