// The in-process store behind MemoryRegistry (memory.ts) and the registry
// server (remote.ts): etcd's data model in a few maps (one revision counter,
// leases that expire on the process clock, a bounded history for watchers
// that resume).

import { WeftError } from "../errors.ts";
import type { KeyValue, KvEvent, KvStore, KvWatchBatch, Lease } from "./_kv.ts";

interface MemoryLease {
  ttl: number;
  timer: ReturnType<typeof setTimeout>;
  keys: Set<string>;
  /** Who granted it (the served registry's identity of the client; "" in process). */
  owner: string;
}

/** Leases and keys one owner holds now. */
export interface Holdings {
  leases: number;
  keys: number;
}

declare const crypto: { getRandomValues<T extends Uint8Array>(array: T): T };

/**
 * A lease id nobody can guess: 63 random bits, in decimal (etcd's form).
 * Knowing a lease id lets a client of an etcd without auth revoke it; a
 * sequential id (etcd's own, and this store's before) gave every id away.
 */
export function randomLeaseId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  bytes[0]! &= 0x7f;
  let id = 0n;
  for (const byte of bytes) id = (id << 8n) | BigInt(byte);
  return id === 0n ? "1" : String(id);
}

export interface Watcher {
  prefix: string;
  push(batch: KvWatchBatch): void;
}

/** The shared state: etcd's data model in a few maps. */
export class Store {
  revision = 0n;
  compacted = 0n;
  readonly keys = new Map<string, KeyValue & { lease: string }>();
  readonly leases = new Map<string, MemoryLease>();
  readonly history: { revision: bigint; events: KvEvent[] }[] = [];
  readonly watchers = new Set<Watcher>();
  /** What each owner holds (entries only while it holds something). */
  readonly holdings = new Map<string, Holdings>();
  readonly limit: number;
  /**
   * @param limit How many commits the history keeps (and a watcher may have pending).
   * @param revision The revision counter's starting point (a served store
   *   starts it from the clock, so that fences keep growing across a
   *   restart of the process).
   */
  constructor(limit: number, revision = 0n) {
    this.limit = limit;
    this.revision = revision;
  }

  /** What `owner` holds now (zeros for nothing). */
  held(owner: string): Holdings {
    return this.holdings.get(owner) ?? { leases: 0, keys: 0 };
  }

  /** Adds `leases` and `keys` (either may be negative) to what `owner` holds. */
  count(owner: string, leases: number, keys: number): void {
    const h = this.holdings.get(owner) ?? { leases: 0, keys: 0 };
    h.leases += leases;
    h.keys += keys;
    if (h.leases <= 0 && h.keys <= 0) this.holdings.delete(owner);
    else this.holdings.set(owner, h);
  }

  /** The owner of `key` (the owner of the lease it is attached to), or undefined if absent. */
  ownerOfKey(key: string): string | undefined {
    const kv = this.keys.get(key);
    return kv === undefined ? undefined : this.leases.get(kv.lease)?.owner;
  }

  commit(events: KvEvent[]): bigint {
    const revision = this.revision;
    this.history.push({ revision, events });
    while (this.history.length > this.limit) this.compacted = this.history.shift()!.revision;
    for (const w of this.watchers) {
      const mine = events.filter((e) => (e.type === "put" ? e.kv.key : e.key).startsWith(w.prefix));
      if (mine.length > 0) w.push({ type: "events", revision, events: mine });
    }
    return revision;
  }

  expire(id: string): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    clearTimeout(lease.timer);
    this.leases.delete(id);
    this.count(lease.owner, -1, -lease.keys.size);
    if (lease.keys.size === 0) return;
    const modRevision = ++this.revision;
    const events: KvEvent[] = [];
    for (const key of lease.keys) {
      this.keys.delete(key);
      events.push({ type: "delete", key, modRevision });
    }
    this.commit(events);
  }
}

export class MemoryKv implements KvStore {
  readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  /** {@inheritDoc KvStore.grant}; `owner` is who the lease belongs to (the served registry's client). */
  grant(ttl: number, _signal?: AbortSignal, owner = ""): Promise<Lease> {
    const s = this.store;
    let id = randomLeaseId();
    while (s.leases.has(id)) id = randomLeaseId();
    s.leases.set(id, { ttl, timer: setTimeout(() => s.expire(id), ttl), keys: new Set(), owner });
    s.count(owner, 1, 0);
    return Promise.resolve({ id, ttl });
  }

  keepAlive(id: string): Promise<number> {
    const s = this.store;
    const lease = s.leases.get(id);
    if (!lease) return Promise.resolve(0);
    clearTimeout(lease.timer);
    lease.timer = setTimeout(() => s.expire(id), lease.ttl);
    return Promise.resolve(lease.ttl);
  }

  revoke(id: string): Promise<void> {
    this.store.expire(id);
    return Promise.resolve();
  }

  put(key: string, value: string, leaseId: string): Promise<bigint> {
    const s = this.store;
    const lease = s.leases.get(leaseId);
    if (!lease) {
      return Promise.reject(
        new WeftError(
          "registry rejected",
          `Memory registry refused a put: lease ${leaseId} not found`,
        ),
      );
    }
    const old = s.keys.get(key);
    if (old) {
      const before = s.leases.get(old.lease);
      if (before?.keys.delete(key)) s.count(before.owner, 0, -1);
    }
    const modRevision = ++s.revision;
    const kv = { key, value, createRevision: old?.createRevision ?? modRevision, modRevision };
    s.keys.set(key, { ...kv, lease: leaseId });
    lease.keys.add(key);
    s.count(lease.owner, 0, 1);
    return Promise.resolve(s.commit([{ type: "put", kv }]));
  }

  delete(key: string): Promise<bigint> {
    const s = this.store;
    const old = s.keys.get(key);
    if (!old) return Promise.resolve(s.revision);
    s.keys.delete(key);
    const lease = s.leases.get(old.lease);
    if (lease?.keys.delete(key)) s.count(lease.owner, 0, -1);
    const modRevision = ++s.revision;
    return Promise.resolve(s.commit([{ type: "delete", key, modRevision }]));
  }

  range(prefix: string): Promise<{ revision: bigint; kvs: KeyValue[] }> {
    const kvs: KeyValue[] = [];
    for (const { lease: _, ...kv } of this.store.keys.values()) {
      if (kv.key.startsWith(prefix)) kvs.push(kv);
    }
    kvs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return Promise.resolve({ revision: this.store.revision, kvs });
  }

  async *watch(prefix: string, from: bigint, signal: AbortSignal): AsyncGenerator<KvWatchBatch> {
    const s = this.store;
    if (from <= s.compacted) {
      yield { type: "compacted", revision: s.compacted };
      return;
    }
    const queue: KvWatchBatch[] = [];
    let wake: (() => void) | undefined;
    const watcher: Watcher = {
      prefix,
      push(batch) {
        if (queue.length >= s.limit) {
          queue.length = 0;
          queue.push({ type: "compacted", revision: s.revision });
          s.watchers.delete(watcher);
        } else queue.push(batch);
        wake?.();
      },
    };
    for (const entry of s.history) {
      if (entry.revision < from) continue;
      const mine = entry.events.filter((e) =>
        (e.type === "put" ? e.kv.key : e.key).startsWith(prefix)
      );
      if (mine.length > 0) queue.push({ type: "events", revision: entry.revision, events: mine });
    }
    s.watchers.add(watcher);
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        const batch = queue.shift();
        if (batch) {
          yield batch;
          if (batch.type === "compacted") return;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      s.watchers.delete(watcher);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
