/**
 * Finds the Bun and Node binaries the cross-runtime tests start: a matching
 * one on PATH, else the pinned version fetched with `npx -y` (npm caches it,
 * so only the first run downloads). Deno is the runtime running the tests.
 */

/** Pinned runtime versions; the README and .ci/run name the same ones. */
export const PINNED = { deno: "2.9.6", bun: "1.4.5", node: "24.21.0" } as const;

/** A runtime the tests can start. */
export type RuntimeName = "deno" | "bun" | "node";

const found = new Map<RuntimeName, Promise<string>>();

/**
 * The path of a runtime binary matching the pinned major.minor (Node: major).
 *
 * @throws {Error} If neither PATH nor `npx -y` yields one, with their output.
 */
export function runtimePath(name: RuntimeName): Promise<string> {
  if (name === "deno") return Promise.resolve(Deno.execPath());
  let path = found.get(name);
  if (path === undefined) {
    path = locate(name);
    found.set(name, path);
  }
  return path;
}

function wanted(name: "bun" | "node", version: string): boolean {
  const v = version.trim().replace(/^v/, "").split(".");
  const pin = PINNED[name].split(".");
  return name === "node" ? v[0] === pin[0] : v[0] === pin[0] && v[1] === pin[1];
}

async function run(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; out: string; err: string }> {
  try {
    const result = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" })
      .output();
    const dec = new TextDecoder();
    return { ok: result.success, out: dec.decode(result.stdout), err: dec.decode(result.stderr) };
  } catch (error) {
    return { ok: false, out: "", err: String(error) };
  }
}

async function locate(name: "bun" | "node"): Promise<string> {
  const onPath = await run(name, ["--version"]);
  if (onPath.ok && wanted(name, onPath.out)) {
    const exec = await run(name, ["-e", "console.log(process.execPath)"]);
    if (exec.ok) return exec.out.trim();
  }
  const fetched = await run("npx", [
    "-y",
    `${name}@${PINNED[name]}`,
    "-e",
    "console.log(process.execPath)",
  ]);
  const path = fetched.out.trim().split("\n").pop() ?? "";
  if (!fetched.ok || path === "") {
    throw new Error(
      `Cannot find ${name} ${PINNED[name]}: npx said:\n${fetched.out}\n${fetched.err}`,
    );
  }
  return path;
}

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
  const argv = name === "deno" ? ["run", "-A", script, ...args] : [script, ...args];
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
