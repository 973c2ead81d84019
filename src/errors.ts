/**
 * The one error class for everything a peer or the network causes, with a
 * stable string `code`. Caller bugs (a bad option, a wrong argument type)
 * throw the built-in `TypeError` or `RangeError` instead.
 *
 * @module
 */

/**
 * Every code a {@linkcode WeftError} can carry. The codes are the contract:
 * messages may change between versions, codes do not.
 *
 * | code | raised when |
 * | --- | --- |
 * | `timeout` | a call got no response within its timeout |
 * | `aborted` | the call's `signal` aborted (the reason is the `cause`) |
 * | `closed` | the connection was lost while the call waited, or a write hit a closed connection |
 * | `peer closed` | the peer (or the whole cluster) was closed locally; it will not reconnect |
 * | `connect failed` | the lazy connect of an outbound peer failed (the transport error is the `cause`) |
 * | `connection refused` | nothing listens at the address (transport level) |
 * | `host not found` | the host name did not resolve (transport level) |
 * | `connect timeout` | the connection was not established within the connect timeout |
 * | `address in use` | `listen` found the address taken |
 * | `bad address` | an address string is not `host:port` |
 * | `frame too large` | a frame's length is over the hard limit (on send nothing is written) |
 * | `frame too short` | a frame's body is too short for its header or trailer |
 * | `request too short` | a v2 request body is shorter than its 16-byte header |
 * | `decoder failed` | a decoder that already failed was fed more input before `reset()` |
 * | `marshal failed` | the marshal hook threw or returned nothing usable |
 * | `unmarshal failed` | the unmarshal hook threw or returned an Error |
 * | `remote` | the remote handler failed (weft protocol mode) |
 * | `protocol` | the peer broke the protocol (an unknown control frame, a mismatched mode) |
 * | `transport` | any other transport failure (the runtime error is the `cause`) |
 * | `registry unreachable` | a discovery store (an etcd endpoint) could not be reached or timed out |
 * | `registry auth` | a discovery store refused the credentials or the token |
 * | `registry rejected` | a discovery store answered with an error (a wrong endpoint, a refused request) |
 * | `registry malformed` | a discovery store's response could not be understood |
 * | `tls` | a TLS handshake failed: the server's certificate did not verify, the other end does not speak TLS, or the handshake timed out |
 * | `certificate required` | a listener requiring client certificates got none |
 * | `certificate expired` | a client certificate is expired (or not yet valid) |
 * | `certificate untrusted` | a client certificate is not signed by a trusted CA |
 * | `authentication failed` | weft's key authentication failed (wrong, missing or replayed proof) |
 * | `forbidden` | the authorisation hook refused a request |
 * | `unreachable` | a router has no live service for the target id, group or master named |
 * | `duplicate id` | a router refused a service id another live service holds |
 * | `bad route` | a routing head a router cannot use (malformed, out of range, unknown mode) |
 * | `name too long` | a service, command or node name is over its byte limit |
 * | `unknown node` | named nodes: the node is not in the config (at once with `nowaiting`, else at the call's deadline) |
 * | `node down` | named nodes: the node is marked down (`false`) or was removed while the call waited |
 * | `unknown service` | named nodes: the node has no service of that name |
 * | `unknown command` | named nodes: the service has no command of that name |
 * | `bad config` | named nodes: a config that does not parse or validate (the table in force stays) |
 * | `reload in progress` | named nodes: `reload()` while another reload runs |
 * | `not master` | a router refused a master claim its master source did not elect (another member, or another fence) |
 * | `over budget` | a node-wide budget is spent (bytes of half-sent messages): the connection whose input would go over it is closed |
 * | `protected mode` | a router, registry node or named node without credentials was asked to listen on an address other than loopback |
 */
export const ErrorCode = {
  Timeout: "timeout",
  Aborted: "aborted",
  Closed: "closed",
  PeerClosed: "peer closed",
  ConnectFailed: "connect failed",
  ConnectionRefused: "connection refused",
  HostNotFound: "host not found",
  ConnectTimeout: "connect timeout",
  AddressInUse: "address in use",
  BadAddress: "bad address",
  FrameTooLarge: "frame too large",
  FrameTooShort: "frame too short",
  RequestTooShort: "request too short",
  DecoderFailed: "decoder failed",
  MarshalFailed: "marshal failed",
  UnmarshalFailed: "unmarshal failed",
  Remote: "remote",
  Protocol: "protocol",
  Transport: "transport",
  RegistryUnreachable: "registry unreachable",
  RegistryAuth: "registry auth",
  RegistryRejected: "registry rejected",
  RegistryMalformed: "registry malformed",
  Tls: "tls",
  CertificateRequired: "certificate required",
  CertificateExpired: "certificate expired",
  CertificateUntrusted: "certificate untrusted",
  AuthenticationFailed: "authentication failed",
  Forbidden: "forbidden",
  Unreachable: "unreachable",
  DuplicateId: "duplicate id",
  BadRoute: "bad route",
  NameTooLong: "name too long",
  UnknownNode: "unknown node",
  NodeDown: "node down",
  UnknownService: "unknown service",
  UnknownCommand: "unknown command",
  BadConfig: "bad config",
  ReloadInProgress: "reload in progress",
  NotMaster: "not master",
  ProtectedMode: "protected mode",
  OverBudget: "over budget",
} as const;

/** The union of every {@linkcode ErrorCode} value. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/**
 * The codes whose errors mean the request was never handed to the peer (or
 * the peer refused it before any handler ran): a retry cannot run it
 * twice. Every other code may have reached a handler, so a
 * {@linkcode WeftError}'s `mayHaveRun` defaults to true for it, unless the
 * code that raised it knows better.
 */
export const NEVER_RAN_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "connect failed",
  "connection refused",
  "host not found",
  "connect timeout",
  "address in use",
  "bad address",
  "frame too large",
  "marshal failed",
  "registry unreachable",
  "registry auth",
  "registry rejected",
  "registry malformed",
  "tls",
  "certificate required",
  "certificate expired",
  "certificate untrusted",
  "authentication failed",
  "forbidden",
  "unreachable",
  "duplicate id",
  "bad route",
  "name too long",
  "unknown node",
  "unknown service",
  "unknown command",
  "bad config",
  "reload in progress",
]);

/** Options of the {@linkcode WeftError} constructor. */
export interface WeftErrorOptions {
  /** The underlying error (a runtime error, an abort reason, a hook's throw). */
  cause?: unknown;
  /**
   * Whether the request may have reached a handler (see
   * {@linkcode WeftError.mayHaveRun}).
   *
   * @default {false for the codes of {@linkcode NEVER_RAN_CODES}, else true}
   */
  mayHaveRun?: boolean;
}

/**
 * An error caused by a peer or the network, with a stable `code`.
 *
 * @example Catch by code
 * ```ts
 * import { WeftError } from "@weft/cluster";
 *
 * const err = new WeftError("timeout", "Call timed out: no response after 50 ms");
 * if (!(err instanceof Error)) throw new Error("unexpected result");
 * if (err.code !== "timeout") throw new Error("unexpected result");
 * if (err.name !== "WeftError") throw new Error("unexpected result");
 * ```
 */
export class WeftError extends Error {
  /** The stable code, one of {@linkcode ErrorCode}. */
  readonly code: ErrorCode;
  /**
   * False when the request was never handed to the peer, or the peer
   * refused it before any handler ran (`connect failed`, `unknown node`, a
   * node marked down by the config, `unknown service`, a router's
   * `unreachable`, ...): retrying it cannot run it twice. True when it may
   * have run: it was written and then the connection closed, the node was
   * removed or the router lost, the call timed out or was aborted in
   * flight, or the handler failed (`remote`). Retry a call whose error has
   * `mayHaveRun` true only if the command is idempotent.
   */
  readonly mayHaveRun: boolean;

  /**
   * Creates an error with a code and a sentence-case message.
   *
   * @param code One of {@linkcode ErrorCode}.
   * @param message What happened, with details after a colon.
   * @param options The `cause`, if any.
   */
  constructor(code: ErrorCode, message: string, options?: WeftErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WeftError";
    this.code = code;
    this.mayHaveRun = options?.mayHaveRun ?? !NEVER_RAN_CODES.has(code);
  }
}

/**
 * Tells whether `value` is a {@linkcode WeftError}, optionally with a given code.
 *
 * @param value Anything caught.
 * @param code The code to match, if any.
 * @returns `true` when `value` is a `WeftError` (with that code).
 *
 * @example
 * ```ts
 * import { isWeftError, WeftError } from "@weft/cluster";
 *
 * if (!(isWeftError(new WeftError("closed", "Connection closed"), "closed"))) throw new Error("unexpected result");
 * if (isWeftError(new Error("x"))) throw new Error("unexpected result");
 * ```
 */
export function isWeftError(value: unknown, code?: ErrorCode): value is WeftError {
  return value instanceof WeftError && (code === undefined || value.code === code);
}

/** What travels over the wire about a remote failure (weft protocol mode). */
export interface RemoteErrorInfo {
  /** The remote error's `name` (e.g. `"TypeError"`). */
  name: string;
  /** The remote error's string `code`, if it had one (e.g. a WeftError's). */
  code?: string;
  /** The remote error's message. */
  message: string;
  /** The remote stack, only if the server opted in (see the cluster's `errorInfo` option). */
  stack?: string;
}

/**
 * A call failed on the remote node (its handler threw, it could not decode
 * the request, it has no handler, it is shutting down): a
 * {@linkcode WeftError} with code `remote` carrying what the remote node
 * said. Only in weft protocol mode; silly nodes answer nothing instead.
 *
 * @example
 * ```ts
 * import { RemoteError } from "@weft/cluster";
 *
 * const err = new RemoteError({ name: "RangeError", message: "too big" }, "Call add failed remotely");
 * if (err.code !== "remote" || err.remote.name !== "RangeError") throw new Error("unexpected result");
 * ```
 */
export class RemoteError extends WeftError {
  /** The remote error's name, code, message (and stack if sent). */
  readonly remote: Readonly<RemoteErrorInfo>;

  /**
   * Creates the error from what the remote node sent.
   *
   * @param remote What the remote node sent.
   * @param context What failed, e.g. `Call add failed remotely`.
   * @param options `mayHaveRun` (by default false when the remote code is
   *   one of {@linkcode NEVER_RAN_CODES}, such as `unknown command`, else
   *   true), and a `cause`.
   */
  constructor(remote: RemoteErrorInfo, context: string, options?: WeftErrorOptions) {
    super(
      "remote",
      `${context}: ${remote.name}${
        remote.code === undefined ? "" : ` [${remote.code}]`
      }: ${remote.message}`,
      {
        ...(options?.cause === undefined ? {} : { cause: options.cause }),
        mayHaveRun: options?.mayHaveRun ??
          !(remote.code !== undefined && NEVER_RAN_CODES.has(remote.code)),
      },
    );
    this.name = "RemoteError";
    this.remote = Object.freeze({ ...remote });
  }
}
