/**
 * The JSON codec: bodies travel as UTF-8 JSON.
 *
 * - A request body of `undefined` travels as an empty payload and decodes
 *   back to `undefined` (a `send` with no body).
 * - A handler result of `undefined` means "no response" (silly's `nil`);
 *   return `null` to answer with nothing in particular.
 * - A body JSON cannot encode (a function or symbol as the whole body, a
 *   cycle, a bigint) makes `marshal` throw a `WeftError` with code
 *   `marshal failed`, so the call is rejected and nothing is written.
 *   Inside objects JSON's own rules apply: functions and `undefined` members
 *   are left out, `Date` becomes its ISO string, `Map` and `Set` become `{}`
 *   (pass a `replacer` and a `reviver` to carry them).
 * - Malformed UTF-8 or JSON makes `unmarshal` throw a `WeftError` with code
 *   `unmarshal failed`, and so does a body with more values than
 *   `maxElements` or nesting deeper than `maxDepth` (checked before it is
 *   parsed).
 * - Command names map to numbers through an optional command table (see
 *   {@linkcode Commands}); without one, `cmd` must be a number.
 *
 * @example Round trip through the hooks, as the cluster calls them
 * ```ts
 * import { json } from "@weft/cluster/json";
 *
 * const codec = json({ commands: { ping: { id: 1, response: "pong" }, pong: 2 } });
 * // The caller's side: call(peer, "ping", { msg: "hi" })
 * const [cmd, bytes] = codec.marshal("request", "ping", { msg: "hi" })!;
 * if (cmd !== 1 || bytes !== '{"msg":"hi"}') throw new Error("unexpected result");
 * // The handler's side: the number from the wire, the bytes as UTF-8
 * const body = codec.unmarshal("request", 1, new TextEncoder().encode(bytes as string));
 * if ((body as { msg: string }).msg !== "hi") throw new Error("unexpected result");
 * // The handler answers; the response is marshalled under pong's number
 * const answer = codec.marshal("response", 1, { msg: "hello" })!;
 * if (answer[0] !== 2) throw new Error("unexpected result");
 * // A handler result of undefined: no response
 * if (codec.marshal("response", 1, undefined) !== undefined) throw new Error("unexpected result");
 * ```
 *
 * @module
 */

import { strictUtf8Decoder } from "../_platform.ts";
import { makeHooks } from "./_hooks.ts";
import { checkBodyLimits, scanJson, withinByLength } from "./_limits.ts";
import { type Commands, type CommandTable, type TableCodec, toCommands } from "./commands.ts";

/** Options of {@linkcode json}. */
export interface JsonOptions<T extends CommandTable = CommandTable> {
  /**
   * The command table that maps names to numbers. Without one, every `cmd`
   * must already be a number.
   */
  commands?: T | Commands<T>;
  /** Passed to `JSON.stringify` for every body (see `JSON.stringify`). */
  replacer?: (this: unknown, key: string, value: unknown) => unknown;
  /** Passed to `JSON.parse` for every body (see `JSON.parse`). */
  reviver?: (this: unknown, key: string, value: unknown) => unknown;
  /**
   * Largest number of values in a received body (arrays and objects
   * included, object keys not). Checked by a scan of the bytes before
   * `JSON.parse`, so a peer's `[{},{},...]` cannot grow the heap tens of
   * times the body: over it, `unmarshal` fails with `unmarshal failed`.
   *
   * @default {1000000}
   */
  maxElements?: number;
  /**
   * Deepest nesting of arrays and objects in a received body; deeper is an
   * `unmarshal failed`, before `JSON.parse`.
   *
   * @default {100}
   */
  maxDepth?: number;
}

/**
 * Creates a JSON codec. Spread it into the cluster's options in place of
 * `marshal`/`unmarshal`, pass it as the `codec` option, or use its two hooks
 * on their own: they are silly-style hooks.
 *
 * @typeParam T The declared command table.
 * @param options The command table, and JSON's `replacer`/`reviver`.
 * @returns The hook pair (and its `commands`, when given a table).
 * @throws {TypeError} If the command table is malformed (see {@linkcode Commands}).
 * @throws {RangeError} If `maxElements` or `maxDepth` is not a positive integer.
 *
 * @example A body JSON cannot encode
 * ```ts
 * import { json } from "@weft/cluster/json";
 * import { isWeftError } from "@weft/cluster";
 *
 * const codec = json();
 * const cyclic: Record<string, unknown> = {};
 * cyclic.self = cyclic;
 * let code = "";
 * try {
 *   codec.marshal("request", 7, cyclic);
 * } catch (error) {
 *   if (isWeftError(error)) code = error.code;
 * }
 * if (code !== "marshal failed") throw new Error("unexpected result");
 * ```
 */
export function json<T extends CommandTable = CommandTable>(
  options: JsonOptions<T> = {},
): TableCodec<T> {
  const { replacer, reviver } = options;
  const limits = checkBodyLimits(options);
  const commands = options.commands === undefined ? undefined : toCommands(options.commands);
  return makeHooks({
    name: "JSON",
    encode(body) {
      if (body === undefined) return "";
      const text: string | undefined = JSON.stringify(body, replacer);
      if (text === undefined) throw new TypeError(`a ${typeof body} has no JSON form`);
      return text;
    },
    decode(bytes) {
      if (bytes.length === 0) return undefined;
      if (!withinByLength(bytes.length, limits)) scanJson(bytes, limits);
      return JSON.parse(strictUtf8Decoder.decode(bytes), reviver);
    },
  }, commands);
}
