/**
 * The options of {@linkcode Cluster}, their defaults, and their validation.
 *
 * @module
 */

import { checkMaxRequestsPerTurn, checkSoloTurnTime } from "../connection/read_turn.ts";
import {
  createRequestBudget,
  type RequestBudget,
  type RequestBudgetOptions,
} from "../connection/request_budget.ts";
import type { Logger } from "./logger.ts";
import { defaultConsole } from "../_platform.ts";
import type { Codec, Marshal, Unmarshal } from "../codec/types.ts";
import { checkNodeId, random32 } from "../session/trace.ts";
import type { Transport } from "../transport/types.ts";
import { checkFraming, checkLimit, DEFAULT_SOFT_LIMIT, type Framing } from "../wire/frame.ts";
import type { CallContext } from "./call_context.ts";
import type { RawRequestHook } from "./forward.ts";
import { checkProtocol, createMode, MODES, type Protocol } from "../protocol/mod.ts";
import type { ProtocolMode } from "../protocol/mode.ts";
import {
  checkFaultLogLimit,
  DEFAULT_FAULT_LOG_LIMIT,
  FaultLog,
  noticeLog,
  type PeerFault,
  warningSink,
} from "./fault_log.ts";
import type { Peer } from "../connection/peer.ts";
import type { StatsOptions } from "./stats.ts";
import type { Tracing } from "./tracing.ts";
import type { RemoteErrorInfo, WeftError } from "../errors.ts";
import { type ResolvedSecurity, resolveSecurity, type TrustOptions } from "./security.ts";
import { type PartLimits, type PartOptions, resolvePartOptions } from "../protocol/weft/parts.ts";
import { nodeHelloFields } from "../protocol/weft/names.ts";
import { DEFAULT_WEFT_HARD_LIMIT } from "../protocol/weft/weft_mode.ts";

export { DEFAULT_WEFT_HARD_LIMIT };

/** Default call timeout, in milliseconds (silly's default). */
export const DEFAULT_TIMEOUT = 5000;

/** Default heartbeat interval (weft mode), in milliseconds. */
export const DEFAULT_HEARTBEAT_INTERVAL = 5000;

/** Default number of unanswered heartbeats after which a connection is dead. */
export const DEFAULT_HEARTBEAT_MISSES = 2;

/** Default connect timeout of lazy connects, in milliseconds. */
export const DEFAULT_CLUSTER_CONNECT_TIMEOUT = 5000;

/** Default cap on requests being handled per connection (see `maxInflightPerConnection`). */
export const DEFAULT_MAX_INFLIGHT = 1024;

/** Default handshake deadline (weft mode), in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 5000;

/** Default idle timeout of accepted connections, by mode: weft mode 5 minutes, silly and skynet mode off. */
export const DEFAULT_IDLE_TIMEOUT: Readonly<Record<Protocol, number>> = {
  weft: MODES.weft.idleTimeout,
  silly: MODES.silly.idleTimeout,
  skynet: MODES.skynet.idleTimeout,
};

/** Default frame-completion deadline, by mode: weft mode 30 s, silly and skynet mode 60 s. */
export const DEFAULT_FRAME_TIMEOUT: Readonly<Record<Protocol, number>> = {
  weft: MODES.weft.frameTimeout,
  silly: MODES.silly.frameTimeout,
  skynet: MODES.skynet.frameTimeout,
};

/**
 * Handles a request. Its return value (or what its promise resolves to) is
 * the response body; `undefined` means no response is sent (which is how a
 * one-way `send` is answered).
 *
 * The {@linkcode CallContext} is made only for a handler that asks for it:
 * one declared with four parameters, or with a rest parameter
 * (`Function.length` 0). A handler declared with one to three parameters
 * is called with three arguments, and no context exists for a request it
 * answers at once (one that returns a promise still gets a context behind
 * the scenes, for cancels, closes and drains). With `stats`, `tracing` or
 * `contextStorage`, every request gets a context.
 */
export type RequestHandler = (
  peer: Peer,
  cmd: number,
  body: unknown,
  context: CallContext,
) => unknown;

export type { Logger } from "./logger.ts";

/**
 * Something like `AsyncLocalStorage` from `node:async_hooks` (Deno, Bun and
 * Node all have it). Given one, the cluster runs handlers inside it so that
 * `cluster.call` made anywhere under a handler, across `await`s, carries the
 * handler's trace id without passing the context along.
 */
export interface ContextStorage {
  /** Runs `fn` with `store` as the current value. */
  run<R>(store: CallContext, fn: () => R): R;
  /** The current value, if any. */
  getStore(): CallContext | undefined;
}

/** Options of {@linkcode Cluster}. */
export interface ClusterOptions extends PartOptions, RequestBudgetOptions, TrustOptions {
  /**
   * Weft mode: this node's name, sent in the handshake; the other end sees
   * it as `peer.nodeName`. At most 255 UTF-8 bytes.
   */
  nodeName?: string;
  /** A marshal/unmarshal pair (e.g. a ready codec). Or give `marshal` and `unmarshal`. */
  codec?: Codec;
  /** silly's marshal hook; see {@linkcode Marshal}. */
  marshal?: Marshal;
  /** silly's unmarshal hook; see {@linkcode Unmarshal}. */
  unmarshal?: Unmarshal;
  /** The request handler. Without one, requests are logged and get no response. */
  call?: RequestHandler;
  /**
   * Called with each accepted peer. Throwing rejects the connection: it is
   * closed and the error is logged (as silly does).
   */
  accept?: (peer: Peer) => void;
  /**
   * Called when a connection closes because the remote end closed it or it
   * failed; never for a local `close()`. `reason` says why.
   */
  close?: (peer: Peer, reason: WeftError) => void;
  /**
   * Default call timeout in milliseconds; `Infinity` for none.
   *
   * @default {5000}
   */
  timeout?: number;
  /**
   * Timeout of a lazy connect in milliseconds (the call's own timeout also
   * bounds it).
   *
   * @default {5000}
   */
  connectTimeout?: number;
  /**
   * Largest frame body (header included) sent or received. Over it, a send
   * fails with `frame too large` and a received frame closes the connection.
   * At least `softLimit` when both are given; in weft mode at least 528 (the
   * handshake frame). The default depends on `protocol`: 4 MiB in weft mode
   * ({@linkcode DEFAULT_WEFT_HARD_LIMIT}), silly's 128 MiB in silly mode.
   *
   * @default {4194304}
   */
  hardLimit?: number;
  /**
   * Body size over which received frames are logged as warnings.
   *
   * @default {65535}
   */
  softLimit?: number;
  /**
   * The framing: `"v2"` (silly's current) or `"v1"` (2-byte lengths).
   *
   * @default {"v2"}
   */
  framing?: Framing;
  /** The transport; detected from the runtime when omitted. */
  transport?: Transport;
  /**
   * Send-buffer bytes over which a connection counts as congested: calls
   * and sends wait for it to drain.
   *
   * @default {65536}
   */
  highWaterMark?: number;
  /**
   * This node's id, 0 to 65535: the low 16 bits of the trace ids it sends.
   *
   * @default {a random id}
   */
  nodeId?: number;
  /** Where to report failures; by default warnings and errors go to stderr. */
  logger?: Logger;
  /** Implicit trace propagation across `await`; see {@linkcode ContextStorage}. */
  contextStorage?: ContextStorage;
  /**
   * Sees every request first, raw, before it is decoded and before any
   * handler or context exists (after the connection's limits and the
   * `authorize` hook); returns true if it took the request, forwarding it
   * with `request.forward` (see `RawRequest`), or false to let it
   * go to `call` as usual. What a router uses to forward at the cost of a
   * relay. Not consulted with `stats`, `tracing` or `contextStorage` (every
   * request then goes through its context).
   */
  rawRequest?: RawRequestHook;
  /**
   * Keep numbers for `cluster.stats()` (see `@weft/cluster/stats`); with
   * `{ remote: true }` also answer peers' `stats` INFO requests (`weft
   * stats`, `fetchStats`), as `authorize` allows.
   *
   * @default {false}
   */
  stats?: boolean | StatsOptions;
  /**
   * Weft mode: answer peers' INFO requests about this node (`weft ls`,
   * `weft describe`, the dashboard): what it is, where it listens, its
   * runtime and uptime, and what the layer above adds (services, groups).
   * `authorize` is asked about each (service `"$info"`, the kind as the
   * command); `false` refuses them all (`forbidden`). See
   * src/cluster/info.ts.
   *
   * @default {true}
   */
  introspect?: boolean;
  /**
   * Hooks that open a client span per call and a server span per handled
   * request (`@weft/cluster/tracing`; `@weft/cluster/otel` adapts
   * OpenTelemetry). In weft mode W3C trace context travels with each call.
   */
  tracing?: Tracing;
  /**
   * `"weft"`: silly's frames plus weft's extensions (remote errors,
   * cancellation, deadlines, heartbeats); both ends must speak it.
   * `"silly"`: byte-exact with silly.net.cluster, for silly nodes. A
   * mismatched pair fails at once with a `protocol` error naming it.
   * `"skynet"`: skynet's cluster protocol, byte for byte, for skynet nodes
   * (give the `skynet()` codec of `@weft/cluster/skynet`; see the README's
   * skynet section).
   *
   * @default {"weft"}
   */
  protocol?: Protocol;
  /**
   * Weft mode: milliseconds between heartbeats on each connection.
   *
   * @default {5000}
   */
  heartbeatInterval?: number;
  /**
   * Weft mode: heartbeats left unanswered before the connection is declared
   * dead (its calls reject with `closed`; outbound peers reconnect on their
   * next call). A dead, frozen or half-open peer is found within about
   * `heartbeatInterval * (heartbeatMisses + 1)`. An interval in which bytes
   * arrived from the peer is not a miss: its pong may be queued behind them.
   *
   * @default {2}
   */
  heartbeatMisses?: number;
  /**
   * Weft mode: turns an error thrown by a handler into what is sent back.
   * The default sends `name`, `code` (a string `code` property) and
   * `message`, never the stack; return `stack` too to opt in.
   */
  errorInfo?: (error: unknown) => RemoteErrorInfo;
  /**
   * Requests of one connection whose (async) handlers may run at once (and
   * at most `maxHandlersPerNode` on all connections together). Past it,
   * requests read wait in order; the node keeps reading (the peer's CANCELs
   * and its hang-up lie behind them), and past 16 `highWaterMark`s of
   * waiting requests refuses them (weft mode: a `remote` error with code
   * `busy`; silly mode: dropped), logged through the rate-limited fault log.
   * While calls of this node wait for responses on that same connection it
   * runs requests over the limit at once (they may be the peer calling
   * back: holding them could deadlock the two nodes), up to twice the
   * limit, whatever the node's cap; beyond that it refuses them the same way.
   *
   * @default {1024}
   */
  maxInflightPerConnection?: number;
  /**
   * Fairness between connections, while another connection of this process
   * is being read (one read within the last second): requests one
   * connection runs from what one read delivered; past it the rest wait (in
   * order), reading from that connection pauses, and the next batch runs on
   * a later macrotask, after other connections' reads. One peer's pipelined
   * flood then delays another peer's call by at most one batch. A
   * connection read alone is not counted but timed (`soloTurnTime`), the
   * clock read every `maxRequestsPerTurn` requests. `Infinity`: no
   * fairness, a read's requests all run at once.
   *
   * @default {32}
   */
  maxRequestsPerTurn?: number;
  /**
   * Milliseconds a connection read alone (no other connection of this
   * process read within the last second) runs the requests of one read, or
   * of one later turn, before it yields to the event loop; checked every
   * `maxRequestsPerTurn` requests. A lone client's pipelined batch then
   * runs whole and is answered in one write, instead of being cut every 32
   * requests for nobody's benefit; a lone flood still yields every
   * `soloTurnTime`, so that the event loop sees its other sockets, and from
   * the first read of another connection on, turns are counted again. `0`:
   * always counted, alone too (the behaviour before this option).
   * `Infinity`: a lone connection never yields.
   *
   * @default {1}
   */
  soloTurnTime?: number;
  /**
   * Weft mode: milliseconds an accepted connection has to complete weft's
   * handshake (send HELLO; not TLS's, see `tls`); then it is closed. `Infinity` turns it off.
   * (The connecting side waits for HELLO_ACK up to `connectTimeout`.)
   *
   * @default {5000}
   */
  handshakeTimeout?: number;
  /**
   * Milliseconds an accepted connection may stay idle (no request or
   * response either way, no call waiting, no handler running; heartbeats do
   * not count) before it is closed. `Infinity` turns it off.
   *
   * @default {300000 in weft mode, Infinity in silly mode}
   */
  idleTimeout?: number;
  /**
   * Milliseconds within which a frame, once begun, must be complete;
   * a peer that stalls or trickles a frame is closed. Not counted while
   * this node itself stopped reading (backpressure). `Infinity` turns it off.
   *
   * @default {30000 in weft mode, 60000 in silly mode}
   */
  frameTimeout?: number;
  /**
   * What a peer's faults (malformed frames, undecodable requests, protocol
   * errors, failed connections) may write to the logger: at most this many
   * lines per kind (the error code) per second, each one line without a
   * stack; what is held back is counted and the count is logged with the
   * next line of that kind. `Infinity` logs every fault; `0` none.
   *
   * @default {10}
   */
  faultLogLimit?: number;
  /**
   * Names commands in log lines (`cmd "ping" (1)`). A ready codec made with
   * a command table carries one, so spreading it (`...json({ commands })`)
   * or passing it as `codec` sets this.
   */
  commands?: CommandNames;
}

/** Something that names command numbers, such as a codec's command table. */
export interface CommandNames {
  /** The name of a command number, or undefined. */
  nameOf(id: number): string | undefined;
}

/** Options with defaults applied and validated. */
export interface ResolvedOptions {
  marshal: Marshal;
  unmarshal: Unmarshal;
  call: RequestHandler | undefined;
  accept: ((peer: Peer) => void) | undefined;
  close: ((peer: Peer, reason: WeftError) => void) | undefined;
  timeout: number;
  connectTimeout: number;
  hardLimit: number;
  softLimit: number;
  framing: Framing;
  transport: Transport | undefined;
  highWaterMark: number;
  nodeId: number;
  logger: Logger;
  contextStorage: ContextStorage | undefined;
  rawRequest: RawRequestHook | undefined;
  protocol: Protocol;
  /** The protocol mode, configured: what every connection opens. */
  mode: ProtocolMode;
  /** Large messages in parts (weft mode): sizes, bounds, `partTimeout`, the node's budget. */
  parts: PartLimits;
  /** The node's handlers running and requests waiting (`maxHandlersPerNode`, `maxWaitingBytesPerNode`). */
  requests: RequestBudget;
  heartbeatInterval: number;
  heartbeatMisses: number;
  errorInfo: (error: unknown) => RemoteErrorInfo;
  security: ResolvedSecurity;
  maxInflightPerConnection: number;
  maxRequestsPerTurn: number;
  soloTurnTime: number;
  handshakeTimeout: number;
  idleTimeout: number;
  frameTimeout: number;
  /** Where a peer's faults are logged (rate-limited, stackless). */
  faults: FaultLog;
  /** The same for routine refusals and peer frames logged as warnings (a failed TLS handshake, a frame over the soft limit). */
  warnings: FaultLog;
  /** The same at info level, for routine events a peer can repeat at will (a connection accepted or closed, a cancelled call's handler stopping). */
  notices: FaultLog;
  /** How log lines name a command: `"ping" (1)`, or the number alone. */
  cmdName: (cmd: number) => string;
  /** The command table that names commands (option `commands`, or the codec's), if any. */
  commands: CommandNames | undefined;
  nodeName: string | undefined;
}

/**
 * The default `errorInfo` hook: the way an error becomes wire data: name, code (a string `code`
 * property, if any) and message. No stack.
 */
export function defaultErrorInfo(error: unknown): RemoteErrorInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === "string" ? { code } : {}),
    };
  }
  return { name: "Error", message: String(error) };
}

/**
 * The default logger: warnings and errors to stderr, nothing else. A peer's
 * fault (detail `{ code }`) is one line, its code in brackets.
 */
export const defaultLogger: Logger = {
  error: (message, detail) =>
    isFault(detail)
      ? defaultConsole.error(`[weft] ${message} [${detail.code}]`)
      : defaultConsole.error(`[weft] ${message}`, detail ?? ""),
  warn: (message, detail) => defaultConsole.warn(`[weft] ${message}`, detail ?? ""),
};

function isFault(detail: unknown): detail is PeerFault {
  return detail !== null && typeof detail === "object" && !(detail instanceof Error) &&
    typeof (detail as PeerFault).code === "string";
}

function fn<T>(value: unknown, option: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "function") {
    throw new TypeError(`Invalid option ${option}: expected a function, got ${typeof value}`);
  }
  return value as T;
}

function duration(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(`Invalid option ${option}: expected a number of milliseconds`);
  }
  if (value <= 0) {
    throw new RangeError(`Invalid option ${option}: expected more than 0 ms, got ${value}`);
  }
  return value;
}

/**
 * Validates options and applies defaults.
 *
 * @throws {TypeError} Naming the option, for a wrong type or a missing hook.
 * @throws {RangeError} Naming the option, for an out-of-range value.
 */
export function resolveOptions(options: ClusterOptions): ResolvedOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Invalid options: expected an object");
  }
  const codec = options.codec;
  if (codec !== undefined && (codec === null || typeof codec !== "object")) {
    throw new TypeError("Invalid option codec: expected an object with marshal and unmarshal");
  }
  const marshal = fn<Marshal>(options.marshal ?? codec?.marshal, "marshal");
  const unmarshal = fn<Unmarshal>(options.unmarshal ?? codec?.unmarshal, "unmarshal");
  if (marshal === undefined) {
    throw new TypeError("Invalid option marshal: a marshal hook (or a codec) is required");
  }
  if (unmarshal === undefined) {
    throw new TypeError("Invalid option unmarshal: an unmarshal hook (or a codec) is required");
  }
  const transport = options.transport;
  if (
    transport !== undefined &&
    (transport === null || typeof transport.connect !== "function" ||
      typeof transport.listen !== "function")
  ) {
    throw new TypeError("Invalid option transport: expected a Transport (connect and listen)");
  }
  const logger = options.logger ?? defaultLogger;
  if (typeof logger?.error !== "function" || typeof logger.warn !== "function") {
    throw new TypeError("Invalid option logger: expected an object with error and warn functions");
  }
  const storage = options.contextStorage;
  if (
    storage !== undefined &&
    (typeof storage?.run !== "function" || typeof storage.getStore !== "function")
  ) {
    throw new TypeError("Invalid option contextStorage: expected run and getStore functions");
  }
  const protocol = checkProtocol(options.protocol);
  const info = MODES[protocol];
  const misses = options.heartbeatMisses ?? DEFAULT_HEARTBEAT_MISSES;
  if (typeof misses !== "number") {
    throw new TypeError("Invalid option heartbeatMisses: expected a number");
  }
  if (!Number.isInteger(misses) || misses < 1) {
    throw new RangeError(
      `Invalid option heartbeatMisses: expected an integer of at least 1, got ${misses}`,
    );
  }
  const hardLimit = checkLimit(
    options.hardLimit,
    "hardLimit",
    info.hardLimit,
  );
  const softLimit = checkLimit(options.softLimit, "softLimit", DEFAULT_SOFT_LIMIT);
  if (options.hardLimit !== undefined && options.softLimit !== undefined && hardLimit < softLimit) {
    throw new RangeError(
      `Invalid options hardLimit and softLimit: hardLimit must be >= softLimit, got hardLimit ${hardLimit} and softLimit ${softLimit}`,
    );
  }
  if (hardLimit < info.minHardLimit.bytes) {
    throw new RangeError(
      `Invalid option hardLimit: ${protocol} mode needs at least ${info.minHardLimit.bytes} bytes (${info.minHardLimit.why}), got ${hardLimit}`,
    );
  }
  const names = options.commands ?? (codec as { commands?: CommandNames } | undefined)?.commands;
  if (names !== undefined && typeof names?.nameOf !== "function") {
    throw new TypeError("Invalid option commands: expected a command table with nameOf");
  }
  const hwm = options.highWaterMark ?? 64 * 1024;
  if (typeof hwm !== "number") {
    throw new TypeError("Invalid option highWaterMark: expected a number of bytes");
  }
  if (!Number.isInteger(hwm) || hwm < 1) {
    throw new RangeError(`Invalid option highWaterMark: expected a positive integer, got ${hwm}`);
  }
  const inflight = options.maxInflightPerConnection ?? DEFAULT_MAX_INFLIGHT;
  if (typeof inflight !== "number") {
    throw new TypeError("Invalid option maxInflightPerConnection: expected a number");
  }
  if (!(Number.isInteger(inflight) && inflight >= 1) && inflight !== Infinity) {
    throw new RangeError(
      `Invalid option maxInflightPerConnection: expected a positive integer, got ${inflight}`,
    );
  }
  const framing = checkFraming(options.framing);
  const security = resolveSecurity(options.tls, options.auth, options.authorize, info.can.keys);
  const parts = resolvePartOptions({ ...options, hardLimit });
  const faultLogLimit = checkFaultLogLimit(options.faultLogLimit, DEFAULT_FAULT_LOG_LIMIT);
  const requests = createRequestBudget(options);
  return {
    marshal,
    unmarshal,
    call: fn(options.call, "call"),
    accept: fn(options.accept, "accept"),
    close: fn(options.close, "close"),
    timeout: duration(options.timeout, "timeout", DEFAULT_TIMEOUT),
    connectTimeout: duration(
      options.connectTimeout,
      "connectTimeout",
      DEFAULT_CLUSTER_CONNECT_TIMEOUT,
    ),
    hardLimit,
    softLimit,
    framing,
    transport,
    highWaterMark: hwm,
    nodeId: options.nodeId === undefined ? random32() & 0xffff : checkNodeId(options.nodeId),
    logger,
    contextStorage: storage,
    rawRequest: fn(options.rawRequest, "rawRequest"),
    protocol,
    mode: createMode(protocol, {
      framing,
      hardLimit,
      softLimit,
      helloFields: nodeHelloFields(options.nodeName),
      parts,
      keys: security.keys,
      tls: security.tls === undefined ? undefined : { clientCert: security.tls.cert !== undefined },
    }),
    parts,
    requests,
    heartbeatInterval: duration(
      options.heartbeatInterval,
      "heartbeatInterval",
      DEFAULT_HEARTBEAT_INTERVAL,
    ),
    heartbeatMisses: misses,
    errorInfo: fn<(error: unknown) => RemoteErrorInfo>(options.errorInfo, "errorInfo") ??
      defaultErrorInfo,
    security,
    maxInflightPerConnection: inflight,
    maxRequestsPerTurn: checkMaxRequestsPerTurn(options.maxRequestsPerTurn),
    soloTurnTime: checkSoloTurnTime(options.soloTurnTime),
    handshakeTimeout: duration(
      options.handshakeTimeout,
      "handshakeTimeout",
      DEFAULT_HANDSHAKE_TIMEOUT,
    ),
    idleTimeout: duration(options.idleTimeout, "idleTimeout", info.idleTimeout),
    frameTimeout: duration(options.frameTimeout, "frameTimeout", info.frameTimeout),
    faults: new FaultLog(logger, faultLogLimit),
    warnings: new FaultLog(warningSink(logger), faultLogLimit),
    notices: noticeLog(logger, faultLogLimit),
    commands: names,
    cmdName: names === undefined ? String : (cmd) => {
      const name = names.nameOf(cmd);
      return name === undefined ? String(cmd) : `"${name}" (${cmd})`;
    },
    nodeName: options.nodeName,
  };
}
