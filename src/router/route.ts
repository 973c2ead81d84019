/**
 * Routes: where a service's call or send goes through a router. Make them
 * with {@linkcode target}, {@linkcode random}, {@linkcode hash},
 * {@linkcode broadcast} and {@linkcode master}; each checks its arguments,
 * and a route can be made once and reused.
 *
 * @example
 * ```ts
 * import { broadcast, hash, master, random, serviceId, target } from "@weft/cluster/router";
 *
 * const routes = [
 *   target(serviceId(2, 1)), // service 2.1
 *   random(2), // any live member of group 2
 *   hash(2, "alice"), // the member of group 2 that owns key "alice" (rendezvous)
 *   hash(2, 42, { slots: true }), // luabus's fixed-slot hashing
 *   broadcast(2, { self: false }), // every live member of group 2 but the sender
 *   master(2), // group 2's master
 * ];
 * if (routes.length !== 6) throw new Error("unexpected");
 * ```
 *
 * @module
 */

import { Flag, Mode } from "./_head.ts";
import { keyHash } from "./hash.ts";
import { checkGroup, checkServiceId } from "./service_id.ts";

/** A route: what the routing head of a call or send says. Made by the functions of this module. */
export class Route {
  /** The routing mode number (see the README's routing head). */
  readonly mode: number;
  /** The target id (target mode) or the group. */
  readonly to: number;
  /** The key's hash (hash mode), else 0. */
  readonly key: number;
  /** The mode's flags (fixed slots, sender included). */
  readonly flags: number;

  /**
   * Made by {@linkcode target}, {@linkcode random}, {@linkcode hash},
   * {@linkcode broadcast}, {@linkcode master}.
   */
  constructor(mode: number, to: number, key = 0, flags = 0) {
    this.mode = mode;
    this.to = to;
    this.key = key;
    this.flags = flags;
  }

  /** True for a broadcast route (its calls resolve with one outcome per member). */
  get isBroadcast(): boolean {
    return this.mode === Mode.Broadcast;
  }
}

/**
 * To one service.
 *
 * @param id The target's service id.
 * @throws {RangeError} If `id` is not a service id.
 */
export function target(id: number): Route {
  return new Route(Mode.Target, checkServiceId(id, "target id"));
}

/**
 * To a live member of `group` chosen at random by the router.
 *
 * @param group 0 to 255.
 * @throws {RangeError} If `group` is out of range.
 */
export function random(group: number): Route {
  return new Route(Mode.Random, checkGroup(group));
}

/** Options of {@linkcode hash}. */
export interface HashOptions {
  /**
   * luabus's fixed slots (a dead member keeps its slot; its keys go to the
   * next live slot) instead of rendezvous hashing. See `hash.ts`.
   *
   * @default {false}
   */
  slots?: boolean;
}

/**
 * To the member of `group` that owns `key` (rendezvous hashing over the live
 * members, or fixed slots); see `hash.ts` for the exact functions.
 *
 * @param group 0 to 255.
 * @param key An integer from 0 to 2^32-1 (its own hash) or a string.
 * @param options Fixed slots instead of rendezvous.
 * @throws {RangeError} If `group` is out of range.
 * @throws {TypeError} For a key of another type.
 */
export function hash(group: number, key: number | string, options: HashOptions = {}): Route {
  return new Route(Mode.Hash, checkGroup(group), keyHash(key), options.slots ? Flag.Slots : 0);
}

/** Options of {@linkcode broadcast}. */
export interface BroadcastOptions {
  /**
   * Whether the sender gets its own broadcast when it is in the group.
   *
   * @default {false}
   */
  self?: boolean;
}

/**
 * To every live member of `group`. A call resolves with one
 * {@linkcode BroadcastOutcome} per member.
 *
 * @param group 0 to 255.
 * @param options Whether the sender is included.
 * @throws {RangeError} If `group` is out of range.
 */
export function broadcast(group: number, options: BroadcastOptions = {}): Route {
  return new Route(Mode.Broadcast, checkGroup(group), 0, options.self ? Flag.IncludeSelf : 0);
}

/**
 * To the master of `group` (set at the routers by `setMaster`, a master
 * source, or a service's `claimMaster`).
 *
 * @param group 0 to 255.
 * @throws {RangeError} If `group` is out of range.
 */
export function master(group: number): Route {
  return new Route(Mode.Master, checkGroup(group));
}

/** One member's outcome of a broadcast call. */
export type BroadcastOutcome =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: Error };
