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
 * A config that does not parse or validate is rejected whole with a
 * `bad config` error naming the line (or key) and the reason.
 *
 * @example Parse skynet's form
 * ```ts
 * import { parseConfig } from "@weft/cluster/nodes";
 *
 * const table = parseConfig('db = "127.0.0.1:2528"\ncache = false -- down\n__nowaiting = true\n');
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
import { MAX_NAME_BYTES } from "../cluster/names.ts";
import { parseAddress } from "../transport/address.ts";

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
 * Parses config text: JSON (text starting with `{`) or skynet's Lua form
 * (`name = "host:port"`, `name = false`, `__nowaiting = true`, `--`
 * comments and `--[[ ]]` block comments, an optional `;` or `,` after each
 * assignment, one assignment per line).
 *
 * @param text The config text.
 * @returns The validated table.
 * @throws {WeftError} `bad config` naming the line and the reason.
 */
export function parseConfig(text: string): NodeTable {
  if (typeof text !== "string") throw new TypeError("Invalid config text: expected a string");
  if (text.trimStart().startsWith("{")) return parseJson(text);
  return parseLua(text);
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

const ASSIGNMENT =
  /^(?:([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)')\s*\])\s*=\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)'|(true|false))\s*[;,]?$/;

function parseLua(text: string): NodeTable {
  const config: Record<string, string | boolean> = {};
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  let inBlock = false;
  for (let i = 0; i < lines.length; i++) {
    const where = `line ${i + 1}`;
    let line = lines[i]!;
    if (inBlock) {
      const end = line.indexOf("]]");
      if (end === -1) continue;
      line = line.slice(end + 2);
      inBlock = false;
    }
    line = stripComment(line, () => inBlock = true).trim();
    if (line.length === 0) continue;
    const match = ASSIGNMENT.exec(line);
    if (match === null) {
      throw badConfig(
        where,
        `expected name = "host:port", name = false or __nowaiting = true, got: ${
          line.slice(0, 60)
        }`,
      );
    }
    const name = match[1] ?? match[2] ?? match[3]!;
    const value = match[4] ?? match[5] ?? match[6] === "true";
    if (seen.has(name)) {
      throw badConfig(where, `"${name}" is already set on line ${seen.get(name)}`);
    }
    seen.set(name, i + 1);
    if (value === true && !name.startsWith("__")) {
      throw badConfig(where, `"${name}" = true: a node is "host:port" or false`);
    }
    try {
      configFromObject({ [name]: value });
    } catch (error) {
      // Re-word with the line rather than the key.
      const reason = (error as Error).message.replace(/^Cannot load config: key "[^"]*": /, "");
      throw badConfig(where, reason);
    }
    config[name] = value;
  }
  if (inBlock) throw badConfig(`line ${lines.length}`, "a --[[ comment is never closed");
  return configFromObject(config);
}

/** Cuts a `--` comment off a line (not inside a string); notes a `--[[` that opens a block. */
function stripComment(line: string, openBlock: () => void): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== "") {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "-" && line[i + 1] === "-") {
      if (line.startsWith("[[", i + 2)) {
        const end = line.indexOf("]]", i + 4);
        if (end === -1) {
          openBlock();
          return line.slice(0, i);
        }
        return line.slice(0, i) + " " + stripComment(line.slice(end + 2), openBlock);
      }
      return line.slice(0, i);
    }
  }
  return line;
}

/**
 * Reads a config file (JSON or skynet's Lua form) with the runtime's
 * `node:fs` (Deno, Bun and Node all have it).
 *
 * @param path The file's path.
 * @returns The validated table.
 * @throws {WeftError} `bad config` if the file cannot be read or parsed (naming the file).
 */
export async function readConfig(path: string): Promise<NodeTable> {
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
    return parseConfig(text);
  } catch (error) {
    if (error instanceof WeftError) {
      throw new WeftError("bad config", error.message.replace("config:", `config ${path}:`));
    }
    throw error;
  }
}
