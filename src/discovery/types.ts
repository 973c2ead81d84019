/**
 * The discovery contract: who is alive, where, and who is each group's
 * master. One small interface, {@linkcode Registry}, that every
 * implementation (the in-process `memory` registry, the `etcd` registry)
 * passes through one conformance suite. Layers above the cluster (named
 * nodes, routers) depend on this interface only.
 *
 * The model is etcd's: one store with one revision counter that grows with
 * every change; registrations are keys attached to a lease with a time to
 * live; a watch replays changes in revision order; the master of a group is
 * the candidate whose key was created first, and that key's create revision
 * is its fencing number.
 *
 * @module
 */

/** A registered instance: a node name or a service id, its address, small metadata. */
export interface Instance {
  /**
   * The instance's id, unique within the registry: a node name (`"nodes/alpha"`)
   * or a service id (`"svc/3/7"`). Any non-empty string of printable
   * characters; `/` separates levels so that {@linkcode Registry.watch} can
   * select a prefix.
   */
  readonly id: string;
  /** Where to reach it, `host:port` (the cluster's address form). */
  readonly address: string;
  /** Small string metadata (a role, a version, a weight); bounded by the implementation. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** An instance as a watcher sees it. */
export interface Member extends Instance {
  /** The store revision at which this version of the instance was written. */
  readonly revision: bigint;
}

/**
 * What {@linkcode Registry.watch} yields.
 *
 * - `snapshot`: the full set of members under the prefix at `revision`. The
 *   first event is always a snapshot; another one follows whenever the
 *   watcher had to resynchronise (disconnected, fell behind, history
 *   compacted). A consumer **replaces** its table with it.
 * - `put`: a member appeared or changed at `revision`.
 * - `delete`: the member with that id is gone (revoked, lease expired,
 *   replaced by nothing) at `revision`.
 *
 * Revisions only grow along one watch, across snapshots included.
 */
export type WatchEvent =
  | { readonly type: "snapshot"; readonly revision: bigint; readonly members: readonly Member[] }
  | { readonly type: "put"; readonly revision: bigint; readonly member: Member }
  | { readonly type: "delete"; readonly revision: bigint; readonly id: string };

/** The master of a group, as {@linkcode Registry.observe} and {@linkcode Leadership} report it. */
export interface Master extends Instance {
  /** The election group. */
  readonly group: string;
  /**
   * The fencing number: the store revision at which this master's candidacy
   * was created. Within a group, a later master always has a higher number,
   * so a receiver that keeps the highest number it has seen never goes back
   * to a stale master.
   */
  readonly fence: bigint;
}

/** Options of {@linkcode Registry.register} and {@linkcode Registry.campaign}. */
export interface LeaseOptions {
  /**
   * The lease's time to live in milliseconds: an instance whose process stops
   * (crash, SIGSTOP, partition) disappears this long after its last
   * keepalive. The library sends a keepalive every third of it.
   * Implementations may round it up to their minimum (etcd: whole seconds, at
   * least its configured minimum, 2 s with etcd's defaults).
   * @default {DEFAULT_LEASE_TTL}
   */
  ttl?: number;
  /** Aborts the operation (for `campaign`: stops waiting to be elected and withdraws). */
  signal?: AbortSignal;
}

/** The default lease time to live: 10 s (luabus's example lease). */
export const DEFAULT_LEASE_TTL = 10_000;

/**
 * The share of a lease's TTL after which a holder takes its lease as lost
 * when the store has confirmed nothing since: measured on the holder's own
 * monotonic clock from the sending of the last request the store confirmed
 * (the grant, or a keepalive). The store cannot expire the lease before a
 * whole TTL after it received that request, so a holder whose timers are
 * not late by more than the other fifth of the TTL learns it first.
 */
export const LEASE_RENEW_DEADLINE = 0.8;

/** Options of {@linkcode Registry.watch} and {@linkcode Registry.observe}. */
export interface WatchOptions {
  /** Ends the iteration (the iterator returns; no error). */
  signal?: AbortSignal;
}

/**
 * A live registration, returned by {@linkcode Registry.register}. While it is
 * open the library keeps its lease alive; if the lease is lost anyway (the
 * process was stopped past the TTL, the store was unreachable or restarted),
 * the library grants a new lease and writes the instance again, retrying with
 * backoff, until `close()`.
 */
export interface Registration extends AsyncDisposable {
  /** The instance as registered. */
  readonly instance: Instance;
  /**
   * Revokes the lease, so the instance disappears from every watcher now
   * rather than at expiry, and stops the keepalives. Resolves once the
   * revoke was sent (or given up on: an unreachable store lets the lease
   * expire). Idempotent.
   */
  close(): Promise<void>;
}

/**
 * This candidate is the master of a group, returned by
 * {@linkcode Registry.campaign} once elected.
 */
export interface Leadership extends AsyncDisposable {
  /** This master, with its fencing number. */
  readonly master: Master;
  /**
   * Aborted when this leadership ends: resigned, the registry closed, the
   * lease lost, or the candidacy's key deleted or overwritten by someone
   * else (aborted at once, from a watch on it).
   *
   * The bound: when the store stops confirming keepalives (a partition, a
   * store that hangs, this process too slow), `signal` aborts at
   * {@linkcode LEASE_RENEW_DEADLINE} (0.8) × TTL after the sending of the
   * last keepalive the store confirmed, on this process's own timer,
   * whether or not the requests in flight ever fail. The store cannot
   * expire the lease, and so elect a successor, before a whole TTL after
   * it received that keepalive: the old master stops first, by at least a
   * fifth of the TTL (less only if this process's timers run that late, or
   * its clock runs slower than the store's). A lost leader should stop
   * acting as master and may campaign again; receivers still compare
   * fences, since work it began earlier may arrive late.
   */
  readonly signal: AbortSignal;
  /**
   * Gives up the leadership: deletes the candidacy so the next candidate is
   * elected now, and stops the keepalives. Idempotent.
   */
  resign(): Promise<void>;
}

/**
 * The discovery contract. Implementations: `MemoryRegistry`
 * (`@weft/cluster/discovery/memory`) and `EtcdRegistry`
 * (`@weft/cluster/discovery/etcd`).
 *
 * Errors the store causes are {@linkcode WeftError}s with a code naming
 * what failed (`registry unreachable`, `registry auth`, `registry rejected`,
 * `registry malformed`) and the endpoint; a bad argument throws a
 * `TypeError` or `RangeError`. Background work (keepalives, re-registration,
 * watch reconnection) never throws into the process: it retries with backoff
 * and reports through the implementation's logger.
 */
export interface Registry extends AsyncDisposable {
  /**
   * Registers an instance under a lease kept alive by the library. Resolves
   * once the instance is visible to watchers. Registering an id that is
   * already registered replaces it (the last write wins; closing the
   * replaced registration leaves the replacement alone).
   *
   * @throws {TypeError} A bad instance (empty id, bad address, metadata over the limit).
   * @throws {WeftError} The store could not be reached or refused (`registry *` codes).
   */
  register(instance: Instance, options?: LeaseOptions): Promise<Registration>;

  /**
   * Watches every member whose id starts with `prefix` (`""` for all): first
   * a `snapshot`, then each change in the store's revision order, so every
   * watcher of the same prefix sees the same sequence. After a disconnect or
   * a compaction the watcher resynchronises with a fresh `snapshot` and never
   * keeps a member that is gone. The iteration ends when `signal` aborts,
   * the consumer breaks out of it, or the registry closes; store errors are
   * retried with backoff, never thrown into the loop.
   */
  watch(prefix: string, options?: WatchOptions): AsyncIterable<WatchEvent>;

  /**
   * Stands as a candidate for master of `group` and resolves once elected
   * (candidates are served in the order they campaigned). The candidacy has
   * its own lease, kept alive by the library; if this process stops past its
   * TTL the next candidate takes over.
   *
   * @throws {TypeError} A bad group or instance.
   * @throws {WeftError} The store could not be reached or refused.
   * @throws `signal.reason` if `signal` aborted before election (the candidacy is withdrawn).
   */
  campaign(group: string, instance: Instance, options?: LeaseOptions): Promise<Leadership>;

  /**
   * Observes the master of `group`: first the current master (or `null` if
   * there is none), then every change. Fences only grow along one
   * observation. Ends like {@linkcode Registry.watch}.
   */
  observe(group: string, options?: WatchOptions): AsyncIterable<Master | null>;

  /**
   * Closes every registration and leadership this registry holds (revoking
   * their leases), ends its watches and observations. Idempotent.
   */
  close(): Promise<void>;
}
