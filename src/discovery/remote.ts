/**
 * The embedded registry across processes: one weft node hosts the in-process
 * store of {@linkcode MemoryRegistry}-style discovery and answers its
 * operations as weft calls ({@linkcode serveRegistry}); every other process,
 * on Deno, Bun or Node, uses a {@linkcode RemoteRegistry} that talks to it
 * over a weft connection. Nothing to install: the registry node is a weft
 * node like any other. The registry logic (keepalives, re-registration,
 * resynchronising watches, election) is the same code as the memory and etcd
 * registries'.
 *
 * How a watch travels: the cluster has no streams, so a watch is a chain of
 * long-poll calls. Each `watch(prefix, from, wait)` is answered with the
 * changes under `prefix` from revision `from` on (at most
 * `maxEventsPerBatch`), or with an empty progress batch after `wait`, or
 * with `compacted` when that history is gone (the client then reads a fresh
 * snapshot). Each connection may hold at most `maxWatchesPerConnection` such
 * calls at once, and the server caps `wait`, leases, keys and their sizes.
 *
 * Limits: the registry node is one process, so it is a single point of
 * failure. While it is down, registrations and watches retry with backoff
 * and calls between nodes already connected keep working; when it comes
 * back (empty), every instance re-registers and every watcher resynchronises.
 * Revisions and lease ids start from the clock, so fences keep growing
 * across a restart of the registry node. For real deployments, use etcd
 * (`@weft/cluster/discovery/etcd`).
 *
 * @example A registry node, and two processes' registries talking to it
 * ```ts
 * import { RemoteRegistry, serveRegistry } from "@weft/cluster/discovery/remote";
 *
 * await using server = await serveRegistry("127.0.0.1:0");
 * await using a = new RemoteRegistry({ address: server.address });
 * await using b = new RemoteRegistry({ address: server.address });
 * await a.register({ id: "nodes/alpha", address: "127.0.0.1:7001" }, { ttl: 1000 });
 * for await (const event of b.watch("nodes/")) {
 *   if (event.type !== "snapshot" || event.members[0]?.id !== "nodes/alpha") {
 *     throw new Error("unexpected event");
 *   }
 *   break;
 * }
 * const leadership = await b.campaign("orders", { id: "svc/1", address: "127.0.0.1:7002" });
 * if (leadership.master.fence <= 0n) throw new Error("unexpected fence");
 * await leadership.resign();
 * ```
 *
 * @module
 */

import { Cluster } from "../cluster/cluster.ts";
import type { CallContext } from "../cluster/call_context.ts";
import type { ClusterOptions } from "../cluster/options.ts";
import type { Peer, PeerIdentity } from "../connection/peer.ts";
import { checkConnectionCaps } from "../cluster/accept_gate.ts";
import {
  checkProtectedMode,
  type ProtectedModeOptions,
  refuseUnprotected,
} from "../cluster/protected_mode.ts";
import { describeIdentity, type TrustOptions } from "../cluster/security.ts";
import {
  checkFaultLogLimit,
  DEFAULT_FAULT_LOG_LIMIT,
  FaultLog,
  quoteForLog,
} from "../cluster/fault_log.ts";
import { isPeerFault, peerFault } from "../cluster/fault_reply.ts";
import { defaultLogger } from "../cluster/options.ts";
import { json } from "../codec/json.ts";
import { ErrorCode, RemoteError, WeftError } from "../errors.ts";
import { formatAddress, parseAddress } from "../transport/address.ts";
import type { KeyValue, KvEvent, KvStore, KvWatchBatch, Lease } from "./_kv.ts";
import { KvRegistry, positive, type RegistryOptions, StoreRegistry } from "./_kv_registry.ts";
import { MemoryKv, Store, type Watcher } from "./_memory_kv.ts";
import { DEFAULT_MEMORY_HISTORY } from "./memory.ts";
import { DEFAULT_MAX_CONNECTIONS_PER_ADDRESS } from "../cluster/listener.ts";

export type * from "./types.ts";
export { DEFAULT_LEASE_TTL } from "./types.ts";
export type { RegistryOptions } from "./_kv_registry.ts";
export type { Logger } from "../cluster/options.ts";
export { DEFAULT_MAX_INSTANCE_BYTES, DEFAULT_NAMESPACE, StoreRegistry } from "./_kv_registry.ts";

/** The cluster options a registry node or client passes on (security, transport, logger, heartbeats). */
export type RegistryClusterOptions = Omit<
  ClusterOptions,
  "codec" | "marshal" | "unmarshal" | "call" | "accept" | "close"
>;

/** Options of {@linkcode serveRegistry}. */
export interface RegistryServerOptions extends TrustOptions, ProtectedModeOptions {
  /** How many commits the store keeps for watchers that resume. @default {DEFAULT_MEMORY_HISTORY} */
  history?: number;
  /** Long-poll watch calls one connection may have waiting at once; more are refused. @default {DEFAULT_REGISTRY_MAX_WATCHES_PER_CONNECTION} */
  maxWatchesPerConnection?: number;
  /** Long-poll watch calls waiting at once over all connections; more are refused. @default {DEFAULT_REGISTRY_MAX_WATCHES} */
  maxWatches?: number;
  /** The longest a watch call is held before it is answered with a progress batch, in ms. @default {DEFAULT_REGISTRY_MAX_WATCH_WAIT} */
  maxWatchWait?: number;
  /** The most events one watch answer carries (whole commits: one may exceed it). @default {DEFAULT_REGISTRY_MAX_EVENTS_PER_BATCH} */
  maxEventsPerBatch?: number;
  /** Leases alive at once; a grant over it is refused. @default {DEFAULT_REGISTRY_MAX_LEASES} */
  maxLeases?: number;
  /** Keys stored at once; a put of a new key over it is refused. @default {DEFAULT_REGISTRY_MAX_KEYS} */
  maxKeys?: number;
  /** The longest key (or watch/range prefix), in UTF-8 bytes. @default {DEFAULT_REGISTRY_MAX_KEY_BYTES} */
  maxKeyBytes?: number;
  /** The longest value, in UTF-8 bytes. @default {DEFAULT_REGISTRY_MAX_VALUE_BYTES} */
  maxValueBytes?: number;
  /** The longest lease TTL granted, in ms (a lease nobody renews is gone after it). @default {DEFAULT_REGISTRY_MAX_TTL} */
  maxTtl?: number;
  /**
   * Leases one identity (a key id, a certificate subject; every client
   * that proved nothing is the one identity `anonymous`) may hold at once,
   * under `maxLeases`: one identity cannot take every lease from the rest.
   * @default {DEFAULT_REGISTRY_MAX_LEASES_PER_IDENTITY}
   */
  maxLeasesPerIdentity?: number;
  /** Keys one identity may hold at once, under `maxKeys`. @default {DEFAULT_REGISTRY_MAX_KEYS_PER_IDENTITY} */
  maxKeysPerIdentity?: number;
  /** Watch calls of one identity that may wait at once, under `maxWatches`. @default {DEFAULT_REGISTRY_MAX_WATCHES_PER_IDENTITY} */
  maxWatchesPerIdentity?: number;
  /** Connections the registry node holds at once; over it new ones are closed at once. @default {1000} */
  maxConnections?: number;
  /** Connections from one remote address the registry node holds at once. @default {DEFAULT_MAX_CONNECTIONS_PER_ADDRESS} */
  maxConnectionsPerAddress?: number;
  /**
   * Other options of the registry node's {@linkcode Cluster} (`transport`,
   * `logger`, heartbeats, `handshakeTimeout`). Its trust settings are the
   * top-level `tls`, `auth` and `authorize` (given here too, they must
   * not also be given there).
   */
  cluster?: RegistryClusterOptions;
}

/** The default {@linkcode RegistryServerOptions.maxWatchesPerConnection}. */
export const DEFAULT_REGISTRY_MAX_WATCHES_PER_CONNECTION = 64;
/** The default {@linkcode RegistryServerOptions.maxWatches}. */
export const DEFAULT_REGISTRY_MAX_WATCHES = 4096;
/** The default {@linkcode RegistryServerOptions.maxWatchWait}: 30 s. */
export const DEFAULT_REGISTRY_MAX_WATCH_WAIT = 30_000;
/** The default {@linkcode RegistryServerOptions.maxEventsPerBatch}. */
export const DEFAULT_REGISTRY_MAX_EVENTS_PER_BATCH = 1000;
/** The default {@linkcode RegistryServerOptions.maxLeases}. */
export const DEFAULT_REGISTRY_MAX_LEASES = 10_000;
/** The default {@linkcode RegistryServerOptions.maxKeys}. */
export const DEFAULT_REGISTRY_MAX_KEYS = 10_000;
/** The default {@linkcode RegistryServerOptions.maxKeyBytes}. */
export const DEFAULT_REGISTRY_MAX_KEY_BYTES = 1024;
/**
 * The default {@linkcode RegistryServerOptions.maxValueBytes}: 8 KiB (twice
 * the registries' default `maxInstanceBytes`; with the default `maxKeys`, a
 * store of at most about 90 MB, which a range answer still fits in a frame).
 */
export const DEFAULT_REGISTRY_MAX_VALUE_BYTES = 8 * 1024;
/** The default {@linkcode RegistryServerOptions.maxTtl}: 10 minutes. */
export const DEFAULT_REGISTRY_MAX_TTL = 600_000;
/** The default {@linkcode RegistryServerOptions.maxLeasesPerIdentity}: a tenth of `maxLeases`'s default. */
export const DEFAULT_REGISTRY_MAX_LEASES_PER_IDENTITY = 1000;
/** The default {@linkcode RegistryServerOptions.maxKeysPerIdentity}: a tenth of `maxKeys`'s default. */
export const DEFAULT_REGISTRY_MAX_KEYS_PER_IDENTITY = 1000;
/** The default {@linkcode RegistryServerOptions.maxWatchesPerIdentity}: a quarter of `maxWatches`'s default. */
export const DEFAULT_REGISTRY_MAX_WATCHES_PER_IDENTITY = 1024;
/** Options of {@linkcode RemoteRegistry}. */
export interface RemoteRegistryOptions extends RegistryOptions, TrustOptions {
  /** The registry node's address, `host:port` (what {@linkcode RegistryServer.address} says). */
  address: string;
  /** How long one request may take, in ms. @default {DEFAULT_REMOTE_REQUEST_TIMEOUT} */
  requestTimeout?: number;
  /** How long the server may hold one watch call before answering with progress, in ms (capped by its `maxWatchWait`). @default {DEFAULT_REMOTE_POLL_WAIT} */
  pollWait?: number;
  /**
   * Other options of the client's own {@linkcode Cluster} (`transport`,
   * heartbeats). Its trust settings are the top-level `tls`, `auth` and
   * `authorize` (given here too, they must not also be given there).
   */
  cluster?: RegistryClusterOptions;
}

/**
 * The cluster options of a registry node or client: `cluster`, with the
 * top-level trust settings in it.
 *
 * @throws {TypeError} For a trust setting given both at the top level and in `cluster`.
 */
function clusterWithTrust(
  options: TrustOptions & { cluster?: RegistryClusterOptions },
): RegistryClusterOptions {
  const cluster = options.cluster ?? {};
  if (cluster === null || typeof cluster !== "object") {
    throw new TypeError("Invalid option cluster: expected an object of cluster options");
  }
  const merged: RegistryClusterOptions = { ...cluster };
  for (const name of ["tls", "auth", "authorize"] as const) {
    if (options[name] === undefined) continue;
    if (cluster[name] !== undefined) {
      throw new TypeError(
        `Invalid options ${name} and cluster.${name}: give ${name} once (at the top level)`,
      );
    }
    (merged as Record<string, unknown>)[name] = options[name];
  }
  return merged;
}

/** The default {@linkcode RemoteRegistryOptions.requestTimeout}: 5 s. */
export const DEFAULT_REMOTE_REQUEST_TIMEOUT = 5000;
/** The default {@linkcode RemoteRegistryOptions.pollWait}: 10 s. */
export const DEFAULT_REMOTE_POLL_WAIT = 10_000;

/** The registry node's commands (the wire contract between client and server). */
const COMMANDS = {
  grant: 1,
  keepAlive: 2,
  revoke: 3,
  put: 4,
  delete: 5,
  range: 6,
  watch: 7,
} as const;
type Command = keyof typeof COMMANDS;
const NAMES: Record<number, Command> = Object.fromEntries(
  Object.entries(COMMANDS).map(([name, id]) => [id, name as Command]),
);

const encoder = new TextEncoder();

function count(name: string, value: number | undefined, fallback: number): number {
  const n = positive(name, value, fallback);
  if (!Number.isInteger(n)) throw new RangeError(`Invalid option ${name}: ${n} is not an integer`);
  return n;
}

// ---------------------------------------------------------------- wire forms

interface WireKv {
  key: string;
  value: string;
  create: string;
  mod: string;
}
type WireEvent = { type: "put"; kv: WireKv } | { type: "delete"; key: string; mod: string };

function toWireKv(kv: KeyValue): WireKv {
  return {
    key: kv.key,
    value: kv.value,
    create: String(kv.createRevision),
    mod: String(kv.modRevision),
  };
}

function toWireEvent(e: KvEvent): WireEvent {
  return e.type === "put"
    ? { type: "put", kv: toWireKv(e.kv) }
    : { type: "delete", key: e.key, mod: String(e.modRevision) };
}

// -------------------------------------------------------------------- server

/** A running registry node, from {@linkcode serveRegistry}. */
export interface RegistryServer {
  /** The address it listens on (`host:port`, the real port when asked for port 0). */
  readonly address: string;
  /** Stops listening, ends waiting watch calls and closes every connection. */
  close(): Promise<void>;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A refusal of a client's request: the client's doing, so answered on the
 * cluster's cheap path (a `peerFault`: no stack, no "handler threw" line)
 * and logged, within the limit, by the host.
 */
function refused(what: string): WeftError {
  return peerFault(ErrorCode.RegistryRejected, `Registry refused ${what}`);
}

/** A refusal of what belongs to another identity (a `registry auth` error on the client). */
function notYours(what: string): WeftError {
  return peerFault(ErrorCode.RegistryAuth, `Registry refused ${what}`);
}

/**
 * Who owns what a client writes: the key id it proved, else its
 * certificate's subject, else `anonymous` (every client that proved
 * nothing is one identity).
 */
export function registryIdentity(identity: PeerIdentity): string {
  if (identity.keyId !== undefined) return `key:${identity.keyId}`;
  if (identity.certificate !== undefined) return `cert:${identity.certificate.subject}`;
  return "anonymous";
}

function field<T extends "string" | "number">(
  body: Record<string, unknown>,
  name: string,
  type: T,
): T extends "string" ? string : number {
  const value = body[name];
  const ok = type === "string" ? typeof value === "string" : typeof value === "number";
  if (!ok) throw refused(`a request: ${name} is not a ${type}`);
  return value as T extends "string" ? string : number;
}

function revisionField(body: Record<string, unknown>, name: string): bigint {
  const value = body[name];
  if (typeof value !== "string" || !/^\d{1,20}$/.test(value)) {
    throw refused(`a request: ${name} is not a decimal revision`);
  }
  return BigInt(value);
}

/** The server side: the store and the bounds on what a client may make it hold. */
class Host {
  readonly store: Store;
  readonly kv: MemoryKv;
  readonly epoch: string;
  readonly watching = new Map<Peer, number>();
  /** Watch calls waiting, by identity. */
  readonly watchingBy = new Map<string, number>();
  waiting = 0;
  readonly closing = new AbortController();
  readonly maxWatches: number;
  readonly maxWaiting: number;
  readonly maxWait: number;
  readonly maxEvents: number;
  readonly maxLeases: number;
  readonly maxKeys: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxTtl: number;
  readonly maxLeasesPerIdentity: number;
  readonly maxKeysPerIdentity: number;
  readonly maxWatchesPerIdentity: number;

  constructor(o: RegistryServerOptions) {
    const history = count("history", o.history, DEFAULT_MEMORY_HISTORY);
    this.maxWatches = count(
      "maxWatchesPerConnection",
      o.maxWatchesPerConnection,
      DEFAULT_REGISTRY_MAX_WATCHES_PER_CONNECTION,
    );
    this.maxWaiting = count("maxWatches", o.maxWatches, DEFAULT_REGISTRY_MAX_WATCHES);
    this.maxWait = positive("maxWatchWait", o.maxWatchWait, DEFAULT_REGISTRY_MAX_WATCH_WAIT);
    this.maxEvents = count(
      "maxEventsPerBatch",
      o.maxEventsPerBatch,
      DEFAULT_REGISTRY_MAX_EVENTS_PER_BATCH,
    );
    this.maxLeases = count("maxLeases", o.maxLeases, DEFAULT_REGISTRY_MAX_LEASES);
    this.maxKeys = count("maxKeys", o.maxKeys, DEFAULT_REGISTRY_MAX_KEYS);
    this.maxKeyBytes = count("maxKeyBytes", o.maxKeyBytes, DEFAULT_REGISTRY_MAX_KEY_BYTES);
    this.maxValueBytes = count("maxValueBytes", o.maxValueBytes, DEFAULT_REGISTRY_MAX_VALUE_BYTES);
    this.maxTtl = positive("maxTtl", o.maxTtl, DEFAULT_REGISTRY_MAX_TTL);
    this.maxLeasesPerIdentity = count(
      "maxLeasesPerIdentity",
      o.maxLeasesPerIdentity,
      DEFAULT_REGISTRY_MAX_LEASES_PER_IDENTITY,
    );
    this.maxKeysPerIdentity = count(
      "maxKeysPerIdentity",
      o.maxKeysPerIdentity,
      DEFAULT_REGISTRY_MAX_KEYS_PER_IDENTITY,
    );
    this.maxWatchesPerIdentity = count(
      "maxWatchesPerIdentity",
      o.maxWatchesPerIdentity,
      DEFAULT_REGISTRY_MAX_WATCHES_PER_IDENTITY,
    );
    // The revision from the clock: fences keep growing across a restart of
    // the registry node. Lease ids are random (nobody can guess another's).
    const now = Date.now() * 1000;
    this.store = new Store(history, BigInt(now));
    // Revisions before the start belong to another store (this node before a
    // restart): a watch from one of them is answered `compacted`, so the
    // client reads a fresh snapshot instead of replaying onto a stale one.
    this.store.compacted = this.store.revision;
    this.kv = new MemoryKv(this.store);
    this.epoch = `${now.toString(36)}.${Math.random().toString(36).slice(2)}`;
  }

  #key(body: Record<string, unknown>, name: string): string {
    const key = field(body, name, "string");
    const size = encoder.encode(key).length;
    if (size > this.maxKeyBytes) {
      throw refused(`a ${name} of ${size} bytes: over maxKeyBytes ${this.maxKeyBytes}`);
    }
    return key;
  }

  /** Where refusals are logged, at most `faultLogLimit` lines per code per second. */
  faults: FaultLog | undefined;

  /** Handles a request; a refusal is also logged (within the limit). */
  async handle(cmd: number, raw: unknown, context: CallContext): Promise<unknown> {
    try {
      return await this.#handle(cmd, raw, context);
    } catch (error) {
      if (isPeerFault(error)) {
        this.faults?.report(
          error.code,
          () =>
            `${error.message} (from ${
              quoteForLog(describeIdentity(context.peer.identity))
            }, ${context.peer})`,
        );
      }
      throw error;
    }
  }

  async #handle(cmd: number, raw: unknown, context: CallContext): Promise<unknown> {
    const name = NAMES[cmd];
    if (name === undefined) throw refused(`command ${cmd}: unknown`);
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw refused(`${name}: the request is not an object`);
    }
    const body = raw as Record<string, unknown>;
    const s = this.store;
    const epoch = this.epoch;
    // What a client writes belongs to the identity it proved: only that
    // identity may renew, revoke, change or delete it.
    const who = registryIdentity(context.peer.identity);
    switch (name) {
      case "grant": {
        const ttl = field(body, "ttl", "number");
        if (!Number.isFinite(ttl) || ttl <= 0 || ttl > this.maxTtl) {
          throw refused(`a lease of ${ttl} ms: not in (0, maxTtl ${this.maxTtl}]`);
        }
        if (s.leases.size >= this.maxLeases) {
          throw refused(`a lease: ${this.maxLeases} leases (maxLeases) are alive`);
        }
        if (s.held(who).leases >= this.maxLeasesPerIdentity) {
          throw refused(
            `a lease: ${
              quoteForLog(who)
            } holds ${this.maxLeasesPerIdentity} leases (maxLeasesPerIdentity)`,
          );
        }
        const lease = await this.kv.grant(Math.ceil(ttl), undefined, who);
        return { epoch, id: lease.id, ttl: lease.ttl };
      }
      case "keepAlive": {
        const id = field(body, "id", "string");
        this.#ownLease(id, who, "keepAlive");
        return { epoch, ttl: await this.kv.keepAlive(id) };
      }
      case "revoke": {
        const id = field(body, "id", "string");
        this.#ownLease(id, who, "revoke");
        await this.kv.revoke(id);
        return { epoch };
      }
      case "put": {
        const key = this.#key(body, "key");
        const value = field(body, "value", "string");
        const size = encoder.encode(value).length;
        if (size > this.maxValueBytes) {
          throw refused(`a value of ${size} bytes: over maxValueBytes ${this.maxValueBytes}`);
        }
        const lease = field(body, "lease", "string");
        this.#ownLease(lease, who, "put");
        const owner = s.ownerOfKey(key);
        if (owner !== undefined && owner !== who) {
          throw notYours(`a put of ${quoteForLog(key)}: the key is another identity's`);
        }
        if (owner === undefined) {
          if (s.keys.size >= this.maxKeys) {
            throw refused(`a put: ${this.maxKeys} keys (maxKeys) are stored`);
          }
          if (s.held(who).keys >= this.maxKeysPerIdentity) {
            throw refused(
              `a put: ${
                quoteForLog(who)
              } holds ${this.maxKeysPerIdentity} keys (maxKeysPerIdentity)`,
            );
          }
        }
        return { epoch, revision: String(await this.kv.put(key, value, lease)) };
      }
      case "delete": {
        const key = this.#key(body, "key");
        const owner = s.ownerOfKey(key);
        if (owner !== undefined && owner !== who) {
          throw notYours(`a delete of ${quoteForLog(key)}: the key is another identity's`);
        }
        return { epoch, revision: String(await this.kv.delete(key)) };
      }
      case "range": {
        const r = await this.kv.range(this.#key(body, "prefix"));
        return { epoch, revision: String(r.revision), kvs: r.kvs.map(toWireKv) };
      }
      case "watch":
        return { epoch, ...(await this.#watch(body, context, who)) };
    }
  }

  /**
   * Throws unless lease `id` (if it exists) is `who`'s. A lease that does
   * not exist is left to the store (a keepalive answers 0, a put is refused);
   * a lease of another identity is refused the same way whether it exists
   * or not would tell nothing more: its id is random.
   */
  #ownLease(id: string, who: string, what: string): void {
    const lease = this.store.leases.get(id);
    if (lease !== undefined && lease.owner !== who) {
      throw notYours(`${what} of lease ${id}: the lease is another identity's`);
    }
  }

  /** What the history holds under `prefix` from `from` on; undefined when nothing yet. */
  #collect(prefix: string, from: bigint): Record<string, unknown> | undefined {
    const s = this.store;
    // `from` past the next revision: the client knew another store (a restart).
    if (from <= s.compacted || from > s.revision + 1n) {
      return { type: "compacted", revision: String(s.compacted > 0n ? s.compacted : s.revision) };
    }
    const events: WireEvent[] = [];
    let upTo = s.revision;
    for (const entry of s.history) {
      if (entry.revision < from) continue;
      if (events.length >= this.maxEvents) {
        upTo = entry.revision - 1n;
        break;
      }
      for (const e of entry.events) {
        if ((e.type === "put" ? e.kv.key : e.key).startsWith(prefix)) events.push(toWireEvent(e));
      }
    }
    if (events.length === 0) return undefined;
    return { type: "events", revision: String(upTo), events };
  }

  async #watch(
    body: Record<string, unknown>,
    context: CallContext,
    who: string,
  ): Promise<object> {
    const prefix = this.#key(body, "prefix");
    const from = revisionField(body, "from");
    const wait = Math.min(field(body, "wait", "number"), this.maxWait);
    const ready = this.#collect(prefix, from);
    if (ready !== undefined) return ready;
    const peer = context.peer;
    const held = this.watching.get(peer) ?? 0;
    if (held >= this.maxWatches) {
      throw refused(
        `a watch: ${held} watch calls of this connection wait (maxWatchesPerConnection)`,
      );
    }
    if (this.waiting >= this.maxWaiting) {
      throw refused(`a watch: ${this.waiting} watch calls wait (maxWatches)`);
    }
    const mine = this.watchingBy.get(who) ?? 0;
    if (mine >= this.maxWatchesPerIdentity) {
      throw refused(
        `a watch: ${mine} watch calls of ${quoteForLog(who)} wait (maxWatchesPerIdentity)`,
      );
    }
    this.watching.set(peer, held + 1);
    this.watchingBy.set(who, mine + 1);
    this.waiting++;
    const s = this.store;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const watcher: Watcher = { prefix, push: () => wake() };
    const timer = setTimeout(wake, Number.isFinite(wait) && wait > 0 ? wait : 0);
    const signal = context.signal;
    signal.addEventListener("abort", wake, { once: true });
    this.closing.signal.addEventListener("abort", wake, { once: true });
    s.watchers.add(watcher);
    try {
      await woken;
    } finally {
      s.watchers.delete(watcher);
      clearTimeout(timer);
      signal.removeEventListener("abort", wake);
      this.closing.signal.removeEventListener("abort", wake);
      this.waiting--;
      const left = this.watching.get(peer)! - 1;
      if (left === 0) this.watching.delete(peer);
      else this.watching.set(peer, left);
      const leftBy = this.watchingBy.get(who)! - 1;
      if (leftBy === 0) this.watchingBy.delete(who);
      else this.watchingBy.set(who, leftBy);
    }
    return this.#collect(prefix, from) ??
      { type: "events", revision: String(s.revision), events: [] };
  }

  close(): void {
    this.closing.abort();
    for (const id of [...this.store.leases.keys()]) clearTimeout(this.store.leases.get(id)!.timer);
    this.store.leases.clear();
  }
}

/**
 * Starts a registry node: a weft {@linkcode Cluster} listening on `address`
 * that holds the discovery store in memory and serves it to
 * {@linkcode RemoteRegistry} clients. See the module doc for its limits.
 *
 * @param address `host:port` to listen on (port 0 picks a free port).
 * @param options Bounds on what clients may make it hold; cluster options.
 * @returns The running server; close it to stop.
 * @throws {RangeError} An option out of range (named in the message).
 * @throws {TypeError} A trust setting given both at the top level and in `cluster`.
 * @throws {WeftError} `protected mode` (no `auth` or client-certificate `tls`, an address
 *   other than loopback, and `protectedMode` not `false`); `bad address`, `address in use`,
 *   `transport` from listening.
 */
export async function serveRegistry(
  address: string,
  options: RegistryServerOptions = {},
): Promise<RegistryServer> {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Invalid options: expected an object");
  }
  const { hostname } = parseAddress(address);
  const clusterOptions = clusterWithTrust(options);
  const protectedMode = checkProtectedMode(options.protectedMode);
  const caps = checkConnectionCaps({
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.maxConnectionsPerAddress === undefined
      ? {}
      : { maxConnectionsPerAddress: options.maxConnectionsPerAddress }),
  });
  const host = new Host(options);
  const logger = clusterOptions.logger ?? defaultLogger;
  host.faults = new FaultLog(
    { error: (message, detail) => logger.warn(message, detail) },
    checkFaultLogLimit(clusterOptions.faultLogLimit, DEFAULT_FAULT_LOG_LIMIT),
  );
  try {
    refuseUnprotected(address, clusterOptions, protectedMode, "registry node");
  } catch (error) {
    host.close();
    throw error;
  }
  const cluster = new Cluster({
    ...clusterOptions,
    ...json({ commands: COMMANDS }),
    call: (_peer, cmd, body, context) => host.handle(cmd, body, context),
  });
  // What `weft ls` and the dashboard learn of a registry node (INFO describe).
  cluster.provideInfo("describe", () => ({
    kind: "registry",
    keys: host.store.keys.size,
    leases: host.store.leases.size,
    revision: String(host.store.revision),
    watches: host.waiting,
  }));
  let listening;
  try {
    listening = await cluster.listen(address, caps);
  } catch (err) {
    host.close();
    await cluster.close();
    throw err;
  }
  const bound = formatAddress({ hostname, port: listening.address.port });
  let closed: Promise<void> | undefined;
  const server: RegistryServer = {
    address: bound,
    close: () =>
      closed ??= (async () => {
        host.close();
        await cluster.close();
      })(),
    [Symbol.asyncDispose]: () => server.close(),
  };
  return server;
}

// -------------------------------------------------------------------- client

function malformed(address: string, what: string): WeftError {
  return new WeftError(
    ErrorCode.RegistryMalformed,
    `Malformed answer from the registry at ${address}: ${what}`,
  );
}

function int(value: unknown, address: string, what: string): bigint {
  if (typeof value !== "string" || !/^\d{1,20}$/.test(value)) {
    throw malformed(address, `${what} is not a decimal revision`);
  }
  return BigInt(value);
}

function str(value: unknown, address: string, what: string): string {
  if (typeof value !== "string") throw malformed(address, `${what} is not a string`);
  return value;
}

function fromWireKv(raw: unknown, address: string): KeyValue {
  if (raw === null || typeof raw !== "object") throw malformed(address, "a kv is not an object");
  const kv = raw as Record<string, unknown>;
  return {
    key: str(kv.key, address, "key"),
    value: str(kv.value, address, "value"),
    createRevision: int(kv.create, address, "create"),
    modRevision: int(kv.mod, address, "mod"),
  };
}

function list(value: unknown, address: string, what: string): unknown[] {
  if (!Array.isArray(value)) throw malformed(address, `${what} is not a list`);
  return value;
}

class RemoteKv implements KvStore {
  readonly #cluster: Cluster;
  readonly #peer: Peer;
  readonly #address: string;
  readonly #timeout: number;
  readonly #pollWait: number;
  /** The server's epoch as last seen: a different one means it restarted (empty). */
  #epoch: string | undefined;

  constructor(options: RemoteRegistryOptions) {
    const address = options.address;
    if (typeof address !== "string") {
      throw new TypeError("Invalid option address: expected host:port");
    }
    try {
      parseAddress(address);
    } catch (cause) {
      throw new TypeError(`Invalid option address: ${JSON.stringify(address)} is not host:port`, {
        cause,
      });
    }
    this.#address = address;
    this.#timeout = positive(
      "requestTimeout",
      options.requestTimeout,
      DEFAULT_REMOTE_REQUEST_TIMEOUT,
    );
    this.#pollWait = positive("pollWait", options.pollWait, DEFAULT_REMOTE_POLL_WAIT);
    this.#cluster = new Cluster({ ...clusterWithTrust(options), ...json({ commands: COMMANDS }) });
    this.#peer = this.#cluster.connect(address);
  }

  async #call(
    cmd: Command,
    body: object,
    signal: AbortSignal | undefined,
    timeout = this.#timeout,
  ): Promise<Record<string, unknown>> {
    const address = this.#address;
    let answer: unknown;
    try {
      answer = await this.#cluster.call(
        this.#peer,
        cmd,
        body,
        signal === undefined ? { timeout } : { timeout, signal },
      );
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof RemoteError) {
        const code = err.remote.code;
        const known = code === ErrorCode.RegistryRejected || code === ErrorCode.RegistryAuth ||
          code === ErrorCode.RegistryMalformed;
        throw new WeftError(
          known ? code : ErrorCode.RegistryRejected,
          `The registry at ${address} refused ${cmd}: ${err.remote.message}`,
          { cause: err },
        );
      }
      const why = err instanceof Error ? err.message : String(err);
      throw new WeftError(
        ErrorCode.RegistryUnreachable,
        `Cannot reach the registry at ${address}: ${why}`,
        { cause: err },
      );
    }
    if (answer === null || typeof answer !== "object" || Array.isArray(answer)) {
      throw malformed(address, `the answer to ${cmd} is not an object`);
    }
    const o = answer as Record<string, unknown>;
    this.#epoch = str(o.epoch, address, "epoch");
    return o;
  }

  async grant(ttl: number, signal?: AbortSignal): Promise<Lease> {
    const r = await this.#call("grant", { ttl }, signal);
    const ttlMs = r.ttl;
    if (typeof ttlMs !== "number" || !(ttlMs > 0)) {
      throw malformed(this.#address, "grant returned no TTL");
    }
    return { id: str(r.id, this.#address, "id"), ttl: ttlMs };
  }

  async keepAlive(id: string, signal?: AbortSignal): Promise<number> {
    const r = await this.#call("keepAlive", { id }, signal);
    if (typeof r.ttl !== "number" || !(r.ttl >= 0)) {
      throw malformed(this.#address, "keepAlive returned no TTL");
    }
    return r.ttl;
  }

  async revoke(id: string, signal?: AbortSignal): Promise<void> {
    await this.#call("revoke", { id }, signal);
  }

  async put(key: string, value: string, lease: string, signal?: AbortSignal): Promise<bigint> {
    const r = await this.#call("put", { key, value, lease }, signal);
    return int(r.revision, this.#address, "revision");
  }

  async delete(key: string, signal?: AbortSignal): Promise<bigint> {
    const r = await this.#call("delete", { key }, signal);
    return int(r.revision, this.#address, "revision");
  }

  async range(
    prefix: string,
    signal?: AbortSignal,
  ): Promise<{ revision: bigint; kvs: KeyValue[] }> {
    const r = await this.#call("range", { prefix }, signal);
    return {
      revision: int(r.revision, this.#address, "revision"),
      kvs: list(r.kvs, this.#address, "kvs").map((kv) => fromWireKv(kv, this.#address)),
    };
  }

  async *watch(prefix: string, from: bigint, signal: AbortSignal): AsyncGenerator<KvWatchBatch> {
    const address = this.#address;
    // The revisions `from` counts belong to the store last seen.
    const epoch = this.#epoch;
    while (!signal.aborted) {
      let r: Record<string, unknown>;
      try {
        r = await this.#call(
          "watch",
          { prefix, from: String(from), wait: this.#pollWait },
          signal,
          this.#pollWait + this.#timeout,
        );
      } catch (err) {
        if (signal.aborted) return;
        throw err;
      }
      const revision = int(r.revision, address, "revision");
      if (r.type === "compacted" || (epoch !== undefined && r.epoch !== epoch)) {
        yield { type: "compacted", revision };
        return;
      }
      if (r.type !== "events") throw malformed(address, "a watch answer has no type");
      const events: KvEvent[] = list(r.events, address, "events").map((raw) => {
        if (raw === null || typeof raw !== "object") {
          throw malformed(address, "an event is not an object");
        }
        const e = raw as Record<string, unknown>;
        if (e.type === "put") return { type: "put", kv: fromWireKv(e.kv, address) };
        if (e.type === "delete") {
          return {
            type: "delete",
            key: str(e.key, address, "key"),
            modRevision: int(e.mod, address, "mod"),
          };
        }
        throw malformed(address, "an event is neither put nor delete");
      });
      yield { type: "events", revision, events };
      if (revision + 1n > from) from = revision + 1n;
    }
  }

  close(): Promise<void> {
    return this.#cluster.close();
  }
}

/**
 * The {@linkcode Registry} of a process that uses a registry node started
 * with {@linkcode serveRegistry}, over a weft connection of its own. See the
 * module doc.
 *
 * Errors: `registry unreachable` (the registry node cannot be reached, a
 * timeout, a dropped connection: background work retries with backoff
 * between `retryMin` and `retryMax`), `registry rejected` (the node refused
 * a request: a bound, a lease that is gone), `registry malformed` (an
 * answer that is not the registry's): each names the address.
 */
export class RemoteRegistry extends StoreRegistry {
  /**
   * Creates the registry; nothing is sent until it is used.
   *
   * @param options The registry node's address, timeouts, cluster options.
   * @throws {TypeError} A bad address (named in the message).
   * @throws {RangeError} A timeout or bound out of range (named in the message).
   */
  constructor(options: RemoteRegistryOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Invalid options: expected an object with address");
    }
    const kv = new RemoteKv(options);
    let registry: KvRegistry;
    try {
      registry = new KvRegistry(kv, options);
    } catch (err) {
      void kv.close();
      throw err;
    }
    super(registry);
  }
}

/**
 * The default `maxConnectionsPerAddress` of a registry node: every listener's
 * default now, {@linkcode DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}.
 *
 * @deprecated Use `DEFAULT_MAX_CONNECTIONS_PER_ADDRESS` (exported by the
 * package's main entry); this name stays for code written against it.
 */
export const DEFAULT_REGISTRY_MAX_CONNECTIONS_PER_ADDRESS: number =
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
