/**
 * Masters from a discovery `Registry` (`src/discovery/types.ts`): a {@linkcode MasterSource}
 * for the {@linkcode Router} that observes each group's election and hands
 * the router every new master with its fencing number (the election's
 * create revision), so routers fed by the same registry agree, and a stale
 * master never comes back (the router applies only higher fences).
 *
 * Naming, shared by services and routers: a service registers and
 * campaigns as the instance {@linkcode serviceInstanceId}`(id)`
 * (`svc/<group>/<index>`), in the election {@linkcode masterElection}`(group)`
 * (`svc-<group>`).
 *
 * @example
 * ```ts ignore
 * import { masterElection, Router, registryMasters, serviceInstanceId } from "@weft/cluster/router";
 *
 * const router = new Router({ masters: registryMasters(registry, { groups: [2] }) });
 * // in the mail service 2.1: stand for master of group 2
 * const leadership = await registry.campaign(masterElection(2), {
 *   id: serviceInstanceId(0x20001),
 *   address: "127.0.0.1:0",
 * });
 * ```
 *
 * @module
 */

import type { MasterSource } from "./router.ts";
import { checkGroup, checkServiceId, MAX_GROUP, MAX_INDEX } from "./service_id.ts";

/** A group's master as the registry reports it (a discovery `Master`, in part). */
export interface ObservedMaster {
  /** The master's instance id, `svc/<group>/<index>`. */
  readonly id: string;
  /** The election's fencing number. */
  readonly fence: bigint;
}

/**
 * The part of a discovery `Registry` (`src/discovery/types.ts`) this adapter uses: every
 * `Registry` is one.
 */
export interface MasterObserver {
  /** The master of `group` now (or null), then every change, until `signal` aborts. */
  observe(group: string, options?: { signal?: AbortSignal }): AsyncIterable<ObservedMaster | null>;
}

/** Options of {@linkcode registryMasters}. */
export interface RegistryMastersOptions {
  /** The groups whose masters to observe (0 to 255). */
  groups: readonly number[];
  /** Told about a master the adapter cannot use (an id that is not `svc/<group>/<index>`). */
  onError?: (error: Error) => void;
}

/**
 * The registry instance id of a service: `svc/<group>/<index>`.
 *
 * @param id A service id.
 * @throws {RangeError} If `id` is not a service id.
 */
export function serviceInstanceId(id: number): string {
  checkServiceId(id);
  return `svc/${id >>> 16}/${id & 0xffff}`;
}

/**
 * The election of a group's master: `svc-<group>` (election names have no `/`).
 *
 * @param group 0 to 255.
 * @throws {RangeError} If `group` is out of range.
 */
export function masterElection(group: number): string {
  return `svc-${checkGroup(group)}`;
}

/**
 * Parses `svc/<group>/<index>` back into a service id.
 *
 * @returns The id, or undefined if `instanceId` is not of that form.
 */
export function parseServiceInstanceId(instanceId: string): number | undefined {
  const match = /^svc\/(\d{1,3})\/(\d{1,5})$/.exec(instanceId);
  if (match === null) return undefined;
  const group = Number(match[1]);
  const index = Number(match[2]);
  if (group > MAX_GROUP || index > MAX_INDEX) return undefined;
  return (group << 16) | index;
}

/**
 * A master source that observes `registry` for each of `groups`. A group
 * without a master (`null`) leaves the router's master as it was: the next
 * master comes with a higher fence and replaces it.
 *
 * @param registry A discovery registry (any {@linkcode MasterObserver}).
 * @param options The groups to observe.
 * @returns A {@linkcode MasterSource} for `new Router({ masters })`.
 * @throws {RangeError} For a group out of range.
 */
export function registryMasters(
  registry: MasterObserver,
  options: RegistryMastersOptions,
): MasterSource {
  const groups = [...new Set(options.groups)].map((group) => checkGroup(group));
  const onError = options.onError ?? (() => {});
  return {
    watch(apply) {
      const controller = new AbortController();
      for (const group of groups) {
        const election = masterElection(group);
        (async () => {
          for await (
            const master of registry.observe(election, { signal: controller.signal })
          ) {
            if (master !== null) deliver(group, master, apply, onError);
          }
        })().catch((error) => onError(error instanceof Error ? error : new Error(String(error))));
      }
      return () => controller.abort();
    },
  };
}

function deliver(
  group: number,
  master: ObservedMaster,
  apply: (group: number, id: number | undefined, fence: number) => void,
  onError: (error: Error) => void,
): void {
  const id = parseServiceInstanceId(master.id);
  if (id === undefined || id >>> 16 !== group) {
    onError(
      new TypeError(
        `Master ${master.id} of ${
          masterElection(group)
        } is not a service of group ${group} (svc/${group}/<index>)`,
      ),
    );
    return;
  }
  apply(group, id, Number(master.fence));
}
