/**
 * The `weft` command's subcommand contract and registry. The command line
 * tool dispatches on {@linkcode SUBCOMMANDS}; a layer that brings its own
 * server (a router, a named node) adds an entry there, next to `serve`.
 *
 * @module
 */

/** One `weft <name> ...` subcommand. */
export interface Subcommand {
  /** The word after `weft`. */
  readonly name: string;
  /** One line for `weft --help`. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /**
   * Runs with the arguments after the name; resolves to the exit code.
   * Throws {@linkcode UsageError} (from ./args.ts) for bad arguments.
   */
  run(argv: string[]): Promise<number>;
}
