/**
 * OpenTelemetry for weft: {@linkcode otelTracing} adapts an
 * `@opentelemetry/api` `Tracer` to the cluster option `tracing`, so each
 * call opens a CLIENT span and each handled request a SERVER span, and in
 * weft mode the W3C trace context crosses nodes in the request head (a
 * trace spans every weft node a call passes through). A request from a
 * silly peer (only a 64-bit traceid) joins trace `0000000000000000` + that
 * id, its parent span id being the silly id itself (silly's caller, which
 * reports no span); a traced call to a silly peer sends the low 64 bits of
 * its trace id.
 *
 * The core has no dependency on `@opentelemetry/api`; only this subpath
 * imports it (an optional peer dependency of the npm package). Register an
 * SDK's tracer provider as usual, or pass any `Tracer` (the repository's
 * src/otel/recording.ts has a small in-memory one for its tests and demo).
 *
 * A handler's server span is current while it runs: calls it makes (with
 * `options.context`, or under the cluster's `contextStorage`) are its
 * children, and with an OpenTelemetry context manager registered, spans the
 * handler opens through the API are too.
 *
 * @example Tracing on two nodes (spans go to the registered SDK; none here, so a no-op tracer)
 * ```ts
 * import { Cluster } from "@weft/cluster";
 * import { json } from "@weft/cluster/json";
 * import { transport } from "@weft/cluster/memory";
 * import { otelTracing } from "@weft/cluster/otel";
 *
 * const tracing = otelTracing();
 * await using server = new Cluster({ ...json(), transport, tracing, call: (_p, _c, b) => b });
 * const listener = await server.listen("127.0.0.1:0");
 * await using client = new Cluster({ ...json(), transport, tracing });
 * const answer = await client.call(client.connect(`127.0.0.1:${listener.address.port}`), 1, "hi");
 * if (answer !== "hi") throw new Error("unexpected answer");
 * ```
 *
 * @module
 */

import {
  type Attributes,
  type Context,
  context as contextApi,
  createTraceState,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from "@opentelemetry/api";
import type {
  CallStart,
  ClientSpan,
  RequestStart,
  ServerSpan,
  TraceParent,
  Tracing,
} from "../cluster/tracing.ts";
import type { Peer } from "../connection/peer.ts";
import { MAX_TRACE_STATE, w3cTraceIdOf } from "../cluster/tracing.ts";
import { RemoteError } from "../errors.ts";
import { parseAddress } from "../transport/address.ts";

export { sillyTraceIdOf, w3cTraceIdOf } from "../cluster/tracing.ts";

/**
 * Any `@opentelemetry/api` `Tracer` (typed loosely so this module's public
 * types do not name the API's; weft calls its `startSpan`).
 */
export interface OtelTracer {
  /** The API's `Tracer.startSpan(name, options, context)`. */
  startSpan(...args: never[]): unknown;
}

/** Options of {@linkcode otelTracing}. */
export interface OtelTracingOptions {
  /**
   * The `@opentelemetry/api` `Tracer` spans are opened with.
   *
   * @default {trace.getTracer("@weft/cluster")} (the registered provider's; a no-op one without)
   */
  tracer?: OtelTracer;
}

class OtelClient implements ClientSpan {
  readonly span: Span;
  readonly context: TraceParent | undefined;
  constructor(span: Span, context: TraceParent | undefined) {
    this.span = span;
    this.context = context;
  }
  end(error?: unknown): void {
    endSpan(this.span, error, clientStatus);
  }
}

class OtelServer implements ServerSpan {
  readonly span: Span;
  readonly active: Context;
  constructor(span: Span, active: Context) {
    this.span = span;
    this.active = active;
  }
  run<T>(fn: () => T): T {
    return contextApi.with(this.active, fn);
  }
  end(error?: unknown): void {
    endSpan(this.span, error, serverStatus);
  }
}

/** A thrown value's code: a `WeftError`'s, or any string `code`; else `error` (as the stats count it). */
function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code !== "" ? code : "error";
}

/**
 * The client's status code: for an error the server answered (`remote`),
 * the code the server gave (what its span says); else weft's own code.
 */
function clientStatus(error: unknown): string {
  if (error instanceof RemoteError) return error.remote.code ?? "error";
  return codeOf(error);
}

/** The server's status code: the handler's error's code, or `error`. */
function serverStatus(error: unknown): string {
  return codeOf(error);
}

/**
 * Ends `span` the way the conventions record errors: `rpc.status_code`
 * (`ok`, or the error's code), and for a failure `error.type` (the same
 * code), status ERROR with the error's message.
 */
function endSpan(span: Span, error: unknown, status: (error: unknown) => string): void {
  if (error === undefined) {
    span.setAttribute("rpc.status_code", "ok");
  } else {
    const code = status(error);
    span.setAttributes({ "rpc.status_code": code, "error.type": code });
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
  }
  span.end();
}

/** `tracestate` bounded to what the extension carries: whole entries dropped from the end. */
function boundedState(state: string): string {
  if (state.length <= MAX_TRACE_STATE) return state;
  const entries = state.split(",");
  while (entries.length > 0 && entries.join(",").length > MAX_TRACE_STATE) entries.pop();
  return entries.join(",");
}

/** weft's `rpc.system.name`. */
export const RPC_SYSTEM = "weft";

/**
 * `rpc.method`: `service/name` or `name` when the command's name is known,
 * else `_OTHER` (a bare command number is not a method the conventions
 * recognise: give the cluster a command table, the option `commands`).
 */
function method(name: string | undefined, service: string | undefined): string {
  if (name === undefined) return "_OTHER";
  return service === undefined ? name : `${service}/${name}`;
}

/** A peer's dialled address, parsed once per peer (a peer keeps its address). */
const dialledAddresses = new WeakMap<Peer, { hostname: string; port: number } | undefined>();

function dialledOf(peer: Peer): { hostname: string; port: number } | undefined {
  if (dialledAddresses.has(peer)) return dialledAddresses.get(peer);
  let parsed: { hostname: string; port: number } | undefined;
  if (peer.address !== undefined) {
    try {
      const { hostname, port } = parseAddress(peer.address);
      parsed = { hostname, port };
    } catch { /* not host:port: left out */ }
  }
  dialledAddresses.set(peer, parsed);
  return parsed;
}

/** The attributes of a span, set when it starts (the conventions' sampling-relevant ones included). */
function attributes(
  start: { name: string | undefined; service: string | undefined; peer: Peer },
  wireCmd: number,
  client: boolean,
): Attributes {
  const rpcMethod = method(start.name, start.service);
  const out: Attributes = {
    "rpc.system.name": RPC_SYSTEM,
    "rpc.method": rpcMethod,
    "weft.cmd": wireCmd,
  };
  if (rpcMethod === "_OTHER") {
    out["rpc.method_original"] = start.service === undefined
      ? String(wireCmd)
      : `${start.service}/${wireCmd}`;
  }
  // The address the caller dialled (the server's side has none: the
  // conventions say not to take it from the connection).
  if (client) {
    const dialled = dialledOf(start.peer);
    if (dialled !== undefined) {
      out["server.address"] = dialled.hostname;
      out["server.port"] = dialled.port;
    }
  }
  const remote = start.peer.remoteAddress;
  if (remote !== undefined) {
    out["network.peer.address"] = remote.hostname;
    out["network.peer.port"] = remote.port;
  }
  return out;
}

/** The conventions' span name: `rpc.method`, or `rpc.system.name` when it is `_OTHER`. */
function spanName(attrs: Attributes): string {
  const m = attrs["rpc.method"];
  return m === "_OTHER" ? RPC_SYSTEM : String(m);
}

/** The parent of a request's server span: what it carried, or its silly traceid, or none. */
function remoteParent(start: RequestStart): Context {
  const remote = start.remote;
  if (remote !== undefined) {
    return trace.setSpanContext(ROOT_CONTEXT, {
      traceId: remote.traceId,
      spanId: remote.spanId,
      traceFlags: remote.flags,
      isRemote: true,
      ...(remote.traceState === "" ? {} : { traceState: createTraceState(remote.traceState) }),
    });
  }
  const silly = start.context.traceId;
  if (silly === 0n) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: w3cTraceIdOf(silly),
    spanId: silly.toString(16).padStart(16, "0"),
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  });
}

/**
 * The cluster option `tracing` for an OpenTelemetry tracer, following the
 * RPC semantic conventions (semantic-conventions v1.44): a CLIENT span per call
 * or send and a SERVER span per handled request, both named by
 * `rpc.method` (the command's name, `service/name` for a named-node call;
 * `_OTHER`, and the span named `weft`, when no command table names it),
 * with `rpc.system.name` `weft`, `weft.cmd` (the number), `weft.one_way`
 * for a send, `server.address` and `server.port` (client: the address
 * dialled), `network.peer.address` and `network.peer.port`; on the end
 * `rpc.status_code` (`ok`, or the error's code: a `WeftError` code such as
 * `timeout`, or on the client of a failed handler the code the server
 * answered), and for a failure `error.type` (the same code) and status
 * ERROR with the error's message.
 *
 * @param options The tracer; see {@linkcode OtelTracingOptions}.
 * @returns Hooks to pass as the cluster option `tracing`.
 */
export function otelTracing(options: OtelTracingOptions = {}): Tracing {
  const tracer = (options.tracer as Tracer | undefined) ?? trace.getTracer("@weft/cluster");
  return {
    startCall(start: CallStart): ClientSpan {
      const parent = start.parent instanceof OtelServer ? start.parent.active : contextApi.active();
      const attrs = attributes(start, start.wireCmd, true);
      if (start.oneWay) attrs["weft.one_way"] = true;
      const span = tracer.startSpan(
        spanName(attrs),
        { kind: SpanKind.CLIENT, attributes: attrs },
        parent,
      );
      const sc = span.spanContext();
      const context = isSpanContextValid(sc)
        ? {
          traceId: sc.traceId,
          spanId: sc.spanId,
          flags: sc.traceFlags,
          traceState: boundedState(sc.traceState?.serialize() ?? ""),
        }
        : undefined;
      return new OtelClient(span, context);
    },
    startRequest(start: RequestStart): ServerSpan {
      const attrs = attributes(start, start.cmd, false);
      if (start.context.oneWay) attrs["weft.one_way"] = true;
      const span = tracer.startSpan(
        spanName(attrs),
        { kind: SpanKind.SERVER, attributes: attrs },
        remoteParent(start),
      );
      return new OtelServer(span, trace.setSpan(ROOT_CONTEXT, span));
    },
  };
}
