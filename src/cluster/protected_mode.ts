/**
 * Protected mode, after Redis's: a layer whose job is to keep outsiders out
 * (a router, a served registry, a named node) refuses to listen on an
 * address other than loopback while it has no credentials, unless the user
 * opts out in so many words. Loopback stays open, for development.
 *
 * "Credentials" means something that proves the connecting side: key
 * authentication (`auth`), or TLS that asks for client certificates
 * (`tls.requireClientCert`). TLS alone proves only the server to its
 * clients, so anyone can still connect.
 *
 * Internal (no package entry exports it, so no doc example: doc examples
 * import the package by name); tests/trust/protected_mode_test.ts shows it
 * at work.
 *
 * @module
 */

import { WeftError } from "../errors.ts";
import { parseAddress } from "../transport/address.ts";
import type { TrustOptions } from "./security.ts";

/** The protected-mode opt-out, taken by every layer that listens for outsiders. */
export interface ProtectedModeOptions {
  /**
   * Protected mode (as Redis has it): without credentials (`auth`, or `tls`
   * with `requireClientCert`), `listen` on an address other than loopback
   * (`127.0.0.0/8`, `::1`, `localhost`) is refused with a `protected mode`
   * error that says how to add keys or TLS. `false` opts out: any process
   * that reaches the port is then admitted, as before.
   *
   * @default {true}
   */
  protectedMode?: boolean;
}

/**
 * Validates the `protectedMode` option.
 *
 * @returns Its value, `true` when undefined.
 * @throws {TypeError} If it is not a boolean.
 */
export function checkProtectedMode(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== "boolean") {
    throw new TypeError(`Invalid option protectedMode: expected a boolean, got ${typeof value}`);
  }
  return value;
}

/**
 * True for a loopback host: `localhost`, `127.0.0.0/8`, `::1` (and their
 * IPv4-mapped forms). Any other name is not loopback (it is not resolved:
 * a name is treated as reachable from outside).
 */
export function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^::ffff:/, "");
  if (host === "localhost" || host === "::1" || host === "0:0:0:0:0:0:0:1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** True if `trust` proves the connecting side: key authentication, or TLS asking for client certificates. */
export function hasCredentials(trust: Pick<TrustOptions, "auth" | "tls">): boolean {
  return trust.auth !== undefined || trust.tls?.requireClientCert === true;
}

/**
 * Throws if protected mode forbids `what` to listen on `address` with the
 * trust settings `trust`.
 *
 * @param address `host:port` about to be listened on.
 * @param trust The layer's `auth` and `tls` options.
 * @param protectedMode The layer's `protectedMode` option (checked).
 * @param what The layer, for the message (`router`, `registry node`, `named node`).
 * @throws {WeftError} `protected mode`, saying how to add keys or TLS or opt out.
 * @throws {WeftError} `bad address` if `address` is not `host:port`.
 */
export function refuseUnprotected(
  address: string,
  trust: Pick<TrustOptions, "auth" | "tls">,
  protectedMode: boolean,
  what: string,
): void {
  if (!protectedMode || hasCredentials(trust)) return;
  const { hostname } = parseAddress(address);
  if (isLoopback(hostname)) return;
  throw new WeftError(
    "protected mode",
    `Refusing to listen on ${address}: this ${what} has no credentials, so any process that ` +
      `reaches the address would be admitted (protected mode). Add key authentication ` +
      `(auth: { keys, keyId }, the same key ring on every node), or TLS with client ` +
      `certificates (tls: { cert, key, ca, requireClientCert: true }), or listen on loopback ` +
      `(127.0.0.1), or pass protectedMode: false to admit anyone`,
  );
}
