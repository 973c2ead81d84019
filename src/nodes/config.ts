/**
 * The cluster config of named nodes: which node listens where, which are
 * down, and whether calls to an absent node wait. Read from a plain object,
 * from JSON text, or from skynet's `clustername.lua` form, so a skynet user
 * can reuse the file they have:
 *
 * ```lua
 * -- clustername.lua
 * db = "127.0.0.1:2528"
 * db2 = "127.0.0.1:2529"
 * db3 = false            -- down
 * __nowaiting = true     -- calls to an absent node fail at once
 * ```
 *
 * The Lua form is a program: {@linkcode loadConfig} runs it with a real Lua
 * (see {@linkcode runLuaConfig}), as skynet's loader does, so `local`
 * variables, `..` and every comment and string form work. A config that
 * does not load or validate is rejected whole with a `bad config` error
 * naming the line (or key) and the reason.
 *
 * @example Load skynet's form
 * ```ts
 * import { loadConfig } from "@weft/cluster/nodes";
 *
 * const table = await loadConfig(
 *   'local host = "127.0.0.1"\ndb = host .. ":2528"\ncache = false -- down\n__nowaiting = true\n',
 * );
 * if (table.nodes.get("db") !== "127.0.0.1:2528" || table.nodes.get("cache") !== false) {
 *   throw new Error("unexpected result");
 * }
 * if (!table.nowaiting) throw new Error("unexpected result");
 * ```
 *
 * @module
 */

import { utf8Encoder } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import { MAX_NAME_BYTES } from "../protocol/weft/names.ts";
import { parseAddress } from "../transport/address.ts";
import { type LuaConfigOptions, luaEntriesToConfig, runLuaConfig } from "./lua_config.ts";

/**
 * A config as a plain object: node name -> `"host:port"`, or `false` for a
 * node that is down; `__nowaiting: true` makes calls to an absent node fail
 * at once. (The same shape as skynet's `clustername.lua` and its JSON form.)
 */
export type NodesConfig = Readonly<Record<string, string | boolean>>;

/** A validated config. */
export interface NodeTable {
  /** Node name -> address, or false for a node that is down. */
  readonly nodes: ReadonlyMap<string, string | false>;
  /** Calls to a node absent from the table fail at once instead of waiting. */
  readonly nowaiting: boolean;
  /**
   * Whether the config set `__nowaiting` (false: `nowaiting` is the
   * default). A merging reload keeps the `nowaiting` in force unless the
   * config set it. Absent, taken as set.
   */
  readonly nowaitingGiven?: boolean;
}

function badConfig(where: string, reason: string): WeftError {
  return new WeftError("bad config", `Cannot load config: ${where}: ${reason}`);
}

function checkName(name: string, where: string): void {
  if (name.length === 0) throw badConfig(where, "empty node name");
  if (utf8Encoder.encode(name).length > MAX_NAME_BYTES) {
    throw badConfig(where, `node name "${name.slice(0, 32)}..." over ${MAX_NAME_BYTES} bytes`);
  }
}

function checkAddress(address: string, where: string): void {
  try {
    parseAddress(address);
  } catch (error) {
    throw badConfig(where, error instanceof Error ? error.message : String(error));
  }
}

/**
 * Validates a config object.
 *
 * @throws {WeftError} `bad config` naming the key and the reason.
 */
export function configFromObject(config: NodesConfig): NodeTable {
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw badConfig("config", 'expected an object of node name -> "host:port" or false');
  }
  const nodes = new Map<string, string | false>();
  let nowaiting = false;
  let nowaitingGiven = false;
  for (const [key, value] of Object.entries(config)) {
    const where = `key "${key}"`;
    if (key.startsWith("__")) {
      if (key !== "__nowaiting") throw badConfig(where, "unknown option (only __nowaiting)");
      if (typeof value !== "boolean") throw badConfig(where, "expected true or false");
      nowaiting = value;
      nowaitingGiven = true;
      continue;
    }
    checkName(key, where);
    if (value === false) nodes.set(key, false);
    else if (typeof value === "string") {
      checkAddress(value, where);
      nodes.set(key, value);
    } else throw badConfig(where, `expected "host:port" or false, got ${JSON.stringify(value)}`);
  }
  return { nodes, nowaiting, nowaitingGiven };
}

/**
 * Parses JSON config text (text starting with `{`), synchronously. skynet's
 * Lua form is a program and needs {@linkcode loadConfig}, which runs it.
 *
 * @param text The config text.
 * @returns The validated table.
 * @throws {WeftError} `bad config` naming the line and the reason.
 * @throws {TypeError} For text that is not JSON (a Lua config: use `loadConfig`).
 */
export function parseConfig(text: string): NodeTable {
  if (typeof text !== "string") throw new TypeError("Invalid config text: expected a string");
  if (isJson(text)) return parseJson(text);
  throw new TypeError(
    "Invalid config text: not JSON; a Lua config (skynet's clustername.lua) is a program: load it with `await loadConfig(text)`, `await readConfig(path)` or `await nodes.reload(text)`",
  );
}

/** Whether config text is JSON (starts with `{`) rather than Lua. */
export function isJson(text: string): boolean {
  return text.trimStart().startsWith("{");
}

/**
 * Loads config text: JSON, or skynet's Lua form run by a real Lua as
 * skynet's loader runs it (see {@linkcode runLuaConfig}: `local`
 * variables, `..`, long strings, any comments; a key set twice keeps its
 * last value; `name = false` is a node that is down; `__nowaiting` by Lua
 * truth). The Lua runtime is loaded on the first Lua config only.
 *
 * @param text The config text.
 * @param options For a Lua config: its time and memory limits, its name in messages.
 * @returns The validated table.
 * @throws {WeftError} `bad config` naming the line and the reason.
 */
export async function loadConfig(text: string, options: LuaConfigOptions = {}): Promise<NodeTable> {
  if (typeof text !== "string") throw new TypeError("Invalid config text: expected a string");
  if (isJson(text)) return parseJson(text);
  const entries = await runLuaConfig(text, options);
  const config = luaEntriesToConfig(entries);
  for (const { key, line } of entries) {
    if (key.startsWith("__")) continue;
    try {
      configFromObject({ [key]: config[key]! });
    } catch (error) {
      // Re-word with the line rather than the key.
      const reason = (error as Error).message.replace(/^Cannot load config: key "[^"]*": /, "");
      throw badConfig(`line ${line}`, reason);
    }
  }
  return configFromObject(config);
}

function parseJson(text: string): NodeTable {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    const line = position === null
      ? "JSON"
      : `line ${text.slice(0, Number(position[1])).split("\n").length}`;
    throw badConfig(line, `not valid JSON (${message})`);
  }
  return configFromObject(value as NodesConfig);
}

/**
 * Reads a config file (JSON, or skynet's Lua form: see
 * {@linkcode loadConfig}) with the runtime's `node:fs` (Deno, Bun and Node
 * all have it).
 *
 * @param path The file's path.
 * @param options For a Lua config: its time and memory limits.
 * @returns The validated table.
 * @throws {WeftError} `bad config` if the file cannot be read or loaded (naming the file).
 */
export async function readConfig(path: string, options: LuaConfigOptions = {}): Promise<NodeTable> {
  let text: string;
  try {
    const fs = await import("node:fs/promises");
    text = await fs.readFile(path, "utf8");
  } catch (error) {
    throw new WeftError(
      "bad config",
      `Cannot load config: ${path}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  try {
    return await loadConfig(text, { name: path, ...options });
  } catch (error) {
    if (error instanceof WeftError && !error.message.startsWith(`Cannot load config: ${path}`)) {
      throw new WeftError("bad config", error.message.replace("config:", `config ${path}:`), {
        cause: error,
      });
    }
    throw error;
  }
}
