/**
 * skynet's cluster config files are Lua programs: this runs one with a
 * real Lua (Lua 5.4, the `wasmoon` WebAssembly build, loaded on first use
 * only) the way skynet's loader does (`service/clusterd.lua` loadconfig):
 * the chunk runs into an empty environment table, then every key of that
 * table is an entry. So `local` variables, `..`, several assignments on a
 * line, long strings and `--[==[ ]==]` comments work, a key set twice
 * keeps its last value, and a string method (`("x"):rep(3)`) works as in
 * skynet; no global (`print`, `string`, `os`) is there.
 *
 * Entries, as skynet checks them: a node is `name = "host:port"` or
 * `name = false`; a key starting with `__` is an option, any value, of
 * which only `__nowaiting` means something (Lua truth: anything but `nil`
 * and `false` is on). Refused, each naming the line: a syntax or run-time
 * error, a key that is not a string, a node whose value is not a string
 * or `false` (skynet's assertion), and, where weft is stricter than
 * skynet, a node name that is empty or over 255 bytes and an address that
 * is not `host:port` (skynet finds those only when it connects).
 *
 * Bounded: the chunk runs with a time limit (`timeout`, checked every
 * 1,000 Lua instructions) and a memory limit (`memory`); over either, the
 * config is refused. A single C function that runs long (a pathological
 * string pattern) is only stopped when it returns.
 *
 * @module
 */

import { WeftError } from "../errors.ts";

/** Options of {@linkcode runLuaConfig}. */
export interface LuaConfigOptions {
  /**
   * Milliseconds the config may run before it is refused.
   *
   * @default {1000}
   */
  timeout?: number;
  /**
   * Bytes the config may allocate (beyond the Lua runtime's own) before it
   * is refused.
   *
   * @default {16777216 (16 MiB)}
   */
  memory?: number;
  /** The file's name, in messages. @default {"config"} */
  name?: string;
}

/** Default time limit of a Lua config, ms. */
export const DEFAULT_LUA_CONFIG_TIMEOUT = 1000;
/** Default memory limit of a Lua config, bytes. */
export const DEFAULT_LUA_CONFIG_MEMORY = 16 * 1024 * 1024;

/** One entry a Lua config left in its environment table. */
export interface LuaConfigEntry {
  /** The key. */
  readonly key: string;
  /** The value: a string, a boolean, or the Lua type name of anything else (`{ other: "table" }`). */
  readonly value: string | boolean | { readonly other: string };
  /** The line of the last assignment to it. */
  readonly line: number;
}

// Runs the config chunk as clusterd.lua's loadconfig does:
//   assert(load(source, "@"..config_name, "t", tmp))()
// with `tmp` kept empty behind a metatable, so that every assignment goes
// through __newindex and its line is known; reads see the values set so
// far, as they would in `tmp`. Returns "ok" and the entries (hex, so any
// bytes survive), or "error" and a message with the line.
const LOADER = `
local source, chunkname = ...
local store, lines = {}, {}
local env = setmetatable({}, {
  __index = store,
  __newindex = function(_, k, v)
    local info = debug.getinfo(2, "l")
    store[k] = v
    lines[k] = info and info.currentline or 0
  end,
})
local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
local f, err = load(source, chunkname, "t", env)
if not f then return "error\\n" .. tostring(err) end
local function where(message)
  if type(message) == "string" and message:find("^" .. chunkname:sub(2):gsub("%p", "%%%0") .. ":%d+:") then
    return message
  end
  for level = 2, 100 do
    local info = debug.getinfo(level, "Sl")
    if info == nil then break end
    if info.source == chunkname and info.currentline > 0 then
      return chunkname:sub(2) .. ":" .. info.currentline .. ": " .. tostring(message)
    end
  end
  return tostring(message)
end
local ok, err = xpcall(f, where)
if not ok then return "error\\n" .. tostring(err) end
local out = { "ok" }
for k, v in pairs(store) do
  local line = lines[k] or 0
  if type(k) ~= "string" then
    return "error\\n" .. chunkname:sub(2) .. ":" .. line .. ": a key of type " .. type(k) ..
      " (" .. tostring(k) .. "): skynet's loader takes string keys only"
  end
  local t = type(v)
  local value
  if t == "string" then value = "s" .. hex(v)
  elseif t == "boolean" then value = v and "t" or "f"
  else value = "o" .. t end
  out[#out + 1] = hex(k) .. " " .. value .. " " .. line
end
return table.concat(out, "\\n")
`;

interface LuaModule {
  LuaFactory: new () => {
    createEngine(options: { traceAllocations: boolean; injectObjects: boolean }): Promise<
      LuaEngine
    >;
  };
}

interface LuaEngine {
  global: {
    getMemoryUsed(): number;
    setMemoryMax(max: number | undefined): void;
    setTimeout(deadline: number | undefined): void;
    loadString(code: string, name?: string): void;
    pushValue(value: unknown): void;
    runSync(argCount?: number): unknown[];
    close(): void;
  };
}

let factory: Promise<InstanceType<LuaModule["LuaFactory"]>> | undefined;

/** The Lua runtime, imported and compiled once, on first use. */
function luaFactory(): Promise<InstanceType<LuaModule["LuaFactory"]>> {
  factory ??= (async () => {
    const mod = await import("wasmoon") as unknown as LuaModule & { default?: LuaModule };
    const LuaFactory = mod.LuaFactory ?? mod.default!.LuaFactory;
    return new LuaFactory();
  })();
  factory.catch(() => factory = undefined);
  return factory;
}

function checkLimit(value: number | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(Number.isInteger(value) && value >= 1)) {
    throw new RangeError(`Invalid option ${option}: expected a positive integer, got ${value}`);
  }
  return value;
}

const fromHex = (hex: string): Uint8Array => {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
};

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function text(hex: string, line: number, what: string): string {
  try {
    return utf8.decode(fromHex(hex));
  } catch {
    throw badConfig(`line ${line}`, `${what} is not valid UTF-8`);
  }
}

function badConfig(where: string, reason: string): WeftError {
  return new WeftError("bad config", `Cannot load config: ${where}: ${reason}`);
}

/**
 * Runs a Lua config and returns what it left in its environment, in line
 * order (a syntax or run-time error, a non-string key, or a limit
 * refuses it).
 *
 * @param source The config text.
 * @param options Limits, the name in messages.
 * @returns The entries.
 * @throws {WeftError} `bad config` naming the line (or the limit).
 * @throws {RangeError} For a bad option.
 */
export async function runLuaConfig(
  source: string,
  options: LuaConfigOptions = {},
): Promise<LuaConfigEntry[]> {
  const timeout = checkLimit(options.timeout, "timeout", DEFAULT_LUA_CONFIG_TIMEOUT);
  const memory = checkLimit(options.memory, "memory", DEFAULT_LUA_CONFIG_MEMORY);
  const name = options.name ?? "config";
  let engine: LuaEngine;
  try {
    engine = await (await luaFactory()).createEngine({
      traceAllocations: true,
      injectObjects: false,
    });
  } catch (error) {
    throw new WeftError(
      "bad config",
      `Cannot load config ${name}: the Lua runtime (npm wasmoon) did not load: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
  let result: string;
  try {
    const g = engine.global;
    g.loadString(LOADER, "=weft-config-loader");
    g.pushValue(source);
    g.pushValue(`@${name}`);
    g.setMemoryMax(g.getMemoryUsed() + memory);
    g.setTimeout(Date.now() + timeout);
    try {
      result = String(g.runSync(2)[0]);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/timeout/i.test(message)) {
        throw badConfig(name, `ran longer than ${timeout} ms (option timeout)`);
      }
      if (/not enough memory/i.test(message)) {
        throw badConfig(name, `allocated more than ${memory} bytes (option memory)`);
      }
      throw badConfig(name, message);
    } finally {
      g.setTimeout(undefined);
      g.setMemoryMax(undefined);
    }
  } finally {
    engine.global.close();
  }
  if (result.startsWith("error\n")) {
    const message = result.slice(6);
    if (/not enough memory/.test(message)) {
      throw badConfig(name, `allocated more than ${memory} bytes (option memory)`);
    }
    if (/thread timeout exceeded/.test(message)) {
      throw badConfig(name, `ran longer than ${timeout} ms (option timeout)`);
    }
    const at = /^(?:.*?):(\d+): ([\s\S]*)$/.exec(message);
    if (at !== null) throw badConfig(`line ${at[1]}`, at[2]!);
    throw badConfig(name, message);
  }
  const entries: LuaConfigEntry[] = [];
  for (const row of result.split("\n").slice(1)) {
    const [keyHex, value, lineText] = row.split(" ");
    const line = Number(lineText);
    const key = text(keyHex!, line, "the key");
    const kind = value![0];
    entries.push({
      key,
      line,
      value: kind === "s"
        ? text(value!.slice(1), line, `the value of "${key}"`)
        : kind === "t"
        ? true
        : kind === "f"
        ? false
        : { other: value!.slice(1) },
    });
  }
  entries.sort((a, b) => a.line - b.line || (a.key < b.key ? -1 : 1));
  return entries;
}

/**
 * A Lua config's entries as a config object, checked as skynet's loader
 * checks them (a node is a string or `false`; `__` keys are options),
 * naming the line of an entry it refuses.
 *
 * @param entries What {@linkcode runLuaConfig} returned.
 * @returns The config object (nodes, and `__nowaiting` when set).
 * @throws {WeftError} `bad config` naming the line.
 */
export function luaEntriesToConfig(
  entries: readonly LuaConfigEntry[],
): Record<string, string | boolean> {
  const config: Record<string, string | boolean> = {};
  for (const { key, value, line } of entries) {
    if (key.startsWith("__")) {
      // skynet: config[name:sub(3)] = value; only nowaiting is read, by truth.
      if (key === "__nowaiting") config.__nowaiting = value !== false;
      continue;
    }
    if (value === false || typeof value === "string") {
      config[key] = value;
      continue;
    }
    const got = value === true ? "true" : `a ${value.other}`;
    throw badConfig(
      `line ${line}`,
      `"${key}" = ${got}: a node is "host:port" or false (skynet's loader refuses it too)`,
    );
  }
  return config;
}
