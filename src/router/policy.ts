/**
 * Who may be what at a router: a {@linkcode RouterPolicy} decides, from
 * what a service's connection proved (its key id, or its certificate's
 * subject), which service ids it may announce and whether it may claim
 * master of its group. {@linkcode routerPolicy} builds one from a table.
 * A name a service claims proves nothing and counts for nothing here.
 *
 * @example
 * ```ts
 * import { routerPolicy, serviceId } from "@weft/cluster/router";
 *
 * const policy = routerPolicy({
 *   "mail-key": { announce: [{ group: 2 }], master: [2] },
 *   "game-key": { announce: [{ group: 1, from: 1, to: 99 }] },
 * });
 * const mail = { keyId: "mail-key" };
 * const game = { keyId: "game-key" };
 * if (!policy.announce(mail, serviceId(2, 7))) throw new Error("refused");
 * if (policy.announce(game, serviceId(2, 7))) throw new Error("allowed");
 * if (!policy.announce(game, serviceId(1, 99)) || policy.announce(game, serviceId(1, 100))) {
 *   throw new Error("wrong range");
 * }
 * if (!policy.claim(mail, 2) || policy.claim(game, 1)) throw new Error("wrong claim");
 * // Proving nothing gives nothing (there is no "*" entry).
 * if (policy.announce({}, serviceId(1, 1))) throw new Error("allowed");
 * ```
 *
 * @module
 */

import type { PeerIdentity } from "../connection/peer.ts";
import { MAX_GROUP, MAX_INDEX } from "./service_id.ts";

/**
 * What a router asks before it lets a connection be a service, or a master.
 * Both are called with what the connection proved (`peer.identity`: a key
 * id, a certificate); a `false` (or a throw) refuses with `forbidden`.
 */
export interface RouterPolicy {
  /** May a connection that proved `identity` announce the service id `id`? */
  announce(identity: PeerIdentity, id: number): boolean;
  /** May a connection that proved `identity` (announced in `group`) claim master of `group`? */
  claim(identity: PeerIdentity, group: number): boolean;
}

/** A range of service ids: a whole group, or the indexes `from` to `to` (inclusive) of it. */
export interface IdRange {
  /** The group, 0 to 255. */
  group: number;
  /**
   * The first index.
   *
   * @default {0}
   */
  from?: number;
  /**
   * The last index (inclusive).
   *
   * @default {65535}
   */
  to?: number;
}

/** What one identity of a {@linkcode routerPolicy} may be. */
export interface RouterRule {
  /** The service ids it may announce. */
  announce?: readonly IdRange[];
  /** The groups whose master it may claim. */
  master?: readonly number[];
}

function isInt(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * A {@linkcode RouterPolicy} from a table. Each key names an identity a
 * connection proves: a key id (key authentication) or a certificate's
 * subject CN (TLS with client certificates), or `"*"` for what any
 * connection may be, proven or not. Identities not listed may be nothing
 * beyond `"*"` (deny by default).
 *
 * @param rules What each identity may announce and claim.
 * @returns The policy, for `new Router({ policy })`.
 * @throws {TypeError} For a rule of the wrong shape, naming the identity.
 * @throws {RangeError} For a group or index out of range, naming the identity.
 */
export function routerPolicy(rules: Readonly<Record<string, RouterRule>>): RouterPolicy {
  if (rules === null || typeof rules !== "object") {
    throw new TypeError("Invalid router policy: expected an object of rules by identity");
  }
  const table = new Map<string, { ranges: [number, number][]; masters: Set<number> }>();
  for (const [name, rule] of Object.entries(rules)) {
    if (rule === null || typeof rule !== "object") {
      throw new TypeError(`Invalid router policy entry ${name}: expected { announce, master }`);
    }
    const ranges: [number, number][] = [];
    if (rule.announce !== undefined) {
      if (!Array.isArray(rule.announce)) {
        throw new TypeError(`Invalid router policy entry ${name}: announce is not an array`);
      }
      for (const range of rule.announce) {
        if (range === null || typeof range !== "object") {
          throw new TypeError(
            `Invalid router policy entry ${name}: announce takes { group, from?, to? }`,
          );
        }
        const from = range.from ?? 0;
        const to = range.to ?? MAX_INDEX;
        if (!isInt(range.group, 0, MAX_GROUP) || !isInt(from, 0, MAX_INDEX)) {
          throw new RangeError(
            `Invalid router policy entry ${name}: group 0-${MAX_GROUP}, indexes 0-${MAX_INDEX}`,
          );
        }
        if (!isInt(to, from, MAX_INDEX)) {
          throw new RangeError(
            `Invalid router policy entry ${name}: to ${to} is not from ${from} to ${MAX_INDEX}`,
          );
        }
        ranges.push([(range.group << 16) | from, (range.group << 16) | to]);
      }
    }
    const masters = new Set<number>();
    if (rule.master !== undefined) {
      if (!Array.isArray(rule.master) || !rule.master.every((g) => isInt(g, 0, MAX_GROUP))) {
        throw new TypeError(
          `Invalid router policy entry ${name}: master is not an array of groups 0-${MAX_GROUP}`,
        );
      }
      for (const group of rule.master) masters.add(group);
    }
    table.set(name, { ranges, masters });
  }
  const entries = (identity: PeerIdentity) => {
    const found = [table.get("*")];
    if (identity.keyId !== undefined) found.push(table.get(identity.keyId));
    if (identity.certificate !== undefined) found.push(table.get(identity.certificate.subject));
    return found;
  };
  return {
    announce: (identity, id) =>
      entries(identity).some((e) => e?.ranges.some(([lo, hi]) => id >= lo && id <= hi) === true),
    claim: (identity, group) => entries(identity).some((e) => e?.masters.has(group) === true),
  };
}
