/**
 * An in-memory `@opentelemetry/api` `Tracer` with no SDK, for weft's tests,
 * benchmark and example (not a package export).
 *
 * @module
 */

import {
  type Attributes,
  type Context,
  context as contextApi,
  isSpanContextValid,
  type Link,
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
