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
import { MAX_TRACE_STATE, w3cTraceIdOf } from "../cluster/tracing.ts";
import { WeftError } from "../errors.ts";

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
    endSpan(this.span, error);
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
    endSpan(this.span, error);
  }
}

function endSpan(span: Span, error: unknown): void {
  if (error !== undefined) {
    const code = error instanceof WeftError ? error.code : undefined;
    if (code !== undefined) span.setAttribute("weft.error_code", code);
    if (error instanceof Error) span.recordException(error);
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

function attributes(cmd: string | number, wireCmd: number, peer: string): Attributes {
  return {
    "rpc.system": "weft",
    "rpc.method": String(cmd),
    "weft.cmd": wireCmd,
    "net.peer.name": peer,
  };
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
 * The cluster option `tracing` for an OpenTelemetry tracer: CLIENT spans
 * named `weft call <cmd>` (or `weft send <cmd>`), SERVER spans named
 * `weft handle <cmd>`, with `rpc.system` `weft`, `rpc.method`, `weft.cmd`
 * and the peer; a failure sets status ERROR, records the exception and, for
 * a `WeftError`, `weft.error_code`.
 *
 * @param options The tracer; see {@linkcode OtelTracingOptions}.
 * @returns Hooks to pass as the cluster option `tracing`.
 */
export function otelTracing(options: OtelTracingOptions = {}): Tracing {
  const tracer = (options.tracer as Tracer | undefined) ?? trace.getTracer("@weft/cluster");
  return {
    startCall(start: CallStart): ClientSpan {
      const parent = start.parent instanceof OtelServer ? start.parent.active : contextApi.active();
      const span = tracer.startSpan(
        `weft ${start.oneWay ? "send" : "call"} ${start.cmd}`,
        {
          kind: SpanKind.CLIENT,
          attributes: attributes(start.cmd, start.wireCmd, String(start.peer)),
        },
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
      const span = tracer.startSpan(
        `weft handle ${start.cmd}`,
        {
          kind: SpanKind.SERVER,
          attributes: attributes(start.cmd, start.cmd, String(start.peer)),
        },
        remoteParent(start),
      );
      return new OtelServer(span, trace.setSpan(ROOT_CONTEXT, span));
    },
  };
}
