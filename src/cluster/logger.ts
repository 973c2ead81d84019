/**
 * {@linkcode Logger}: where the cluster reports what it cannot throw to a
 * caller. Its own file so that the pieces below the options (security,
 * the accept gate) name it without importing the options.
 *
 * @module
 */

/**
 * Where the cluster reports what it cannot throw to a caller: a callback
 * that threw, a malformed frame, a request that failed to decode.
 */
export interface Logger {
  /** Something failed (a connection was closed, a hook threw). */
  error(message: string, detail?: unknown): void;
  /** Something is off but nothing failed (a frame over the soft limit). */
  warn(message: string, detail?: unknown): void;
  /** Connections opened and closed. */
  info?(message: string, detail?: unknown): void;
}
