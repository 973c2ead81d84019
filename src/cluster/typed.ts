/**
 * Typed commands: declare the command table once as a TypeScript type, and
 * calls, sends and handlers are checked against it end to end.
 *
 * ```ts ignore
 * type Api = {
 *   add: { request: { a: number; b: number }; response: { sum: number } };
 *   notify: { request: { text: string } }; // no response: one-way
 * };
 * const api = typed<Api>({ add: 1, notify: 0x10 });   // the numbers the wire carries
 * const server = new Cluster({
 *   ...json({ commands: api.commands }),
 *   call: api.handlers({ add: ({ a, b }) => ({ sum: a + b }), notify: ({ text }) => log(text) }),
 * });
 * const client = api.client(new Cluster({ ...json({ commands: api.commands }) }));
 * const { sum } = await client.call(peer, "add", { a: 1, b: 2 });  // sum: number
 * ```
 *
 * What the types check:
 *
 * - `client.call(peer, name, body)`: `name` is a command of the type that
 *   has a response, `body` its request type; the promise resolves to its
 *   response type. `client.send` takes every command name.
 * - `api.handlers({...})`: each key is a command name, each handler gets
 *   that command's request type and must return its response type (or a
 *   promise of it); a one-way command's handler returns nothing.
 * - `typed<Api>(table)`: the table gives a number to every command of the
 *   type (it may name more commands, such as the `pong` a `ping` is
 *   answered by).
 *
 * What happens at run time:
 *
 * - The client puts the table's number in `cmd`, so the codec needs no
 *   table of its own; giving it `api.commands` as well is recommended (the
 *   codec then rejects unknown numbers while decoding, and `response`
 *   entries pick the response's number). A name outside the table (from
 *   untyped code) rejects with a `TypeError`, as the codecs do.
 * - Types are not checked on the wire: a body is whatever the peer's codec
 *   decoded. Validate at trust boundaries.
 * - A request this node has no handler for (a number outside the table, or
 *   a command the handler map leaves out) is treated like a request that
 *   cannot be decoded: the handler throws a `WeftError` with code
 *   `unmarshal failed` (unless a `fallback` handles it). The cluster logs
 *   it; in silly mode it answers nothing (the caller times out, as with
 *   silly), in weft mode the caller gets a `RemoteError` whose
 *   `remote.code` is `unmarshal failed`.
 * - A handler returning `undefined` answers with no body in weft mode (the
 *   caller gets `undefined`) and sends no response in silly mode (silly's
 *   `nil`), where a command whose response type admits `undefined` can
 *   leave its caller to time out.
 *
 * @example Two nodes over the in-memory transport
 * ```ts
 * import { typed } from "@weft/cluster/typed";
 * import { Cluster } from "@weft/cluster";
 * import { json } from "@weft/cluster/json";
 * import { transport } from "@weft/cluster/memory";
 *
 * type Api = {
 *   add: { request: { a: number; b: number }; response: { sum: number } };
 *   ping: { request: { msg: string }; response: { msg: string } };
 * };
 * const api = typed<Api>({ add: 1, ping: { id: 2, response: "pong" }, pong: 3 });
 *
 * await using server = new Cluster({
 *   ...json({ commands: api.commands }),
 *   transport,
 *   call: api.handlers({
 *     add: ({ a, b }) => ({ sum: a + b }),
 *     ping: async ({ msg }) => ({ msg: `pong: ${msg}` }),
 *   }),
 * });
 * const listener = await server.listen("127.0.0.1:0");
 * await using node = new Cluster({ ...json({ commands: api.commands }), transport });
 * const client = api.client(node);
 * const peer = node.connect(`127.0.0.1:${listener.address.port}`);
 *
 * const { sum } = await client.call(peer, "add", { a: 1, b: 2 });
 * if (sum !== 3) throw new Error("unexpected result");
 * const { msg } = await client.call(peer, "ping", { msg: "hi" });
 * if (msg !== "pong: hi") throw new Error("unexpected result");
 * ```
 *
 * @module
 */

import { WeftError } from "../errors.ts";
import {
  type Commands,
  type CommandSpec,
  type CommandTable,
  toCommands,
} from "../codec/commands.ts";
import type { CallContext, CallOptions, ContextHost } from "./call_context.ts";
import type { RequestHandler } from "./options.ts";
import type { Peer } from "../connection/peer.ts";

export type { CallContext, CallOptions, ContextHost } from "./call_context.ts";
export type { RequestHandler } from "./options.ts";
export type { Peer } from "../connection/peer.ts";
export type { CommandName, Commands, CommandSpec, CommandTable } from "../codec/commands.ts";
export type { AbortSignalLike } from "../_platform.ts";
export type { Address } from "../transport/types.ts";

/**
 * The types of one command: its request body, and its response body. A
 * command without `response` (or with `response: void` or `undefined`) is
 * one-way: it can be sent, not called, and its handler returns nothing.
 */
export interface CommandTypes {
  /** The request body's type. */
  request: unknown;
  /** The response body's type; leave it out for a one-way command. */
  response?: unknown;
}

/**
 * The constraint on a command table type `A`: each of its names maps to
 * {@linkcode CommandTypes}. Written `A extends ApiTypes<A>` so that both
 * `type` aliases and `interface`s qualify.
 *
 * @typeParam A The declared command table type.
 */
export type ApiTypes<A> = { [K in keyof A]: CommandTypes };

/**
 * The command names of `A`.
 *
 * @typeParam A The declared command table type.
 */
export type NameOf<A> = keyof A & string;

/**
 * The request body type of command `K`.
 *
 * @typeParam A The declared command table type.
 * @typeParam K A command name.
 */
export type RequestOf<A, K extends keyof A> = A[K] extends { request: infer R } ? R : never;

/**
 * The response body type of command `K` (`undefined` for a one-way command).
 *
 * @typeParam A The declared command table type.
 * @typeParam K A command name.
 */
export type ResponseOf<A, K extends keyof A> = A[K] extends { response: infer R } ? R
  : undefined;

/**
 * `true` if a response type `R` means "no response" (`void`, `undefined`,
 * `never`); `any` does not.
 *
 * @typeParam R A response type.
 */
export type IsOneWay<R> = 0 extends 1 & R ? false : [R] extends [void] ? true : false;

/**
 * The names of `A` that have a response, and so can be called.
 *
 * @typeParam A The declared command table type.
 */
export type CallableName<A> = {
  [K in NameOf<A>]: IsOneWay<ResponseOf<A, K>> extends true ? never : K;
}[NameOf<A>];

/**
 * What the handler of command `K` returns: its response type, or nothing
 * for a one-way command.
 *
 * @typeParam A The declared command table type.
 * @typeParam K A command name.
 */
export type ReplyOf<A, K extends keyof A> = IsOneWay<ResponseOf<A, K>> extends true ? void
  : ResponseOf<A, K>;

/**
 * The handler of command `K`: gets the request body and the request's
 * {@linkcode CallContext} (its `peer`, `signal`, trace id; make traced typed
 * calls with `api.client(context)`), and returns the response body or a
 * promise of it.
 *
 * @typeParam A The declared command table type.
 * @typeParam K A command name.
 */
export type Handler<A, K extends keyof A> = (
  body: RequestOf<A, K>,
  context: CallContext,
) => ReplyOf<A, K> | PromiseLike<ReplyOf<A, K>>;

/**
 * A handler per command name; commands left out are not served by this node.
 *
 * @typeParam A The declared command table type.
 */
export type HandlerMap<A> = { [K in NameOf<A>]?: Handler<A, K> };

/**
 * A command table (as {@linkcode Commands} takes) that gives a number to
 * every command of `A`; it may name more commands (responses, say).
 *
 * @typeParam A The declared command table type.
 */
export type CommandTableFor<A> = { readonly [K in NameOf<A>]: CommandSpec } & CommandTable;

/**
 * A {@linkcode Commands} whose names include every command of `A`. (The
 * function-typed `idOf` makes the check strict: a table lacking a name of
 * `A` does not match.)
 *
 * @typeParam A The declared command table type.
 */
export type CommandsFor<A> = Commands<never> & { readonly idOf: (name: NameOf<A>) => number };

/** Options of {@linkcode TypedApi.handlers}. */
export interface HandlersOptions {
  /**
   * Handles requests that no typed handler serves (numbers outside the
   * table, commands the map leaves out), untyped. Without it they fail as
   * an undecodable request does: a `WeftError` with code `unmarshal failed`
   * is thrown, which the cluster logs (and, in weft protocol mode, sends
   * back).
   */
  fallback?: RequestHandler;
}

/**
 * Typed `call` and `send` over a cluster (or over a handler's
 * {@linkcode CallContext}, so the calls carry its trace id).
 *
 * @typeParam A The declared command table type.
 */
export interface TypedClient<A> {
  /** What the calls go through: the cluster or context given to `api.client()`. */
  readonly host: ContextHost;
  /**
   * Calls `peer` and waits for the response, as `cluster.call` does.
   *
   * @typeParam K The command's name.
   * @param peer Where to call.
   * @param name A command of `A` that has a response.
   * @param body Its request body.
   * @param options Timeout, signal, trace context.
   * @returns The response body, typed as the command's response.
   * @throws {TypeError} (as a rejection) If `name` is not in the table.
   * @throws {WeftError} (as a rejection) As `cluster.call` does.
   */
  call<K extends CallableName<A>>(
    peer: Peer,
    name: K,
    body: RequestOf<A, K>,
    options?: CallOptions,
  ): Promise<ResponseOf<A, K>>;
  /**
   * Sends a one-way request, as `cluster.send` does.
   *
   * @typeParam K The command's name.
   * @param peer Where to send.
   * @param name A command of `A`.
   * @param body Its request body.
   * @param options Timeout, signal, trace context.
   * @throws {TypeError} (as a rejection) If `name` is not in the table.
   * @throws {WeftError} (as a rejection) As `cluster.send` does.
   */
  send<K extends NameOf<A>>(
    peer: Peer,
    name: K,
    body: RequestOf<A, K>,
    options?: CallOptions,
  ): Promise<void>;
}

/**
 * What {@linkcode typed} returns: the command table, the typed handler map
 * builder and the typed client builder.
 *
 * @typeParam A The declared command table type.
 */
export interface TypedApi<A> {
  /** The validated command table; give it to the codec too (`json({ commands })`). */
  readonly commands: Commands;
  /**
   * Builds the cluster's `call` option from a handler per command: the
   * wire number is looked up in the table and the command's handler gets
   * the body and the context.
   *
   * @param map The handlers, keyed by command name.
   * @param options A fallback for requests no handler serves.
   * @returns A request handler for the cluster's `call` option.
   * @throws {TypeError} If a key is not a command of the table or a
   *   handler is not a function.
   */
  handlers(map: HandlerMap<A>, options?: HandlersOptions): RequestHandler;
  /**
   * A typed client over `host`: a `Cluster`, or a handler's `CallContext`
   * (whose calls carry the request's trace id).
   *
   * @param host Anything with the cluster's `call` and `send`.
   * @returns The typed client.
   * @throws {TypeError} If `host` has no `call` or `send` function.
   */
  client(host: ContextHost): TypedClient<A>;
}

function describe(cmd: number, name: string | undefined): string {
  return name === undefined ? `${cmd}` : `"${name}" (${cmd})`;
}

/**
 * Binds the command table type `A` to its numbers.
 *
 * @typeParam A The declared command table type: name -> `{ request, response? }`.
 * @param commands The numbers: a table (as {@linkcode Commands} takes) or a
 *   ready `Commands`, naming at least every command of `A`.
 * @returns The typed API: `commands`, `handlers()`, `client()`.
 * @throws {TypeError} If the table is malformed (see {@linkcode Commands}).
 *   (That it names every command of `A` is checked by the types only.)
 *
 * @example One-way commands are sent, not called
 * ```ts
 * import { typed } from "@weft/cluster/typed";
 *
 * type Api = { notify: { request: { text: string } } };
 * const api = typed<Api>({ notify: 0x10 });
 * const seen: string[] = [];
 * const handle = api.handlers({ notify: ({ text }) => void seen.push(text) });
 * // What the cluster does with a request whose cmd is 0x10:
 * // deno-lint-ignore no-explicit-any
 * handle(null as any, 0x10, { text: "hello" }, null as any);
 * if (seen[0] !== "hello") throw new Error("unexpected result");
 * ```
 */
export function typed<A extends ApiTypes<A>>(
  commands: CommandTableFor<A> | CommandsFor<A>,
): TypedApi<A> {
  const table = toCommands(commands as CommandTable | Commands);
  const wire = (name: unknown): number => {
    if (typeof name !== "string") {
      throw new TypeError(`Unknown command: expected a command name, got ${typeof name}`);
    }
    return table.idOf(name);
  };
  return {
    commands: table,
    handlers(map: HandlerMap<A>, options: HandlersOptions = {}): RequestHandler {
      if (typeof map !== "object" || map === null) {
        throw new TypeError("Invalid handlers: expected an object of handlers keyed by command");
      }
      const fallback = options.fallback;
      if (fallback !== undefined && typeof fallback !== "function") {
        throw new TypeError(`Invalid option fallback: expected a function, got ${typeof fallback}`);
      }
      const byId = new Map<number, (body: unknown, context: CallContext) => unknown>();
      for (const name of Object.keys(map)) {
        const handler: unknown = (map as Record<string, unknown>)[name];
        if (handler === undefined) continue;
        if (typeof handler !== "function") {
          throw new TypeError(
            `Invalid handler "${name}": expected a function, got ${typeof handler}`,
          );
        }
        byId.set(table.idOf(name), handler as (body: unknown, context: CallContext) => unknown);
      }
      return (peer, cmd, body, context) => {
        const handler = byId.get(cmd);
        if (handler !== undefined) return handler(body, context);
        if (fallback !== undefined) return fallback(peer, cmd, body, context);
        const name = table.nameOf(cmd);
        throw new WeftError(
          "unmarshal failed",
          name === undefined
            ? `Cannot unmarshal request: unknown command ${cmd}`
            : `Cannot unmarshal request: no handler for command ${describe(cmd, name)}`,
        );
      };
    },
    client(host: ContextHost): TypedClient<A> {
      if (
        typeof host !== "object" || host === null || typeof host.call !== "function" ||
        typeof host.send !== "function"
      ) {
        throw new TypeError("Invalid client host: expected a Cluster or a CallContext");
      }
      return {
        host,
        call(peer, name, body, options) {
          let cmd: number;
          try {
            cmd = wire(name);
          } catch (error) {
            return Promise.reject(error);
          }
          return host.call(peer, cmd, body, options) as Promise<never>;
        },
        send(peer, name, body, options) {
          let cmd: number;
          try {
            cmd = wire(name);
          } catch (error) {
            return Promise.reject(error);
          }
          return host.send(peer, cmd, body, options);
        },
      };
    },
  };
}
