/**
 * Discovery: who is alive, where, and who is each group's master. The
 * {@linkcode Registry} contract (leased registration, ordered watch,
 * election with a fencing number) and its two implementations:
 * {@linkcode MemoryRegistry} (in-process, the embedded default) and
 * {@linkcode EtcdRegistry} (etcd's v3 JSON gateway over `fetch`), and the
 * embedded store served across processes by a weft node
 * ({@linkcode serveRegistry}, {@linkcode RemoteRegistry}). All are
 * runtime-free; each is also its own subpath export
 * (`@weft/cluster/discovery/memory`, `@weft/cluster/discovery/etcd`,
 * `@weft/cluster/discovery/remote`).
 *
 * @example A master is elected, resigns, and the next one has a higher fence
 * ```ts
 * import { MemoryRegistry, type Registry } from "@weft/cluster/discovery";
 *
 * await using a = new MemoryRegistry();
 * await using b = a.client();
 * const registry: Registry = b;
 * const first = await a.campaign("orders", { id: "svc/1/1", address: "127.0.0.1:7001" });
 * const waiting = registry.campaign("orders", { id: "svc/1/2", address: "127.0.0.1:7002" });
 * await first.resign();
 * const second = await waiting;
 * if (second.master.fence <= first.master.fence) throw new Error("fence must grow");
 * await second.resign();
 * ```
 *
 * @module
 */

export * from "./types.ts";
export type { Logger } from "../cluster/options.ts";
export {
  DEFAULT_MAX_INSTANCE_BYTES,
  DEFAULT_NAMESPACE,
  type RegistryOptions,
  StoreRegistry,
} from "./_kv_registry.ts";
export { DEFAULT_MEMORY_HISTORY, MemoryRegistry, type MemoryRegistryOptions } from "./memory.ts";
export {
  DEFAULT_ETCD_MAX_RESPONSE_BYTES,
  DEFAULT_ETCD_REQUEST_TIMEOUT,
  DEFAULT_ETCD_WATCH_IDLE_TIMEOUT,
  EtcdRegistry,
  type EtcdRegistryOptions,
} from "./etcd.ts";
export {
  DEFAULT_REGISTRY_MAX_EVENTS_PER_BATCH,
  DEFAULT_REGISTRY_MAX_KEY_BYTES,
  DEFAULT_REGISTRY_MAX_KEYS,
  DEFAULT_REGISTRY_MAX_LEASES,
  DEFAULT_REGISTRY_MAX_TTL,
  DEFAULT_REGISTRY_MAX_VALUE_BYTES,
  DEFAULT_REGISTRY_MAX_WATCH_WAIT,
  DEFAULT_REGISTRY_MAX_WATCHES,
  DEFAULT_REGISTRY_MAX_WATCHES_PER_CONNECTION,
  DEFAULT_REMOTE_POLL_WAIT,
  DEFAULT_REMOTE_REQUEST_TIMEOUT,
  type RegistryClusterOptions,
  type RegistryServer,
  type RegistryServerOptions,
  RemoteRegistry,
  type RemoteRegistryOptions,
  serveRegistry,
} from "./remote.ts";
