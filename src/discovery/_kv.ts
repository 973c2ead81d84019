// The small key-value store with leases that both registries sit on: etcd's
// data model (one revision counter, keys attached to leases, create/mod
// revisions, a watch replaying history from a revision). The registry logic
// (keepalives, re-registration, resynchronising watches, election) is
// written once over this interface in _kv_registry.ts.

/** One key as the store holds it. */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: bigint;
  modRevision: bigint;
}

/** One change, in revision order. */
export type KvEvent =
  | { type: "put"; kv: KeyValue }
  | { type: "delete"; key: string; modRevision: bigint };

/**
 * What a watch stream yields: `events` (a batch of changes, maybe empty for a
 * progress notification; `revision` is the store revision everything up to
 * which has been delivered), or `compacted` (history before the requested
 * revision is gone: the caller must resynchronise from a fresh range).
 */
export type KvWatchBatch =
  | { type: "events"; revision: bigint; events: KvEvent[] }
  | { type: "compacted"; revision: bigint };

/** A lease as granted: its id (a decimal string: etcd's ids exceed 2^53) and TTL in ms. */
export interface Lease {
  id: string;
  ttl: number;
}

/** The store. Every method may reject with a WeftError (`registry *` codes). */
export interface KvStore {
  /** Grants a lease of at least `ttl` ms (rounded up to the store's minimum). */
  grant(ttl: number, signal?: AbortSignal): Promise<Lease>;
  /** Renews a lease; resolves with its remaining TTL in ms, 0 when it is gone. */
  keepAlive(id: string, signal?: AbortSignal): Promise<number>;
  /** Revokes a lease, deleting its keys. A lease already gone is not an error. */
  revoke(id: string, signal?: AbortSignal): Promise<void>;
  /** Writes `key` attached to `lease`; resolves with the write's revision. */
  put(key: string, value: string, lease: string, signal?: AbortSignal): Promise<bigint>;
  /** Deletes `key`; resolves with the store revision after it. */
  delete(key: string, signal?: AbortSignal): Promise<bigint>;
  /** Every key starting with `prefix`, sorted by key, and the store revision they were read at. */
  range(prefix: string, signal?: AbortSignal): Promise<{ revision: bigint; kvs: KeyValue[] }>;
  /**
   * Changes to keys starting with `prefix` from revision `from` on, until
   * `signal` aborts (then the iteration ends quietly and promptly, whatever
   * it was waiting for; a signal aborted before the first `next()` ends it
   * at once) or the stream fails (then it throws).
   */
  watch(prefix: string, from: bigint, signal: AbortSignal): AsyncIterable<KvWatchBatch>;
  /** Releases what the store holds (connections, timers). */
  close(): Promise<void>;
}
