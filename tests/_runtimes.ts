/**
 * Runs the cross-runtime tests' child processes. Finding the Bun and Node
 * binaries is shared with the demo: see examples/_runtimes.ts.
 */

import { type RuntimeName, runtimePath, scriptArgs } from "../examples/_runtimes.ts";

export {
  NODE_OLDEST,
  PINNED,
  type RuntimeName,
  runtimePath,
  runtimePathAt,
  scriptArgs,
  type ScriptChild,
  spawnScript,
} from "../examples/_runtimes.ts";

/** What a finished child process printed. */
export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
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
