/**
 * {@linkcode Service}: a service process of luabus's star. It connects to
 * every router, announces its service id to each, and sends its calls
 * through one of them, chosen at random when a router connects or is lost
 * (never per message, so calls to one target keep their order while the
 * router in use does not change).
 *
 * @module
 */

import { Cluster } from "../cluster/cluster.ts";
import type { CallContext, CallOptions } from "../cluster/call_context.ts";
import type { ClusterOptions } from "../cluster/options.ts";
import type { Peer } from "../connection/peer.ts";
import type { Marshal, Unmarshal } from "../codec/types.ts";
import { type ErrorCode, RemoteError, type RemoteErrorInfo, WeftError } from "../errors.ts";
import { HEAD_SIZE, Mode, Outcome, Reply, ROUTED_INFO_CMD, u32, writeHead } from "./_head.ts";
import { type BroadcastOutcome, Route, target } from "./route.ts";
import { checkServiceId, formatServiceId } from "./service_id.ts";
import { registerService, type ServiceRegistrar } from "./registry_members.ts";

/**
 * Handles a request that came through a router: `source` is the caller's
 * service id; the rest is as in a cluster handler (`context.signal`,
 * `context.deadline`, and calls chained with `service.call(route, cmd,
 * body, { context })`).
 */
export type ServiceHandler = (
  source: number,
  cmd: number,
  body: unknown,
  context: CallContext,
) => unknown;

/**
 * Options of {@linkcode Service}: a cluster's options plus the service's id
 * and routers. The trust options a `Cluster` takes (`tls`, `auth`,
 * `authorize`, see {@linkcode ClusterOptions}) apply to every router
 * connection the service makes: give the routers' CA (and a client
 * certificate for mutual TLS) in `tls`, and the key the routers expect in
 * `auth`; `authorize` governs what a router may ask of this service.
 */
export interface ServiceOptions extends Omit<ClusterOptions, "call" | "accept" | "close"> {
  /** This service's id, `(group << 16) | index`. */
  id: number;
  /** Every router's `host:port`. */
  routers: readonly string[];
  /** The request handler. */
  call?: ServiceHandler;
  /**
   * Milliseconds between attempts to reach a router that is down.
   *
   * @default {1000}
   */
  retryInterval?: number;
  /** Told the address of the router now in use (undefined: none). */
  onRouter?: (address: string | undefined) => void;
  /**
   * A discovery registry to register this service in (as
   * `svc/<group>/<index>`, see `registerService`) once `start()` reached a
   * router, and to leave on `close()`: routers made with `members:
   * registryMembers(registry)` count it as a member only while registered.
   * `address` is the instance's address (default: the first router's);
   * `ttl` the lease's time to live (default: the registry's).
   */
  registry?: {
    registry: ServiceRegistrar<{ close(): Promise<void> }>;
    address?: string;
    ttl?: number;
  };
}

/** Default milliseconds between attempts to reach a router that is down. */
export const DEFAULT_RETRY_INTERVAL = 1000;

export { ROUTED_INFO_CMD } from "./_head.ts";

/** The cmd of the service's own control calls (register, claim); never on the wire. */
const CONTROL = "\u0000weft router control";

interface Link {
  readonly address: string;
  readonly peer: Peer;
  /** Registered, and its connection is up. */
  alive: boolean;
  /** Registered at this router at least once (a later `duplicate id` is likely its own stale connection). */
  registered: boolean;
  registering: Promise<void> | undefined;
  retry: ReturnType<typeof setTimeout> | undefined;
}

interface Outgoing {
  route: Route;
  body: unknown;
}

interface Incoming {
  source: number;
  body: unknown;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const REGISTER = new Route(Mode.Register, 0);
const CLAIM = new Route(Mode.Claim, 0);

/**
 * A service: it calls other services, by route, through a router, and
 * answers the calls routed to it.
 *
 * Errors: `unreachable` (no live target, an empty group, no master, or no
 * router connected), `bad route`, `duplicate id` (from `start`) are
 * `WeftError`s with that code, as are `closed` (the router in use, or the
 * target, was lost while the call waited) and `timeout`; a target's handler
 * failing is a `RemoteError` as on a direct connection.
 *
 * @example See {@linkcode Router}.
 * ```ts
 * import { hash, Router, Service, serviceId } from "@weft/cluster/router";
 * import { json } from "@weft/cluster/json";
 * import { transport } from "@weft/cluster/memory";
 *
 * await using router = new Router({ transport });
 * const { address } = await router.listen("127.0.0.1:0");
 * const routers = [`127.0.0.1:${address.port}`];
 * const codec = json({ commands: { send_mail: 1 } });
 * const mail = [1, 2].map((index) =>
 *   new Service({
 *     id: serviceId(2, index),
 *     routers,
 *     ...codec,
 *     transport,
 *     call: () => index,
 *   })
 * );
 * await using game = new Service({ id: serviceId(1, 1), routers, ...codec, transport });
 * for (const service of [...mail, game]) await service.start();
 * const first = await game.call(hash(2, "alice"), "send_mail", { to: "bob" });
 * const again = await game.call(hash(2, "alice"), "send_mail", { to: "carol" });
 * if (first !== again) throw new Error("the same key went to two members");
 * for (const service of mail) await service.close();
 * ```
 */
export class Service {
  readonly #id: number;
  readonly #cluster: Cluster;
  readonly #links: Link[];
  readonly #byPeer = new Map<Peer, Link>();
  readonly #marshal: Marshal;
  readonly #unmarshal: Unmarshal;
  readonly #retryInterval: number;
  readonly #onRouter: ((address: string | undefined) => void) | undefined;
  #current: Link | undefined;
  #closed = false;
  readonly #registry: ServiceOptions["registry"];
  #registration: { close(): Promise<void> } | undefined;

  /**
   * Creates the service (it connects on `start`).
   *
   * @throws {TypeError} Naming the option, for a wrong type or a missing hook.
   * @throws {RangeError} Naming the option, for an out-of-range value.
   */
  constructor(options: ServiceOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Invalid options: expected an object");
    }
    const {
      id,
      routers,
      call,
      retryInterval,
      onRouter,
      registry,
      codec,
      marshal: ownMarshal,
      unmarshal: ownUnmarshal,
      ...rest
    } = options;
    this.#id = checkServiceId(id, "option id");
    if (!Array.isArray(routers) || routers.length === 0) {
      throw new TypeError("Invalid option routers: expected a non-empty array of host:port");
    }
    if (new Set(routers).size !== routers.length) {
      throw new TypeError("Invalid option routers: an address is listed twice");
    }
    if (
      registry !== undefined &&
      (registry === null || typeof registry.registry?.register !== "function")
    ) {
      throw new TypeError("Invalid option registry: expected { registry } with register()");
    }
    this.#registry = registry;
    if (call !== undefined && typeof call !== "function") {
      throw new TypeError("Invalid option call: expected a function");
    }
    const interval = retryInterval ?? DEFAULT_RETRY_INTERVAL;
    if (typeof interval !== "number" || !(interval > 0) || interval === Infinity) {
      throw new RangeError(
        `Invalid option retryInterval: expected more than 0 ms, got ${interval}`,
      );
    }
    this.#retryInterval = interval;
    if (onRouter !== undefined && typeof onRouter !== "function") {
      throw new TypeError("Invalid option onRouter: expected a function");
    }
    this.#onRouter = onRouter;
    const marshal = ownMarshal ?? codec?.marshal;
    const unmarshal = ownUnmarshal ?? codec?.unmarshal;
    if (typeof marshal !== "function") {
      throw new TypeError("Invalid option marshal: a marshal hook (or a codec) is required");
    }
    if (typeof unmarshal !== "function") {
      throw new TypeError("Invalid option unmarshal: an unmarshal hook (or a codec) is required");
    }
    this.#marshal = marshal;
    this.#unmarshal = unmarshal;
    this.#cluster = new Cluster({
      ...rest,
      marshal: (type, cmd, body) => this.#marshalHook(type, cmd, body),
      unmarshal: (type, cmd, bytes) => this.#unmarshalHook(type, cmd, bytes),
      call: (_peer, cmd, body, context) => {
        const incoming = body as Incoming;
        if (cmd === ROUTED_INFO_CMD) return this.#cluster.localInfo(incoming.body as string);
        if (call === undefined) {
          throw new WeftError(
            "protocol",
            `Service ${formatServiceId(this.#id)} has no handler for cmd ${cmd}`,
          );
        }
        return call(incoming.source, cmd, incoming.body, context);
      },
      close: (peer) => this.#lost(peer),
    });
    this.#cluster.provideInfo("describe", () => ({
      kind: "service",
      id: this.#id,
      routers: this.#links.map((link) => ({ address: link.address, alive: link.alive })),
      router: this.#current?.address ?? null,
    }));
    this.#links = routers.map((address) => {
      const peer = this.#cluster.connect(address);
      const link: Link = {
        address,
        peer,
        alive: false,
        registered: false,
        registering: undefined,
        retry: undefined,
      };
      this.#byPeer.set(peer, link);
      return link;
    });
  }

  /** This service's id. */
  get id(): number {
    return this.#id;
  }

  /** The address of the router in use, if any. */
  get router(): string | undefined {
    return this.#current?.address;
  }

  /** The addresses of the routers this service is registered with now. */
  get routers(): string[] {
    return this.#links.filter((link) => link.alive).map((link) => link.address);
  }

  /**
   * Connects to every router and announces this service's id. Resolves
   * once every router answered, if at least one took it; routers that are
   * down are tried again every `retryInterval`.
   *
   * @throws {WeftError} `duplicate id` if a router has a live service with
   * this id, `forbidden` if a router's policy does not let this service's
   * identity announce it (the service is then closed); `unreachable` if no
   * router could be reached (they are still retried; the first router's
   * error, such as `authentication failed`, is the `cause`).
   */
  async start(): Promise<void> {
    const outcomes = await Promise.allSettled(this.#links.map((link) => this.#register(link)));
    // A router that will not take this id (another holds it, or the policy
    // refuses this identity) is final: the service closes.
    const final = outcomes.find((o) =>
      o.status === "rejected" && isFinal((o.reason as WeftError).code)
    ) as PromiseRejectedResult | undefined;
    if (final !== undefined) {
      await this.close();
      throw final.reason;
    }
    if (!this.#links.some((link) => link.alive)) {
      const reasons = outcomes.map((o) => o.status === "rejected" ? String(o.reason) : "ok");
      const first = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
      throw new WeftError("unreachable", `No router reachable: ${reasons.join("; ")}`, {
        cause: first.reason,
      });
    }
    const r = this.#registry;
    if (r !== undefined && this.#registration === undefined && !this.#closed) {
      this.#registration = await registerService(
        r.registry,
        this.#id,
        r.address ?? this.#links[0]!.address,
        r.ttl === undefined ? undefined : { ttl: r.ttl },
      );
      if (this.#closed) await this.#leaveRegistry();
    }
  }

  async #leaveRegistry(): Promise<void> {
    const registration = this.#registration;
    this.#registration = undefined;
    await registration?.close();
  }

  /**
   * Calls `cmd` on the service(s) `to` names, through the router in use.
   *
   * @param to A {@linkcode Route}, or a service id (target mode).
   * @param cmd The command name or number, as the codec understands it.
   * @param body The request body.
   * @param options Timeout, signal, and the handler's context to chain from.
   * @returns The response body; for a broadcast, one {@linkcode BroadcastOutcome} per member.
   * @throws {WeftError} See the class docs.
   * @throws {TypeError} For a route that is neither a `Route` nor a number.
   * @throws {RangeError} For a service id out of range.
   */
  call(
    to: Route | number,
    cmd: string | number,
    body?: unknown,
    options?: CallOptions,
  ): Promise<unknown> {
    return this.#request(to, cmd, body, options, true);
  }

  /**
   * Sends a one-way request to the service(s) `to` names. Resolves once it
   * is handed to the router in use; a send the router cannot deliver is
   * dropped there (and counted).
   *
   * @param to A {@linkcode Route}, or a service id.
   * @param cmd The command name or number.
   * @param body The request body.
   * @param options Timeout and signal (for a congested router connection).
   */
  send(
    to: Route | number,
    cmd: string | number,
    body?: unknown,
    options?: CallOptions,
  ): Promise<void> {
    return this.#request(to, cmd, body, options, false) as Promise<void>;
  }

  /** `call` and `send`: the route checked, then through the router in use. */
  #request(
    to: Route | number,
    cmd: string | number,
    body: unknown,
    options: CallOptions | undefined,
    expectResponse: boolean,
  ): Promise<unknown> {
    let route: Route;
    try {
      route = routeOf(to);
    } catch (error) {
      return Promise.reject(error);
    }
    const link = this.#current;
    if (link === undefined) return Promise.reject(this.#noRouter());
    const outgoing = { route, body } satisfies Outgoing;
    const sent = expectResponse
      ? this.#cluster.call(link.peer, cmd, outgoing, options)
      : this.#cluster.send(link.peer, cmd, outgoing, options);
    return sent.catch(routerError);
  }

  /**
   * Asks the service(s) `to` names, through the router in use, about
   * themselves: INFO of `kind` (`describe`, `stats`), answered as a direct
   * INFO request would be (see `cluster.info`).
   *
   * @returns The answer; for a broadcast, one {@linkcode BroadcastOutcome} per member.
   * @throws {WeftError} As `call`; a refusal is a `RemoteError` whose `remote.code` is `forbidden`.
   */
  info(to: Route | number, kind: string, options?: CallOptions): Promise<unknown> {
    if (typeof kind !== "string" || kind.length === 0 || kind.length > 64) {
      return Promise.reject(new TypeError(`Invalid info kind: ${String(kind)}`));
    }
    return this.#request(to, ROUTED_INFO_CMD, kind, options, true);
  }

  /**
   * Claims mastership of this service's group at every router it is
   * registered with (luabus's lease heartbeat): each router applies it only
   * if `fence` is higher than the fencing number of the master it has.
   *
   * @param fence The fencing number (a lease revision, an election term).
   * @returns True if every router applied it.
   * @throws {RangeError} For a fence that is not finite.
   */
  async claimMaster(fence: number): Promise<boolean> {
    if (typeof fence !== "number" || !Number.isFinite(fence)) {
      throw new RangeError(`Invalid fence: expected a finite number, got ${fence}`);
    }
    const alive = this.#links.filter((link) => link.alive);
    if (alive.length === 0) throw this.#noRouter();
    const results = await Promise.all(
      alive.map((link) =>
        this.#cluster.call(link.peer, CONTROL, { route: CLAIM, body: fence } satisfies Outgoing)
          .catch(routerError)
      ),
    );
    return results.every((applied) => applied === true);
  }

  /** Closes the service: its router connections and pending calls. */
  async close(): Promise<void> {
    this.#closed = true;
    // Leave the registry first: routers drop the member before its connection closes.
    try {
      await this.#leaveRegistry();
    } catch {
      // The lease expires by itself if the registry cannot be told.
    }
    for (const link of this.#links) {
      if (link.retry !== undefined) clearTimeout(link.retry);
      link.retry = undefined;
      link.alive = false;
    }
    this.#current = undefined;
    await this.#cluster.close();
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- routers -------------------------------------------------------------

  #register(link: Link): Promise<void> {
    link.registering ??= this.#cluster
      .call(link.peer, CONTROL, { route: REGISTER, body: undefined } satisfies Outgoing)
      .then(
        () => {
          link.registering = undefined;
          if (this.#closed) return;
          link.alive = true;
          link.registered = true;
          this.#choose();
        },
        (error) => {
          link.registering = undefined;
          const reason = asRouterError(error);
          // A duplicate at the first registration: another live service has
          // the id. Once registered there, it is most likely this service's
          // own previous connection, which the router has not yet found dead
          // (one of its heartbeat windows at most): try again.
          if (!isFinal(reason.code) || link.registered) this.#retry(link);
          throw reason;
        },
      );
    return link.registering;
  }

  #retry(link: Link): void {
    if (this.#closed || link.retry !== undefined) return;
    link.retry = setTimeout(() => {
      link.retry = undefined;
      if (!this.#closed && !link.alive) this.#register(link).catch(() => {});
    }, this.#retryInterval);
  }

  /** A router's connection closed (remote end or failure). */
  #lost(peer: Peer): void {
    const link = this.#byPeer.get(peer);
    if (link === undefined || this.#closed) return;
    const wasAlive = link.alive;
    link.alive = false;
    if (wasAlive) this.#choose();
    this.#retry(link);
  }

  /** Picks the router in use at random among the live ones. */
  #choose(): void {
    const alive = this.#links.filter((link) => link.alive);
    const next = alive.length === 0 ? undefined : alive[Math.floor(Math.random() * alive.length)];
    const changed = next !== this.#current;
    this.#current = next;
    if (changed) this.#onRouter?.(next?.address);
  }

  #noRouter(): WeftError {
    return new WeftError(
      "unreachable",
      `Service ${formatServiceId(this.#id)} has no router connected`,
    );
  }

  // ---- codec ---------------------------------------------------------------

  #marshalHook(
    type: "request" | "response",
    cmd: string | number,
    body: unknown,
  ): readonly [number, Uint8Array | string] | undefined {
    if (cmd === ROUTED_INFO_CMD) {
      if (type === "response") return [cmd, JSON.stringify(body)];
      const { route, body: kind } = body as Outgoing;
      const bytes = utf8.encode(kind as string);
      const out = new Uint8Array(HEAD_SIZE + bytes.length);
      out.set(bytes, HEAD_SIZE);
      writeHead(out, route.mode, route.flags, this.#id, route.to, route.key);
      return [cmd, out];
    }
    if (type === "response") return this.#marshal(type, cmd, body);
    const { route, body: inner } = body as Outgoing;
    if (cmd === CONTROL) {
      const out = new Uint8Array(HEAD_SIZE + (route.mode === Mode.Claim ? 8 : 0));
      writeHead(out, route.mode, 0, this.#id, 0, 0);
      if (route.mode === Mode.Claim) {
        new DataView(out.buffer).setFloat64(HEAD_SIZE, inner as number, true);
      }
      return [0, out];
    }
    const marshalled = this.#marshal("request", cmd, inner);
    if (marshalled === undefined) return undefined;
    const [number, bytes] = marshalled;
    // The cluster encodes a marshalled request at once (it marshals only
    // when it can write), so small ones are built in a reused buffer.
    let out: Uint8Array;
    if (typeof bytes === "string") {
      const buffer = scratchFor(HEAD_SIZE + bytes.length * 3);
      const { written } = utf8.encodeInto(bytes, buffer.subarray(HEAD_SIZE));
      out = buffer.subarray(0, HEAD_SIZE + written);
    } else {
      out = scratchFor(HEAD_SIZE + bytes.length).subarray(0, HEAD_SIZE + bytes.length);
      out.set(bytes, HEAD_SIZE);
    }
    writeHead(out, route.mode, route.flags, this.#id, route.to, route.key);
    return [number, out];
  }

  #unmarshalHook(type: "request" | "response", cmd: string | number, bytes: Uint8Array): unknown {
    if (type === "request") {
      if (bytes.length < HEAD_SIZE) {
        return new WeftError("bad route", `Request without a routing head (${bytes.length} bytes)`);
      }
      const body = cmd === ROUTED_INFO_CMD
        ? utf8Decoder.decode(bytes.subarray(HEAD_SIZE))
        : this.#unmarshal("request", cmd, bytes.subarray(HEAD_SIZE));
      if (body instanceof Error) return body;
      return { source: u32(bytes, 4), body } satisfies Incoming;
    }
    switch (bytes[0]) {
      case Reply.Single:
        if (cmd === ROUTED_INFO_CMD) return JSON.parse(utf8Decoder.decode(bytes.subarray(1)));
        return this.#unmarshal("response", cmd, bytes.subarray(1));
      case Reply.Control:
        return bytes[1] === 1;
      case Reply.Broadcast:
        return this.#outcomes(cmd, bytes);
      default:
        throw new WeftError("protocol", `Unknown router reply kind ${bytes[0]}`);
    }
  }

  #outcomes(cmd: string | number, bytes: Uint8Array): BroadcastOutcome[] {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const count = view.getUint32(1, true);
    const outcomes: BroadcastOutcome[] = [];
    let at = 5;
    for (let i = 0; i < count; i++) {
      const id = view.getUint32(at, true);
      const status = bytes[at + 4];
      const length = view.getUint32(at + 5, true);
      const part = bytes.subarray(at + 9, at + 9 + length);
      at += 9 + length;
      if (status === Outcome.Empty) {
        outcomes.push({ id, ok: true, value: undefined });
      } else if (status === Outcome.Ok) {
        try {
          const value = cmd === ROUTED_INFO_CMD
            ? JSON.parse(utf8Decoder.decode(part))
            : this.#unmarshal("response", cmd, part);
          if (value instanceof Error) throw value;
          outcomes.push({ id, ok: true, value });
        } catch (error) {
          outcomes.push({
            id,
            ok: false,
            error: new WeftError(
              "unmarshal failed",
              `Cannot unmarshal the response of ${formatServiceId(id)} to ${String(cmd)}`,
              { cause: error },
            ),
          });
        }
      } else {
        const info = JSON.parse(utf8Decoder.decode(part)) as RemoteErrorInfo;
        outcomes.push({
          id,
          ok: false,
          error: info.name === "RouterError"
            ? new WeftError(info.code as ErrorCode, info.message)
            : new RemoteError(
              info,
              `Call ${String(cmd)} failed remotely on ${formatServiceId(id)}`,
            ),
        });
      }
    }
    return outcomes;
  }
}

/** A refusal of this service's id that retrying will not change. */
function isFinal(code: string): boolean {
  return code === "duplicate id" || code === "forbidden";
}

/** A route, or a service id as a target route. */
function routeOf(to: Route | number): Route {
  if (typeof to === "number") return target(to);
  if (!(to instanceof Route)) {
    throw new TypeError(
      "Invalid route: expected a Route (target, random, hash, ...) or a service id",
    );
  }
  return to;
}

/** A router's own coded error travels as a remote `RouterError`: make it a WeftError again. */
function asRouterError(error: unknown): WeftError {
  if (error instanceof RemoteError && error.remote.name === "RouterError") {
    // Its mayHaveRun follows the router's code: "unreachable" was never
    // forwarded, "closed" (the target lost in flight) may have run.
    return new WeftError(error.remote.code as ErrorCode, error.remote.message, {
      cause: error,
      mayHaveRun: error.mayHaveRun,
    });
  }
  return error as WeftError;
}

function routerError(error: unknown): never {
  throw asRouterError(error);
}

/**
 * Requests up to this size are built in a reused buffer: below the smallest
 * part size (1 KiB), so never a body sent in parts (which the channel copies
 * when it queues it, but a one-frame body needs no copy at all).
 */
const SCRATCH_MAX = 512;
const scratch = new Uint8Array(SCRATCH_MAX);

/** A buffer of at least `size` bytes: the shared scratch, or a new one for a large request. */
function scratchFor(size: number): Uint8Array {
  return size > SCRATCH_MAX ? new Uint8Array(size) : scratch;
}
