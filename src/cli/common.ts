/**
 * What the `weft` subcommands share: the codec, protocol, framing,
 * timeout and trust flags turned into {@linkcode ClusterOptions}, the
 * parsing every subcommand starts with ({@linkcode subcommand}, which also
 * applies a saved context), and printing of bodies and errors.
 *
 * @module
 */

import { isWeftError, RemoteError } from "../errors.ts";
import { RESERVED_CMD_MIN } from "../protocol/weft/protocol.ts";
import type { ClusterOptions } from "../cluster/options.ts";
import type { Codec } from "../codec/types.ts";
import { json } from "../codec/json.ts";
import { msgpack } from "../codec/msgpack.ts";
import { raw } from "../codec/raw.ts";
import { choiceArg, type FlagSpec, intArg, parseArgs, type Parsed, UsageError } from "./args.ts";
import type { Subcommand } from "./subcommand.ts";
import { selectContext } from "./contexts.ts";
import {
  SERVE_TRUST_BOOLEANS,
  SERVE_TRUST_FLAGS,
  TRUST_BOOLEANS,
  TRUST_FLAGS,
  type TrustOptions as CliTrustOptions,
  trustOptions,
} from "./trust.ts";

/** The codecs `--codec` names. */
export const CODECS = ["json", "msgpack", "raw"] as const;
/** A `--codec` value. */
export type CodecName = typeof CODECS[number];

/** The value flags every network subcommand takes, with their defaults (trust flags included). */
export const NETWORK_FLAGS: Record<string, string | undefined> = {
  codec: "json",
  protocol: "weft",
  framing: "v2",
  timeout: "5000",
  ...TRUST_FLAGS,
};

/** The boolean flags every network subcommand takes. */
export const NETWORK_BOOLEANS: string[] = [...TRUST_BOOLEANS];

/** The value flags of a subcommand that serves (trust flags for a server included). */
export const SERVE_FLAGS: Record<string, string | undefined> = {
  ...NETWORK_FLAGS,
  ...SERVE_TRUST_FLAGS,
};

/** The boolean flags of a subcommand that serves. */
export const SERVE_BOOLEANS: string[] = [...TRUST_BOOLEANS, ...SERVE_TRUST_BOOLEANS];

/** The help text lines for {@linkcode NETWORK_FLAGS}'s own flags (the trust flags have theirs). */
export const NETWORK_HELP =
  `  --codec json|msgpack|raw   body encoding (default json; raw: bytes, printed as text)
  --protocol weft|silly      weft's protocol mode or silly's exact bytes (default weft)
  --framing v2|v1            silly's frame layout (default v2)
  --timeout MS               call timeout in milliseconds (default 5000)`;

/** The help line of `--context`, which every subcommand takes. */
export const CONTEXT_HELP =
  `  --context NAME             take the flags not given from saved context NAME (weft context)`;

/** The codec, protocol, framing and timeout flags as cluster options. */
export function clusterOptions(parsed: Parsed): ClusterOptions & { codecName: CodecName } {
  const v = parsed.values;
  const codecName = choiceArg("--codec", v.codec ?? "json", CODECS);
  const protocol = choiceArg("--protocol", v.protocol ?? "weft", ["weft", "silly"] as const);
  const framing = choiceArg("--framing", v.framing ?? "v2", ["v2", "v1"] as const);
  const timeout = intArg("--timeout", v.timeout ?? "5000", 1, 2 ** 31 - 1);
  const codec: Codec = codecName === "json"
    ? json()
    : codecName === "msgpack"
    ? msgpack()
    : raw({ text: true });
  return { codec, codecName, protocol, framing, timeout };
}

/**
 * Cluster options from every network flag, trust flags included (`serving`:
 * the subcommand listens; see {@linkcode trustOptions}).
 *
 * @throws {UsageError} Naming the flag.
 */
export async function networkOptions(
  parsed: Parsed,
  serving = false,
): Promise<ClusterOptions & CliTrustOptions & { codecName: CodecName }> {
  const options = clusterOptions(parsed);
  const trust = await trustOptions(parsed, serving);
  if (trust.auth !== undefined && options.protocol !== "weft") {
    throw new UsageError("--auth-keys needs --protocol weft (silly has no handshake)");
  }
  return { ...options, ...trust };
}

/** A `--listen` value (`host:port` or `:port`, for every address) as an address. */
export function listenArg(flag: string, value: string): string {
  if (!/^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/.test(value)) {
    throw new UsageError(`${flag} must look like 127.0.0.1:7000 or :7000, got ${value}`);
  }
  return value.startsWith(":") ? `0.0.0.0${value}` : value;
}

/**
 * The address a subcommand works on: the first positional argument if it
 * looks like `host:port`, else the context's `address`; with the rest of
 * the positional arguments.
 */
export function addressAndRest(
  parsed: Parsed,
  required = true,
): { address: string | undefined; rest: string[] } {
  const [first, ...rest] = parsed.positional;
  if (first !== undefined && /^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(first)) {
    return { address: first, rest };
  }
  const fromContext = parsed.values.address;
  if (fromContext !== undefined) {
    return { address: addressArg(fromContext), rest: parsed.positional };
  }
  if (required) {
    if (first === undefined) throw new UsageError("missing <host:port>");
    return { address: addressArg(first), rest };
  }
  return { address: undefined, rest: parsed.positional };
}

/**
 * A `<cmd>` argument: a command number, decimal or `0x` hex, below weft's
 * reserved range.
 */
export function cmdArg(value: string | undefined): number {
  if (value === undefined) throw new UsageError("missing <cmd>");
  return intArg("<cmd>", value, 0, RESERVED_CMD_MIN - 1);
}

/** A `<host:port>` argument. */
export function addressArg(value: string | undefined): string {
  if (value === undefined) throw new UsageError("missing <host:port>");
  if (!/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(value)) {
    throw new UsageError(`<host:port> must look like 127.0.0.1:7000 or [::1]:7000, got ${value}`);
  }
  return value;
}

/**
 * A body as the user reads it: JSON text (Uint8Array as hex, bigint as
 * digits); the raw codec's text as it is.
 */
export function formatBody(body: unknown, codec: CodecName): string {
  if (body === undefined) return "(no body)";
  if (codec === "raw" && typeof body === "string") return body;
  return JSON.stringify(
    body,
    (_key, value) => {
      if (typeof value === "bigint") return value.toString();
      if (value instanceof Uint8Array) {
        return `<${value.length} bytes ${
          Array.from(value.subarray(0, 32), (b) => b.toString(16).padStart(2, "0")).join("")
        }${value.length > 32 ? "…" : ""}>`;
      }
      if (value instanceof Map) return Object.fromEntries(value);
      if (value instanceof Set) return [...value];
      return value;
    },
    2,
  );
}

/**
 * An error as one line: `code: message` for a WeftError, and for a coded
 * refusal a node answered (`forbidden: ...`); `remote: Name [code]:
 * message` for a handler's error.
 */
export function formatError(error: unknown): string {
  if (error instanceof RemoteError && error.remote.name === "WeftError" && error.remote.code) {
    return `${error.remote.code}: ${error.remote.message}`;
  }
  if (error instanceof RemoteError) {
    return `remote: ${error.remote.name}${
      error.remote.code === undefined ? "" : ` [${error.remote.code}]`
    }: ${error.remote.message}`;
  }
  if (isWeftError(error)) {
    // The transport's code under a connect failure says why (connection refused, tls).
    const cause = isWeftError(error.cause) && !(error.cause instanceof RemoteError)
      ? ` (${error.cause.code})`
      : "";
    return `${error.code}${cause}: ${error.message}`;
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** A subcommand as {@linkcode subcommand} builds it: its flags and its body. */
export interface SubcommandSpec extends FlagSpec {
  /** The word after `weft`. */
  name: string;
  /** One line for `weft --help`. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  /** Whether positional arguments are taken (if not, any is a UsageError). @default {true} */
  positional?: boolean;
  /** Whether `--context` applies (every subcommand but `weft context`). @default {true} */
  context?: boolean;
  /** Runs with the parsed arguments; resolves to the exit code. */
  run(parsed: Parsed): Promise<number>;
}

/**
 * A {@linkcode Subcommand} that parses its arguments against `spec`, prints
 * `spec.help` and exits 0 on `--help`, refuses positional arguments unless
 * `spec.positional`, then runs `spec.run`.
 */
export function subcommand(spec: SubcommandSpec): Subcommand {
  return {
    name: spec.name,
    summary: spec.summary,
    help: spec.help,
    async run(argv) {
      const contextual = spec.context !== false;
      const flags: FlagSpec = contextual
        ? { ...spec, values: { ...spec.values, context: undefined, address: undefined } }
        : spec;
      const parsed = parseArgs(argv, flags);
      if (parsed.booleans.has("help")) return console.log(spec.help), 0;
      if (contextual) await applyContext(parsed, flags);
      if (spec.positional === false && parsed.positional.length > 0) {
        throw new UsageError(`unexpected argument ${parsed.positional[0]}`);
      }
      return await spec.run(parsed);
    },
  };
}

/**
 * Fills in the flags not given on the command line from the selected
 * context (`--context`, `$WEFT_CONTEXT` or the current one): only the
 * flags this subcommand takes, plus `address`.
 */
async function applyContext(parsed: Parsed, spec: FlagSpec): Promise<void> {
  const selected = await selectContext(parsed.values.context);
  if (selected === undefined) return;
  const values = new Set(Object.keys(spec.values ?? {}));
  const booleans = new Set(spec.booleans ?? []);
  for (const [flag, value] of Object.entries(selected.context)) {
    if (parsed.given.has(flag)) continue;
    if (value === true) {
      if (booleans.has(flag)) parsed.booleans.add(flag);
    } else if (values.has(flag)) parsed.values[flag] = value;
  }
}
