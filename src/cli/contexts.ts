/**
 * Saved contexts, as nats's: a name for an address (a node, a router, a
 * registry) with the flags that reach it (TLS files, key file, codec,
 * route), so an operator types them once: `weft context save prod
 * --address 10.0.0.5:7000 --tls-ca ca.pem --auth-keys ops.keys`, then
 * `weft ls --context prod` (or `weft context use prod`, then `weft ls`).
 *
 * The file: `$WEFT_CONTEXTS`, else `$XDG_CONFIG_HOME/weft/contexts.json`,
 * else `~/.config/weft/contexts.json`; JSON `{ "current": NAME, "contexts":
 * { NAME: { flag: value } } }`, written with mode 0600. It holds the paths
 * of key and certificate files, never their contents; relative paths are
 * saved absolute.
 *
 * @module
 */

import { env } from "./_runtime.ts";
import { UsageError } from "./args.ts";

/** One saved context: flag name -> value (a string, or true for a boolean flag). */
export type Context = Record<string, string | true>;

/** The contexts file. */
export interface ContextFile {
  /** The context used when none is named (`weft context use NAME`). */
  current?: string;
  /** The contexts by name. */
  contexts: Record<string, Context>;
}

/** Flags whose values are file paths (saved absolute). */
export const PATH_FLAGS: readonly string[] = [
  "tls-ca",
  "tls-cert",
  "tls-key",
  "auth-keys",
  "config",
  "allow",
  "commands-file",
];

/** Where the contexts file is. */
export async function contextsPath(): Promise<string> {
  const explicit = env("WEFT_CONTEXTS");
  if (explicit !== undefined && explicit !== "") return explicit;
  const { join } = await import("node:path");
  const base = env("XDG_CONFIG_HOME") ||
    join(env("HOME") ?? env("USERPROFILE") ?? ".", ".config");
  return join(base, "weft", "contexts.json");
}

/** Reads the contexts file (an empty one if there is none). */
export async function readContexts(): Promise<ContextFile> {
  const path = await contextsPath();
  const fs = await import("node:fs/promises");
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return { contexts: {} };
    throw new UsageError(`cannot read the contexts file ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as ContextFile;
    if (parsed === null || typeof parsed !== "object" || typeof parsed.contexts !== "object") {
      throw new Error("no contexts object");
    }
    return parsed;
  } catch (error) {
    throw new UsageError(`the contexts file ${path} is broken: ${(error as Error).message}`);
  }
}

/** Writes the contexts file (mode 0600; its directory made if needed). */
export async function writeContexts(file: ContextFile): Promise<string> {
  const path = await contextsPath();
  const fs = await import("node:fs/promises");
  const { dirname } = await import("node:path");
  await fs.mkdir(dirname(path), { recursive: true });
  await fs.writeFile(path, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
  await fs.chmod(path, 0o600).catch(() => {});
  return path;
}

/**
 * The context to apply: the one `--context` names, else `$WEFT_CONTEXT`,
 * else the file's current one; undefined when none is set.
 *
 * @throws {UsageError} For a named context that does not exist.
 */
export async function selectContext(
  name: string | undefined,
): Promise<{ name: string; context: Context } | undefined> {
  const wanted = name ?? (env("WEFT_CONTEXT") || undefined);
  const file = await readContexts();
  const chosen = wanted ?? file.current;
  if (chosen === undefined) return undefined;
  const context = file.contexts[chosen];
  if (context === undefined) {
    if (wanted === undefined) return undefined; // a stale `current`: ignore it
    throw new UsageError(`--context ${chosen}: no such context (weft context ls)`);
  }
  return { name: chosen, context };
}
