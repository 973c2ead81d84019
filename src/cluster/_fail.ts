// Private: errors the cluster builds in more than one shape, kept out of
// cluster.ts to keep that file short.

import { WeftError } from "../errors.ts";

/** The error for a per-call `timeout` that is not a positive number (as the constructor's). */
export function timeoutOptionError(timeout: unknown): TypeError | RangeError {
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    const got = typeof timeout === "number" ? "NaN" : `${typeof timeout} ${String(timeout)}`;
    return new TypeError(`Invalid option timeout: expected a number of milliseconds, got ${got}`);
  }
  return new RangeError(`Invalid option timeout: expected more than 0 ms, got ${timeout}`);
}

/**
 * `connect failed` for a transport's connect error, saying "Cannot connect
 * to ADDRESS" once (the transports' messages usually start with it).
 */
export function connectFailed(address: string, error: unknown): WeftError {
  const reason = error instanceof Error ? error.message : String(error);
  const prefix = `Cannot connect to ${address}`;
  const message = reason.startsWith(prefix) ? reason : `${prefix}: ${reason}`;
  return new WeftError("connect failed", message, { cause: error });
}
