/**
 * {@linkcode FaultLog}: how a node logs what its peers do wrong (malformed
 * frames, undecodable requests, protocol errors, failed connections)
 * without letting a hostile peer turn the log into its weapon. Each fault is
 * one line without a stack, at most `limit` lines per kind (the error code)
 * per second; the lines held back are counted, and the count goes out with
 * the next line of that kind.
 *
 * Caller bugs and local hook failures are not peer faults: the cluster logs
 * those with their stacks, unlimited.
 *
 * @module
 */

import { now } from "../_platform.ts";

/** Default lines per kind per second. */
export const DEFAULT_FAULT_LOG_LIMIT = 10;

/** The window the limit counts in, ms. */
export const FAULT_LOG_WINDOW = 1000;

/** At most this many kinds are tracked; any further kind shares one budget. */
const MAX_KINDS = 64;

/** What a fault line carries as its detail: the kind, never a stack. */
export interface PeerFault {
  /** The kind: a `WeftError` code. */
  readonly code: string;
}

/** Where fault lines go: the error method of the cluster's logger. */
export interface FaultSink {
  /** Writes one line. */
  error(message: string, detail?: unknown): void;
}

/**
 * A sink that writes fault lines as warnings: for the layers (routers,
 * named nodes) whose refusals are routine, not the node's errors.
 */
export function warningSink(logger: { warn(message: string, detail?: unknown): void }): FaultSink {
  return { error: (message, detail) => logger.warn(message, detail) };
}

/**
 * A rate-limited log at info level (nothing if the logger has none): for
 * routine events a peer can make happen at will (connections accepted and
 * closed, its cancelled calls' handlers stopping, a router's services
 * registering and leaving), which are worth a line but not one each. Its
 * count of lines held back says "lines", not "faults".
 */
export function noticeLog(
  logger: { info?(message: string, detail?: unknown): void },
  limit: number,
): FaultLog {
  return new FaultLog(
    { error: (message, detail) => logger.info?.(message, detail) },
    limit,
    undefined,
    "lines",
  );
}

interface Window {
  start: number;
  logged: number;
  suppressed: number;
  detail: PeerFault;
}

/** Longest peer-chosen text {@linkcode quoteForLog} keeps, in UTF-16 units. */
export const MAX_QUOTED = 80;

// C0 and C1 controls, DEL, the line and paragraph separators, and the
// bidirectional controls that could make a log line read other than it is.
const UNPRINTABLE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"\\]/g;

/**
 * Quotes text a peer chose (a service or command name, a key) for a log
 * line: in double quotes, with control bytes, line separators, bidi
 * controls, quotes and backslashes escaped (`\n`, `\u001b`, ...), cut to
 * {@linkcode MAX_QUOTED} units with `...` after. No newline or escape
 * sequence of the peer's reaches the log. Internal (no package entry
 * exports it, so no doc example: doc examples import the package by name);
 * tests/cluster/fault_log_test.ts shows it at work.
 */
export function quoteForLog(text: string): string {
  const cut = text.length > MAX_QUOTED ? text.slice(0, MAX_QUOTED) : text;
  const escaped = cut.replace(UNPRINTABLE, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    if (c === '"' || c === "\\") return `\\${c}`;
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
  return `"${escaped}"${cut.length < text.length ? "..." : ""}`;
}

/**
 * Validates the `faultLogLimit` option: an integer of 0 or more, or
 * `Infinity`.
 *
 * @throws {TypeError} If it is not a number.
 * @throws {RangeError} If it is negative or not an integer.
 */
export function checkFaultLogLimit(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`Invalid option faultLogLimit: expected a number, got ${typeof value}`);
  }
  if (!(value === Infinity || (Number.isInteger(value) && value >= 0))) {
    throw new RangeError(
      `Invalid option faultLogLimit: expected an integer of 0 or more, or Infinity, got ${value}`,
    );
  }
  return value;
}

/**
 * Rate-limited, stackless logging of peer faults, per kind: at most
 * `limit` lines per kind per second, the rest counted and said with the
 * next line of that kind. Internal (no package entry exports it, so no doc
 * example: doc examples import the package by name);
 * tests/cluster/fault_log_test.ts shows it at work.
 */
export class FaultLog {
  readonly #sink: FaultSink;
  readonly #limit: number;
  readonly #clock: () => number;
  readonly #noun: string;
  readonly #windows = new Map<string, Window>();

  /**
   * @param sink Where lines go (the cluster's logger).
   * @param limit Lines per kind per {@linkcode FAULT_LOG_WINDOW} ms.
   * @param clock Milliseconds, monotonic (tests pass their own).
   * @param noun What the count of lines held back counts ("3 more protocol
   *   faults not logged"; "lines" for a log of routine events).
   */
  constructor(
    sink: FaultSink,
    limit: number = DEFAULT_FAULT_LOG_LIMIT,
    clock: () => number = now,
    noun = "faults",
  ) {
    this.#sink = sink;
    this.#limit = limit;
    this.#clock = clock;
    this.#noun = noun;
  }

  /** Faults held back so far and not yet reported, over every kind. */
  get suppressed(): number {
    let n = 0;
    for (const window of this.#windows.values()) n += window.suppressed;
    return n;
  }

  /**
   * Logs one fault of `kind` (a `WeftError` code), unless this kind already
   * used its lines in the current window; then counts it.
   *
   * @param kind The fault's kind.
   * @param message One line, without a stack, or a function that makes it
   *   (called only if the line is written: a suppressed fault costs no formatting).
   * @param detail What the line carries instead of `{ code: kind }`: the error
   *   of a local handler that a peer's input made throw, whose stack the
   *   operator needs (at most `limit` of them per second then).
   */
  report(kind: string, message: string | (() => string), detail?: unknown): void {
    if (this.#limit === 0) return;
    const t = this.#clock();
    let window = this.#windows.get(kind);
    if (window === undefined) {
      if (this.#windows.size >= MAX_KINDS) kind = "other";
      window = this.#windows.get(kind);
      if (window === undefined) {
        window = { start: t, logged: 0, suppressed: 0, detail: Object.freeze({ code: kind }) };
        this.#windows.set(kind, window);
      }
    }
    if (t - window.start >= FAULT_LOG_WINDOW) {
      window.start = t;
      window.logged = 0;
    }
    if (window.logged >= this.#limit) {
      window.suppressed++;
      return;
    }
    window.logged++;
    if (typeof message === "function") message = message();
    if (window.suppressed > 0) {
      message += ` (and ${window.suppressed} more ${kind} ${this.#noun} not logged)`;
      window.suppressed = 0;
    }
    this.#sink.error(message.replaceAll("\n", " "), detail ?? window.detail);
  }
}
