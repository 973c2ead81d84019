/**
 * The cheap path for a request a peer got wrong (an undecodable body): no
 * stack is captured for the errors it makes, its log line is formatted only
 * if the fault log writes it, and its error response is encoded once per
 * distinct message and reused. A flood of bad requests then costs a node
 * about what a flood of good ones does.
 *
 * @module
 */

import type { Unmarshal } from "../codec/types.ts";
import { WeftError } from "../errors.ts";
import type { CallContext } from "./call_context.ts";
import type { Channel } from "./channel.ts";
import type { FaultLog } from "./fault_log.ts";
import { defaultErrorInfo, encodeErrorInfo, ResponseStatus, STATUS_HEAD } from "./protocol.ts";
import type { RemoteErrorInfo } from "../errors.ts";

/** Distinct error bodies kept encoded, at most (then the cache starts over). */
const MAX_CACHED = 256;
/** Messages longer than this are encoded each time, never cached. */
const MAX_CACHED_MESSAGE = 512;

const bodies = new Map<string, Uint8Array>();

const ErrorCtor = Error as unknown as { stackTraceLimit?: number | undefined };

/**
 * Decodes a request body with stack capture off (V8 and JavaScriptCore read
 * `Error.stackTraceLimit`): what a decoder throws for a bad body is a peer
 * fault, logged without a stack, so capturing one is wasted work.
 */
export function decodeRequest(unmarshal: Unmarshal, cmd: number, payload: Uint8Array): unknown {
  const limit = ErrorCtor.stackTraceLimit;
  ErrorCtor.stackTraceLimit = 0;
  try {
    const body = unmarshal("request", cmd, payload);
    if (body instanceof Error) throw body;
    return body;
  } finally {
    ErrorCtor.stackTraceLimit = limit;
  }
}

/** An error response body for a WeftError of `code` and `message`, encoded once. */
export function faultBody(code: string, message: string): Uint8Array {
  const key = code + "\n" + message;
  let body = bodies.get(key);
  if (body === undefined) {
    body = encodeErrorInfo({ name: "WeftError", code, message });
    if (message.length <= MAX_CACHED_MESSAGE) {
      if (bodies.size >= MAX_CACHED) bodies.clear();
      bodies.set(key, body);
    }
  }
  return body;
}

/** What the cluster passes: its fault log, names of commands, and the errorInfo hook. */
export interface FaultReplyOptions {
  /** The node's fault log. */
  readonly faults: FaultLog;
  /** A command's name for log lines. */
  readonly cmdName: (cmd: number) => string | number;
  /** The errorInfo hook (the default lets the reply be preencoded). */
  readonly errorInfo: (error: unknown) => RemoteErrorInfo;
}

/**
 * A request's body could not be decoded: logs it (rate-limited, formatted
 * only if written) and, in weft mode, answers the caller. Returns the error
 * for the cluster to answer through a custom `errorInfo` hook, or undefined
 * when it is answered (or nothing is to be answered).
 */
export function refuseUndecodable(
  o: FaultReplyOptions,
  channel: Channel,
  context: CallContext,
  cmd: number,
  error: unknown,
): WeftError | undefined {
  let code = "unmarshal failed";
  let message: string;
  if (
    error instanceof WeftError && (error.code === "unmarshal failed" || error.code === "remote")
  ) {
    code = error.code;
    message = error.message;
  } else {
    message = `Cannot unmarshal request ${cmd}: ${
      error instanceof Error ? error.message : String(error)
    }`;
  }
  o.faults.report(
    code,
    () => `Cannot unmarshal request cmd ${o.cmdName(cmd)} from ${channel.peer}: ${message}`,
  );
  if (!channel.weft || context.oneWay || channel.closed) return undefined;
  if (o.errorInfo !== defaultErrorInfo) {
    return error instanceof WeftError && error.code === code
      ? error
      : new WeftError("unmarshal failed", message, { cause: error });
  }
  channel.response(context.session, faultBody(code, message), STATUS_HEAD[ResponseStatus.Error]);
  return undefined;
}
