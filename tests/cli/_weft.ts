/**
 * Running the `weft` command as a user does, in the CLI tests: one-shot
 * subcommands with their output, environment and stdin
 * ({@linkcode weft}), and long-running ones (serve, node, router,
 * registry, dashboard) that print `listening ...` ({@linkcode start}).
 */

import assert from "node:assert/strict";
import {
  type ChildResult,
  type RuntimeName,
  runtimePath,
  scriptArgs,
  type ScriptChild,
  spawnScript,
} from "../_runtimes.ts";

/** The command's entry point. */
export const WEFT = new URL("../../src/cli/weft.ts", import.meta.url).pathname;

/** The three runtimes. */
export const RUNTIMES: RuntimeName[] = ["deno", "bun", "node"];

/** Options of {@linkcode weft}. */
export interface WeftOptions {
  runtime?: RuntimeName;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Text on stdin. */
  stdin?: string;
  /** Killed after this long (a hang guard: a loaded machine starts a runtime slowly). @default {120000} */
  limit?: number;
}

/** Runs `weft ARGS` to its end; its exit code and output. */
export async function weft(args: string[], options: WeftOptions = {}): Promise<ChildResult> {
  const runtime = options.runtime ?? "deno";
  const bin = await runtimePath(runtime);
  const child = new Deno.Command(bin, {
    args: scriptArgs(runtime, WEFT, args),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(options.env === undefined ? {} : { env: options.env }),
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, options.limit ?? 120_000);
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** A running `weft` server process and the address it printed. */
export interface Started {
  child: ScriptChild;
  address: string;
}

/** Starts `weft ARGS` under `runtime` and waits for `pattern` (default: `listening HOST:PORT`). */
export async function start(
  runtime: RuntimeName,
  args: string[],
  pattern: RegExp = /^listening (127\.0\.0\.1:\d+)$/m,
): Promise<Started> {
  const child = await spawnScript(runtime, WEFT, args);
  try {
    const match = await child.waitFor(pattern, 30_000);
    return { child, address: match[1]! };
  } catch (error) {
    const stderr = await child.stop();
    throw new Error(`weft ${args.join(" ")} on ${runtime} did not start: ${stderr}`, {
      cause: error,
    });
  }
}

/** Asserts exit code `code` with `pattern` on stdout (0) or stderr (else), and no stack trace. */
export function expectExit(result: ChildResult, code: number, pattern: RegExp, what: string): void {
  assert.equal(
    result.code,
    code,
    `${what}: exit ${result.code}\n${result.stdout}\n${result.stderr}`,
  );
  assert.match(code === 0 ? result.stdout : result.stderr, pattern, what);
  assert.doesNotMatch(result.stderr, /^\s+at /m, `${what}: a stack trace`);
}
