/**
 * Tracing hooks of a cluster: the cluster option `tracing` takes a
 * {@linkcode Tracing} that opens a client span per call (and send) and a
 * server span per handled request. weft itself records nothing and depends
 * on no tracing library; `@weft/cluster/otel` adapts `@opentelemetry/api`.
 *
 * In weft mode a traced call carries W3C trace context (the `traceparent`
 * fields and an optional, bounded `tracestate`) in its request head, flag
 * 8 (docs/PROTOCOL_EXTENSIONS.md). In silly mode nothing new is sent: the
 * peer gets only the frame's 64-bit traceid.
 *
 * The 64-bit silly traceid and the 128-bit W3C trace id map as follows:
 * silly's id is the low 64 bits of the W3C trace id
 * ({@linkcode sillyTraceIdOf}); a request that carries only silly's id X
 * (a silly peer, or a weft peer without tracing) belongs to W3C trace
 * `0000000000000000` followed by X ({@linkcode w3cTraceIdOf}), so an id
 * whose high half is zero maps back exactly. A traced call puts the low 64
 * bits of its W3C trace id in the frame (silly's own ids put the node id in
 * their low 16 bits; a traced call's ids come from the tracer instead).
 *
 * @example A hook that logs each span's trace id
 * ```ts
 * import { Cluster } from "@weft/cluster";
 * import { json } from "@weft/cluster/json";
 * import { transport } from "@weft/cluster/memory";
 * import type { Tracing } from "@weft/cluster/tracing";
 *
 * const seen: string[] = [];
 * const tracing: Tracing = {
 *   startCall: () => ({
 *     context: { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", flags: 1, traceState: "" },
 *     end: () => seen.push("client"),
 *   }),
 *   startRequest: (start) => ({ end: () => seen.push(`server ${start.remote?.traceId}`) }),
 * };
 * await using server = new Cluster({ ...json(), transport, tracing, call: (_p, _c, b) => b });
 * const listener = await server.listen("127.0.0.1:0");
 * await using client = new Cluster({ ...json(), transport, tracing });
 * await client.call(client.connect(`127.0.0.1:${listener.address.port}`), 1, "hi");
 * if (seen.join() !== "server 0af7651916cd43dd8448eb211c80319c,client") throw new Error(seen.join());
 * ```
 *
 * @module
 */

import type { TraceParent } from "../protocol/mode.ts";
import type { CallContext } from "./call_context.ts";
import type { Peer } from "../connection/peer.ts";

export type { CallContext, Peer };
export type { CallOptions } from "./call_context.ts";
export type { PeerIdentity } from "./security.ts";
export type { AbortSignalLike } from "../_platform.ts";
export type { Address, PeerCertificate } from "../transport/types.ts";
export type { TraceParent } from "../protocol/mode.ts";
export {
  appendTraceContext,
  MAX_TRACE_STATE,
  readTraceContext,
  TRACE_EXTENSION_VERSION,
  TRACE_FLAG,
} from "../protocol/weft/trace_context.ts";

/** What a client span is opened for. */
export interface CallStart {
  /** The command as the caller named it. */
  cmd: string | number;
  /** The command number on the wire. */
  wireCmd: number;
  /**
   * The command's name: as the caller named it (or the named-node command
   * it carries), or from the cluster's command table (the option
   * `commands`, or the codec's); undefined when none is known.
   */
  name: string | undefined;
  /** Weft mode: the service the call names (a named-node call's `service`), if any. */
  service: string | undefined;
  /** The node called. */
  peer: Peer;
  /** True for a one-way `send`. */
  oneWay: boolean;
  /** The server span of the request being handled that makes this call, if any. */
  parent: ServerSpan | undefined;
}

/** An open client span. */
export interface ClientSpan {
  /** The context sent with the call in weft mode (this span as parent); undefined sends none. */
  readonly context: TraceParent | undefined;
  /** Ends the span: no error for an answer (or a send written), else why the call failed. */
  end(error?: unknown): void;
}

/** What a server span is opened for. */
export interface RequestStart {
  /** The command number on the wire. */
  cmd: number;
  /**
   * The command's name: the named-node command the request carried, or
   * from the cluster's command table; undefined when none is known (so the
   * same command has the same name on both ends when both know the table).
   */
  name: string | undefined;
  /** Weft mode: the service the request named (`context.service`), if any. */
  service: string | undefined;
  /** The node that sent the request. */
  peer: Peer;
  /** The request's context (its `traceId` is the frame's 64-bit id). */
  context: CallContext;
  /** The trace context the request carried (weft mode), if any. */
  remote: TraceParent | undefined;
}

/** An open server span. */
export interface ServerSpan {
  /** Runs the handler with this span current (optional). */
  run?<T>(fn: () => T): T;
  /** Ends the span: no error if the handler returned, else what it threw. */
  end(error?: unknown): void;
}

/** The cluster option `tracing`: opens spans; returning undefined traces nothing. */
export interface Tracing {
  /** Opens the client span of a call or send. */
  startCall(start: CallStart): ClientSpan | undefined;
  /** Opens the server span of a request about to be handled. */
  startRequest(start: RequestStart): ServerSpan | undefined;
}

/** silly's 64-bit traceid of a W3C trace id: its low 64 bits. */
export function sillyTraceIdOf(traceId: string): bigint {
  return BigInt(`0x${traceId.slice(16, 32)}`);
}

/** The W3C trace id of a request that carries only silly's 64-bit id: 16 zero digits, then the id. */
export function w3cTraceIdOf(sillyTraceId: bigint): string {
  return "0000000000000000" + sillyTraceId.toString(16).padStart(16, "0");
}
