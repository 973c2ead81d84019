/**
 * Who a peer is and what it may call: the cluster's TLS settings (passed to
 * the transport's listen and connect), key authentication (see
 * handshake_auth.ts), the identity of each connection, and the
 * authorisation hook checked before a handler runs.
 *
 * @module
 */

import { WeftError } from "../errors.ts";
import type { PeerCertificate, TlsConnectOptions, TlsListenOptions } from "../transport/types.ts";
import { type AuthOptions, KeyRing } from "./handshake_auth.ts";
import type { Peer } from "./peer.ts";
import type { Logger } from "./options.ts";

/**
 * The cluster's TLS settings, used for both listening and connecting: the
 * node's certificate and key (presented as a server, and as a client for
 * mutual TLS), the CA that signs its peers, and the usual knobs.
 */
export interface ClusterTlsOptions extends TlsListenOptions, TlsConnectOptions {}

/** Who the other end of a connection proved to be. */
export interface PeerIdentity {
  /** The key id the peer proved (key authentication, the cluster's `auth` option). */
  keyId?: string;
  /** The certificate the peer presented (TLS). */
  certificate?: PeerCertificate;
}

/** What the authorisation hook is asked about. */
export interface AuthorizeRequest {
  /** The peer that sent the request. */
  peer: Peer;
  /** What the peer proved (`peer.identity`). */
  identity: PeerIdentity;
  /** The request's cmd number. */
  cmd: number;
  /** The service the request is for, when a layer above names one. */
  service?: string;
}

/**
 * Decides whether a request may run. Return `true` to allow it; `false`
 * (or a throw) refuses it before its body is decoded or a handler runs: the
 * caller gets a remote error with code `forbidden` (weft mode; silly mode
 * has no error responses, so the request is dropped and logged).
 */
export type Authorize = (request: AuthorizeRequest) => boolean;

/** The security options, checked. */
export interface ResolvedSecurity {
  tls: ClusterTlsOptions | undefined;
  keys: KeyRing | undefined;
  authorize: Authorize | undefined;
}

/**
 * Checks the `tls`, `auth` and `authorize` options.
 *
 * @throws {TypeError} Naming the option, for a wrong type.
 * @throws {RangeError} Naming the option, for an out-of-range value.
 */
export function resolveSecurity(
  tls: unknown,
  auth: unknown,
  authorize: unknown,
  protocol: string,
): ResolvedSecurity {
  if (tls !== undefined && (tls === null || typeof tls !== "object")) {
    throw new TypeError("Invalid option tls: expected an object of TLS settings");
  }
  if (auth !== undefined && protocol !== "weft") {
    throw new TypeError('Invalid option auth: key authentication needs protocol "weft"');
  }
  if (authorize !== undefined && typeof authorize !== "function") {
    throw new TypeError(`Invalid option authorize: expected a function, got ${typeof authorize}`);
  }
  return {
    tls: tls as ClusterTlsOptions | undefined,
    keys: auth === undefined ? undefined : new KeyRing(auth as AuthOptions),
    authorize: authorize as Authorize | undefined,
  };
}

/**
 * The TLS settings a listener gets (the server side of each setting), and
 * the hook that logs refused connections as warnings.
 */
export function listenTls(
  tls: ClusterTlsOptions | undefined,
  logger: Logger,
): { tls?: TlsListenOptions; onRefused?: (error: WeftError) => void } {
  if (tls === undefined) return {};
  const { serverName: _, ...rest } = tls;
  return {
    tls: rest,
    onRefused: (error) => logger.warn(`Refused a connection: ${error.message}`, error),
  };
}

/** The TLS settings a connect gets (the client side of each setting). */
export function connectTls(tls: ClusterTlsOptions | undefined): { tls?: TlsConnectOptions } {
  if (tls === undefined) return {};
  const { requireClientCert: _, ...rest } = tls;
  return { tls: rest };
}

/**
 * Asks the hook (if any) about a request; the `forbidden` error to answer
 * with (logged as a warning), or undefined if it may run.
 */
export function refusal(
  authorize: Authorize | undefined,
  peer: Peer,
  cmd: number,
  logger: Logger,
  service?: string,
): WeftError | undefined {
  if (authorize === undefined) return undefined;
  let allowed: boolean;
  try {
    allowed = authorize({
      peer,
      identity: peer.identity,
      cmd,
      ...(service === undefined ? {} : { service }),
    }) === true;
  } catch (error) {
    logger.error("authorize hook threw; request refused", error);
    allowed = false;
  }
  if (allowed) return undefined;
  const error = new WeftError(
    "forbidden",
    `Not allowed: cmd ${cmd}${service === undefined ? "" : ` of service ${service}`} for ${
      describeIdentity(peer.identity)
    }`,
  );
  logger.warn(`Refused a request from ${peer}: ${error.message}`);
  return error;
}

/** A short name for an identity, for messages: the key id, the certificate subject, or anonymous. */
export function describeIdentity(identity: PeerIdentity): string {
  if (identity.keyId !== undefined) return `key id ${identity.keyId}`;
  if (identity.certificate !== undefined) return `certificate ${identity.certificate.subject}`;
  return "an unauthenticated peer";
}

/**
 * An authorisation hook from an allow-list: for each identity name (a key
 * id, or a certificate subject CN), the cmd numbers it may call. Names not
 * listed may call nothing; `"*"` lists cmds anyone may call.
 *
 * @example
 * ```ts
 * import { allowList } from "./security.ts";
 *
 * const authorize = allowList({ "node-a": [1, 2], "*": [9] });
 * // deno-lint-ignore no-explicit-any
 * const peer = {} as any;
 * if (!authorize({ peer, identity: { keyId: "node-a" }, cmd: 2 })) throw new Error("refused");
 * if (authorize({ peer, identity: { keyId: "node-a" }, cmd: 3 })) throw new Error("allowed");
 * if (!authorize({ peer, identity: {}, cmd: 9 })) throw new Error("refused");
 * ```
 */
export function allowList(list: Readonly<Record<string, readonly number[]>>): Authorize {
  const sets = new Map(Object.entries(list).map(([name, cmds]) => [name, new Set(cmds)]));
  const anyone = sets.get("*");
  return ({ identity, cmd }) => {
    if (anyone?.has(cmd)) return true;
    for (const name of [identity.keyId, identity.certificate?.subject]) {
      if (name !== undefined && sets.get(name)?.has(cmd)) return true;
    }
    return false;
  };
}
