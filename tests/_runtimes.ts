/**
 * Runs the cross-runtime tests' child processes. Finding the Bun and Node
 * binaries is shared with the demo: see examples/_runtimes.ts.
 */

import {
  type RuntimeName,
  runtimePath,
  scriptArgs,
  type ScriptChild,
  spawnScript as spawnExampleScript,
} from "../examples/_runtimes.ts";
import { waitLimit } from "./_wait.ts";

export {
  NODE_OLDEST,
  PINNED,
  type RuntimeName,
  runtimePath,
  runtimePathAt,
  scriptArgs,
  type ScriptChild,
} from "../examples/_runtimes.ts";

/**
 * examples/_runtimes.ts's `spawnScript` for tests: every wait on the child
 * (`waitFor`, `until`, `exited`) is a hang guard, so its bound is raised to
 * tests/_wait.ts's floor. A child that merely starts slowly (a runtime
 * compiling on a loaded machine) must not fail a test; one that never
 * prints what is awaited still does, after the floor.
 */
export async function spawnScript(
  name: RuntimeName,
  script: string,
  args: string[] = [],
  bin?: string,
): Promise<ScriptChild> {
  const child = await spawnExampleScript(name, script, args, bin);
  return {
    ...child,
    waitFor: (pattern, limitMs) => child.waitFor(pattern, waitLimit(limitMs)),
    until: (check, limitMs, what) => child.until(check, waitLimit(limitMs), what),
    exited: (limitMs) => child.exited(waitLimit(limitMs)),
  };
}

/** What a finished child process printed. */
export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What a finished child did (exit code, stdout, stderr), for an assertion's message. */
export function describeResult(result: ChildResult): string {
  return `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

/**
 * Runs a TypeScript file under a runtime and waits for it, with a time limit
 * after which the child is killed (so no test can hang on a child).
 */
export async function runScript(
  name: RuntimeName,
  script: string,
  args: string[] = [],
  limitMs = 60_000,
): Promise<ChildResult> {
  const bin = await runtimePath(name);
  const argv = scriptArgs(name, script, args);
  const child = new Deno.Command(bin, { args: argv, stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, limitMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}
