// Small helpers of the cluster's call and request paths, moved out of
// cluster.ts to keep that file under 900 lines (no behaviour change).

import type { AbortSignalLike } from "../_platform.ts";
import { WeftError } from "../errors.ts";

export function isCmd(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 &&
    value <= 0xffffffff;
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function";
}

export function abortedError(signal: AbortSignalLike, mayHaveRun = false): WeftError {
  return new WeftError("aborted", "Call aborted", { cause: signal.reason, mayHaveRun });
}

/** `error` saying whether its call may have run (a copy when it said otherwise). */
export function withMayHaveRun<E>(error: E, mayHaveRun: boolean): E {
  if (!(error instanceof WeftError) || error.mayHaveRun === mayHaveRun) return error;
  if (error.code === "remote") return error; // the peer answered: it said what ran
  return new WeftError(error.code, error.message, {
    ...(error.cause === undefined ? {} : { cause: error.cause }),
    mayHaveRun,
  }) as E;
}

export function marshalError(cmd: string | number, error: unknown, what = "request"): Error {
  // Caller bugs (an unknown command name) stay what they are.
  if (error instanceof TypeError || error instanceof RangeError) return error;
  if (error instanceof WeftError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new WeftError("marshal failed", `Cannot marshal ${what} ${String(cmd)}: ${reason}`, {
    cause: error,
  });
}

export function unmarshalError(cmd: string | number, error: unknown, what: string): WeftError {
  if (error instanceof WeftError && error.code === "unmarshal failed") return error;
  if (error instanceof WeftError && error.code === "remote") return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new WeftError("unmarshal failed", `Cannot unmarshal ${what} ${String(cmd)}: ${reason}`, {
    cause: error,
  });
}
