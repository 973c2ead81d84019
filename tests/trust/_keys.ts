/**
 * The trust tests' key ring: one ring for the whole test cluster (every
 * node knows every key id), each role proving its own key id. `intruder`
 * holds a valid key of the ring but is outside every policy.
 */

import type { AuthOptions } from "../../src/protocol/weft/handshake_auth.ts";

/** The keys, by id (32 bytes each; test keys, of no value). */
export const RING: Record<string, string> = {
  router: "router test key, 32 bytes long..",
  registry: "registry test key, 32 bytes lon.",
  good: "good test key, 32 bytes long....",
  other: "other good key, 32 bytes long...",
  intruder: "intruder test key, 32 bytes lon.",
};

/** `auth` proving key id `keyId` (`none`: no key authentication). */
export function authAs(keyId: string): { auth: AuthOptions } | Record<never, never> {
  return keyId === "none" ? {} : { auth: { keys: RING, keyId } };
}
