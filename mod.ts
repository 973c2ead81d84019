/**
 * weft: cluster RPC for TypeScript runtimes, wire-compatible with
 * silly.net.cluster.
 *
 * This entry point is runtime-free: the {@linkcode Cluster}, its options and
 * errors, trace ids, and the transport contract. The runtime adapters
 * (`@weft/cluster/deno`, `/bun`, `/node`, `/memory`), the codecs (`/json`,
 * `/msgpack`, `/raw`, `/commands`), typed commands (`/typed`), stats
 * (`/stats`) and silly's frames (`/wire`: encoder, decoder, constants) are
 * separate subpath exports.
 * Without a `transport` option the cluster picks the adapter of the runtime
 * it runs on.
 *
 * @example Two nodes, one call (in-memory transport, JSON bodies)
 * ```ts
 * import { Cluster } from "@weft/cluster";
 * import { json } from "@weft/cluster/json";
 * import { transport } from "@weft/cluster/memory";
 *
 * const commands = { add: 1 };
 * await using server = new Cluster({
 *   ...json({ commands }),
 *   transport,
 *   call: (_peer, _cmd, body) => {
 *     const { a, b } = body as { a: number; b: number };
 *     return { sum: a + b };
 *   },
 * });
 * const listener = await server.listen("127.0.0.1:0");
 * await using client = new Cluster({ ...json({ commands }), transport });
 * const peer = client.connect(`127.0.0.1:${listener.address.port}`);
 * const reply = await client.call(peer, "add", { a: 1, b: 2 });
 * if ((reply as { sum: number }).sum !== 3) throw new Error("unexpected reply");
 * ```
 *
 * @module
 */

export * from "./src/errors.ts";
export type { AbortSignalLike } from "./src/_platform.ts";
export * from "./src/cluster/cluster.ts";
export {
  type ClusterOptions,
  type CommandNames,
  type ContextStorage,
  DEFAULT_CLUSTER_CONNECT_TIMEOUT,
  DEFAULT_HEARTBEAT_INTERVAL,
  DEFAULT_HEARTBEAT_MISSES,
  DEFAULT_TIMEOUT,
  DEFAULT_WEFT_HARD_LIMIT,
  defaultErrorInfo,
  defaultLogger,
  type Logger,
  type RequestHandler,
} from "./src/cluster/options.ts";
export { Peer } from "./src/connection/peer.ts";
export {
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_PARTIAL_BYTES,
  DEFAULT_MAX_PARTIAL_MESSAGES,
  DEFAULT_PART_SIZE,
  DEFAULT_PART_WINDOW,
  type PartOptions,
} from "./src/protocol/weft/parts.ts";
export {
  DEFAULT_MAX_HANDLERS_PER_NODE,
  DEFAULT_MAX_WAITING_BYTES_PER_NODE,
  type RequestBudgetOptions,
} from "./src/connection/request_budget.ts";
export {
  allowList,
  type AllowRule,
  type Authorize,
  type AuthorizeRequest,
  type ClusterTlsOptions,
  isAuthenticated,
  type PeerIdentity,
  type TrustOptions,
} from "./src/cluster/security.ts";
export {
  hasCredentials,
  isLoopback,
  type ProtectedModeOptions,
} from "./src/cluster/protected_mode.ts";
export { type AuthOptions } from "./src/protocol/weft/handshake_auth.ts";
export { DEFAULT_FAULT_LOG_LIMIT, type PeerFault } from "./src/cluster/fault_log.ts";
export * from "./src/cluster/listener.ts";
export { holdReading } from "./src/cluster/hold.ts";
export {
  type ClusterDescription,
  INFO_CACHE_MS,
  INFO_SERVICE,
  InfoKind,
  type InfoProvider,
  MAX_INFO_KIND_BYTES,
} from "./src/cluster/info.ts";
export { VERSION } from "./src/version.ts";
export type { RawRequest, RawRequestHook } from "./src/cluster/forward.ts";
export * from "./src/cluster/call_context.ts";
export { DEFAULT_PROTOCOL, type Protocol } from "./src/protocol/mod.ts";
export {
  ControlCmd,
  decodeHelloFields,
  encodeHello,
  HelloField,
  MAX_HELLO_SIZE,
  RequestFlag,
  RESERVED_CMD_MIN,
  ResponseStatus,
  WEFT_VERSION,
} from "./src/protocol/weft/protocol.ts";
export * from "./src/codec/types.ts";
export * from "./src/session/trace.ts";
export {
  DEFAULT_HARD_LIMIT,
  DEFAULT_SOFT_LIMIT,
  formatTraceId,
  type Framing,
  traceIdFromBigInt,
  traceIdToBigInt,
} from "./src/wire/frame.ts";
export * from "./src/transport/types.ts";
export * from "./src/transport/address.ts";
export { defaultTransport, detectRuntime, type RuntimeName } from "./src/transport/detect.ts";
