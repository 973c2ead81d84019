/**
 * The `weft` command's argument parsing: `--name=value`, `--name value` and
 * boolean `--name`, positional arguments in order, and a {@linkcode UsageError}
 * naming the argument when something is wrong.
 *
 * @module
 */

/** A bad command line: the message names the argument. Exit code 2. */
export class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What a subcommand accepts. */
export interface FlagSpec {
  /** Flags that take a value, with their defaults (`undefined`: none). */
  values?: Record<string, string | undefined>;
  /** Flags that take no value. */
  booleans?: string[];
}

/** A parsed command line. */
export interface Parsed {
  /** Positional arguments, in order. */
  positional: string[];
  /** Every value flag, default filled in. */
  values: Record<string, string | undefined>;
  /** Every boolean flag. */
  booleans: Set<string>;
  /** The flags given on the command line (not filled in from a default or a context). */
  given: Set<string>;
}

/**
 * Parses `argv` against `spec`; `--help` and `-h` become the boolean `help`.
 *
 * @throws {UsageError} On an unknown flag or a value flag without a value.
 */
export function parseArgs(argv: string[], spec: FlagSpec): Parsed {
  const values: Record<string, string | undefined> = { ...spec.values };
  const known = new Set(Object.keys(spec.values ?? {}));
  const booleans = new Set<string>();
  const boolNames = new Set([...(spec.booleans ?? []), "help"]);
  const positional: string[] = [];
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h") {
      booleans.add("help");
      continue;
    }
    if (!arg.startsWith("--") || arg === "--" || arg === "-") {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (boolNames.has(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      booleans.add(name);
      given.add(name);
    } else if (known.has(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      values[name] = value;
      given.add(name);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return { positional, values, booleans, given };
}

/**
 * `value` as an integer in `[min, max]`.
 *
 * @throws {UsageError} Naming `what` otherwise.
 */
export function intArg(what: string, value: string | undefined, min: number, max: number): number {
  const n = value === undefined || value.trim() === "" ? NaN : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${what} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return n;
}

/**
 * `value` if it is one of `choices`.
 *
 * @throws {UsageError} Naming `what` otherwise.
 */
export function choiceArg<T extends string>(
  what: string,
  value: string | undefined,
  choices: readonly T[],
): T {
  if (!choices.includes(value as T)) {
    throw new UsageError(`${what} must be one of ${choices.join(", ")}, got ${value}`);
  }
  return value as T;
}
