/**
 * A request body as the `weft` command takes it (as grpcurl's `-d` and
 * `nats req` do): the argument itself, `@FILE` (the file's contents), or
 * `-` / `@-` (everything on stdin). JSON text for the json and msgpack
 * codecs; text as it is for raw.
 *
 * @module
 */

import { readStdin } from "./_runtime.ts";
import { UsageError } from "./args.ts";
import type { CodecName } from "./common.ts";

/** The largest body read from a file or stdin: 64 MiB. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * The body `arg` names, decoded for `codec`; undefined for no argument.
 *
 * @throws {UsageError} For a file that cannot be read, or text that is not JSON.
 */
export async function bodyArg(arg: string | undefined, codec: CodecName): Promise<unknown> {
  if (arg === undefined) return undefined;
  let text = arg;
  let from = "[body]";
  if (arg === "-" || arg === "@-") {
    try {
      text = new TextDecoder().decode(await readStdin(MAX_BODY_BYTES));
    } catch (error) {
      throw new UsageError(`[body] from stdin: ${(error as Error).message}`);
    }
    from = "[body] from stdin";
  } else if (arg.startsWith("@")) {
    const path = arg.slice(1);
    try {
      const fs = await import("node:fs/promises");
      const stat = await fs.stat(path);
      if (stat.size > MAX_BODY_BYTES) throw new Error(`over ${MAX_BODY_BYTES} bytes`);
      text = await fs.readFile(path, "utf8");
    } catch (error) {
      throw new UsageError(`[body] @${path}: cannot read it (${(error as Error).message})`);
    }
    from = `[body] @${path}`;
  }
  if (codec === "raw") return text;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${from} is not JSON: ${(error as Error).message}`);
  }
}
