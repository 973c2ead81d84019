/**
 * Command tables: call by name, put the number on the wire.
 *
 * silly's cluster carries a 32-bit `cmd` number in every request, and its
 * examples map names to numbers in the marshal hook (zproto's `ping 0x01`,
 * answered by `pong 0x02`). A {@linkcode Commands} table does that mapping
 * for every ready codec: declare each command's number once, and for the
 * commands that are answered by another one, the name (or number) of the
 * answer.
 *
 * ```ts ignore
 * const commands = new Commands({
 *   ping: { id: 1, response: "pong" },  // answered by pong
 *   pong: 2,
 *   add: { id: 3, response: 4 },        // answered by number 4
 *   notify: 0x10,                       // answered by itself, if at all
 * });
 * ```
 *
 * Rules:
 *
 * - A name not in the table is a caller bug: a `TypeError`, thrown by the
 *   codec's `marshal` where the call is made.
 * - A number in the table may be used in place of its name. A number not in
 *   the table is a `TypeError` too, unless the table is `open`.
 * - A received request whose number is not in the table fails to decode
 *   (`unmarshal failed`), unless the table is `open`.
 * - A command without `response` is answered under its own number (as
 *   silly's examples do when they return `cmd` unchanged). Responses carry no
 *   number on the wire, so the response number only matters to a hook that
 *   picks a schema by it, and to the typed command layer.
 * - Numbers are unsigned 32-bit integers (the wire field is a u32).
 *
 * @example Names and numbers
 * ```ts
 * import { Commands } from "@weft/cluster/commands";
 *
 * const commands = new Commands({ ping: { id: 1, response: "pong" }, pong: 2, notify: 0x10 });
 * if (commands.idOf("ping") !== 1) throw new Error("unexpected result");
 * if (commands.nameOf(2) !== "pong") throw new Error("unexpected result");
 * if (commands.responseIdOf("ping") !== 2) throw new Error("unexpected result");
 * if (commands.responseIdOf(0x10) !== 0x10) throw new Error("unexpected result");
 * if (commands.nameOf(99) !== undefined) throw new Error("unexpected result");
 * let threw = false;
 * try {
 *   // @ts-expect-error: not a command of this table
 *   commands.idOf("pnig");
 * } catch (error) {
 *   threw = error instanceof TypeError;
 * }
 * if (!threw) throw new Error("unexpected result");
 * ```
 *
 * @module
 */

import type { Codec } from "./types.ts";

export type { Codec, Marshal, MessageType, Unmarshal } from "./types.ts";

/** The largest command number: the wire field is an unsigned 32-bit integer. */
export const MAX_COMMAND_ID = 0xffffffff;

/**
 * One entry of a {@linkcode CommandTable}: the command's number, or its
 * number and the name or number of the command that answers it.
 */
export type CommandSpec = number | {
  /** The number the wire carries for this command (a u32). */
  readonly id: number;
  /**
   * The command that answers this one: a name of the same table, or a
   * number. Without it, the response carries the request's own number.
   */
  readonly response?: string | number;
};

/**
 * What a user declares: command name -> {@linkcode CommandSpec}.
 *
 * @example
 * ```ts
 * import type { CommandTable } from "@weft/cluster/commands";
 *
 * const table = { ping: { id: 1, response: "pong" }, pong: 2 } satisfies CommandTable;
 * if (table.pong !== 2) throw new Error("unexpected result");
 * ```
 */
export type CommandTable = Readonly<Record<string, CommandSpec>>;

/** The command names of table `T`. */
export type CommandName<T extends CommandTable> = keyof T & string;

/** Options of the {@linkcode Commands} constructor. */
export interface CommandsOptions {
  /**
   * Whether numbers that are not in the table pass through: a caller may
   * send them, and received requests carrying them decode (the handler sees
   * the number). Names must always be in the table.
   *
   * @default {false}
   */
  open?: boolean;
}

interface Entry {
  readonly name: string;
  readonly id: number;
  readonly response: number;
}

function checkId(value: unknown, what: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`Cannot use ${what}: expected a number, got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < 0 || value > MAX_COMMAND_ID) {
    throw new RangeError(
      `Cannot use ${what}: ${value} is not an integer from 0 to ${MAX_COMMAND_ID}`,
    );
  }
  return value;
}

/**
 * Checks that `cmd` is a command number the wire can carry (an integer from
 * 0 to {@linkcode MAX_COMMAND_ID}) and returns it.
 *
 * @param cmd What the caller passed.
 * @param what How the error names it.
 * @returns `cmd`, as a number.
 * @throws {TypeError} If `cmd` is not a number.
 * @throws {RangeError} If `cmd` is not an integer in range.
 *
 * @example
 * ```ts
 * import { checkCommandId } from "@weft/cluster/commands";
 *
 * if (checkCommandId(7) !== 7) throw new Error("unexpected result");
 * ```
 */
export function checkCommandId(cmd: unknown, what = "cmd"): number {
  return checkId(cmd, what);
}

/**
 * A validated command table: names to numbers and back, and which command
 * answers which.
 *
 * @typeParam T The declared table; its keys type the names.
 *
 * @example
 * ```ts
 * import { Commands } from "@weft/cluster/commands";
 *
 * const commands = new Commands({ add: { id: 3, response: "sum" }, sum: 4 });
 * if (commands.toWire("add") !== 3) throw new Error("unexpected result");
 * if (commands.toWire(3) !== 3) throw new Error("unexpected result");
 * if (commands.responseNameOf("add") !== "sum") throw new Error("unexpected result");
 * ```
 */
export class Commands<T extends CommandTable = CommandTable> {
  /** Whether numbers not in the table pass through (see {@linkcode CommandsOptions.open}). */
  readonly open: boolean;
  readonly #byName = new Map<string, Entry>();
  readonly #byId = new Map<number, Entry>();

  /**
   * Validates `table` and builds the lookups.
   *
   * @param table The declared table.
   * @param options Whether the table is open.
   * @throws {TypeError} If an entry is not a number or `{ id, response? }`,
   *   two names share a number, or a `response` names no entry.
   * @throws {RangeError} If a number is not an integer from 0 to
   *   {@linkcode MAX_COMMAND_ID}.
   */
  constructor(table: T, options: CommandsOptions = {}) {
    if (typeof table !== "object" || table === null) {
      throw new TypeError("Cannot create command table: table must be an object");
    }
    this.open = options.open ?? false;
    const pending: { name: string; id: number; response: string | number | undefined }[] = [];
    for (const name of Object.keys(table)) {
      const spec: unknown = table[name];
      let id: unknown;
      let response: unknown;
      if (typeof spec === "object" && spec !== null) {
        id = (spec as { id?: unknown }).id;
        response = (spec as { response?: unknown }).response;
      } else {
        id = spec;
      }
      const checked = checkId(id, `command "${name}"`);
      const clash = pending.find((entry) => entry.id === checked);
      if (clash !== undefined) {
        throw new TypeError(
          `Cannot create command table: "${name}" and "${clash.name}" share the number ${checked}`,
        );
      }
      if (
        response !== undefined && typeof response !== "string" && typeof response !== "number"
      ) {
        throw new TypeError(
          `Cannot create command table: the response of "${name}" must be a name or a number`,
        );
      }
      pending.push({ name, id: checked, response });
    }
    for (const { name, id, response } of pending) {
      let responseId = id;
      if (typeof response === "number") {
        responseId = checkId(response, `the response of command "${name}"`);
      } else if (typeof response === "string") {
        const target = pending.find((entry) => entry.name === response);
        if (target === undefined) {
          throw new TypeError(
            `Cannot create command table: the response of "${name}" names no command: "${response}"`,
          );
        }
        responseId = target.id;
      }
      const entry: Entry = { name, id, response: responseId };
      this.#byName.set(name, entry);
      this.#byId.set(id, entry);
    }
  }

  /**
   * The number of a command name.
   *
   * @param name A name of the table.
   * @returns Its number.
   * @throws {TypeError} If the table has no such name.
   */
  idOf(name: CommandName<T>): number {
    const entry = this.#byName.get(name);
    if (entry === undefined) throw unknownName(name);
    return entry.id;
  }

  /**
   * The name of a command number.
   *
   * @param id A command number.
   * @returns Its name, or `undefined` if the table has no such number.
   */
  nameOf(id: number): CommandName<T> | undefined {
    return this.#byId.get(id)?.name as CommandName<T> | undefined;
  }

  /**
   * Whether `cmd` (a name or a number) is in the table.
   *
   * @param cmd A name or a number.
   * @returns `true` if the table declares it.
   */
  has(cmd: string | number): boolean {
    return typeof cmd === "string" ? this.#byName.has(cmd) : this.#byId.has(cmd);
  }

  /**
   * The number to put on the wire for what a caller passed: a name of the
   * table, a number of the table, or (in an open table) any command number.
   *
   * @param cmd A name or a number.
   * @returns The wire number.
   * @throws {TypeError} If `cmd` is a name the table lacks, a number the
   *   (closed) table lacks, or neither a string nor a number.
   * @throws {RangeError} If `cmd` is a number that is not a u32.
   */
  toWire(cmd: CommandName<T> | number): number {
    if (typeof cmd === "string") {
      const entry = this.#byName.get(cmd);
      if (entry === undefined) throw unknownName(cmd);
      return entry.id;
    }
    const id = checkId(cmd, "cmd");
    if (!this.open && !this.#byId.has(id)) {
      throw new TypeError(`Unknown command: ${id} is not in the command table`);
    }
    return id;
  }

  /**
   * Whether a received request's number is acceptable: in the table, or any
   * u32 when the table is open.
   *
   * @param id The number from the wire.
   * @returns `true` if a request with it may be decoded.
   */
  accepts(id: number): boolean {
    return this.#byId.has(id) || (this.open && Number.isInteger(id) && id >= 0 &&
      id <= MAX_COMMAND_ID);
  }

  /**
   * The number the response to `cmd` carries: its entry's `response`, or
   * its own number. A number not in the table (open tables) answers itself.
   *
   * @param cmd The request's name or number.
   * @returns The response's number.
   * @throws {TypeError} If `cmd` is a name the table lacks.
   */
  responseIdOf(cmd: CommandName<T> | number): number {
    if (typeof cmd === "string") {
      const entry = this.#byName.get(cmd);
      if (entry === undefined) throw unknownName(cmd);
      return entry.response;
    }
    return this.#byId.get(cmd)?.response ?? cmd;
  }

  /**
   * The name of the command that answers `cmd`, if the table names it.
   *
   * @param cmd The request's name or number.
   * @returns The response's name, or `undefined` if its number has none.
   * @throws {TypeError} If `cmd` is a name the table lacks.
   */
  responseNameOf(cmd: CommandName<T> | number): CommandName<T> | undefined {
    return this.nameOf(this.responseIdOf(cmd));
  }

  /**
   * Every name of the table, in declaration order.
   *
   * @returns The names.
   */
  names(): CommandName<T>[] {
    return [...this.#byName.keys()] as CommandName<T>[];
  }
}

function unknownName(name: unknown): TypeError {
  return new TypeError(`Unknown command: "${String(name)}" is not in the command table`);
}

/**
 * Turns what a codec factory was given (a declared table, or a ready
 * {@linkcode Commands}) into a {@linkcode Commands}.
 *
 * @typeParam T The declared table.
 * @param commands A table or a `Commands`.
 * @returns A `Commands` (the same one, if one was given).
 * @throws {TypeError} See the {@linkcode Commands} constructor.
 *
 * @example
 * ```ts
 * import { Commands, toCommands } from "@weft/cluster/commands";
 *
 * const commands = new Commands({ ping: 1 });
 * if (toCommands(commands) !== commands) throw new Error("unexpected result");
 * if (toCommands({ ping: 1 }).idOf("ping") !== 1) throw new Error("unexpected result");
 * ```
 */
export function toCommands<T extends CommandTable>(commands: T | Commands<T>): Commands<T> {
  return commands instanceof Commands ? commands : new Commands(commands);
}

/**
 * A ready codec: the {@linkcode Codec} hook pair, and the command table it
 * maps names with, when it was given one (the typed command layer reads it).
 *
 * @typeParam T The declared command table.
 */
export interface TableCodec<T extends CommandTable = CommandTable> extends Codec {
  /** The codec's command table, if it has one. */
  readonly commands?: Commands<T>;
}
