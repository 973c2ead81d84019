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
 * SDK's tracer provider as usual, or pass any `Tracer`;
 * {@linkcode RecordingTracer} is a small in-memory one for tests and demos.
 *
 * A handler's server span is current while it runs: calls it makes (with
 * `options.context`, or under the cluster's `contextStorage`) are its
 * children, and with an OpenTelemetry context manager registered, spans the
 * handler opens through the API are too.
 *
 * @example Spans of one call between two nodes
 * ```ts
 * import { Cluster } from "@weft/cluster";
 * import { json } from "@weft/cluster/json";
 * import { transport } from "@weft/cluster/memory";
 * import { otelTracing, RecordingTracer } from "@weft/cluster/otel";
 *
 * const tracer = new RecordingTracer();
 * const tracing = otelTracing({ tracer });
 * await using server = new Cluster({ ...json(), transport, tracing, call: (_p, _c, b) => b });
 * const listener = await server.listen("127.0.0.1:0");
 * await using client = new Cluster({ ...json(), transport, tracing });
 * await client.call(client.connect(`127.0.0.1:${listener.address.port}`), 1, "hi");
 * const [serverSpan, clientSpan] = tracer.spans;
 * if (serverSpan!.parentSpanId !== clientSpan!.spanContext().spanId) throw new Error("not linked");
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
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
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

/** Options of {@linkcode otelTracing}. */
export interface OtelTracingOptions {
  /**
   * The tracer spans are opened with.
   *
   * @default {trace.getTracer("@weft/cluster")} (the registered provider's; a no-op one without)
   */
  tracer?: Tracer;
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
  const tracer = options.tracer ?? trace.getTracer("@weft/cluster");
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

const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function randomHex(bytes: number): string {
  const out = crypto.getRandomValues(new Uint8Array(bytes));
  let hex = "";
  for (const b of out) hex += BYTE_HEX[b];
  return hex;
}

/** A span kept by {@linkcode RecordingTracer}. */
export class RecordingSpan implements Span {
  readonly #context: SpanContext;
  /** The span's name. */
  name: string;
  /** The span's kind. */
  readonly kind: SpanKind;
  /** The parent span's id, undefined for a root span. */
  readonly parentSpanId: string | undefined;
  /** Attributes set. */
  readonly attributes: Attributes;
  /** Events added. */
  readonly events: { name: string; attributes?: Attributes }[] = [];
  /** The status set (UNSET until then). */
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  /** True once ended. */
  ended = false;
  readonly #onEnd: (span: RecordingSpan) => void;

  /** A span of `context`, under `parentSpanId`; `onEnd` is called once when it ends. */
  constructor(
    name: string,
    options: SpanOptions,
    context: SpanContext,
    parentSpanId: string | undefined,
    onEnd: (span: RecordingSpan) => void,
  ) {
    this.name = name;
    this.kind = options.kind ?? SpanKind.INTERNAL;
    this.attributes = { ...options.attributes };
    this.#context = context;
    this.parentSpanId = parentSpanId;
    this.#onEnd = onEnd;
  }
  /** The span's ids and flags. */
  spanContext(): SpanContext {
    return this.#context;
  }
  /** Sets an attribute. */
  setAttribute(key: string, value: Attributes[string]): this {
    if (value !== undefined) this.attributes[key] = value;
    return this;
  }
  /** Sets attributes. */
  setAttributes(attributes: Attributes): this {
    Object.assign(this.attributes, attributes);
    return this;
  }
  /** Adds an event. */
  addEvent(name: string, attributes?: Attributes | TimeInput): this {
    const attrs = attributes !== null && typeof attributes === "object" &&
        !Array.isArray(attributes) && !(attributes instanceof Date)
      ? { attributes: attributes as Attributes }
      : {};
    this.events.push({ name, ...attrs });
    return this;
  }
  /** Links are not recorded. */
  addLink(_link: Link): this {
    return this;
  }
  /** Links are not recorded. */
  addLinks(_links: Link[]): this {
    return this;
  }
  /** Sets the status. */
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  /** Renames the span. */
  updateName(name: string): this {
    this.name = name;
    return this;
  }
  /** Ends the span (once). */
  end(_endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    this.#onEnd(this);
  }
  /** True until ended. */
  isRecording(): boolean {
    return !this.ended;
  }
  /** Adds an `exception` event. */
  recordException(exception: unknown): void {
    const message = exception instanceof Error ? exception.message : String(exception);
    this.events.push({ name: "exception", attributes: { "exception.message": message } });
  }
}

/**
 * An in-memory `Tracer` (no SDK): keeps each span when it ends, in
 * {@linkcode RecordingTracer.spans}; past `limit` the oldest half is dropped.
 * Ids are random; a child keeps its parent's trace id and flags.
 */
export class RecordingTracer implements Tracer {
  /** Ended spans, oldest first. */
  readonly spans: RecordingSpan[] = [];
  readonly #limit: number;

  /**
   * @param limit Most spans kept.
   * @throws {RangeError} If `limit` is not a positive integer.
   */
  constructor(limit = 10_000) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`Invalid limit: expected a positive integer, got ${limit}`);
    }
    this.#limit = limit;
  }

  /** Opens a span under the span of `context` (or the active one). */
  startSpan(name: string, options: SpanOptions = {}, context?: Context): Span {
    const parent = options.root ? undefined : trace.getSpanContext(context ?? contextApi.active());
    const valid = parent !== undefined && isSpanContextValid(parent);
    const spanContext: SpanContext = {
      traceId: valid ? parent.traceId : randomHex(16),
      spanId: randomHex(8),
      traceFlags: valid ? parent.traceFlags : TraceFlags.SAMPLED,
      ...(valid && parent.traceState !== undefined ? { traceState: parent.traceState } : {}),
    };
    return new RecordingSpan(name, options, spanContext, valid ? parent.spanId : undefined, (s) => {
      this.spans.push(s);
      // Over the limit: drop the oldest half at once (amortised O(1) per span).
      if (this.spans.length > this.#limit) this.spans.splice(0, this.spans.length >> 1);
    });
  }

  /** Opens a span and runs `fn` with it active. */
  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  /** Opens a span and runs `fn` with it active. */
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  /** Opens a span and runs `fn` with it active. */
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    context: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    ...args: [F] | [SpanOptions, F] | [SpanOptions, Context, F]
  ): ReturnType<F> {
    const fn = args[args.length - 1] as F;
    const options = args.length > 1 ? args[0] as SpanOptions : {};
    const context = args.length > 2 ? args[1] as Context : contextApi.active();
    const span = this.startSpan(name, options, context);
    return contextApi.with(trace.setSpan(context, span), () => fn(span)) as ReturnType<F>;
  }
}
