/**
 * Finds the Bun and Node binaries that the demo and the cross-runtime tests
 * start: a matching one on PATH, else the pinned version fetched with
 * `npx -y` (npm caches it, so only the first run downloads). Deno is the
 * runtime running the caller, so its path is `Deno.execPath()`.
 *
 * Deno only (it uses `Deno.Command`); shared by examples/demo.ts and
 * tests/_runtimes.ts.
 */

/** Pinned runtime versions; the README and .ci/run name the same ones. */
export const PINNED = { deno: "2.9.6", bun: "1.4.5", node: "24.21.0" } as const;

/** A runtime that can run weft's `.ts` files unchanged. */
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

/** The arguments that make runtime `name` run `script` with `args`. */
export function scriptArgs(name: RuntimeName, script: string, args: string[] = []): string[] {
  return name === "deno" ? ["run", "-A", script, ...args] : [script, ...args];
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
