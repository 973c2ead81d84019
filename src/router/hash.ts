/**
 * The hashing behind the router's `hash` mode, specified exactly so that
 * every router (on any runtime) and any test computes the same owner.
 *
 * 1. The key's hash `k` (32 bits, {@linkcode keyHash}): an integer key from
 *    0 to 2^32-1 is its own hash (as luabus uses integer keys); a string key
 *    is hashed with 32-bit FNV-1a (offset basis 2166136261, prime 16777619)
 *    over its UTF-8 bytes.
 * 2. Rendezvous (highest random weight, the default,
 *    {@linkcode rendezvousOwner}): each live member `id` of the group gets
 *    the weight `fmix32(k ^ fmix32(id))`, where `fmix32` is MurmurHash3's
 *    32-bit finaliser; the member with the highest weight owns the key (on a
 *    tie, the lower id). When a member leaves, only its keys move, spread
 *    over the others; when it comes back, exactly those keys return.
 * 3. Fixed slots (after luabus's "fixed hash", {@linkcode slotOwner}): the
 *    slots are the group's ids, live and recently dead (sorted ascending; a
 *    member that leaves keeps its slot for a grace period, see the router's
 *    `slotGrace` and `maxDeadSlots`); the key's slot is `k % slots.length`.
 *    A live slot's member owns the key; a dead slot's keys are spread over
 *    the live members by rendezvous on `k` (luabus gives them all to the
 *    next live slot, which makes that member a hot spot; after many ids
 *    left, nearly every key). When the member comes back, exactly its keys
 *    return; the other members' keys never move while slots stay.
 *
 * @example
 * ```ts
 * import { keyHash, rendezvousOwner, slotOwner } from "@weft/cluster/router";
 *
 * const members = [0x20001, 0x20002, 0x20003];
 * const owner = rendezvousOwner(keyHash("alice"), members);
 * if (!members.includes(owner!)) throw new Error("no owner");
 * // Without 0x20002, keys it did not own stay where they were.
 * const rest = members.filter((id) => id !== 0x20002);
 * if (owner !== 0x20002 && rendezvousOwner(keyHash("alice"), rest) !== owner) {
 *   throw new Error("key moved");
 * }
 * if (slotOwner(7, members, () => true) !== members[7 % 3]) throw new Error("bad slot");
 * // A dead slot's key goes to its rendezvous owner among the live members.
 * const alive = (id: number) => id !== members[7 % 3];
 * if (slotOwner(7, members, alive) !== rendezvousOwner(7, members.filter(alive))) {
 *   throw new Error("bad spread");
 * }
 * ```
 *
 * @module
 */

const utf8 = new TextEncoder();

/**
 * The 32-bit hash of a routing key (see the module docs).
 *
 * @param key An integer from 0 to 2^32-1, or a string.
 * @returns The hash, 0 to 2^32-1.
 * @throws {TypeError} For any other key.
 */
export function keyHash(key: number | string): number {
  if (typeof key === "number") {
    if (Number.isInteger(key) && key >= 0 && key <= 0xffffffff) return key;
    throw new TypeError(
      `Invalid key: expected an integer from 0 to 2^32-1 or a string, got ${key}`,
    );
  }
  if (typeof key !== "string") {
    throw new TypeError(`Invalid key: expected an integer or a string, got ${typeof key}`);
  }
  return fnv1a32(utf8.encode(key));
}

/**
 * 32-bit FNV-1a.
 *
 * @param bytes The input.
 * @returns The hash, 0 to 2^32-1.
 */
export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * MurmurHash3's 32-bit finaliser (a bijection on 32 bits).
 *
 * @param h A 32-bit value.
 * @returns The mixed value, 0 to 2^32-1.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The rendezvous owner of key hash `k` among `members`.
 *
 * @param k The key's hash ({@linkcode keyHash}).
 * @param members The live members' ids, in any order.
 * @returns The owner's id, or undefined when there are no members.
 */
export function rendezvousOwner(k: number, members: Iterable<number>): number | undefined {
  let best: number | undefined;
  let bestWeight = -1;
  for (const id of members) {
    const weight = fmix32((k ^ fmix32(id)) >>> 0);
    if (weight > bestWeight || (weight === bestWeight && id < best!)) {
      best = id;
      bestWeight = weight;
    }
  }
  return best;
}

/**
 * The fixed-slot owner of key hash `k` (the specification; a router keeps
 * the same answer in a table, see `slots.ts`).
 *
 * @param k The key's hash ({@linkcode keyHash}).
 * @param slots The group's slots: its ids, live and dead, sorted ascending.
 * @param live Whether an id is live now.
 * @returns The owner's id, or undefined when no slot is live.
 */
export function slotOwner(
  k: number,
  slots: readonly number[],
  live: (id: number) => boolean,
): number | undefined {
  const n = slots.length;
  if (n === 0) return undefined;
  const id = slots[k % n]!;
  if (live(id)) return id;
  return rendezvousOwner(k, slots.filter(live));
}
