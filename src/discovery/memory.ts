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

import { MemoryKv, Store } from "./_memory_kv.ts";
import { KvRegistry, type RegistryOptions, StoreRegistry } from "./_kv_registry.ts";

export type * from "./types.ts";
export { DEFAULT_LEASE_TTL } from "./types.ts";
export type { RegistryOptions } from "./_kv_registry.ts";
export type { Logger } from "../cluster/options.ts";
export { DEFAULT_MAX_INSTANCE_BYTES, DEFAULT_NAMESPACE, StoreRegistry } from "./_kv_registry.ts";

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
export class MemoryRegistry extends StoreRegistry {
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
    super(new KvRegistry(new MemoryKv(store), options));
    this.#store = store;
    this.#options = options;
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
