/**
 * Names that travel with weft requests: a service name and a command name,
 * each sent once per connection and referred to by a small number after
 * that (see docs/PROTOCOL_EXTENSIONS.md, "Names").
 *
 * A request whose head has the {@linkcode RequestFlag}`.Named` bit carries,
 * right after its 5-byte head, two refs (service, then command). A ref is a
 * u16 LE:
 *
 * - `0x7FFF`: no name;
 * - `id` (0 to {@linkcode NAME_TABLE_SIZE} - 1): the name defined earlier
 *   on this connection under `id`;
 * - `0x8000 | id`: defines `id`, followed by `u8 length` and the UTF-8 name;
 * - `0xFFFF`: an inline name, not stored, followed by `u8 length` and the name.
 *
 * Each direction of a connection has its own table; a new connection starts
 * empty. A peer can make a node store at most {@linkcode NAME_TABLE_SIZE}
 * names of at most {@linkcode MAX_NAME_BYTES} bytes per connection.
 *
 * @module
 */

import { strictUtf8Decoder, utf8Encoder } from "../../_platform.ts";
import { WeftError } from "../../errors.ts";
import { HelloField, REQUEST_HEAD_SIZE, RequestFlag } from "./protocol.ts";

/** Names a connection's table holds, per direction: ids 0 to 1023. */
export const NAME_TABLE_SIZE = 1024;

/** The longest service or command name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;

const NO_NAME = 0x7fff;
const DEFINE = 0x8000;
const INLINE = 0xffff;

/**
 * Validates a service or command name: a non-empty string of at most
 * {@linkcode MAX_NAME_BYTES} UTF-8 bytes.
 *
 * @returns The UTF-8 bytes.
 * @throws {TypeError} If `name` is not a non-empty string.
 * @throws {WeftError} `name too long` if it is over {@linkcode MAX_NAME_BYTES} bytes.
 */
export function nameBytes(name: unknown, what = "name"): Uint8Array {
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError(`Invalid ${what}: expected a non-empty string, got ${String(name)}`);
  }
  const bytes = utf8Encoder.encode(name);
  if (bytes.length > MAX_NAME_BYTES) {
    throw new WeftError(
      "name too long",
      `Invalid ${what} "${
        name.slice(0, 32)
      }...": ${bytes.length} bytes, the limit is ${MAX_NAME_BYTES}`,
    );
  }
  return bytes;
}

/** The sending side of one connection's name table. */
export class NameWriter {
  readonly #ids = new Map<string, number>();

  /**
   * Builds the head of a named request: `head` (5 bytes, whose flags get
   * the `Named` bit) followed by the service and command refs. `inline`
   * sends names without defining them (for a message sent in parts, which
   * may arrive after later frames that would refer to the definition).
   *
   * @throws {TypeError} For a name that is not a non-empty string.
   * @throws {WeftError} `name too long`.
   */
  head(
    head: Uint8Array,
    service: string | undefined,
    command: string | undefined,
    inline: boolean,
  ): Uint8Array {
    const s = this.#ref(service, inline, "service name");
    const c = this.#ref(command, inline, "command name");
    const out = new Uint8Array(REQUEST_HEAD_SIZE + s.length + c.length);
    out.set(head.subarray(0, REQUEST_HEAD_SIZE));
    out[0] = out[0]! | RequestFlag.Named;
    out.set(s, REQUEST_HEAD_SIZE);
    out.set(c, REQUEST_HEAD_SIZE + s.length);
    return out;
  }

  #ref(name: string | undefined, inline: boolean, what: string): Uint8Array {
    if (name === undefined) return Uint8Array.of(NO_NAME & 0xff, NO_NAME >>> 8);
    const id = this.#ids.get(name);
    if (id !== undefined) return Uint8Array.of(id & 0xff, id >>> 8);
    const bytes = nameBytes(name, what);
    let ref = INLINE;
    if (!inline && this.#ids.size < NAME_TABLE_SIZE) {
      const next = this.#ids.size;
      this.#ids.set(name, next);
      ref = DEFINE | next;
    }
    const out = new Uint8Array(3 + bytes.length);
    out[0] = ref & 0xff;
    out[1] = ref >>> 8;
    out[2] = bytes.length;
    out.set(bytes, 3);
    return out;
  }
}

/** The receiving side of one connection's name table. */
export class NameReader {
  readonly #names: (string | undefined)[] = [];
  /** The service name of the last request read. */
  service: string | undefined = undefined;
  /** The command name of the last request read. */
  command: string | undefined = undefined;

  /**
   * Reads the two refs at `payload[REQUEST_HEAD_SIZE]` into `service` and
   * `command`, storing definitions.
   *
   * @returns The offset of the first byte after the refs.
   * @throws {WeftError} `protocol` for an unknown id, an id out of range,
   *   a cut-short or empty name, or a name that is not UTF-8.
   */
  read(payload: Uint8Array): number {
    let at = REQUEST_HEAD_SIZE;
    [this.service, at] = this.#ref(payload, at);
    [this.command, at] = this.#ref(payload, at);
    return at;
  }

  #ref(payload: Uint8Array, at: number): [string | undefined, number] {
    if (at + 2 > payload.length) throw bad("a name ref is cut short");
    const ref = payload[at]! | (payload[at + 1]! << 8);
    at += 2;
    if (ref === NO_NAME) return [undefined, at];
    if ((ref & DEFINE) === 0) {
      const name = ref < NAME_TABLE_SIZE ? this.#names[ref] : undefined;
      if (name === undefined) throw bad(`name id ${ref} was never defined on this connection`);
      return [name, at];
    }
    const id = ref & ~DEFINE;
    if (ref !== INLINE && id >= NAME_TABLE_SIZE) {
      throw bad(`name id ${id} is out of range (0 to ${NAME_TABLE_SIZE - 1})`);
    }
    const length = payload[at];
    if (length === undefined || length === 0 || at + 1 + length > payload.length) {
      throw bad("a name is empty or cut short");
    }
    let name: string;
    try {
      name = strictUtf8Decoder.decode(payload.subarray(at + 1, at + 1 + length));
    } catch {
      throw bad("a name is not UTF-8");
    }
    if (ref !== INLINE) this.#names[id] = name;
    return [name, at + 1 + length];
  }
}

/**
 * The HELLO fields of a node: its name, if it has one.
 *
 * @throws {TypeError} If `nodeName` is given and is not a non-empty string.
 * @throws {RangeError} If it is over {@linkcode MAX_NAME_BYTES} bytes.
 */
export function nodeHelloFields(nodeName: unknown): Map<number, Uint8Array> | undefined {
  if (nodeName === undefined) return undefined;
  if (typeof nodeName !== "string" || nodeName.length === 0) {
    throw new TypeError(`Invalid option nodeName: expected a non-empty string`);
  }
  const bytes = utf8Encoder.encode(nodeName);
  if (bytes.length > MAX_NAME_BYTES) {
    throw new RangeError(
      `Invalid option nodeName: ${bytes.length} bytes, the limit is ${MAX_NAME_BYTES}`,
    );
  }
  return new Map([[HelloField.NodeName, bytes]]);
}

function bad(detail: string): WeftError {
  return new WeftError("protocol", `Malformed request names: ${detail}`);
}
