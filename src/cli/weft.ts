#!/usr/bin/env node
/**
 * The `weft` command: poke a running node from a shell.
 *
 * ```sh
 * weft serve --listen 127.0.0.1:7000            # an echo node
 * weft call 127.0.0.1:7000 1 '{"msg":"hi"}'     # one call, the answer printed
 * weft bench 127.0.0.1:7000 --depth 64          # calls/s and latency percentiles
 * ```
 *
 * It is the npm package's `bin` (`npx @weft/cluster call ...`,
 * `bunx @weft/cluster serve`), and runs from the repository with
 * `deno run -A src/cli/weft.ts ...`. Every subcommand has `--help`; bad
 * arguments exit 2 with a message naming the argument.
 *
 * @module
 */

import { main } from "./main.ts";
import { args, setExitCode } from "./_runtime.ts";

setExitCode(await main(args()));
