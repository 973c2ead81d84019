/**
 * The in-process registry: the embedded default for one machine, tests and
 * examples. It has the semantics of the etcd registry (one revision counter,
 * leases that expire on the process clock, watches in revision order that
 * resynchronise when they fall behind, election with a growing fence) and
 * needs nothing installed. Registries that should see each other (several
 * "processes" in one test) share a store through
 * {@linkcode MemoryRegistry.client}.
 *
 * @example Register, watch, elect
 * ```ts
 * import { MemoryRegistry } from "@weft/cluster/discovery/memory";
 *
 * await using registry = new MemoryRegistry();
 * await registry.register({ id: "nodes/alpha", address: "127.0.0.1:7001" }, { ttl: 1000 });
 * for await (const event of registry.watch("nodes/")) {
 *   if (event.type !== "snapshot" || event.members[0]?.id !== "nodes/alpha") {
 *     throw new Error("unexpected event");
 *   }
 *   break;
 * }
 * const leadership = await registry.campaign("orders", { id: "svc/1/1", address: "127.0.0.1:7002" });
 * if (leadership.master.fence <= 0n) throw new Error("unexpected fence");
 * await leadership.resign();
 * ```
 *
 * @module
 */

import { WeftError } from "../errors.ts";
import type { KeyValue, KvEvent, KvStore, KvWatchBatch, Lease } from "./_kv.ts";
import { inner, KvRegistry, type RegistryOptions } from "./_kv_registry.ts";
import type {
  Instance,
  Leadership,
  LeaseOptions,
  Master,
  Registration,
  Registry,
  WatchEvent,
  WatchOptions,
} from "./types.ts";

export type * from "./types.ts";
export { DEFAULT_LEASE_TTL } from "./types.ts";
export type { RegistryOptions } from "./_kv_registry.ts";
export type { Logger } from "../cluster/options.ts";
export { DEFAULT_MAX_INSTANCE_BYTES, DEFAULT_NAMESPACE } from "./_kv_registry.ts";

/** Options of {@linkcode MemoryRegistry}. */
export interface MemoryRegistryOptions extends RegistryOptions {
  /**
   * How many changes the store keeps for watchers that resume, and how many
   * a watcher may have pending before it is made to resynchronise.
   * @default {DEFAULT_MEMORY_HISTORY}
   */
  history?: number;
}

const storeKey = Symbol("store");

/** The default {@linkcode MemoryRegistryOptions.history}. */
export const DEFAULT_MEMORY_HISTORY = 1024;

interface MemoryLease {
  ttl: number;
  timer: ReturnType<typeof setTimeout>;
  keys: Set<string>;
}

interface Watcher {
  prefix: string;
  push(batch: KvWatchBatch): void;
}

/** The shared state: etcd's data model in a few maps. */
class Store {
  revision = 0n;
  compacted = 0n;
  nextLease = 0;
  readonly keys = new Map<string, KeyValue & { lease: string }>();
  readonly leases = new Map<string, MemoryLease>();
  readonly history: { revision: bigint; events: KvEvent[] }[] = [];
  readonly watchers = new Set<Watcher>();
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
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

class MemoryKv implements KvStore {
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

/**
 * The in-process {@linkcode Registry}: leases on the process clock, nothing
 * to install. See the module doc.
 *
 * @example
 * ```ts
 * import { MemoryRegistry } from "@weft/cluster/discovery/memory";
 *
 * await using a = new MemoryRegistry();
 * await using b = a.client(); // another "process" on the same store
 * const first = await a.campaign("g", { id: "a", address: "127.0.0.1:1" }, { ttl: 500 });
 * const second = b.campaign("g", { id: "b", address: "127.0.0.1:2" }, { ttl: 500 });
 * await first.resign();
 * const next = await second;
 * if (next.master.fence <= first.master.fence) throw new Error("fence must grow");
 * ```
 */
export class MemoryRegistry implements Registry {
  readonly #kv: KvRegistry;
  readonly #store: Store;
  readonly #options: MemoryRegistryOptions;

  /**
   * Creates a registry over a new, empty in-process store.
   *
   * @param options Namespace, logger, retry delays, bounds.
   * @throws {RangeError} An option out of range (named in the message).
   */
  constructor(options: MemoryRegistryOptions = {}) {
    const history = options.history ?? DEFAULT_MEMORY_HISTORY;
    if (!Number.isInteger(history) || history < 1) {
      throw new RangeError(`Invalid option history: ${history} is not a positive integer`);
    }
    const store = (options as { [storeKey]?: Store })[storeKey] ?? new Store(history);
    this.#kv = new KvRegistry(new MemoryKv(store), options);
    inner.set(this, this.#kv);
    this.#store = store;
    this.#options = options;
  }

  /** {@inheritDoc Registry.register} */
  register(instance: Instance, options?: LeaseOptions): Promise<Registration> {
    return this.#kv.register(instance, options);
  }

  /** {@inheritDoc Registry.watch} */
  watch(prefix: string, options?: WatchOptions): AsyncGenerator<WatchEvent> {
    return this.#kv.watch(prefix, options);
  }

  /** {@inheritDoc Registry.campaign} */
  campaign(group: string, instance: Instance, options?: LeaseOptions): Promise<Leadership> {
    return this.#kv.campaign(group, instance, options);
  }

  /** {@inheritDoc Registry.observe} */
  observe(group: string, options?: WatchOptions): AsyncGenerator<Master | null> {
    return this.#kv.observe(group, options);
  }

  /** {@inheritDoc Registry.close} */
  close(): Promise<void> {
    return this.#kv.close();
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#kv.close();
  }

  /**
   * Another registry over the same store, with its own registrations,
   * candidacies and watches, as another process on the same etcd would have.
   * Closing it leaves the others alone.
   *
   * @returns A new registry sharing this one's store.
   */
  client(): MemoryRegistry {
    return new MemoryRegistry(
      { ...this.#options, [storeKey]: this.#store } as MemoryRegistryOptions,
    );
  }
}
