/**
 * {@linkcode Router}: the centre of luabus's star. Services connect to every
 * router, announce their service id, and send their calls through one; the
 * router reads only the 16-byte routing head and forwards the payload bytes
 * untouched to the target it picks (by id, at random, by key hash, to the
 * whole group, or to the group's master).
 *
 * @module
 */

import { Cluster } from "../cluster/cluster.ts";
import type { CallContext } from "../cluster/call_context.ts";
import {
  type ClusterListener,
  type ClusterListenOptions,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
} from "../cluster/listener.ts";
import {
  checkFaultLogLimit,
  DEFAULT_FAULT_LOG_LIMIT,
  FaultLog,
  noticeLog,
  quoteForLog,
  warningSink,
} from "../cluster/fault_log.ts";
import { peerFault } from "../cluster/fault_reply.ts";
import { forwardRaw, type ForwardSink, type RawRequest } from "../cluster/forward.ts";
import { holdReading } from "../cluster/hold.ts";
import { defaultLogger, type Logger } from "../cluster/options.ts";
import type { Peer } from "../connection/peer.ts";
import { checkConnectionCaps } from "../cluster/accept_gate.ts";
import {
  checkProtectedMode,
  type ProtectedModeOptions,
  refuseUnprotected,
} from "../cluster/protected_mode.ts";
import { describeIdentity, type TrustOptions } from "../cluster/security.ts";
import { RemoteError, WeftError } from "../errors.ts";
import type { Transport } from "../transport/types.ts";
import {
  Flag,
  HEAD_SIZE,
  HEAD_VERSION,
  Mode,
  Outcome,
  Reply,
  ROUTED_INFO_CMD,
  u32,
} from "./_head.ts";
import { rendezvousOwner } from "./hash.ts";
import type { RouterPolicy } from "./policy.ts";
import { DEFAULT_MAX_DEAD_SLOTS, DEFAULT_SLOT_GRACE, lowerBound, SlotTable } from "./slots.ts";
import { formatServiceId, MAX_GROUP, MAX_SERVICE_ID } from "./service_id.ts";
import type { StatsOptions } from "../cluster/stats.ts";
import { describeRouter, RouterGroupStats } from "./router_stats.ts";

/** A group's master as a router knows it. */
export interface MasterInfo {
  /** The master's service id. */
  id: number;
  /** The fencing number it was set with. */
  fence: number;
}

/**
 * Where a router learns each group's master: something that calls `apply`
 * whenever a master is chosen (a lease election, a config file, an
 * operator). The router applies a change only when its fencing number is
 * higher than the one it has for that group, so a stale claim delivered late
 * never overrides a newer one.
 */
export interface MasterSource {
  /**
   * Starts delivering masters to `apply`; returns (or resolves with) the
   * function that stops it, which the router calls on close.
   */
  watch(
    apply: (group: number, id: number | undefined, fence: number) => void,
  ): (() => void) | Promise<() => void>;
}

/** A change of the registered services a {@linkcode MemberSource} delivers. */
export type MemberChange =
  | { readonly snapshot: ReadonlySet<number> }
  | { readonly put: number }
  | { readonly delete: number };

/**
 * Where a router learns which services are registered (see
 * `registryMembers`): with one, a service is a live member only while it is
 * connected and registered.
 */
export interface MemberSource {
  /**
   * Starts delivering changes to `apply` (a snapshot first, then changes;
   * a later snapshot replaces the set); returns the function that stops
   * it, which the router calls on close.
   */
  watch(apply: (change: MemberChange) => void): () => void;
}

/** Counters of a router, for monitoring and tests. */
export interface RouterStats {
  /** Requests (calls and sends) forwarded to a target. */
  forwarded: number;
  /** Forwards that had to wait for a congested target (their caller was held meanwhile). */
  blocked: number;
  /** Forwards waiting for a congested target now. */
  waiting: number;
  /** One-way sends that could not be delivered (no target, target gone, timed out). */
  dropped: number;
  /**
   * Requests refused with a coded error (`unreachable`, `bad route`,
   * `duplicate id`, `forbidden`, `not master`).
   */
  refused: number;
  /**
   * Of those, announcements and master claims refused as not allowed: by
   * the `policy` (`forbidden`), or a claim the master source did not elect
   * (`not master`).
   */
  forbidden: number;
}

/** Options of {@linkcode Router}. */
export interface RouterOptions extends TrustOptions, ProtectedModeOptions {
  /** The transport; detected from the runtime when omitted. */
  transport?: Transport;
  /**
   * Milliseconds between heartbeats on each service connection.
   *
   * @default {5000}
   */
  heartbeatInterval?: number;
  /**
   * Heartbeats unanswered before a service connection is dead.
   *
   * @default {2}
   */
  heartbeatMisses?: number;
  /**
   * Largest frame the router accepts or forwards, bytes.
   *
   * @default {16777216}
   */
  hardLimit?: number;
  /**
   * Send-buffer bytes over which a service's connection counts as
   * congested: forwards to it wait, and their callers are not read meanwhile.
   *
   * @default {65536}
   */
  highWaterMark?: number;
  /**
   * Fairness between services: forwards the router makes from one read of
   * one service's connection before it serves other connections (the rest
   * wait, in order, for a later turn; see the cluster's option of that
   * name). Larger than a cluster's 32 because a forward is a fixed ~1-3 µs
   * of the router's own work, not an application handler: a turn of 256
   * still ends within about half a millisecond, and a caller's pipelined
   * batch goes on to its target as one write, not cut into eight (each cut
   * is one more write and wake-up at the router, the target and back).
   * `Infinity`: a read's requests all run at once.
   *
   * @default {256}
   */
  maxRequestsPerTurn?: number;
  /**
   * Forwards (and handlers) waiting for their target's answer at once, on
   * all of the router's connections together; past it a service's requests
   * wait in its connection, and each forward that ends hands its slot to
   * the next waiting connection in turn. See the cluster's option of that
   * name.
   *
   * @default {8192}
   */
  maxHandlersPerNode?: number;
  /**
   * Bytes of requests waiting for a slot on all of the router's connections
   * together; past it a request is refused with a `remote` error of code
   * `busy`. See the cluster's option of that name.
   *
   * @default {67108864}
   */
  maxWaitingBytesPerNode?: number;
  /** A pluggable source of masters; see {@linkcode MasterSource}. */
  masters?: MasterSource;
  /**
   * Where registered services come from (`registryMembers(registry)`). With
   * it, a connected service is a live member (a target, in its group) only
   * while the source lists it; until the source's first snapshot, none is.
   * Without it, every connected service that announced its id is live.
   */
  members?: MemberSource;
  /**
   * Who may be what: which proven identity may announce which service ids
   * and claim master of which group (see `routerPolicy`). A refusal answers
   * `forbidden`, is counted in `stats.forbidden` and logged within
   * `faultLogLimit`. Without a policy, every connection the router admits
   * may announce any free id and claim master of its group.
   *
   * @default {undefined (everyone admitted may be anything)}
   */
  policy?: RouterPolicy;
  /**
   * Milliseconds a connection has to complete weft's handshake, key
   * authentication included; then it is closed. Connections that prove
   * nothing therefore hold a slot of `maxConnections` at most this long.
   *
   * @default {5000}
   */
  handshakeTimeout?: number;
  /**
   * Connections a listener of this router holds at once (the default of
   * `listen`'s own option); over it new ones are closed at once.
   *
   * @default {1000}
   */
  maxConnections?: number;
  /**
   * Connections from one remote address a listener of this router holds
   * at once (the default of `listen`'s own option), so one host cannot take
   * every slot of `maxConnections`.
   *
   * @default {DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}
   */
  maxConnectionsPerAddress?: number;
  /**
   * Fixed-slot hashing: milliseconds a member that left keeps its slot (its
   * keys come back to it if it returns meanwhile); then its slot is
   * forgotten and the group's keys are spread over the slots left.
   * `Infinity`: kept until `maxDeadSlots` pushes them out.
   *
   * @default {300000}
   */
  slotGrace?: number;
  /**
   * Fixed-slot hashing: dead slots a group keeps at most; past it the
   * oldest is forgotten. Bounds the table (and a key's lookup) however many
   * ids a group ever had.
   *
   * @default {256}
   */
  maxDeadSlots?: number;
  /** Where to report failures. */
  logger?: Logger;
  /**
   * Keep numbers: the router's cluster's (`@weft/cluster/stats`) and per
   * group (forwards, refusals, drops, failed calls, the latency of
   * forwarded calls; see router_stats.ts). With `{ remote: true }` peers
   * may read them with a `stats` INFO request (`weft stats`, the
   * dashboard), as `authorize` allows.
   *
   * @default {false}
   */
  stats?: boolean | StatsOptions;
  /**
   * Answer INFO requests (`weft ls`, `weft describe`, the dashboard): the
   * router's groups, their members and masters. See the cluster option.
   *
   * @default {true}
   */
  introspect?: boolean;
  /**
   * Lines per kind per second for what services do wrong that the router
   * can only log: one-way sends dropped (nobody to deliver them to, the
   * target lost) and connections closed for a malformed routing head on a
   * send. The rest are counted and the count is logged with the next line
   * of that kind, so a service flooding the router with undeliverable sends
   * cannot flood its log. Also the limit of the router's own cluster
   * (malformed frames and the like). `Infinity`: every line.
   *
   * @default {10}
   */
  faultLogLimit?: number;
}

/** The router's default hard limit: 16 MiB. */
export const DEFAULT_ROUTER_HARD_LIMIT = 16 * 1024 * 1024;

/** The router's default `maxRequestsPerTurn`: 256 forwards. */
export const DEFAULT_ROUTER_REQUESTS_PER_TURN = 256;

/** What the router's codec hands to its marshal: bytes lent by the read buffer. */
interface Lent {
  bytes: Uint8Array;
  /** Set once marshalled (the bytes are in the write buffer). */
  taken: boolean;
  /** While waiting for a congested target: ends the hold on the caller. */
  release: (() => void) | undefined;
}

interface Group {
  /** Live members, sorted ascending. */
  live: number[];
  /** Fixed slots: live members and recently dead ones. */
  slots: SlotTable;
  master: MasterInfo | undefined;
  /** With a master source: the master it elected last (claims must match it). */
  sourced: MasterInfo | undefined;
}

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

/**
 * A router: a weft node whose handler forwards by the routing head.
 *
 * Bad input gets a coded error, sent back as the caller's call's error: a
 * head that is malformed or has a group or id out of range or a mode the
 * router does not know (`bad route`), a target or group with nobody live or
 * no master (`unreachable`), an id another live service holds (`duplicate
 * id`), an id or a master claim the `policy` does not allow this
 * connection's proven identity (`forbidden`), a claim the master source
 * did not elect (`not master`). A one-way send with a malformed head
 * closes that connection (there is no call to answer); one to an
 * unreachable target is dropped and counted in `stats.dropped`.
 *
 * Trust: the router takes the cluster's `tls`, `auth` and `authorize` for
 * every service connection, and refuses to listen beyond loopback without
 * credentials (`protectedMode`).
 *
 * @example A router and two services
 * ```ts
 * import { Router, Service, serviceId, target } from "@weft/cluster/router";
 * import { json } from "@weft/cluster/json";
 * import { transport } from "@weft/cluster/memory";
 *
 * await using router = new Router({ transport });
 * const { address } = await router.listen("127.0.0.1:0");
 * const routers = [`127.0.0.1:${address.port}`];
 * const codec = json({ commands: { hello: 1 } });
 * await using a = new Service({ id: serviceId(1, 1), routers, ...codec, transport });
 * await using b = new Service({
 *   id: serviceId(2, 1),
 *   routers,
 *   ...codec,
 *   transport,
 *   call: (source, _cmd, body) => `hello ${body} from ${source.toString(16)}`,
 * });
 * await a.start();
 * await b.start();
 * const reply = await a.call(target(serviceId(2, 1)), "hello", "world");
 * if (reply !== "hello world from 10001") throw new Error(`unexpected reply ${reply}`);
 * ```
 */
export class Router {
  readonly #cluster: Cluster;
  readonly #logger: Logger;
  /** Rate-limited warnings about what services send (see `faultLogLimit`). */
  readonly #faults: FaultLog;
  /** Services registering and leaving, at info level: a service can do both in a loop. */
  readonly #notices: FaultLog;
  readonly #byId = new Map<number, Peer>();
  readonly #idOf = new Map<Peer, number>();
  readonly #groups: (Group | undefined)[] = new Array(MAX_GROUP + 1);
  #stopMasters: (() => void) | Promise<() => void> | undefined;
  #stopMembers: (() => void) | undefined;
  /** With a member source: the ids it lists as registered. */
  #listed: Set<number> | undefined;
  readonly #stats: RouterStats = {
    forwarded: 0,
    blocked: 0,
    waiting: 0,
    dropped: 0,
    refused: 0,
    forbidden: 0,
  };
  readonly #trust: TrustOptions;
  readonly #protectedMode: boolean;
  readonly #caps: { maxConnections: number; maxConnectionsPerAddress: number };
  readonly #policy: RouterPolicy | undefined;
  readonly #slotGrace: number;
  readonly #maxDeadSlots: number;
  /** True with a master source: claims must match what it elected. */
  readonly #sourcedMasters: boolean;
  /** Per-group numbers, with the `stats` option. */
  readonly #groupStats: RouterGroupStats | undefined;
  #lent: Lent = { bytes: EMPTY, taken: false, release: undefined };
  #options: { context: CallContext } | { context?: CallContext } = {};

  /**
   * Creates a router (it does nothing until `listen`).
   *
   * @throws {TypeError} Naming the option, for a wrong type.
   * @throws {RangeError} Naming the option, for an out-of-range value.
   */
  constructor(options: RouterOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Invalid options: expected an object");
    }
    const logger = options.logger ?? defaultLogger;
    this.#trust = {
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.auth === undefined ? {} : { auth: options.auth }),
    };
    this.#protectedMode = checkProtectedMode(options.protectedMode);
    this.#caps = checkConnectionCaps({
      ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
      ...(options.maxConnectionsPerAddress === undefined
        ? {}
        : { maxConnectionsPerAddress: options.maxConnectionsPerAddress }),
    });
    const policy = options.policy;
    if (
      policy !== undefined &&
      (policy === null || typeof policy.announce !== "function" ||
        typeof policy.claim !== "function")
    ) {
      throw new TypeError("Invalid option policy: expected a RouterPolicy (announce and claim)");
    }
    this.#policy = policy;
    this.#slotGrace = options.slotGrace ?? DEFAULT_SLOT_GRACE;
    if (typeof this.#slotGrace !== "number" || !(this.#slotGrace > 0)) {
      throw new RangeError(
        `Invalid option slotGrace: expected more than 0 ms, got ${options.slotGrace}`,
      );
    }
    this.#maxDeadSlots = options.maxDeadSlots ?? DEFAULT_MAX_DEAD_SLOTS;
    if (
      typeof this.#maxDeadSlots !== "number" ||
      !(Number.isInteger(this.#maxDeadSlots) && this.#maxDeadSlots >= 0 ||
        this.#maxDeadSlots === Infinity)
    ) {
      throw new RangeError(
        `Invalid option maxDeadSlots: expected an integer of 0 or more, got ${options.maxDeadSlots}`,
      );
    }
    this.#sourcedMasters = options.masters !== undefined;
    this.#logger = logger;
    const faultLogLimit = checkFaultLogLimit(options.faultLogLimit, DEFAULT_FAULT_LOG_LIMIT);
    this.#faults = new FaultLog(warningSink(logger), faultLogLimit);
    this.#notices = noticeLog(logger, faultLogLimit);
    this.#cluster = new Cluster({
      marshal: (type, cmd, body) => {
        if (type === "request") {
          const lent = body as Lent;
          lent.taken = true;
          if (lent.release !== undefined) this.#unblock(lent);
          return [cmd as number, lent.bytes];
        }
        return [cmd as number, body as Uint8Array];
      },
      unmarshal: (type, _cmd, bytes) => {
        // A request's bytes are lent (no copy): the handler forwards them
        // before the read callback returns, or copies them if it must wait.
        if (type === "request") return bytes;
        // A response settles a promise, after the read callback: copy it
        // once, behind the prefix the service reads.
        const out = new Uint8Array(bytes.length + 1);
        out[0] = Reply.Single;
        out.set(bytes, 1);
        return out;
      },
      rawRequest: (peer, cmd, payload, request) => this.#routeRaw(peer, cmd, payload, request),
      call: (peer, cmd, body, context) => this.#route(peer, cmd, body as Uint8Array, context),
      close: (peer) => this.#unregister(peer),
      errorInfo: routerErrorInfo,
      logger: {
        // A sink, not a source: the cluster's own fault log rate-limits every
        // line a peer can trigger before it reaches this adaptor. Answered
        // errors are the caller's to handle: not the router's errors.
        error: (message, detail) =>
          detail instanceof WeftError
            ? logger.info?.(message, detail)
            : logger.error(message, detail),
        warn: (message, detail) => logger.warn(message, detail),
        ...(logger.info === undefined ? {} : { info: logger.info.bind(logger) }),
      },
      hardLimit: options.hardLimit ?? DEFAULT_ROUTER_HARD_LIMIT,
      maxRequestsPerTurn: options.maxRequestsPerTurn ?? DEFAULT_ROUTER_REQUESTS_PER_TURN,
      ...(options.maxHandlersPerNode === undefined
        ? {}
        : { maxHandlersPerNode: options.maxHandlersPerNode }),
      ...(options.maxWaitingBytesPerNode === undefined
        ? {}
        : { maxWaitingBytesPerNode: options.maxWaitingBytesPerNode }),
      faultLogLimit,
      timeout: Infinity,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.auth === undefined ? {} : { auth: options.auth }),
      ...(options.authorize === undefined ? {} : { authorize: options.authorize }),
      ...(options.handshakeTimeout === undefined
        ? {}
        : { handshakeTimeout: options.handshakeTimeout }),
      ...(options.transport === undefined ? {} : { transport: options.transport }),
      ...(options.heartbeatInterval === undefined
        ? {}
        : { heartbeatInterval: options.heartbeatInterval }),
      ...(options.heartbeatMisses === undefined
        ? {}
        : { heartbeatMisses: options.heartbeatMisses }),
      ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }),
      ...(options.stats === undefined ? {} : { stats: options.stats }),
      ...(options.introspect === undefined ? {} : { introspect: options.introspect }),
    });
    const stats = options.stats;
    if (stats !== undefined && stats !== false) {
      this.#groupStats = new RouterGroupStats();
    }
    this.#cluster.provideInfo("describe", () => describeRouter(this.#groups, this.#idOf.values()));
    this.#cluster.provideInfo("stats", () => ({
      router: {
        ...this.#stats,
        groups: this.#groupStats?.snapshot() ?? [],
        // Its members now, per group, beside the counters (a stats reader needs no describe).
        members: describeRouter(this.#groups, []).groups.map(({ group, members }) => ({
          group,
          members,
        })),
      },
    }));
    const masters = options.masters;
    if (masters !== undefined) {
      if (masters === null || typeof masters.watch !== "function") {
        throw new TypeError("Invalid option masters: expected a MasterSource (watch)");
      }
      this.#stopMasters = masters.watch((group, id, fence) => {
        try {
          if (this.setMaster(group, id, fence)) {
            this.#group(group).sourced = { id: id ?? -1, fence };
          }
        } catch (error) {
          // A registry's entries may come from any member that could write
          // them: rate-limited like any peer fault.
          this.#faults.report("bad master", "Master source delivered a bad master", error);
        }
      });
      if (this.#stopMasters instanceof Promise) {
        // Through the fault log: a registry a member can write to may be
        // made to fail, and its failure is then the router's line to bound.
        this.#stopMasters.catch((error) =>
          this.#faults.report("master source", "Master source failed", error)
        );
      }
    }
    const members = options.members;
    if (members !== undefined) {
      if (members === null || typeof members.watch !== "function") {
        throw new TypeError("Invalid option members: expected a MemberSource (watch)");
      }
      this.#listed = new Set();
      this.#stopMembers = members.watch((change) => this.#applyMembers(change));
    }
  }

  /** Counters: forwarded, blocked, waiting, dropped, refused, forbidden (a live object). */
  get stats(): Readonly<RouterStats> {
    return this.#stats;
  }

  /**
   * Listens for services on `address` (`host:port`, port 0 for a free one).
   * `options` override the router's `maxConnections` and
   * `maxConnectionsPerAddress` for this listener.
   *
   * @throws {WeftError} `protected mode` (no `auth` or client-certificate
   *   `tls`, an address other than loopback, and `protectedMode` not
   *   `false`), `bad address`, `address in use`, `peer closed`.
   */
  async listen(address: string, options: ClusterListenOptions = {}): Promise<ClusterListener> {
    refuseUnprotected(address, this.#trust, this.#protectedMode, "router");
    return await this.#cluster.listen(address, { ...this.#caps, ...options });
  }

  /**
   * The live members of `group`, sorted ascending.
   *
   * @param group 0 to 255.
   */
  members(group: number): number[] {
    return [...(this.#groups[group]?.live ?? [])];
  }

  /**
   * The master of `group` as this router has it (set even while that
   * service is not connected), or undefined.
   *
   * @param group 0 to 255.
   */
  master(group: number): MasterInfo | undefined {
    const master = this.#groups[group]?.master;
    return master === undefined ? undefined : { ...master };
  }

  /**
   * Sets the master of `group` (the manual master source), if `fence` is
   * higher than the fencing number of the master it has. `id` undefined
   * clears the master (under the same rule).
   *
   * @param group 0 to 255.
   * @param id The master's service id, or undefined for none.
   * @param fence The fencing number: a lease's revision, an election term.
   * @returns True if applied; false for a stale change.
   * @throws {RangeError} For a group, id or fence out of range.
   */
  setMaster(group: number, id: number | undefined, fence: number): boolean {
    if (!isInt(group, 0, MAX_GROUP)) {
      throw new RangeError(
        `Invalid group: expected an integer from 0 to ${MAX_GROUP}, got ${group}`,
      );
    }
    if (id !== undefined && (!isInt(id, 0, MAX_SERVICE_ID) || id >>> 16 !== group)) {
      throw new RangeError(`Invalid id: expected a service id of group ${group}, got ${id}`);
    }
    if (typeof fence !== "number" || !Number.isFinite(fence)) {
      throw new RangeError(`Invalid fence: expected a finite number, got ${fence}`);
    }
    const g = this.#group(group);
    if (g.master !== undefined && !(fence > g.master.fence)) return false;
    // A cleared master keeps its fence (id -1), so an older claim cannot come back.
    g.master = { id: id ?? -1, fence };
    return true;
  }

  /** Closes the router: its listeners and every service connection. */
  async close(): Promise<void> {
    this.#stopMembers?.();
    this.#stopMembers = undefined;
    const stop = this.#stopMasters;
    this.#stopMasters = undefined;
    if (stop !== undefined) {
      try {
        (await stop)();
      } catch (error) {
        this.#logger.error("Master source failed to stop", error);
      }
    }
    await this.#cluster.close();
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- routing -------------------------------------------------------------

  /**
   * The fast path, before any handler or context: a request to one target
   * (by id, random, hash or master) whose target is connected and not
   * congested is forwarded at once and answered from the target's read
   * callback (see `RawRequest.forward`). Anything else (registering,
   * claims, broadcasts, a bad head, no target, a target not ready) returns
   * false and goes to {@linkcode #route}, which reports or waits.
   */
  #routeRaw(peer: Peer, cmd: number, payload: Uint8Array, request: RawRequest): boolean {
    if (payload.length < HEAD_SIZE || payload[0] !== HEAD_VERSION) return false;
    const mode = payload[1]!;
    if (mode === Mode.Register || mode === Mode.Broadcast || mode === Mode.Claim) return false;
    const self = this.#idOf.get(peer);
    if (self === undefined || u32(payload, 4) !== self) return false;
    const to = u32(payload, 8);
    let id: number | undefined;
    if (mode === Mode.Target) {
      if (to > MAX_SERVICE_ID || this.#listed?.has(to) === false) return false;
      id = to;
    } else {
      if (to > MAX_GROUP) return false;
      const group = this.#groups[to];
      if (group === undefined) return false;
      const live = group.live;
      if (mode === Mode.Random) {
        if (live.length === 0) return false;
        id = live[Math.floor(Math.random() * live.length)]!;
      } else if (mode === Mode.Hash) {
        const k = u32(payload, 12);
        id = (payload[2]! & Flag.Slots) !== 0
          ? group.slots.owner(k, live)
          : rendezvousOwner(k, live);
      } else if (mode === Mode.Master) {
        const master = group.master;
        if (master === undefined || master.id < 0) return false;
        id = master.id;
      } else return false;
    }
    const target = id === undefined ? undefined : this.#byId.get(id);
    if (target === undefined || !request.forward(target, cmd, payload, REPLY_SINGLE)) return false;
    this.#stats.forwarded++;
    return true;
  }

  #route(peer: Peer, cmd: number, payload: Uint8Array, context: CallContext): unknown {
    if (payload.length < HEAD_SIZE || payload[0] !== HEAD_VERSION) {
      return this.#bad(
        peer,
        context,
        payload.length < HEAD_SIZE
          ? `routing head is ${payload.length} bytes, expected ${HEAD_SIZE}`
          : `routing head version ${payload[0]}, expected ${HEAD_VERSION}`,
      );
    }
    const mode = payload[1]!;
    const flags = payload[2]!;
    const source = u32(payload, 4);
    const to = u32(payload, 8);
    if (mode === Mode.Register) return this.#register(peer, source, context);
    const self = this.#idOf.get(peer);
    if (self === undefined) return this.#bad(peer, context, "this connection has not registered");
    if (source !== self) {
      return this.#bad(
        peer,
        context,
        `source id ${formatServiceId(source)} is not this connection's id ${formatServiceId(self)}`,
      );
    }
    if (mode === Mode.Target) {
      if (to > MAX_SERVICE_ID) {
        return this.#bad(peer, context, `target id ${to} is out of range`);
      }
      const target = this.#byId.get(to);
      if (target === undefined || this.#listed?.has(to) === false) {
        return this.#unreachable(context, `no live service ${formatServiceId(to)}`, to >>> 16);
      }
      return this.#forward(peer, target, cmd, payload, context, to >>> 16);
    }
    if (to > MAX_GROUP) return this.#bad(peer, context, `group ${to} is out of range`);
    const group = this.#groups[to];
    switch (mode) {
      case Mode.Random: {
        const live = group?.live;
        if (live === undefined || live.length === 0) {
          return this.#unreachable(context, `group ${to} has no live member`, to);
        }
        const id = live[Math.floor(Math.random() * live.length)]!;
        return this.#forward(peer, this.#byId.get(id)!, cmd, payload, context, to);
      }
      case Mode.Hash: {
        const k = u32(payload, 12);
        const id = group === undefined
          ? undefined
          : (flags & Flag.Slots) !== 0
          ? group.slots.owner(k, group.live)
          : rendezvousOwner(k, group.live);
        if (id === undefined) {
          return this.#unreachable(context, `group ${to} has no live member`, to);
        }
        return this.#forward(peer, this.#byId.get(id)!, cmd, payload, context, to);
      }
      case Mode.Master: {
        const master = group?.master;
        if (master === undefined || master.id < 0) {
          return this.#unreachable(context, `group ${to} has no master`, to);
        }
        const target = this.#byId.get(master.id);
        if (target === undefined) {
          return this.#unreachable(
            context,
            `master ${formatServiceId(master.id)} of group ${to} is not connected`,
            to,
          );
        }
        return this.#forward(peer, target, cmd, payload, context, to);
      }
      case Mode.Broadcast: {
        const all = (flags & Flag.IncludeSelf) !== 0;
        const ids = (group?.live ?? []).filter((id) => all || id !== self);
        if (ids.length === 0) {
          return this.#unreachable(context, `group ${to} has no live member to broadcast to`, to);
        }
        this.#groupStats?.forwarded(to, ids.length);
        return this.#broadcast(peer, ids, cmd, payload, context);
      }
      case Mode.Claim: {
        if (payload.length < HEAD_SIZE + 8) {
          return this.#bad(peer, context, "claim without a fence");
        }
        const fence = new DataView(payload.buffer, payload.byteOffset + HEAD_SIZE, 8)
          .getFloat64(0, true);
        if (!Number.isFinite(fence)) {
          return this.#bad(peer, context, `fence ${fence} is not finite`);
        }
        return this.#claim(peer, self, fence, context);
      }
      default:
        return this.#bad(peer, context, `unknown mode ${mode}`);
    }
  }

  /** Forwards lent bytes to `target`; copies them (and holds the caller) only if it must wait. */
  #forward(
    caller: Peer,
    target: Peer,
    cmd: number,
    payload: Uint8Array,
    context: CallContext,
    group: number,
  ): PromiseLike<unknown> | undefined {
    this.#stats.forwarded++;
    // INFO asked through the router (the dashboard polling services) is not the group's traffic.
    const stats = cmd === ROUTED_INFO_CMD ? undefined : this.#groupStats;
    const start = stats === undefined ? -1 : stats.forwarded(group, 1, !context.oneWay);
    // The fast path when #routeRaw did not take it (the cluster skips the
    // rawRequest hook when stats are on): written now, answered from the target's read callback
    // (no promise, no signal, no copy of the request).
    const relay = context.oneWay ? undefined : new Relay(stats, group, start);
    if (forwardRaw(target, cmd, payload, context, relay ?? NO_SINK, this.#cluster.nodeId)) {
      return relay;
    }
    // Scratch lent bytes and options, reused while calls marshal at once
    // (the common case); a call that must wait keeps them.
    const lent = this.#lent;
    lent.bytes = payload;
    lent.taken = false;
    const options = this.#options;
    options.context = context;
    const call = context.oneWay
      ? this.#cluster.send(target, cmd, lent, options)
      : this.#cluster.call(target, cmd, lent, options);
    if (!lent.taken) {
      this.#lent = { bytes: EMPTY, taken: false, release: undefined };
      this.#options = { context };
      lent.bytes = payload.slice();
      this.#block(caller, lent, call);
    }
    if (!context.oneWay) {
      stats?.track(call, group, start);
      return call;
    }
    call.catch((error) => this.#dropped(target, error));
    return undefined;
  }

  #broadcast(
    caller: Peer,
    ids: number[],
    cmd: number,
    payload: Uint8Array,
    context: CallContext,
  ): Promise<Uint8Array> | undefined {
    this.#stats.forwarded += ids.length;
    const calls: Promise<unknown>[] = [];
    let copy: Uint8Array | undefined;
    for (const id of ids) {
      const lent: Lent = { bytes: payload, taken: false, release: undefined };
      const target = this.#byId.get(id)!;
      const call = context.oneWay
        ? this.#cluster.send(target, cmd, lent, { context })
        : this.#cluster.call(target, cmd, lent, { context });
      if (!lent.taken) {
        copy ??= payload.slice();
        lent.bytes = copy;
        this.#block(caller, lent, call);
      }
      if (context.oneWay) call.catch((error) => this.#dropped(target, error));
      calls.push(call);
    }
    if (context.oneWay) return undefined;
    return Promise.allSettled(calls).then((outcomes) => encodeOutcomes(ids, outcomes));
  }

  /** The forward waits (congestion): its bytes were copied; stop reading its caller meanwhile. */
  #block(caller: Peer, lent: Lent, settled: Promise<unknown>): void {
    lent.release = holdReading(caller);
    this.#stats.blocked++;
    this.#stats.waiting++;
    const done = () => {
      if (lent.release !== undefined) this.#unblock(lent);
    };
    settled.then(done, done);
  }

  #unblock(lent: Lent): void {
    lent.release!();
    lent.release = undefined;
    this.#stats.waiting--;
  }

  #dropped(target: Peer, error: unknown): void {
    this.#stats.dropped++;
    const id = this.#idOf.get(target);
    if (id !== undefined) this.#groupStats?.dropped(id >>> 16);
    this.#faults.report(
      "dropped",
      () =>
        `Send to ${this.#name(target)} dropped: ${error instanceof Error ? error.message : error}`,
    );
  }

  #name(peer: Peer): string {
    const id = this.#idOf.get(peer);
    return id === undefined ? String(peer) : `service ${formatServiceId(id)}`;
  }

  /** A routing head the router cannot use: answer a call, close a sender of sends. */
  #bad(peer: Peer, context: CallContext, detail: string): undefined {
    this.#stats.refused++;
    const message = `Bad routing head from ${this.#name(peer)}: ${detail}`;
    // A refused call is answered on the cluster's cheap path (no stack, no log line).
    if (!context.oneWay) throw peerFault("bad route", message);
    this.#faults.report("bad route", () => `${message}; closing the connection`);
    this.#unregister(peer);
    this.#cluster.close(peer).catch(() => {});
    return undefined;
  }

  /**
   * A master claim: allowed by the policy, and with a master source, the
   * member it elected with its fence (then nothing changes: the source set
   * it). A refused claim never touches the fence.
   */
  #claim(peer: Peer, self: number, fence: number, context: CallContext): unknown {
    const group = self >>> 16;
    if (
      this.#policy !== undefined && !this.#allows(() => this.#policy!.claim(peer.identity, group))
    ) {
      return this.#forbidden(peer, context, "forbidden", `master of group ${group}`);
    }
    if (this.#sourcedMasters) {
      const elected = this.#group(group).sourced;
      if (elected === undefined || elected.id !== self || elected.fence !== fence) {
        return this.#forbidden(
          peer,
          context,
          "not master",
          `master of group ${group} with fence ${fence}: the master source elected ${
            elected === undefined || elected.id < 0
              ? "no one (yet)"
              : `${formatServiceId(elected.id)} with fence ${elected.fence}`
          }`,
        );
      }
      return Uint8Array.of(Reply.Control, 1);
    }
    return Uint8Array.of(Reply.Control, this.setMaster(group, self, fence) ? 1 : 0);
  }

  /** Asks the policy; a throw refuses (and is logged, as a fault of this node's hook). */
  #allows(ask: () => boolean): boolean {
    try {
      return ask() === true;
    } catch (error) {
      this.#faults.report(
        "policy threw",
        () => `Router policy threw (refused): ${error instanceof Error ? error.message : error}`,
      );
      return false;
    }
  }

  /** A refusal of who the peer may be: answered with `code`, counted, logged within the limit. */
  #forbidden(
    peer: Peer,
    context: CallContext,
    code: "forbidden" | "not master",
    what: string,
  ): undefined {
    this.#stats.refused++;
    this.#stats.forbidden++;
    const who = describeIdentity(peer.identity);
    this.#faults.report(code, () => `Refused ${what} to ${quoteForLog(who)} (${peer})`);
    if (!context.oneWay) {
      throw peerFault(
        code,
        code === "forbidden" ? `Not allowed: ${what} for ${who}` : `Not master: ${what}`,
      );
    }
    return undefined;
  }

  #unreachable(context: CallContext, detail: string, group: number): undefined {
    this.#stats.refused++;
    this.#groupStats?.refused(group, context.oneWay);
    if (!context.oneWay) throw peerFault("unreachable", `Unreachable: ${detail}`);
    // A send has nobody to answer: count it, and log it within the limit
    // (no error object per send: a flood of them costs no stacks).
    this.#stats.dropped++;
    this.#faults.report("unreachable", () => `Send dropped: unreachable: ${detail}`);
    return undefined;
  }

  // ---- membership ----------------------------------------------------------

  #register(peer: Peer, id: number, context: CallContext): undefined {
    if (id > MAX_SERVICE_ID) return this.#bad(peer, context, `service id ${id} is out of range`);
    const current = this.#idOf.get(peer);
    if (current === id) return undefined;
    if (current !== undefined) {
      return this.#bad(
        peer,
        context,
        `this connection is already registered as ${formatServiceId(current)}`,
      );
    }
    // Before the duplicate check: an outsider learns nothing of who is live.
    const policy = this.#policy;
    if (policy !== undefined && !this.#allows(() => policy.announce(peer.identity, id))) {
      return this.#forbidden(peer, context, "forbidden", `service id ${formatServiceId(id)}`);
    }
    const holder = this.#byId.get(id);
    if (holder !== undefined && !holder.isClosed) {
      this.#stats.refused++;
      this.#groupStats?.refused(id >>> 16, false);
      throw peerFault(
        "duplicate id",
        `Service id ${formatServiceId(id)} is held by another live service`,
      );
    }
    this.#byId.set(id, peer);
    this.#idOf.set(peer, id);
    if (this.#listed?.has(id) !== false) this.#live(id);
    this.#notices.report(
      "registered",
      () => `Service ${formatServiceId(id)} registered from ${peer}`,
    );
    return undefined;
  }

  #unregister(peer: Peer): void {
    const id = this.#idOf.get(peer);
    if (id === undefined) return;
    this.#idOf.delete(peer);
    if (this.#byId.get(id) === peer) this.#byId.delete(id);
    // The id keeps its slot (fixed-slot hashing, for slotGrace) and its mastership (by id).
    this.#dead(id);
    this.#notices.report("left", () => `Service ${formatServiceId(id)} left`);
  }

  /** The member source's change: a service is live while connected and listed. */
  #applyMembers(change: MemberChange): void {
    const listed = this.#listed!;
    let ids: Iterable<number>;
    if ("snapshot" in change) {
      ids = new Set([...listed, ...change.snapshot]);
      listed.clear();
      for (const id of change.snapshot) listed.add(id);
    } else if ("put" in change) {
      listed.add(change.put);
      ids = [change.put];
    } else {
      listed.delete(change.delete);
      ids = [change.delete];
    }
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id > MAX_SERVICE_ID) continue;
      const peer = this.#byId.get(id);
      if (listed.has(id) && peer !== undefined && !peer.isClosed) this.#live(id);
      else this.#dead(id);
    }
  }

  /** `id` is a live member: in its group's live list, holding its slot. */
  #live(id: number): void {
    const group = this.#group(id >>> 16);
    if (insertSorted(group.live, id)) group.slots.join(id);
  }

  /** `id` is no longer a live member (its slot stays for the grace period). */
  #dead(id: number): void {
    const group = this.#groups[id >>> 16];
    if (group !== undefined && removeSorted(group.live, id)) group.slots.leave(id);
  }

  #group(group: number): Group {
    let g = this.#groups[group];
    if (g === undefined) {
      g = {
        live: [],
        slots: new SlotTable({ grace: this.#slotGrace, maxDead: this.#maxDeadSlots }),
        master: undefined,
        sourced: undefined,
      };
      this.#groups[group] = g;
    }
    return g;
  }
}

/**
 * Responses up to this size are prefixed in a reused buffer: the encoder
 * copies them at once (below the smallest part size, 1 KiB, so never a body
 * sent in parts, which is queued by reference).
 */
const SCRATCH_MAX = 512;
const scratch = new Uint8Array(SCRATCH_MAX);

/**
 * A forwarded call as the cluster sees it: a thenable the cluster subscribes
 * to as soon as the handler returns, settled synchronously from the target's
 * response (so the cluster writes the answer while the bytes are lent).
 */
class Relay implements ForwardSink, PromiseLike<unknown> {
  #ok: ((value: unknown) => void) | undefined = undefined;
  #fail: ((reason: unknown) => void) | undefined = undefined;
  /** With stats on: where the answer is counted, the target's group, the start of a timed call (else -1). */
  readonly #stats: RouterGroupStats | undefined;
  readonly #group: number;
  readonly #start: number;

  constructor(stats: RouterGroupStats | undefined, group: number, start: number) {
    this.#stats = stats;
    this.#group = group;
    this.#start = start;
  }

  then<A = unknown, B = never>(
    ok?: ((value: unknown) => A | PromiseLike<A>) | null,
    fail?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): PromiseLike<A | B> {
    this.#ok = ok ?? undefined;
    this.#fail = fail ?? undefined;
    return this as unknown as PromiseLike<A | B>;
  }

  response(bytes: Uint8Array | undefined): void {
    this.#stats?.answered(this.#group, this.#start, true);
    if (bytes === undefined) return void this.#ok?.(undefined);
    // The reply a service reads: [Reply.Single][the target's bytes].
    const size = bytes.length + 1;
    let out: Uint8Array;
    if (size > SCRATCH_MAX) out = new Uint8Array(size);
    else out = scratch.subarray(0, size);
    out[0] = Reply.Single;
    out.set(bytes, 1);
    this.#ok?.(out);
  }

  error(reason: unknown): void {
    this.#stats?.answered(this.#group, this.#start, false);
    this.#fail?.(reason);
  }
}

const NO_SINK: ForwardSink = { response() {}, error() {} };

/** What a service reads before a forwarded answer's body (see service.ts). */
const REPLY_SINGLE = Uint8Array.of(Reply.Single);

function isInt(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/** Inserts `id` into the ascending `list`; false if it was there. */
function insertSorted(list: number[], id: number): boolean {
  const lo = lowerBound(list, id);
  if (list[lo] === id) return false;
  list.splice(lo, 0, id);
  return true;
}

/** Removes `id` from `list`; false if it was not there. */
function removeSorted(list: number[], id: number): boolean {
  const at = list.indexOf(id);
  if (at < 0) return false;
  list.splice(at, 1);
  return true;
}

/**
 * What the router sends back for an error: a target's remote error as the
 * target sent it (so it reaches the caller as on a direct connection), and
 * the router's own coded errors under the name `RouterError`, which the
 * service turns back into a `WeftError` with that code.
 */
function routerErrorInfo(error: unknown) {
  if (error instanceof RemoteError) return { ...error.remote };
  if (error instanceof WeftError) {
    return { name: "RouterError", code: error.code, message: error.message };
  }
  return { name: "RouterError", code: "protocol", message: String(error) };
}

/** A broadcast's answer: `[prefix][u32 count]` then per member `[u32 id][u8 status][u32 len][bytes]`. */
function encodeOutcomes(ids: number[], outcomes: PromiseSettledResult<unknown>[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 5;
  for (const outcome of outcomes) {
    let bytes: Uint8Array;
    if (outcome.status === "fulfilled") {
      const value = outcome.value as Uint8Array | undefined;
      bytes = value === undefined ? EMPTY : value.subarray(1);
    } else {
      bytes = utf8.encode(JSON.stringify(routerErrorInfo(outcome.reason)));
    }
    parts.push(bytes);
    size += 9 + bytes.length;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = Reply.Broadcast;
  view.setUint32(1, ids.length, true);
  let at = 5;
  for (let i = 0; i < ids.length; i++) {
    const outcome = outcomes[i]!;
    const bytes = parts[i]!;
    view.setUint32(at, ids[i]!, true);
    out[at + 4] = outcome.status === "rejected"
      ? Outcome.Error
      : outcome.value === undefined
      ? Outcome.Empty
      : Outcome.Ok;
    view.setUint32(at + 5, bytes.length, true);
    out.set(bytes, at + 9);
    at += 9 + bytes.length;
  }
  return out;
}

/**
 * The default `maxConnectionsPerAddress` of a router: every listener's
 * default now, {@linkcode DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}.
 *
 * @deprecated Use `DEFAULT_MAX_CONNECTIONS_PER_ADDRESS` (exported by the
 * package's main entry); this name stays for code written against it.
 */
export const DEFAULT_ROUTER_MAX_CONNECTIONS_PER_ADDRESS: number =
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
