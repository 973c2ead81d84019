/**
 * What the `weft` subcommands share: the codec, protocol, framing and
 * timeout flags turned into {@linkcode ClusterOptions}, the parsing every
 * subcommand starts with ({@linkcode subcommand}), and printing of bodies and
 * errors.
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

/** The codecs `--codec` names. */
export const CODECS = ["json", "msgpack", "raw"] as const;
/** A `--codec` value. */
export type CodecName = typeof CODECS[number];

/** The value flags every network subcommand takes, with their defaults. */
export const NETWORK_FLAGS: Record<string, string | undefined> = {
  codec: "json",
  protocol: "weft",
  framing: "v2",
  timeout: "5000",
};

/** The help text lines for {@linkcode NETWORK_FLAGS}. */
export const NETWORK_HELP =
  `  --codec json|msgpack|raw   body encoding (default json; raw: bytes, printed as text)
  --protocol weft|silly      weft's protocol mode or silly's exact bytes (default weft)
  --framing v2|v1            silly's frame layout (default v2)
  --timeout MS               call timeout in milliseconds (default 5000)`;

/** The codec, protocol, framing and timeout flags as cluster options. */
export function clusterOptions(parsed: Parsed): ClusterOptions & { codecName: CodecName } {
  const codecName = choiceArg("--codec", parsed.values.codec, CODECS);
  const protocol = choiceArg("--protocol", parsed.values.protocol, ["weft", "silly"] as const);
  const framing = choiceArg("--framing", parsed.values.framing, ["v2", "v1"] as const);
  const timeout = intArg("--timeout", parsed.values.timeout, 1, 2 ** 31 - 1);
  const codec: Codec = codecName === "json"
    ? json()
    : codecName === "msgpack"
    ? msgpack()
    : raw({ text: true });
  return { codec, codecName, protocol, framing, timeout };
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

/** An error as one line: `code: message` for a WeftError. */
export function formatError(error: unknown): string {
  if (error instanceof RemoteError) {
    return `remote: ${error.remote.name}${
      error.remote.code === undefined ? "" : ` [${error.remote.code}]`
    }: ${error.remote.message}`;
  }
  if (isWeftError(error)) {
    const cause = isWeftError(error.cause) ? ` (${error.cause.code})` : "";
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
      const parsed = parseArgs(argv, spec);
      if (parsed.booleans.has("help")) return console.log(spec.help), 0;
      if (spec.positional === false && parsed.positional.length > 0) {
        throw new UsageError(`unexpected argument ${parsed.positional[0]}`);
      }
      return await spec.run(parsed);
    },
  };
}
