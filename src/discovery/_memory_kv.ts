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
}

export interface Watcher {
  prefix: string;
  push(batch: KvWatchBatch): void;
}

/** The shared state: etcd's data model in a few maps. */
export class Store {
  revision = 0n;
  compacted = 0n;
  nextLease = 0;
  readonly keys = new Map<string, KeyValue & { lease: string }>();
  readonly leases = new Map<string, MemoryLease>();
  readonly history: { revision: bigint; events: KvEvent[] }[] = [];
  readonly watchers = new Set<Watcher>();
  readonly limit: number;
  /**
   * @param limit How many commits the history keeps (and a watcher may have pending).
   * @param start The revision and lease id counters' starting points (a served
   *   store starts them from the clock, so that fences and lease ids keep
   *   growing across a restart of the process).
   */
  constructor(
    limit: number,
    start: { revision: bigint; lease: number } = { revision: 0n, lease: 0 },
  ) {
    this.limit = limit;
    this.revision = start.revision;
    this.nextLease = start.lease;
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

  grant(ttl: number): Promise<Lease> {
    const s = this.store;
    const id = String(++s.nextLease);
    s.leases.set(id, { ttl, timer: setTimeout(() => s.expire(id), ttl), keys: new Set() });
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
    if (old) s.leases.get(old.lease)?.keys.delete(key);
    const modRevision = ++s.revision;
    const kv = { key, value, createRevision: old?.createRevision ?? modRevision, modRevision };
    s.keys.set(key, { ...kv, lease: leaseId });
    lease.keys.add(key);
    return Promise.resolve(s.commit([{ type: "put", kv }]));
  }

  delete(key: string): Promise<bigint> {
    const s = this.store;
    const old = s.keys.get(key);
    if (!old) return Promise.resolve(s.revision);
    s.keys.delete(key);
    s.leases.get(old.lease)?.keys.delete(key);
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
