// Private: the marshal/unmarshal scaffolding every ready codec shares. A codec
// supplies how a body becomes bytes and back; this file maps commands, turns
// an `undefined` response into "no response", and wraps the body codec's
// failures in WeftError("marshal failed" / "unmarshal failed").

import { WeftError } from "../errors.ts";
import { checkCommandId, type Commands, type CommandTable, type TableCodec } from "./commands.ts";
import type { Marshal, MessageType, Unmarshal } from "./types.ts";

/** How one format turns a body into bytes and back. */
export interface BodyFormat {
  /** The format's name, for error messages ("JSON", "MessagePack", ...). */
  readonly name: string;
  /** Encodes a body; throws on a body the format cannot carry. */
  encode(body: unknown): Uint8Array | string;
  /** Decodes bytes valid only during the call; throws on malformed input. */
  decode(bytes: Uint8Array): unknown;
}

function checkType(type: unknown, hook: string): MessageType {
  if (type !== "request" && type !== "response") {
    throw new TypeError(
      `Cannot ${hook}: type must be "request" or "response", got ${String(type)}`,
    );
  }
  return type;
}

function label(cmd: unknown): string {
  return typeof cmd === "string" ? `"${cmd}"` : String(cmd);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Builds the marshal/unmarshal pair of a codec from its body format. */
export function makeHooks<T extends CommandTable>(
  format: BodyFormat,
  commands: Commands<T> | undefined,
): TableCodec<T> {
  const wireCmd = (cmd: unknown): number => {
    if (commands !== undefined) return commands.toWire(cmd as string | number);
    if (typeof cmd === "string") {
      throw new TypeError(
        `Unknown command: "${cmd}" is a name, but the codec has no command table`,
      );
    }
    return checkCommandId(cmd);
  };
  const encode = (type: MessageType, cmd: unknown, body: unknown) => {
    try {
      return format.encode(body);
    } catch (error) {
      throw new WeftError(
        "marshal failed",
        `Cannot marshal ${type} ${label(cmd)} as ${format.name}: ${message(error)}`,
        { cause: error },
      );
    }
  };
  const marshal: Marshal = (type, cmd, body) => {
    if (checkType(type, "marshal") === "request") {
      const id = wireCmd(cmd);
      return [id, encode(type, cmd, body)];
    }
    if (body === undefined) return undefined;
    const id = commands !== undefined
      ? commands.responseIdOf(cmd as string | number)
      : checkCommandId(cmd);
    return [id, encode(type, cmd, body)];
  };
  const unmarshal: Unmarshal = (type, cmd, bytes) => {
    if (
      checkType(type, "unmarshal") === "request" && commands !== undefined &&
      !(typeof cmd === "number" && commands.accepts(cmd))
    ) {
      throw new WeftError(
        "unmarshal failed",
        `Cannot unmarshal request: unknown command ${label(cmd)}`,
      );
    }
    try {
      return format.decode(bytes);
    } catch (error) {
      throw new WeftError(
        "unmarshal failed",
        `Cannot unmarshal ${type} ${label(cmd)} as ${format.name}: ${message(error)}`,
        { cause: error },
      );
    }
  };
  return commands === undefined ? { marshal, unmarshal } : { marshal, unmarshal, commands };
}
