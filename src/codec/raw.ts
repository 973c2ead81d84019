/**
 * The raw codec: bodies are bytes (or a string, sent as UTF-8), passed
 * through untouched.
 *
 * - `marshal` takes a `Uint8Array` or a string and hands it to the cluster
 *   as it is; a request body of `undefined` is an empty payload. Any other
 *   body makes `marshal` throw a `WeftError` with code `marshal failed`.
 * - A handler result of `undefined` means "no response" (silly's `nil`); an
 *   empty `Uint8Array` or `""` answers with an empty payload.
 * - `unmarshal` returns a copy of the payload: the view the cluster lends a
 *   hook is valid only during the hook, and the copy is the caller's to keep.
 *   Copies of payloads up to 1 KiB share 8 KiB slabs (as Node's `Buffer`
 *   pool does): a typed-array allocation costs 200-450 ns on Deno, which
 *   made the copy the largest per-call cost. Such a copy's `.buffer` is the
 *   slab, so read it through `byteOffset`/`byteLength` (or `slice()` it);
 *   `pool: false` gives every copy a buffer of its own.
 *   With `text: true` it returns the payload decoded as UTF-8 instead, and
 *   malformed UTF-8 is an `unmarshal failed`.
 * - Command names map to numbers through an optional command table (see
 *   {@linkcode Commands}); without one, `cmd` must be a number.
 *
 * @example Bytes in, bytes out
 * ```ts
 * import { raw } from "@weft/cluster/raw";
 *
 * const codec = raw();
 * const payload = new Uint8Array([1, 2, 3]);
 * const [cmd, bytes] = codec.marshal("request", 9, payload)!;
 * if (cmd !== 9 || bytes !== payload) throw new Error("unexpected result");
 * const lent = new Uint8Array([4, 5, 6]);
 * const body = codec.unmarshal("response", 9, lent) as Uint8Array;
 * lent.fill(0); // the cluster reuses its buffer after the hook
 * if (body.join() !== "4,5,6") throw new Error("unexpected result");
 * ```
 *
 * @module
 */

import { strictUtf8Decoder } from "../_platform.ts";
import { makeHooks } from "./_hooks.ts";
import { type Commands, type CommandTable, type TableCodec, toCommands } from "./commands.ts";

/** Options of {@linkcode raw}. */
export interface RawOptions<T extends CommandTable = CommandTable> {
  /**
   * The command table that maps names to numbers. Without one, every `cmd`
   * must already be a number.
   */
  commands?: T | Commands<T>;
  /**
   * Whether `unmarshal` decodes payloads as UTF-8 text (a string) instead of
   * returning a copy of the bytes.
   *
   * @default {false}
   */
  text?: boolean;
  /**
   * Whether copies of payloads up to 1 KiB share 8 KiB slabs (a kept copy
   * then keeps its slab alive) instead of each getting its own buffer.
   *
   * @default {true}
   */
  pool?: boolean;
}

const EMPTY = new Uint8Array(0);
/** Payloads up to this size are copied into a shared slab. */
const POOL_MAX = 1024;
/** Size of one slab of pooled copies. */
const SLAB_SIZE = 8 * 1024;

/**
 * A copier that places small copies back to back in shared slabs (8-byte
 * aligned) and gives larger ones their own buffer. A slab is dropped, never
 * reused, once full: the copies in it belong to their holders.
 */
function pooledCopy(): (bytes: Uint8Array) => Uint8Array {
  let slab = EMPTY;
  let used = 0;
  return (bytes) => {
    const n = bytes.length;
    if (n > POOL_MAX) return bytes.slice();
    // A slab whose buffer a holder transferred away reads as length 0.
    if (used + n > slab.length || slab.length === 0) {
      slab = new Uint8Array(SLAB_SIZE);
      used = 0;
    }
    const copy = slab.subarray(used, used + n);
    copy.set(bytes);
    used = (used + n + 7) & ~7;
    return copy;
  };
}

/**
 * Creates a raw-bytes codec. Spread it into the cluster's options in place
 * of `marshal`/`unmarshal`, pass it as the `codec` option, or use its two
 * hooks on their own: they are silly-style hooks.
 *
 * @typeParam T The declared command table.
 * @param options The command table, whether payloads decode as text, and
 * whether small copies share slabs.
 * @returns The hook pair (and its `commands`, when given a table).
 * @throws {TypeError} If the command table is malformed (see {@linkcode Commands}).
 *
 * @example Text payloads and a command table
 * ```ts
 * import { raw } from "@weft/cluster/raw";
 *
 * const codec = raw({ commands: { echo: 1 }, text: true });
 * const [cmd, bytes] = codec.marshal("request", "echo", "hello")!;
 * if (cmd !== 1 || bytes !== "hello") throw new Error("unexpected result");
 * const body = codec.unmarshal("request", 1, new TextEncoder().encode("hello"));
 * if (body !== "hello") throw new Error("unexpected result");
 * ```
 */
export function raw<T extends CommandTable = CommandTable>(
  options: RawOptions<T> = {},
): TableCodec<T> {
  const text = options.text ?? false;
  if (typeof text !== "boolean") {
    throw new TypeError(`Invalid option text: expected a boolean, got ${typeof text}`);
  }
  const pool = options.pool ?? true;
  if (typeof pool !== "boolean") {
    throw new TypeError(`Invalid option pool: expected a boolean, got ${typeof pool}`);
  }
  const copy = pool ? pooledCopy() : (bytes: Uint8Array) => bytes.slice();
  const commands = options.commands === undefined ? undefined : toCommands(options.commands);
  return makeHooks({
    name: "raw bytes",
    encode(body) {
      if (body instanceof Uint8Array || typeof body === "string") return body;
      if (body === undefined) return EMPTY;
      throw new TypeError(
        `the body must be a Uint8Array or a string, got ${body === null ? "null" : typeof body}`,
      );
    },
    decode(bytes) {
      return text ? strictUtf8Decoder.decode(bytes) : copy(bytes);
    },
  }, commands);
}
