/**
 * Members from a discovery `Registry` (`src/discovery/types.ts`): a
 * {@linkcode MemberSource} for the {@linkcode Router}. Each service
 * registers itself under its instance id `svc/<group>/<index>` (see
 * {@linkcode registerService}); a router given `members:
 * registryMembers(registry)` counts a service as a live member only while
 * it is both connected to the router (and announced its id, as without a
 * registry) and registered. A service whose lease expires (its process
 * stopped, or cut off from the registry) leaves every router's groups at
 * once, even while its connection looks open; routers fed by the same
 * registry agree on the members of each group, and so on the owner of each
 * hashed key. With `masters: registryMasters(...)` the router takes both
 * its members and each group's master from one registry.
 *
 * @example
 * ```ts
 * import { MemoryRegistry } from "@weft/cluster/discovery/memory";
 * import { transport } from "@weft/cluster/memory";
 * import { json } from "@weft/cluster/json";
 * import {
 *   random,
 *   registerService,
 *   registryMembers,
 *   Router,
 *   Service,
 *   serviceId,
 * } from "@weft/cluster/router";
 *
 * await using registry = new MemoryRegistry();
 * await using router = new Router({ transport, members: registryMembers(registry) });
 * const { address } = await router.listen("127.0.0.1:0");
 * const routers = [`127.0.0.1:${address.port}`];
 * const codec = json({ commands: { hi: 1 } });
 * await using mail = new Service({
 *   id: serviceId(2, 1),
 *   routers,
 *   ...codec,
 *   transport,
 *   call: () => "hello",
 * });
 * await mail.start();
 * await using registration = await registerService(registry, serviceId(2, 1), routers[0]!);
 * await using caller = new Service({ id: serviceId(1, 1), routers, ...codec, transport });
 * await caller.start();
 * for (let i = 0; i < 100 && router.members(2).length === 0; i++) {
 *   await new Promise((resolve) => setTimeout(resolve, 10));
 * }
 * if (await caller.call(random(2), "hi", null) !== "hello") throw new Error("unexpected reply");
 * ```
 *
 * @module
 */

import type { MemberSource } from "./router.ts";
import { parseServiceInstanceId, serviceInstanceId } from "./registry_masters.ts";

/** The part of a discovery `Registry` {@linkcode registryMembers} uses: every `Registry` is one. */
export interface MemberWatcher {
  /** A snapshot of the members under `prefix`, then every change, until `signal` aborts. */
  watch(
    prefix: string,
    options?: { signal?: AbortSignal },
  ): AsyncIterable<
    | { readonly type: "snapshot"; readonly members: readonly { readonly id: string }[] }
    | { readonly type: "put"; readonly member: { readonly id: string } }
    | { readonly type: "delete"; readonly id: string }
  >;
}

/** The part of a discovery `Registry` {@linkcode registerService} uses. */
export interface ServiceRegistrar<R> {
  /** Registers an instance under a lease the registry keeps alive. */
  register(
    instance: { id: string; address: string },
    options?: { ttl?: number; signal?: AbortSignal },
  ): Promise<R>;
}

/** Options of {@linkcode registryMembers}. */
export interface RegistryMembersOptions {
  /** Told about an instance under `svc/` whose id is not `svc/<group>/<index>` (it is ignored). */
  onError?: (error: Error) => void;
}

/** The registry prefix services register under. */
export const SERVICE_PREFIX = "svc/";

/**
 * Registers the service `id` in `registry` as `svc/<group>/<index>` at
 * `address` (any address its routers or operators can use; the routers
 * reach the service over the connection it opened), under a lease kept
 * alive until the registration is closed.
 *
 * @param registry A discovery registry.
 * @param id The service id.
 * @param address Where the service is, `host:port`.
 * @param options The lease's `ttl` (default: the registry's).
 * @returns The registry's registration (close it to leave).
 * @throws {RangeError} If `id` is not a service id.
 */
export function registerService<R>(
  registry: ServiceRegistrar<R>,
  id: number,
  address: string,
  options?: { ttl?: number; signal?: AbortSignal },
): Promise<R> {
  return registry.register({ id: serviceInstanceId(id), address }, options);
}

/** The registry prefix routers register under (operators' tools find them there). */
export const ROUTER_PREFIX = "routers/";

/**
 * Registers a router listening at `address` in `registry` as
 * `routers/<host:port>`, under a lease kept alive until the registration
 * is closed, so operators' tools (`weft dashboard`, `weft top`) find it.
 * Routing does not need it: services are given their routers' addresses.
 *
 * @param registry A discovery registry.
 * @param address Where the router listens, `host:port`.
 * @param options The lease's `ttl` (default: the registry's).
 * @returns The registry's registration (close it to leave).
 */
export function registerRouter<R>(
  registry: ServiceRegistrar<R>,
  address: string,
  options?: { ttl?: number; signal?: AbortSignal },
): Promise<R> {
  return registry.register({ id: `${ROUTER_PREFIX}${address}`, address }, options);
}

/**
 * A member source that follows the services registered in `registry`
 * (every `svc/<group>/<index>`). The router applies the registry's
 * snapshot and changes in order, replacing its set on each snapshot.
 *
 * @param registry A discovery registry (any {@linkcode MemberWatcher}).
 * @returns A {@linkcode MemberSource} for `new Router({ members })`.
 */
export function registryMembers(
  registry: MemberWatcher,
  options: RegistryMembersOptions = {},
): MemberSource {
  const onError = options.onError ?? (() => {});
  const id = (instance: string): number | undefined => {
    const parsed = parseServiceInstanceId(instance);
    if (parsed === undefined) {
      onError(new TypeError(`Registered instance ${instance} is not svc/<group>/<index>`));
    }
    return parsed;
  };
  return {
    watch(apply) {
      const controller = new AbortController();
      (async () => {
        for await (const event of registry.watch(SERVICE_PREFIX, { signal: controller.signal })) {
          if (event.type === "snapshot") {
            const ids = new Set<number>();
            for (const member of event.members) {
              const parsed = id(member.id);
              if (parsed !== undefined) ids.add(parsed);
            }
            apply({ snapshot: ids });
          } else if (event.type === "put") {
            const parsed = id(event.member.id);
            if (parsed !== undefined) apply({ put: parsed });
          } else {
            const parsed = parseServiceInstanceId(event.id);
            if (parsed !== undefined) apply({ delete: parsed });
          }
        }
      })().catch((error) => onError(error instanceof Error ? error : new Error(String(error))));
      return () => controller.abort();
    },
  };
}
