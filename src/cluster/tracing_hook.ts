/**
 * The cluster's side of its `tracing` option (internal; the hook types and
 * the wire format are in tracing.ts): wraps the call handler to open server
 * spans, opens client spans, and keeps which request's span is whose.
 *
 * @module
 */

import { traceIdFromBigInt } from "../wire/frame.ts";
import type { CallContext } from "./call_context.ts";
import type { CommandNames, ResolvedOptions } from "./options.ts";
import type { Peer } from "../connection/peer.ts";
import {
  type ClientSpan,
  type ServerSpan,
  sillyTraceIdOf,
  type TraceParent,
  type Tracing,
} from "./tracing.ts";

type Handler = NonNullable<ResolvedOptions["call"]>;

/** The cluster's side of its `tracing` option (internal). */
export class ClusterTracing {
  readonly #hook: Tracing;
  readonly #storage: ResolvedOptions["contextStorage"];
  readonly #commands: CommandNames | undefined;
  /** Server spans by request, so calls a handler makes find their parent. */
  readonly #spans = new WeakMap<CallContext, ServerSpan>();
  /** Trace context received with a request, until its handler runs. */
  readonly #remotes = new WeakMap<CallContext, TraceParent>();

  /**
   * Tracing through `hook`; parents found in `storage` when a call names no
   * context; command names from `commands`.
   */
  constructor(
    hook: Tracing,
    storage: ResolvedOptions["contextStorage"],
    commands?: CommandNames,
  ) {
    this.#hook = hook;
    this.#storage = storage;
    this.#commands = commands;
  }

  /** A request arrived with trace context. */
  received(context: CallContext, remote: TraceParent): void {
    this.#remotes.set(context, remote);
  }

  /**
   * Opens a call's client span; a span with context sets the frame's
   * traceid (`trace`, written in place) to its trace id's low 64 bits.
   */
  call(
    cmd: string | number,
    wireCmd: number,
    channel: { readonly peer: Peer },
    oneWay: boolean,
    options: { context?: CallContext; service?: string; command?: string } | undefined,
    trace: { traceHi: number; traceLo: number },
  ): ClientSpan | undefined {
    const parent = options?.context ?? this.#storage?.getStore();
    const span = this.#hook.startCall({
      cmd,
      wireCmd,
      name: options?.command ?? (typeof cmd === "string" ? cmd : this.#commands?.nameOf(wireCmd)),
      service: options?.service,
      peer: channel.peer,
      oneWay,
      parent: parent === undefined ? undefined : this.#spans.get(parent),
    });
    if (span?.context !== undefined) {
      [trace.traceHi, trace.traceLo] = traceIdFromBigInt(sillyTraceIdOf(span.context.traceId));
    }
    return span;
  }

  /** Ends `span` when `promise` settles. */
  settle(span: ClientSpan, promise: Promise<unknown>): void {
    promise.then(() => span.end(), (error) => span.end(error ?? new Error("rejected")));
  }

  /** `handler`, opening a server span around each request it handles. */
  wrap(handler: Handler): Handler {
    return (peer, cmd, body, context) => {
      const span = this.#hook.startRequest({
        cmd,
        name: context.command ?? this.#commands?.nameOf(cmd),
        service: context.service,
        peer,
        context,
        remote: this.#remotes.get(context),
      });
      if (span === undefined) return handler(peer, cmd, body, context);
      this.#spans.set(context, span);
      let result: unknown;
      try {
        result = span.run === undefined
          ? handler(peer, cmd, body, context)
          : span.run(() => handler(peer, cmd, body, context));
      } catch (error) {
        span.end(error ?? new Error("thrown"));
        throw error;
      }
      if (
        result !== null && typeof result === "object" &&
        typeof (result as PromiseLike<unknown>).then === "function"
      ) {
        (result as PromiseLike<unknown>).then(
          () => span.end(),
          (error) => span.end(error ?? new Error("rejected")),
        );
      } else {
        span.end();
      }
      return result;
    };
  }
}

/**
 * The cluster's tracing for its `tracing` option (wrapping the resolved
 * call handler), or undefined without one.
 *
 * @throws {TypeError} Naming the option, if it is not an object with `startCall` and `startRequest`.
 */
export function createTracing(
  option: Tracing | undefined,
  resolved: ResolvedOptions,
): ClusterTracing | undefined {
  if (option === undefined) return undefined;
  if (
    option === null || typeof option !== "object" || typeof option.startCall !== "function" ||
    typeof option.startRequest !== "function"
  ) {
    throw new TypeError(
      "Invalid option tracing: expected an object with startCall and startRequest functions",
    );
  }
  const tracing = new ClusterTracing(option, resolved.contextStorage, resolved.commands);
  if (resolved.call !== undefined) resolved.call = tracing.wrap(resolved.call);
  return tracing;
}
