/**
 * {@linkcode Nodes}: skynet's cluster layer on weft. A config names the
 * nodes and their addresses; a process opens itself as one named node,
 * registers named services, and calls `call(node, service, cmd, body)`.
 * Names travel (never numeric addresses), the receiving node resolves them,
 * and the caller can tell an unknown node, a node that is down, an unknown
 * service, a failed connect and a handler's own error apart by `code`.
 *
 * @module
 */

import { now, startRefTimer, stopTimer, type TimerHandle } from "../_platform.ts";
import { type ErrorCode, RemoteError, WeftError } from "../errors.ts";
import type { CallContext, CallOptions } from "../cluster/call_context.ts";
import { Cluster, type ClusterCloseOptions } from "../cluster/cluster.ts";
import { type ClusterListener, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS } from "../cluster/listener.ts";
import { nameBytes } from "../protocol/weft/names.ts";
import { type ClusterOptions, defaultLogger } from "../cluster/options.ts";
import { checkConnectionCaps } from "../cluster/accept_gate.ts";
import {
  checkFaultLogLimit,
  DEFAULT_FAULT_LOG_LIMIT,
  FaultLog,
  quoteForLog,
  warningSink,
} from "../cluster/fault_log.ts";
import { peerFault } from "../cluster/fault_reply.ts";
import {
  checkProtectedMode,
  type ProtectedModeOptions,
  refuseUnprotected,
} from "../cluster/protected_mode.ts";
import type { Peer } from "../connection/peer.ts";
import type { Codec } from "../codec/types.ts";
import { SessionSlots } from "../session/session_slots.ts";
import { json } from "../codec/json.ts";
import { skynet } from "../codec/skynet.ts";
import {
  configFromObject,
  loadConfig,
  type NodesConfig,
  type NodeTable,
  parseConfig,
} from "./config.ts";
import type { LuaConfigOptions } from "./lua_config.ts";

/** The cmd number of the nodes layer's own requests (query, ping): JSON bodies. */
export const SYSTEM_CMD = 0xfffffeff;

/** The service every node answers, for `query` and reload's probe. */
export const SYSTEM_SERVICE = "$node";

/** skynet's clusteragent's answer to a `cluster.query` for a name it does not have. */
const SKYNET_NAME_NOT_FOUND = "name not found";

/** Options of {@linkcode Nodes}. */
export interface NodesOptions extends
  Omit<
    ClusterOptions,
    "call" | "accept" | "codec" | "marshal" | "unmarshal" | "nodeName" | "protocol"
  >,
  ProtectedModeOptions {
  /**
   * This node's name (or give it to `open(name)`): sent in the handshake,
   * so the nodes it calls know who calls.
   */
  name?: string;
  /**
   * The initial config: an object, a table (`await loadConfig(text)` for
   * skynet's Lua form), or JSON text. Lua text is a program and loads
   * asynchronously: give it to `reload`, or load it first.
   */
  config?: NodesConfig | NodeTable | string;
  /**
   * Limits of a Lua config given to `reload` as text (time, memory).
   *
   * @default {1000 ms, 16 MiB}
   */
  luaConfig?: LuaConfigOptions;
  /**
   * How bodies travel. Commands are names that travel on their own (see
   * the protocol docs), so the codec is called with cmd 0 for a named
   * command and needs no command table.
   *
   * @default {json()}
   */
  codec?: Codec;
  /**
   * Milliseconds `reload()` gives each added or moved node to answer its
   * probe.
   *
   * @default {the `connectTimeout` option, else 5000}
   */
  probeTimeout?: number;
  /**
   * The nodes that are skynet nodes: calls to them speak skynet's cluster
   * protocol (`protocol: "skynet"`), bodies in skynet's values (see the
   * README's skynet section). A list of node names, or a predicate.
   * Listeners speak it when opened with `open(name, { protocol: "skynet" })`.
   *
   * @default {none}
   */
  skynet?: readonly string[] | ((node: string) => boolean);
  /**
   * Connections a listener of this node (`open`) holds at once; over it new
   * ones are closed at once.
   *
   * @default {1000}
   */
  maxConnections?: number;
  /**
   * Connections from one remote address a listener of this node holds at
   * once, so one host cannot take every slot of `maxConnections`.
   *
   * @default {DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}
   */
  maxConnectionsPerAddress?: number;
}

/** Options of `nodes.call()` and `nodes.send()`: every `Cluster.call` option, and `nowaiting`. */
export interface NodeCallOptions extends Omit<CallOptions, "service" | "command"> {
  /**
   * Fail at once with `unknown node` when the node is not in the config,
   * instead of waiting (until the call's deadline) for a reload to add it.
   *
   * @default {the config's __nowaiting, else false}
   */
  nowaiting?: boolean;
}

/** What happened to one node in a reload. */
export type ReloadOutcomeKind = "added" | "removed" | "moved" | "down" | "unchanged";

/** One node's outcome of a reload. */
export interface ReloadOutcome {
  /** The node. */
  readonly node: string;
  /** What the reload did to it. */
  readonly outcome: ReloadOutcomeKind;
  /** Its address now (false: down; undefined: removed). */
  readonly address: string | false | undefined;
  /** Its address before (false: down; undefined: absent). */
  readonly previous: string | false | undefined;
  /**
   * Added or moved nodes (when probed): true if the node answered at its
   * new address under its own name.
   */
  readonly reachable?: boolean;
  /** Why the probe failed: a coded error naming the node. */
  readonly error?: WeftError;
}

/** Options of `nodes.reload()`. */
export interface ReloadOptions {
  /**
   * Probe added and moved nodes (connect and ask their name) before the
   * promise settles, and report `reachable` per node.
   *
   * @default {true}
   */
  probe?: boolean;
  /**
   * Replace the whole table with the config given: nodes it does not name
   * are removed (their waiting calls fail with `node down`), and
   * `__nowaiting` is false unless it sets it. Off (skynet's `clusterd`),
   * the config's nodes are merged into the table in force, nodes it does
   * not name stay, and `__nowaiting` stays as it was unless the config
   * sets it.
   *
   * @default {false}
   */
  replace?: boolean;
}

/** What `query()` learns about a service. */
export interface ServiceInfo {
  /** The service's name. */
  readonly name: string;
  /** The commands it answers (a skynet node does not say: empty). */
  readonly commands: readonly string[];
  /** A skynet node's handle of the service (`cluster.query`'s answer), for calls by number. */
  readonly address?: number;
}

/** Options of `nodes.open()`. */
export interface OpenOptions {
  /** Where to listen instead of the configured address (say `127.0.0.1:0`). */
  address?: string;
  /**
   * The protocol the listener speaks: `"weft"`, or `"skynet"` for skynet
   * nodes calling this one (`cluster.call(node, "@name", ...)` reaches the
   * service registered as `name`). A listener speaks one.
   *
   * @default {"weft"}
   */
  protocol?: "weft" | "skynet";
}

/** What a named node says about itself (`describe` INFO), over its cluster's answer. */
export interface NodeDescription {
  /** `node`. */
  kind: "node";
  /** Its name (the first it opened as), or null. */
  name: string | null;
  /** Every name it opened as. */
  names: string[];
  /** Its services and their commands. */
  services: Record<string, string[]>;
  /** The node table in force: name -> address, false for a node marked down. */
  nodes: Record<string, string | false>;
  /** The nodes it has a connection to now. */
  connected: string[];
}

/** A handler of one command of a service: the body and the request's context. */
export type CommandHandler = (body: unknown, context: CallContext) => unknown;

/**
 * The handlers of a service: a map (or an object with methods) of command
 * name -> handler. With a command table type `A` (as `typed<A>` takes), each
 * handler is checked against its command's request and response types.
 *
 * @typeParam A The command table type; omitted, untyped.
 */
export type ServiceHandlers<A = unknown> = unknown extends A
  ? Readonly<Record<string, CommandHandler>>
  : {
    [K in keyof A]: (
      body: A[K] extends { request: infer R } ? R : never,
      context: CallContext,
    ) => ReplyType<A[K]> | Promise<ReplyType<A[K]>>;
  };

/**
 * What a command of a command table type answers: its `response` type, or
 * `void` for a one-way command.
 *
 * @typeParam S One entry of the table (`{ request, response? }`).
 */
export type ReplyType<S> = S extends { response: infer R } ? R : void;

/**
 * A local handle for a service on a node: each method calls that command.
 * Typed by a command table type `A`: methods of commands with a response
 * call and resolve to it; methods of one-way commands send.
 *
 * @typeParam A The command table type; omitted, untyped.
 */
export type ServiceProxy<A = unknown> = unknown extends A
  ? Readonly<Record<string, (body?: unknown, options?: NodeCallOptions) => Promise<unknown>>>
  : {
    readonly [K in keyof A]: (
      body: A[K] extends { request: infer R } ? R : never,
      options?: NodeCallOptions,
    ) => Promise<ReplyType<A[K]>>;
  };

interface Route {
  readonly node: string;
  readonly address: string;
  /** The cluster the route's connection is on (the skynet one for a skynet node). */
  readonly cluster: Cluster;
  readonly skynet: boolean;
  readonly peer: Peer;
  /**
   * The calls in flight on this route, by a number of the route's own (a
   * `SessionSlots`, not a `Set`: added and removed once per call, a `Set`
   * made scavenges promote megabytes at 256 calls in flight).
   */
  readonly calls: SessionSlots<InFlight>;
  /** Moved away: close the peer once the calls settle. */
  draining: boolean;
}

/** A call in flight on a route: how to fail it when the route goes down. */
interface InFlight {
  readonly session: number;
  readonly fail: (error: WeftError) => void;
}

interface Waiter {
  readonly node: string;
  resolve(route: Route): void;
  reject(error: WeftError): void;
}

interface Service {
  readonly commands: Map<string, CommandHandler>;
  readonly target: object;
}

/**
 * Named nodes and services on a {@linkcode Cluster}: weft's protocol
 * between weft nodes, skynet's with the nodes the `skynet` option marks and
 * on listeners opened with `protocol: "skynet"`.
 *
 * Errors (each a {@linkcode WeftError} naming the node): `unknown node`
 * (absent, at once with `nowaiting` or at the call's deadline), `node down`
 * (marked `false`, or removed or marked down while the call waited),
 * `unknown service`, `unknown command`, `name too long`, `bad config`,
 * `reload in progress`, `peer closed` (after `close()`), and what
 * `Cluster.call` raises (`connect failed`, `timeout`, `closed`, ...). A
 * handler's own error is a `RemoteError` (code `remote`).
 *
 * @example Two named nodes over the in-memory transport
 * ```ts
 * import { Nodes } from "@weft/cluster/nodes";
 * import { transport } from "@weft/cluster/memory";
 *
 * await using db = new Nodes({ transport, name: "db" });
 * const listener = await db.open("db", { address: "127.0.0.1:0" });
 * db.register("store", { get: (key) => ({ key, value: 42 }) });
 *
 * await using web = new Nodes({
 *   transport,
 *   config: { db: `127.0.0.1:${listener.address.port}` },
 * });
 * const reply = await web.call("db", "store", "get", "answer");
 * if ((reply as { value: number }).value !== 42) throw new Error("unexpected result");
 * const info = await web.query("db", "store");
 * if (info?.commands[0] !== "get") throw new Error("unexpected result");
 * ```
 */
export class Nodes {
  readonly #options: NodesOptions;
  readonly #codec: Codec;
  readonly #protectedMode: boolean;
  readonly #caps: { maxConnections: number; maxConnectionsPerAddress: number };
  /** Requests for services or commands this node lacks: the caller's mistake, logged within the limit. */
  readonly #faults: FaultLog;
  #cluster: Cluster | undefined;
  /** The cluster of skynet connections (both ways), made on first use. */
  #skynetCluster: Cluster | undefined;
  readonly #isSkynet: (node: string) => boolean;
  /** Handles of registered services, as skynet's `cluster.query` answers them. */
  readonly #handles = new Map<string, number>();
  readonly #byHandle = new Map<number, string>();
  #nextHandle = 1;
  #name: string | undefined;
  #table: NodeTable = { nodes: new Map(), nowaiting: false };
  readonly #routes = new Map<string, Route>();
  readonly #peerUsers = new Map<Peer, number>();
  readonly #waiters = new Set<Waiter>();
  readonly #services = new Map<string, Service>();
  readonly #aliases = new Set<string>();
  #reloading = false;
  #closed: Promise<void> | null = null;

  /**
   * Creates a named node (its cluster is made on first use).
   *
   * @param options Cluster options, this node's name, the initial config, the body codec.
   * @throws {TypeError} Naming the option, for a wrong type (and for Lua text as `config`:
   *   load it with `loadConfig`, or give it to `reload`).
   * @throws {WeftError} `bad config` for an initial config that does not load.
   */
  constructor(options: NodesOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Invalid options: expected an object");
    }
    this.#options = options;
    this.#protectedMode = checkProtectedMode(options.protectedMode);
    this.#caps = checkConnectionCaps({
      ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
      ...(options.maxConnectionsPerAddress === undefined
        ? {}
        : { maxConnectionsPerAddress: options.maxConnectionsPerAddress }),
    });
    const logger = options.logger ?? defaultLogger;
    this.#faults = new FaultLog(
      warningSink(logger),
      checkFaultLogLimit(options.faultLogLimit, DEFAULT_FAULT_LOG_LIMIT),
    );
    this.#codec = options.codec ?? json();
    if (typeof this.#codec?.marshal !== "function" || typeof this.#codec.unmarshal !== "function") {
      throw new TypeError("Invalid option codec: expected an object with marshal and unmarshal");
    }
    if (options.name !== undefined) {
      nameBytes(options.name, "option name");
      this.#name = options.name;
    }
    if (options.config !== undefined) this.#table = toTable(options.config);
    const marked = options.skynet;
    if (marked === undefined) this.#isSkynet = () => false;
    else if (typeof marked === "function") this.#isSkynet = marked;
    else if (Array.isArray(marked) && marked.every((n) => typeof n === "string")) {
      const set = new Set(marked);
      this.#isSkynet = (node) => set.has(node);
    } else {
      throw new TypeError("Invalid option skynet: expected node names or a predicate");
    }
  }

  /** This node's name (from the options or `open(name)`), if it has one. */
  get name(): string | undefined {
    return this.#name;
  }

  /** The cluster under this layer (made on first use). */
  get cluster(): Cluster {
    return this.#getCluster();
  }

  /**
   * Listens as a named node: on its configured address, or on
   * `options.address` (say `127.0.0.1:0`), or with a port number on
   * `0.0.0.0:port` (skynet's `cluster.open(port)`). Give the name here or
   * in the constructor before the first call: it travels in the handshake.
   *
   * @param node This node's name, or a port.
   * @param options `address`: where to listen instead of the configured address.
   * @returns The listener (`listener.address` has the bound port).
   * @throws {WeftError} `unknown node` / `node down` for a name not in the config or down,
   *   `protected mode` (no `auth` or client-certificate `tls`, an address other than
   *   loopback, and `protectedMode` not `false`), `peer closed` after close, and what
   *   `Cluster.listen` raises.
   * @throws {TypeError} If the cluster was made (by a call) under another name.
   */
  async open(node: string | number, options: OpenOptions = {}): Promise<ClusterListener> {
    if (this.#closed !== null) throw new WeftError("peer closed", "Nodes closed: cannot open");
    const protocol = options.protocol ?? "weft";
    if (protocol !== "weft" && protocol !== "skynet") {
      throw new TypeError(
        `Invalid option protocol: expected "weft" or "skynet", got ${String(protocol)}`,
      );
    }
    let address = options.address;
    if (typeof node === "number") {
      address ??= `0.0.0.0:${node}`;
    } else {
      nameBytes(node, "node name");
      if (protocol === "weft" && this.#cluster !== undefined && this.#name === undefined) {
        throw new TypeError(
          `Cannot open as "${node}": this node already connected as an unnamed node; give the name to the constructor (option name) or open before calling`,
        );
      }
      // A second name (skynet: open "db" then open "db2") listens too; the
      // handshake carries the first.
      this.#name ??= node;
      this.#aliases.add(node);
      if (address === undefined) {
        const configured = this.#table.nodes.get(node);
        if (configured === undefined) {
          throw new WeftError("unknown node", `Cannot open "${node}": not in the config`);
        }
        if (configured === false) {
          throw new WeftError("node down", `Cannot open "${node}": the config marks it down`);
        }
        address = configured;
      }
    }
    refuseUnprotected(address, this.#options, this.#protectedMode, "named node");
    const cluster = protocol === "skynet" ? this.#getSkynetCluster() : this.#getCluster();
    return await cluster.listen(address, this.#caps);
  }

  /** True if `node` is in the config with an address (false for absent or down nodes). */
  has(node: string): boolean {
    return typeof this.#table.nodes.get(node) === "string";
  }

  /** The config in force: node -> address, or false for a node that is down. */
  nodes(): Map<string, string | false> {
    return new Map(this.#table.nodes);
  }

  /**
   * Registers a named service on this node: a map (or object with methods)
   * of command name -> handler `(body, context)`. Peers reach it by name;
   * nothing a peer sends can register or remove one.
   *
   * @typeParam A A command table type, for handlers checked against it.
   * @throws {TypeError} If a service of that name is registered already, the
   *   name is reserved (`$...`), or a handler is not a function.
   * @throws {WeftError} `name too long`.
   */
  register<A = unknown>(name: string, handlers: ServiceHandlers<NoInfer<A>>): void {
    nameBytes(name, "service name");
    if (name.startsWith("$")) {
      throw new TypeError(`Invalid service name "${name}": names starting with $ are reserved`);
    }
    if (this.#services.has(name)) {
      throw new TypeError(`Cannot register service "${name}": one of that name is registered`);
    }
    if (handlers === null || typeof handlers !== "object") {
      throw new TypeError(`Invalid handlers of "${name}": expected an object of functions`);
    }
    const commands = new Map<string, CommandHandler>();
    // Own properties and class methods, never Object.prototype's.
    for (
      let o: object | null = handlers;
      o !== null && o !== Object.prototype;
      o = Object.getPrototypeOf(o)
    ) {
      for (const key of Object.getOwnPropertyNames(o)) {
        if (key === "constructor" || commands.has(key)) continue;
        const fn = (handlers as Record<string, unknown>)[key];
        if (typeof fn !== "function") {
          if (o === handlers) {
            throw new TypeError(`Invalid handler "${name}.${key}": expected a function`);
          }
          continue;
        }
        nameBytes(key, "command name");
        commands.set(key, fn as CommandHandler);
      }
    }
    this.#services.set(name, { commands, target: handlers });
    // A handle for skynet peers (cluster.query, calls by number): one per
    // name for the process's life, as skynet's handles are per service.
    if (!this.#handles.has(name)) {
      const handle = this.#nextHandle++;
      this.#handles.set(name, handle);
      this.#byHandle.set(handle, name);
    }
  }

  /** Removes a service of this node. Returns false if there was none. */
  unregister(name: string): boolean {
    return this.#services.delete(name);
  }

  /** The names of this node's services. */
  services(): string[] {
    return [...this.#services.keys()];
  }

  /**
   * Asks `node` whether it has a service `name`, and what it answers.
   *
   * @returns The service's commands, or undefined if the node has no such service.
   * @throws {WeftError} As `call` does (`unknown node`, `node down`, `connect failed`, ...).
   */
  async query(
    node: string,
    name: string,
    options?: NodeCallOptions,
  ): Promise<ServiceInfo | undefined> {
    nameBytes(name, "service name");
    if (this.#isSkynet(node)) {
      // skynet's cluster.query: address 0, the name packed; the handle back.
      try {
        const handle = await this.#request(node, 0, 0, name, options, true);
        return { name, commands: [], address: handle as number };
      } catch (error) {
        if (error instanceof WeftError && error.code === "unknown service") return undefined;
        throw error;
      }
    }
    const info = await this.#request(
      node,
      SYSTEM_SERVICE,
      "query",
      { service: name },
      options,
      true,
    );
    return info === null ? undefined : info as ServiceInfo;
  }

  /**
   * Calls command `cmd` of service `service` on node `node`.
   *
   * @param node A node of the config.
   * @param service A service registered on that node (a skynet node: a
   *   name, `"@sdb"` or `"sdb"`, or a numeric handle).
   * @param cmd A command name (it travels as a name), or a number.
   * @param body The request body (encoded by the codec).
   * @param options Every `Cluster.call` option (timeout, signal, context,
   *   traceId), and `nowaiting`.
   * @returns The response body.
   * @throws {WeftError} (as a rejection) See the class docs for the codes.
   */
  call(
    node: string,
    service: string | number,
    cmd: string | number,
    body?: unknown,
    options?: NodeCallOptions,
  ): Promise<unknown> {
    return this.#request(node, service, cmd, body, options, true);
  }

  /**
   * Sends command `cmd` to service `service` on node `node`, one way.
   * Sends and calls from this node to one node keep their order (one
   * connection per node; a body large enough to go in parts is delivered
   * when its last part arrives).
   *
   * @throws {WeftError} (as a rejection) As `call`, except that no answer is awaited.
   */
  send(
    node: string,
    service: string | number,
    cmd: string | number,
    body?: unknown,
    options?: NodeCallOptions,
  ): Promise<void> {
    return this.#request(node, service, cmd, body, options, false) as Promise<void>;
  }

  /**
   * A local handle whose methods call `service` on `node` (resolved per
   * call, so it follows reloads). With a command table type `A`, a typed
   * object: `proxy<Api>("db", "calc").add({ a, b })` is checked end to end.
   *
   * @typeParam A The command table type (optional).
   */
  proxy<A = unknown>(node: string, service: string): ServiceProxy<A> {
    nameBytes(node, "node name");
    nameBytes(service, "service name");
    const cache = new Map<string, unknown>();
    return new Proxy({}, {
      get: (_target, key) => {
        if (typeof key !== "string" || key === "then") return undefined;
        let method = cache.get(key);
        if (method === undefined) {
          method = (body?: unknown, options?: NodeCallOptions) =>
            this.call(node, service, key, body, options);
          cache.set(key, method);
        }
        return method;
      },
    }) as ServiceProxy<A>;
  }

  /**
   * Puts a config in force and resolves with each node's outcome once it
   * is (and, unless `probe: false`, once added and moved nodes answered
   * their probe or failed it). As skynet's `cluster.reload`, the config's
   * nodes are merged into the table in force (`__nowaiting` stays unless
   * given); `replace: true` puts the config in force as the whole table. A moved node's old connection drains: calls
   * already sent finish there, new calls go to the new address. A node
   * removed or marked down fails the calls waiting on it at once with
   * `node down`. Calls waiting for an absent node that the config now has
   * go on.
   *
   * @param config An object, text (JSON, or skynet's Lua form run as skynet runs it), or a
   *   loaded table.
   * @throws {WeftError} `bad config` (the table in force stays), `reload in progress`,
   *   `peer closed` after close.
   */
  async reload(
    config: NodesConfig | NodeTable | string,
    options: ReloadOptions = {},
  ): Promise<ReloadOutcome[]> {
    if (this.#closed !== null) throw new WeftError("peer closed", "Nodes closed: cannot reload");
    if (this.#reloading) {
      throw new WeftError("reload in progress", "Cannot reload: another reload is running");
    }
    this.#reloading = true;
    try {
      const given = typeof config === "string"
        ? await loadConfig(config, this.#options.luaConfig)
        : toTable(config);
      if (this.#closed !== null) throw new WeftError("peer closed", "Nodes closed: cannot reload");
      const table = options.replace === true ? given : merged(this.#table, given);
      const before = this.#table.nodes;
      this.#table = table;
      const outcomes: ReloadOutcome[] = [];
      const probes: Promise<void>[] = [];
      for (const node of new Set([...before.keys(), ...table.nodes.keys()])) {
        const previous = before.get(node);
        const address = table.nodes.get(node);
        const outcome = kindOf(previous, address);
        if (outcome !== "unchanged" && outcome !== "added") {
          this.#retire(node, outcome === "moved" ? null : outcome);
        }
        const result: { -readonly [K in keyof ReloadOutcome]: ReloadOutcome[K] } = {
          node,
          outcome,
          address,
          previous,
        };
        outcomes.push(result);
        if (
          typeof address === "string" && (outcome === "added" || outcome === "moved") &&
          options.probe !== false
        ) {
          probes.push(
            this.#probe(node).then((error) => {
              result.reachable = error === undefined;
              if (error !== undefined) result.error = error;
            }),
          );
        }
      }
      this.#wakeWaiters();
      await Promise.all(probes);
      return outcomes;
    } finally {
      this.#reloading = false;
    }
  }

  /**
   * Closes the node: listeners, connections, calls waiting for absent
   * nodes (`peer closed`). Later calls reject with `peer closed`.
   */
  close(options?: ClusterCloseOptions): Promise<void> {
    this.#closed ??= (async () => {
      for (const waiter of [...this.#waiters]) {
        waiter.reject(
          new WeftError("peer closed", `Nodes closed while waiting for node ${waiter.node}`, {
            mayHaveRun: false,
          }),
        );
      }
      await Promise.all([this.#cluster?.close(options), this.#skynetCluster?.close(options)]);
    })();
    return this.#closed;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- internals -------------------------------------------------------------

  #getCluster(): Cluster {
    if (this.#cluster === undefined) {
      this.#cluster = this.#newCluster(this.#name);
      this.#cluster.provideInfo("describe", () => this.#describe());
    }
    return this.#cluster;
  }

  #getSkynetCluster(): Cluster {
    this.#skynetCluster ??= this.#newSkynetCluster();
    return this.#skynetCluster;
  }

  /**
   * The cluster of skynet connections: skynet's protocol and values, no
   * handshake (so no node name and no key authentication travel).
   */
  #newSkynetCluster(): Cluster {
    const {
      name: _name,
      config: _config,
      codec: _codec,
      probeTimeout: _probe,
      luaConfig: _luaConfig,
      skynet: _skynet,
      protectedMode: _protected,
      maxConnections: _max,
      maxConnectionsPerAddress: _perAddress,
      auth: _auth,
      tls: _tls,
      ...rest
    } = this.#options;
    return new Cluster({
      ...rest,
      ...skynet(),
      protocol: "skynet",
      call: (_peer, cmd, body, context) => this.#dispatchSkynet(cmd, body, context),
    });
  }

  /**
   * A request from a skynet node, as skynet's clusteragent serves it:
   * address 0 is `cluster.query` (the handle, or "name not found"); a name
   * (`@sdb`, arriving as `sdb`) or a handle is a service, the first value
   * its command.
   */
  #dispatchSkynet(cmd: number, body: unknown, context: CallContext): unknown {
    let service = context.service;
    if (service === undefined) {
      if (cmd === 0) {
        const handle = typeof body === "string" ? this.#handles.get(body) : undefined;
        if (handle === undefined || !this.#services.has(body as string)) {
          throw peerFault("unknown service", SKYNET_NAME_NOT_FOUND);
        }
        return handle;
      }
      service = this.#byHandle.get(cmd);
      if (service === undefined) return this.#refuse(context, "unknown service", `:${cmd}`, "");
    }
    const found = this.#services.get(service);
    if (found === undefined) return this.#refuse(context, "unknown service", service, "");
    const command = context.command;
    if (command === undefined) {
      throw peerFault("unknown command", "Invalid command: the first value is not a string");
    }
    const handler = found.commands.get(command);
    if (handler === undefined) return this.#refuse(context, "unknown command", service, command);
    return handler.call(found.target, body, context);
  }

  /** A cluster speaking this layer's requests, under `nodeName` (or unnamed). */
  #newCluster(nodeName: string | undefined): Cluster {
    const codec = this.#codec;
    const {
      name: _name,
      config: _config,
      codec: _codec,
      probeTimeout: _probe,
      luaConfig: _luaConfig,
      skynet: _skynet,
      ...clusterOptions
    } = this.#options;
    const {
      protectedMode: _protected,
      maxConnections: _max,
      maxConnectionsPerAddress: _perAddress,
      ...rest
    } = clusterOptions;
    return new Cluster({
      ...rest,
      ...(nodeName === undefined ? {} : { nodeName }),
      protocol: "weft",
      marshal: (type, cmd, body) =>
        cmd === SYSTEM_CMD
          ? (body === undefined ? undefined : [SYSTEM_CMD, JSON.stringify(body)])
          : codec.marshal(type, cmd, body),
      unmarshal: (type, cmd, bytes) =>
        cmd === SYSTEM_CMD
          ? (bytes.length === 0 ? undefined : JSON.parse(new TextDecoder().decode(bytes)))
          : codec.unmarshal(type, cmd, bytes),
      call: (_peer, cmd, body, context) => this.#dispatch(cmd, body, context),
    });
  }

  /** A request arrived: find the service and command by name. */
  #dispatch(cmd: number, body: unknown, context: CallContext): unknown {
    const service = context.service;
    const command = context.command ?? String(cmd);
    if (service === SYSTEM_SERVICE) return this.#system(command, body, context);
    if (service === undefined) return this.#refuse(context, "unknown service", undefined, command);
    const found = this.#services.get(service);
    if (found === undefined) return this.#refuse(context, "unknown service", service, command);
    const handler = found.commands.get(command);
    if (handler === undefined) return this.#refuse(context, "unknown command", service, command);
    return handler.call(found.target, body, context);
  }

  /** What this node says about itself (`describe` INFO), over its cluster's answer. */
  #describe(): NodeDescription {
    const services: Record<string, string[]> = {};
    for (const [name, service] of this.#services) services[name] = [...service.commands.keys()];
    return {
      kind: "node",
      name: this.#name ?? null,
      names: [...this.#aliases],
      services,
      nodes: Object.fromEntries(this.#table.nodes),
      connected: [...this.#routes.values()].filter((r) => r.peer.isConnected).map((r) => r.node),
    };
  }

  /**
   * A request for something this node lacks: the caller's mistake. Logged
   * within `faultLogLimit` (the peer-chosen names quoted, so no newline or
   * control byte of theirs reaches the log), answered on the cluster's cheap
   * path (a `peerFault`: no stack, no "handler threw" line).
   */
  #refuse(
    context: CallContext,
    code: "unknown service" | "unknown command",
    service: string | undefined,
    command: string,
  ): never {
    const here = this.#name === undefined ? "this node" : `node ${this.#name}`;
    this.#faults.report(code, () => {
      const what = service === undefined
        ? "a request without a service name"
        : code === "unknown service"
        ? `no service ${quoteForLog(service)}`
        : `service ${quoteForLog(service)} has no command ${quoteForLog(command)}`;
      return `Refused a request from ${context.peer}: ${what} on ${here}`;
    });
    throw peerFault(
      code,
      service === undefined
        ? `Request without a service name on ${here}`
        : code === "unknown service"
        ? `No service "${service}" on ${here}`
        : `Service "${service}" on ${here} has no command "${command}"`,
    );
  }

  /** The `$node` service: read-only questions about this node. */
  #system(command: string, body: unknown, context: CallContext): unknown {
    switch (command) {
      case "ping":
        return { node: this.#name ?? null, names: [...this.#aliases] };
      case "query": {
        const name = (body as { service?: unknown } | null)?.service;
        const found = typeof name === "string" ? this.#services.get(name) : undefined;
        return found === undefined ? null : { name, commands: [...found.commands.keys()] };
      }
      default:
        return this.#refuse(context, "unknown command", SYSTEM_SERVICE, command);
    }
  }

  #request(
    node: string,
    service: string | number,
    cmd: string | number,
    body: unknown,
    options: NodeCallOptions | undefined,
    expectResponse: boolean,
  ): Promise<unknown> {
    try {
      nameBytes(node, "node name");
      if (typeof service === "number") {
        // A numeric handle: skynet nodes only (address 0 is skynet's cluster.query).
        if (!this.#isSkynet(node)) {
          throw new TypeError(
            `Invalid service ${service}: a number addresses a skynet node's service only`,
          );
        }
        if (!Number.isInteger(service) || service < 0 || service > 0xffffffff) {
          throw new TypeError(`Invalid service ${service}: expected a u32 handle`);
        }
      } else nameBytes(service, "service name");
      if (typeof cmd === "string") nameBytes(cmd, "command name");
      else if (typeof cmd !== "number") {
        throw new TypeError("Invalid cmd: expected a name or a number");
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed !== null) {
      return Promise.reject(
        new WeftError("peer closed", `Nodes closed: cannot call ${node}/${service}`, {
          mayHaveRun: false,
        }),
      );
    }
    const route = this.#routes.get(node) ?? this.#route(node);
    if (route instanceof WeftError) {
      if (route.code !== "unknown node" || (options?.nowaiting ?? this.#table.nowaiting)) {
        return Promise.reject(route);
      }
      return this.#waitThenRequest(node, service, cmd, body, options, expectResponse);
    }
    return this.#requestOn(route, service, cmd, body, options, expectResponse);
  }

  async #waitThenRequest(
    node: string,
    service: string | number,
    cmd: string | number,
    body: unknown,
    options: NodeCallOptions | undefined,
    expectResponse: boolean,
  ): Promise<unknown> {
    const timeout = options?.timeout ?? this.#options.timeout ?? 5000;
    const start = now();
    const route = await this.#waitForNode(node, timeout, options?.signal);
    const left = timeout === Infinity ? Infinity : Math.max(1, timeout - (now() - start));
    return await this.#requestOn(
      route,
      service,
      cmd,
      body,
      { ...options, timeout: left },
      expectResponse,
    );
  }

  /** The route to `node` per the table, made now; or why there is none. */
  #route(node: string): Route | WeftError {
    const address = this.#table.nodes.get(node);
    if (address === undefined) {
      return new WeftError("unknown node", `Node ${node} is not in the config`);
    }
    if (address === false) {
      return new WeftError("node down", `Node ${node} is down (config)`, { mayHaveRun: false });
    }
    const skynet = this.#isSkynet(node);
    const cluster = skynet ? this.#getSkynetCluster() : this.#getCluster();
    const peer = cluster.connect(address);
    this.#peerUsers.set(peer, (this.#peerUsers.get(peer) ?? 0) + 1);
    const route: Route = {
      node,
      address,
      cluster,
      skynet,
      peer,
      calls: new SessionSlots(),
      draining: false,
    };
    this.#routes.set(node, route);
    return route;
  }

  #requestOn(
    route: Route,
    service: string | number,
    cmd: string | number,
    body: unknown,
    options: NodeCallOptions | undefined,
    expectResponse: boolean,
  ): Promise<unknown> {
    const inner = callOn(
      route.cluster,
      route.peer,
      service,
      cmd,
      body,
      options,
      expectResponse,
      route.skynet,
    );
    return new Promise<unknown>((resolve, reject) => {
      const call: InFlight = { session: route.calls.nextId(), fail: reject };
      route.calls.add(call);
      inner.then((value) => {
        if (!route.calls.delete(call)) return;
        this.#settled(route);
        resolve(value);
      }, (error) => {
        if (!route.calls.delete(call)) return;
        this.#settled(route);
        reject(translate(error, route.node, service));
      });
    });
  }

  /** A call on `route` settled: a drained old route closes its connection. */
  #settled(route: Route): void {
    if (route.draining && route.calls.size === 0) this.#release(route);
  }

  /** Ends `node`'s route: drains it (moved: `why` null) or fails its calls at once. */
  #retire(node: string, why: "removed" | "down" | null): void {
    const route = this.#routes.get(node);
    if (why !== null) {
      const what = why === "down" ? "was marked down" : "was removed from the config";
      // Waiting calls were never sent; calls on the route were (or may have been).
      const unsent = new WeftError("node down", `Node ${node} ${what} before the call was sent`, {
        mayHaveRun: false,
      });
      for (const waiter of [...this.#waiters]) if (waiter.node === node) waiter.reject(unsent);
      if (route === undefined) return;
      const calls = route.calls.values();
      route.calls.clear();
      const inFlight = new WeftError(
        "node down",
        `Node ${node} ${what} while the call was in flight (it may have run)`,
        { mayHaveRun: true },
      );
      for (const call of calls) call.fail(inFlight);
    }
    if (route === undefined) return;
    this.#routes.delete(node);
    route.draining = true;
    if (route.calls.size === 0) this.#release(route);
  }

  #release(route: Route): void {
    const users = (this.#peerUsers.get(route.peer) ?? 1) - 1;
    if (users > 0) {
      this.#peerUsers.set(route.peer, users);
      return;
    }
    this.#peerUsers.delete(route.peer);
    route.cluster.close(route.peer).catch(() => {});
  }

  #waitForNode(node: string, timeout: number, signal: CallOptions["signal"]): Promise<Route> {
    if (signal?.aborted) {
      return Promise.reject(
        new WeftError("aborted", "Call aborted", { cause: signal.reason, mayHaveRun: false }),
      );
    }
    return new Promise<Route>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const onAbort = () => {
        waiter.reject(
          new WeftError("aborted", `Call aborted while waiting for node ${node}`, {
            cause: signal?.reason,
            mayHaveRun: false,
          }),
        );
      };
      const done = () => {
        this.#waiters.delete(waiter);
        stopTimer(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        node,
        resolve: (route) => {
          done();
          resolve(route);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      this.#waiters.add(waiter);
      if (timeout !== Infinity) {
        timer = startRefTimer(() => {
          waiter.reject(
            new WeftError(
              "unknown node",
              `Node ${node} is not in the config: waited ${timeout} ms`,
            ),
          );
        }, timeout);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** After a reload: calls waiting for nodes the table now has go on (or fail if down). */
  #wakeWaiters(): void {
    for (const waiter of [...this.#waiters]) {
      const address = this.#table.nodes.get(waiter.node);
      if (address === undefined) continue;
      const route = this.#routes.get(waiter.node) ?? this.#route(waiter.node);
      if (route instanceof WeftError) waiter.reject(route);
      else waiter.resolve(route);
    }
  }

  /** Connects to `node` and asks its name; the error if it does not answer as `node`. */
  async #probe(node: string): Promise<WeftError | undefined> {
    const timeout = this.#options.probeTimeout ?? this.#options.connectTimeout ?? 5000;
    if (this.#isSkynet(node)) {
      // skynet has no ping: a cluster.query answered either way is a skynet node there.
      try {
        await this.#request(node, 0, 0, "$probe", { timeout, nowaiting: true }, true);
        return undefined;
      } catch (error) {
        if (error instanceof WeftError && error.code === "unknown service") return undefined;
        return error instanceof WeftError
          ? error
          : new WeftError("closed", `Node ${node}: probe failed: ${String(error)}`);
      }
    }
    try {
      const answer = await this.#ping(node, timeout) as
        | { node?: unknown; names?: unknown }
        | undefined;
      const name = answer?.node;
      const names = Array.isArray(answer?.names) ? answer.names : [];
      if (typeof name === "string" && name !== node && !names.includes(node)) {
        return new WeftError(
          "unknown node",
          `Node ${node}: the node at its address is named "${name}"`,
        );
      }
      return undefined;
    } catch (error) {
      return error instanceof WeftError
        ? error
        : new WeftError("closed", `Node ${node}: probe failed: ${String(error)}`);
    }
  }

  /**
   * The probe's ping. Before this node has a name and a cluster (a reload
   * before `open(name)`, as skynet's cluster1.lua does), it goes over a
   * cluster of its own, closed after it, so the cluster that carries the
   * calls is made later under the name `open` gives.
   */
  async #ping(node: string, timeout: number): Promise<unknown> {
    if (this.#cluster !== undefined || this.#name !== undefined) {
      return await this.#request(node, SYSTEM_SERVICE, "ping", undefined, {
        timeout,
        nowaiting: true,
      }, true);
    }
    const address = this.#table.nodes.get(node);
    if (typeof address !== "string") return undefined;
    const aside = this.#newCluster(undefined);
    try {
      return await callOn(
        aside,
        aside.connect(address),
        SYSTEM_SERVICE,
        "ping",
        undefined,
        { timeout },
        true,
      ).catch((error) => {
        throw translate(error, node, SYSTEM_SERVICE);
      });
    } finally {
      await aside.close();
    }
  }
}

/**
 * One request of this layer on `cluster`: the service and a named command
 * travel with it. To a skynet node (`skynet`), a name (`"@sdb"`, `"sdb"`)
 * or a handle (a number: the request's address), the command as the first
 * packed value (a numeric `cmd` packs none).
 */
function callOn(
  cluster: Cluster,
  peer: Peer,
  service: string | number,
  cmd: string | number,
  body: unknown,
  options: NodeCallOptions | undefined,
  expectResponse: boolean,
  skynet = false,
): Promise<unknown> {
  const named = typeof cmd === "string";
  const { nowaiting: _nowaiting, ...rest } = options ?? {};
  const byHandle = skynet && typeof service === "number";
  const callOptions: CallOptions = {
    ...rest,
    ...(byHandle ? {} : { service: String(service) }),
    ...(named ? { command: cmd } : {}),
  };
  const wire = skynet ? (byHandle ? service as number : 0) : named ? 0 : cmd;
  return expectResponse
    ? cluster.call(peer, wire, body, callOptions)
    : cluster.send(peer, wire, body, callOptions);
}

function kindOf(
  previous: string | false | undefined,
  address: string | false | undefined,
): ReloadOutcomeKind {
  if (previous === address) return "unchanged";
  if (address === undefined) return "removed";
  if (address === false) return "down";
  if (previous === undefined || previous === false) return "added";
  return "moved";
}

function toTable(config: NodesConfig | NodeTable | string): NodeTable {
  if (typeof config === "string") return parseConfig(config);
  if (
    config !== null && typeof config === "object" && (config as NodeTable).nodes instanceof Map
  ) {
    const table = config as NodeTable;
    return configFromObject({
      ...Object.fromEntries(table.nodes),
      ...(table.nowaitingGiven === false ? {} : { __nowaiting: table.nowaiting === true }),
    });
  }
  return configFromObject(config as NodesConfig);
}

/**
 * Puts the node (and service) into an error's message, keeping its code and
 * `mayHaveRun`; an unknown service or command gets its own code.
 */
function translate(error: unknown, node: string, service: string | number): unknown {
  if (error instanceof RemoteError) {
    const code = error.remote.code;
    if (code === "unknown service" || code === "unknown command") {
      return new WeftError(code as ErrorCode, `Node ${node}: ${error.remote.message}`, {
        cause: error,
        mayHaveRun: false,
      });
    }
    return new RemoteError(error.remote, `Call to ${node}/${service} failed remotely`, {
      cause: error,
      mayHaveRun: error.mayHaveRun,
    });
  }
  if (error instanceof WeftError) {
    return new WeftError(error.code, `Call to ${node}/${service}: ${error.message}`, {
      cause: error,
      mayHaveRun: error.mayHaveRun,
    });
  }
  return error;
}

/** skynet's reload: `given`'s nodes over `table`'s; `__nowaiting` only if `given` sets it. */
function merged(table: NodeTable, given: NodeTable): NodeTable {
  const nodes = new Map(table.nodes);
  for (const [node, address] of given.nodes) nodes.set(node, address);
  const nowaitingGiven = given.nowaitingGiven !== false;
  return {
    nodes,
    nowaiting: nowaitingGiven ? given.nowaiting : table.nowaiting,
    nowaitingGiven: nowaitingGiven || table.nowaitingGiven !== false,
  };
}

/**
 * The default `maxConnectionsPerAddress` of a named node's listeners: every listener's
 * default now, {@linkcode DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}.
 *
 * @deprecated Use `DEFAULT_MAX_CONNECTIONS_PER_ADDRESS` (exported by the
 * package's main entry); this name stays for code written against it.
 */
export const DEFAULT_NODES_MAX_CONNECTIONS_PER_ADDRESS: number =
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
