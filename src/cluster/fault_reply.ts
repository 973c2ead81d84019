/**
 * Error responses: the general one ({@linkcode sendError}), and the cheap
 * path for a request a peer got wrong (an undecodable body, a request its
 * handler refused with a {@linkcode peerFault}): no stack is captured for
 * the errors it makes, its log line is formatted only if the fault log
 * writes it, and its error response is encoded once per distinct message
 * and reused. A flood of bad requests then costs a node about what a flood
 * of good ones does.
 *
 * @module
 */

import type { Unmarshal } from "../codec/types.ts";
import { type ErrorCode, WeftError } from "../errors.ts";
import type { Channel } from "../connection/channel.ts";
import type { FaultLog } from "./fault_log.ts";
import { defaultErrorInfo } from "./options.ts";
import type { ModeConnection } from "../protocol/mode.ts";
import type { RemoteErrorInfo } from "../errors.ts";

/**
 * The request an error answers: what a `CallContext` carries, or
 * the handler runner's scratch when no context was made for it.
 */
export interface RequestRef {
  /** The request's session id. */
  readonly session: number;
  /** The request's cmd number. */
  readonly cmd: number;
  /** True for a one-way send (never answered). */
  readonly oneWay: boolean;
}

/** Distinct error bodies kept encoded, at most (then the cache starts over). */
const MAX_CACHED = 256;
/** Messages longer than this are encoded each time, never cached. */
const MAX_CACHED_MESSAGE = 512;

/** Encoded bodies by the mode's encoder (one for weft), then by name, code and message. */
const caches = new Map<ModeConnection["encodeError"], Map<string, Uint8Array>>();

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

/**
 * An error response body in `protocol`'s encoding for an error named
 * `name` (a WeftError's by default), encoded once per distinct name, code
 * and message (a peer can make a node answer the same error in a flood).
 */
export function faultBody(
  protocol: ModeConnection,
  code: string | undefined,
  message: string,
  name = "WeftError",
): Uint8Array {
  const encode = protocol.encodeError;
  let bodies = caches.get(encode);
  if (bodies === undefined) caches.set(encode, bodies = new Map());
  // Lengths keep the parts apart (no name, code and message make another's key).
  const key = name.length + ":" + name + (code === undefined ? "-" : code.length + ":" + code) +
    message;
  let body = bodies.get(key);
  if (body === undefined) {
    body = protocol.encodeError(code === undefined ? { name, message } : { name, code, message });
    if (message.length <= MAX_CACHED_MESSAGE) {
      if (bodies.size >= MAX_CACHED) bodies.clear();
      bodies.set(key, body);
    }
  }
  return body;
}

const FAULT: unique symbol = Symbol("weft.peerFault");

/**
 * A `WeftError` for a handler to throw when the request itself is wrong
 * (a router's `unreachable` or `bad route`): built without a stack, and
 * answered by the cluster on the cheap path ({@linkcode answerFault}), so
 * a peer sending such requests in a flood costs the node about what good
 * ones do.
 */
export function peerFault(code: ErrorCode, message: string): WeftError {
  const limit = ErrorCtor.stackTraceLimit;
  ErrorCtor.stackTraceLimit = 0;
  try {
    const error = new WeftError(code, message);
    (error as { [FAULT]?: true })[FAULT] = true;
    return error;
  } finally {
    ErrorCtor.stackTraceLimit = limit;
  }
}

/** True for an error made by {@linkcode peerFault}. */
export function isPeerFault(error: unknown): error is WeftError {
  return error instanceof WeftError && (error as { [FAULT]?: true })[FAULT] === true;
}

/**
 * Answers a request its handler refused with a {@linkcode peerFault}: the
 * error response through the `errorInfo` hook, encoded once per distinct
 * name, code and message. Nothing is logged: the handler decided, and the
 * caller has the error (a router counts them in `stats.refused`).
 */
export function answerFault(
  o: Pick<FaultReplyOptions, "errorInfo">,
  channel: Channel,
  context: RequestRef,
  error: WeftError,
): void {
  const protocol = channel.protocol;
  if (protocol.errorHead === null || context.oneWay || channel.closed) return;
  let name = "WeftError";
  let code: string = error.code;
  let message = error.message;
  try {
    const info = o.errorInfo(error);
    name = info.name;
    code = info.code ?? code;
    message = info.message;
  } catch {
    // a throwing errorInfo hook: the error as the default hook gives it
  }
  channel.response(context.session, faultBody(protocol, code, message, name), protocol.errorHead);
}

/**
 * Answers a request the node refused (`authorize` said no, or its body
 * could not be decoded) with a `code` error saying `message`, without
 * making an `Error` when nothing needs one: with the default `errorInfo`
 * hook the body is encoded once per message and reused (a flood of such
 * requests then costs about what good ones do: an `Error` costs about 3 µs
 * on Deno even without a stack); a custom hook is given a `WeftError`
 * (`error` if one was made already), as for any error.
 */
export function answerRefused(
  o: Pick<FaultReplyOptions, "errorInfo" | "faults">,
  channel: Channel,
  context: RequestRef,
  code: ErrorCode,
  message: string,
  error?: WeftError,
): void {
  const protocol = channel.protocol;
  if (protocol.errorHead === null || context.oneWay || channel.closed) return;
  if (o.errorInfo !== defaultErrorInfo) {
    return sendError(o, channel, context, error ?? new WeftError(code, message));
  }
  channel.response(context.session, faultBody(protocol, code, message), protocol.errorHead);
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
 * only if written) and, in a mode whose errors travel back, answers the
 * caller ({@linkcode answerRefused}).
 */
export function refuseUndecodable(
  o: FaultReplyOptions,
  channel: Channel,
  context: RequestRef,
  cmd: number,
  error: unknown,
): void {
  let code: ErrorCode = "unmarshal failed";
  let message: string;
  let made: WeftError | undefined;
  if (
    error instanceof WeftError && (error.code === "unmarshal failed" || error.code === "remote")
  ) {
    code = error.code;
    message = error.message;
    made = error;
  } else {
    message = `Cannot unmarshal request ${cmd}: ${
      error instanceof Error ? error.message : String(error)
    }`;
  }
  o.faults.report(
    code,
    () => `Cannot unmarshal request cmd ${o.cmdName(cmd)} from ${channel.peer}: ${message}`,
  );
  if (made === undefined && o.errorInfo !== defaultErrorInfo) {
    made = new WeftError("unmarshal failed", message, { cause: error });
  }
  answerRefused(o, channel, context, code, message, made);
}

/**
 * Answers the request `context` serves with an error response for
 * `error`, through the `errorInfo` hook (never for a one-way send, nor in a
 * mode without error responses, silly's). An error too large for the hard
 * limit goes as a short `frame too large` one.
 */
export function sendError(
  o: { readonly errorInfo: (error: unknown) => RemoteErrorInfo; readonly faults: FaultLog },
  channel: Channel,
  context: RequestRef,
  error: unknown,
): void {
  const protocol = channel.protocol;
  const errorHead = protocol.errorHead;
  if (errorHead === null || context.oneWay || channel.closed) return;
  let info;
  try {
    info = o.errorInfo(error);
  } catch (hookError) {
    // Once per failing request a peer sends: through the fault log, rate-limited.
    o.faults.report("errorInfo threw", "errorInfo hook threw", hookError);
    info = { name: "Error", message: "Handler failed (errorInfo hook threw)" };
  }
  try {
    // The default hook's info is name, code and message only: encoded once
    // per distinct one (a peer's input can make a handler throw the same
    // error on every request); a custom hook's may carry more (a stack).
    const body = o.errorInfo === defaultErrorInfo && typeof info.name === "string" &&
        typeof info.message === "string" &&
        (info.code === undefined || typeof info.code === "string")
      ? faultBody(protocol, info.code, info.message, info.name)
      : protocol.encodeError(info);
    channel.response(context.session, body, errorHead);
  } catch (sendError) {
    // An error too large for the hard limit: send a short one instead.
    o.faults.report(
      "send failed",
      () => `Cannot send error response to cmd ${context.cmd}`,
      sendError,
    );
    channel.response(
      context.session,
      protocol.encodeError({
        name: "WeftError",
        code: "frame too large",
        message: "Error too large",
      }),
      errorHead,
    );
  }
}
