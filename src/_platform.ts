// The few web-platform globals the runtime-free core uses, declared here so
// that the core type-checks against `lib: ["ESNext"]` alone (tools/check_core.ts).
// Deno, Bun and Node 22+ all provide them. The declarations are structural
// subsets of the real ones, so real AbortSignals and timers fit them.

/** The part of `TextEncoder` the core uses. */
export interface Utf8Encoder {
  /** Encodes `input` as UTF-8 into a new array. */
  encode(input: string): Uint8Array;
  /** Encodes `input` as UTF-8 into `destination`. */
  encodeInto(input: string, destination: Uint8Array): { read: number; written: number };
}

/** The part of `TextDecoder` the core uses. */
export interface Utf8Decoder {
  /** Decodes UTF-8 bytes. */
  decode(input: Uint8Array): string;
}

/**
 * The part of `AbortSignal` weft uses. Pass a real `AbortSignal`; signals
 * weft hands out (a handler context's) are real ones at run time. The core
 * names this subset because it type-checks without the DOM library.
 */
export interface AbortSignalLike {
  /** True once aborted. */
  readonly aborted: boolean;
  /** Why it aborted. */
  readonly reason: unknown;
  /** Listens for the abort. */
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  /** Stops listening. */
  removeEventListener(type: "abort", listener: () => void): void;
}

/** A timer handle: a number on Deno and Bun's web timers, an object on Node. */
export type TimerHandle = number | { unref?(): unknown; ref?(): unknown };

declare const TextEncoder: { new (): Utf8Encoder };
declare const TextDecoder: {
  new (label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }): Utf8Decoder;
};
declare function setTimeout(callback: () => void, ms: number): TimerHandle;
declare function clearTimeout(handle: TimerHandle | undefined): void;
declare function queueMicrotask(callback: () => void): void;
declare const performance: { now(): number };
declare const console: {
  error(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  log(...data: unknown[]): void;
};
declare const AbortSignal: { any(signals: AbortSignalLike[]): AbortSignalLike };
declare class AbortController {
  readonly signal: AbortSignalLike;
  abort(reason?: unknown): void;
}

/** The oldest Node.js major weft runs on (it needs `Promise.withResolvers`, new in 22). */
export const MIN_NODE_MAJOR = 22;

/**
 * Throws on a Node.js older than {@linkcode MIN_NODE_MAJOR}, naming the
 * version found and the one needed, so an old Node fails at import with
 * that instead of `Promise.withResolvers is not a function` at first use.
 * Deno and Bun (which report a Node version too) are not checked.
 *
 * @param globals Where to look (the global object; a test passes another).
 * @throws {Error} On Node.js before 22.
 */
export function checkRuntime(globals: object = globalThis): void {
  if ("Deno" in globals || "Bun" in globals) return;
  const node = (globals as { process?: { versions?: { node?: unknown } } }).process?.versions?.node;
  if (typeof node !== "string") return;
  const major = Number(node.split(".")[0]);
  if (major < MIN_NODE_MAJOR) {
    throw new Error(
      `@weft/cluster needs Node.js ${MIN_NODE_MAJOR} or newer; this is Node.js ${node}: upgrade Node.js (Promise.withResolvers and other APIs weft uses arrived in ${MIN_NODE_MAJOR})`,
    );
  }
}

checkRuntime();

/** Shared UTF-8 encoder. */
export const utf8Encoder: Utf8Encoder = new TextEncoder();

/** Shared strict UTF-8 decoder; malformed input throws. */
export const strictUtf8Decoder: Utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Shared lenient UTF-8 decoder: malformed input becomes U+FFFD (for texts shown to people). */
export const lenientUtf8Decoder: Utf8Decoder = new TextDecoder("utf-8");

/**
 * A strict UTF-8 decoder that keeps a leading byte order mark, so bytes
 * decoded and encoded again are the same bytes (skynet's strings).
 */
export const exactUtf8Decoder: Utf8Decoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});

/** Starts a timer that keeps the process alive until it fires or is stopped. */
export function startRefTimer(callback: () => void, ms: number): TimerHandle {
  return setTimeout(callback, ms);
}

/** Stops a timer started by {@linkcode startRefTimer}. */
export function stopTimer(handle: TimerHandle | undefined): void {
  clearTimeout(handle);
}

/** Runs `callback` after the current task, before any I/O. */
export function microtask(callback: () => void): void {
  queueMicrotask(callback);
}

/** Milliseconds from a monotonic clock. */
export function now(): number {
  return performance.now();
}

/** Creates an AbortController (the platform's). */
export function abortController(): AbortController {
  return new AbortController();
}

/** The default log sink: stderr through `console`. */
export const defaultConsole: {
  error(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  log(...data: unknown[]): void;
} = console;

/** A signal that aborts when any of `signals` does (`AbortSignal.any`). */
export function anySignal(signals: AbortSignalLike[]): AbortSignalLike {
  return AbortSignal.any(signals);
}
