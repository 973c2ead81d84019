/**
 * Who a peer is and what it may call: the cluster's TLS settings (passed to
 * the transport's listen and connect), key authentication (see
 * handshake_auth.ts), the identity of each connection, and the
 * authorisation hook checked before a handler runs.
 *
 * @module
 */

import type { WeftError } from "../errors.ts";
import type { TlsConnectOptions, TlsListenOptions } from "../transport/types.ts";
import { type AuthOptions, KeyRing } from "../protocol/weft/handshake_auth.ts";
import type { Peer, PeerIdentity } from "../connection/peer.ts";
import { quoteForLog } from "./fault_log.ts";

/**
 * The cluster's TLS settings, used for both listening and connecting: the
 * node's certificate and key (presented as a server, and as a client for
 * mutual TLS), the CA that signs its peers, and the usual knobs.
 */
export interface ClusterTlsOptions extends TlsListenOptions, TlsConnectOptions {}

/**
 * Who the other end of a connection is: what it proved (a key id, a
 * certificate) and the node name it claimed.
 */
export type { PeerIdentity } from "../connection/peer.ts";

/** True if the identity was proved: a key id or a certificate (a node name alone proves nothing). */
export function isAuthenticated(identity: PeerIdentity): boolean {
  return identity.keyId !== undefined || identity.certificate !== undefined;
}

/** What the authorisation hook is asked about. */
export interface AuthorizeRequest {
  /** The peer that sent the request. */
  peer: Peer;
  /** What the peer proved (`peer.identity`). */
  identity: PeerIdentity;
  /** The request's cmd number. */
  cmd: number;
  /** The service the request is for, when it names one (the named-nodes layer does). */
  service?: string;
  /** The command name the request carries, when it names one (the named-nodes layer does). */
  command?: string;
}

/**
 * Decides whether a request may run. Return `true` to allow it; `false`
 * (or a throw) refuses it before its body is decoded or a handler runs: the
 * caller gets a remote error with code `forbidden` (weft mode; silly mode
 * has no error responses, so the request is dropped and logged).
 */
export type Authorize = (request: AuthorizeRequest) => boolean;

/**
 * Who belongs: the trust settings of a node, taken in the same shape by
 * every layer that makes or accepts connections (`Cluster`, `Router`,
 * `Service`, `serveRegistry`, `RemoteRegistry`, `Nodes`), checked by the
 * same code and passed to every connection that layer makes or accepts. Set
 * them once (one key ring, or one CA) and every hop checks them.
 */
export interface TrustOptions {
  /**
   * TLS on every listen and connect of this node (certificate and key, the
   * CA of its peers, `requireClientCert` for mutual TLS, `serverName`,
   * `minVersion`, `handshakeTimeout`). Connections refused by TLS are
   * logged as warnings with their code.
   *
   * @default {undefined (plain TCP)}
   */
  tls?: ClusterTlsOptions;
  /**
   * Weft mode: key authentication in the handshake. Both ends prove a
   * pre-shared key (or one key per node, by key id) by challenge and
   * response; a peer that fails is closed with `authentication failed`
   * before any request of its own is handled.
   *
   * @default {undefined (no key authentication)}
   */
  auth?: AuthOptions;
  /**
   * Checked before each request's handler runs, with the peer's identity
   * and the cmd; see {@linkcode Authorize} (and `allowList`).
   *
   * @default {undefined (every request may run)}
   */
  authorize?: Authorize;
}

/** The security options, checked. */
export interface ResolvedSecurity {
  tls: ClusterTlsOptions | undefined;
  keys: KeyRing | undefined;
  authorize: Authorize | undefined;
}

/**
 * Checks the `tls`, `auth` and `authorize` options; `keysAllowed` says
 * whether the protocol mode has key authentication.
 *
 * @throws {TypeError} Naming the option, for a wrong type.
 * @throws {RangeError} Naming the option, for an out-of-range value.
 */
export function resolveSecurity(
  tls: unknown,
  auth: unknown,
  authorize: unknown,
  keysAllowed: boolean,
): ResolvedSecurity {
  if (tls !== undefined && (tls === null || typeof tls !== "object")) {
    throw new TypeError("Invalid option tls: expected an object of TLS settings");
  }
  if (auth !== undefined && !keysAllowed) {
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
 * the hook that reports refused connections (a failed handshake is the
 * peer's doing: as a warning, through a rate-limited fault log).
 */
export function listenTls(
  tls: ClusterTlsOptions | undefined,
  faults: RefusalLog["faults"],
): { tls?: TlsListenOptions; onRefused?: (error: WeftError) => void } {
  if (tls === undefined) return {};
  const { serverName: _, ...rest } = tls;
  return {
    tls: rest,
    onRefused: (error) =>
      faults.report("tls refused", () => `Refused a connection: ${error.message}`, error),
  };
}

/** The TLS settings a connect gets (the client side of each setting). */
export function connectTls(tls: ClusterTlsOptions | undefined): { tls?: TlsConnectOptions } {
  if (tls === undefined) return {};
  const { requireClientCert: _, ...rest } = tls;
  return { tls: rest };
}

/** Where {@linkcode refusal} reports: the node's logger, and its rate-limited fault log. */
export interface RefusalLog {
  /**
   * For refusals and the hook's own failures (a peer's request can make a
   * faulty hook throw on every request: at most `faultLogLimit` lines a
   * second, the hook's error with its stack).
   */
  readonly faults: {
    report(kind: string, message: string | (() => string), detail?: unknown): void;
  };
}

/**
 * Asks the hook (if any) about a request; the message of the `forbidden`
 * error to answer with (logged as a warning, within the fault-log limit),
 * or undefined if it may run. `names` holds the service and command names
 * the request carried (its call context). A message, not an error: a peer
 * can send refused requests in a flood, and making an `Error` costs about
 * 3 µs on Deno even without a stack, so the error is made only where an
 * answer needs one (see `answerRefused`, fault_reply.ts).
 */
export function refusal(
  authorize: Authorize | undefined,
  peer: Peer,
  cmd: number,
  log: RefusalLog,
  names?: { readonly service?: string | undefined; readonly command?: string | undefined },
): string | undefined {
  if (authorize === undefined) return undefined;
  const service = names?.service;
  const command = names?.command;
  let allowed: boolean;
  try {
    allowed = authorize({
      peer,
      identity: peer.identity,
      cmd,
      ...(service === undefined ? {} : { service }),
      ...(command === undefined ? {} : { command }),
    }) === true;
  } catch (error) {
    log.faults.report("authorize threw", "authorize hook threw; request refused", error);
    allowed = false;
  }
  if (allowed) return undefined;
  const message = `Not allowed: cmd ${cmd}${service === undefined ? "" : ` of service ${service}`}${
    command === undefined ? "" : ` (command ${command})`
  } for ${describeIdentity(peer.identity)}`;
  // The peer chose the names: quoted, and at most faultLogLimit lines a second.
  log.faults.report(
    "forbidden",
    () =>
      `Refused a request from ${peer}: cmd ${cmd}${
        service === undefined ? "" : ` of service ${quoteForLog(service)}`
      }${command === undefined ? "" : ` (command ${quoteForLog(command)})`} for ${
        quoteForLog(describeIdentity(peer.identity))
      }`,
  );
  return message;
}

/**
 * A short name for an identity, for messages: the key id or certificate
 * subject, or "an unauthenticated peer"; with the node name it claimed.
 */
export function describeIdentity(identity: PeerIdentity): string {
  const named = identity.nodeName === undefined ? "" : ` (node ${identity.nodeName})`;
  if (identity.keyId !== undefined) return `key id ${identity.keyId}${named}`;
  if (identity.certificate !== undefined) {
    return `certificate ${identity.certificate.subject}${named}`;
  }
  return `an unauthenticated peer${named}`;
}

/**
 * What one identity of an {@linkcode allowList} may call: cmd numbers
 * (numbers) and services (strings: every command of that named service,
 * as the named-nodes layer sends them).
 */
export type AllowRule = readonly (number | string)[];

/**
 * An authorisation hook from an allow-list. Each key names an identity:
 *
 * - a key id or a certificate subject CN (proved by the peer);
 * - `"name:NAME"`: the node name the peer claimed in its handshake, which
 *   counts only on a connection that is also authenticated (a key id or a
 *   certificate); on an unauthenticated one it is ignored, since anyone
 *   can claim any name. Any authenticated peer can still claim any node
 *   name: with one shared key, `name:` rules separate well-behaved nodes,
 *   not hostile ones (give each node its own key id to do that);
 * - `"*"`: what anyone may call.
 *
 * Each value lists cmd numbers and service names (see {@linkcode AllowRule}).
 * Identities not listed may call nothing beyond `"*"`.
 *
 * @example
 * ```ts
 * import { allowList } from "@weft/cluster";
 *
 * const authorize = allowList({ "node-a": [1, 2], "name:web": ["echo"], "*": [9] });
 * // deno-lint-ignore no-explicit-any
 * const peer = {} as any;
 * if (!authorize({ peer, identity: { keyId: "node-a" }, cmd: 2 })) throw new Error("refused");
 * if (authorize({ peer, identity: { keyId: "node-a" }, cmd: 3 })) throw new Error("allowed");
 * if (!authorize({ peer, identity: {}, cmd: 9 })) throw new Error("refused");
 * const web = { keyId: "shared", nodeName: "web" };
 * if (!authorize({ peer, identity: web, cmd: 0, service: "echo" })) throw new Error("refused");
 * if (authorize({ peer, identity: web, cmd: 0, service: "db" })) throw new Error("allowed");
 * // A claimed name without a key or certificate counts for nothing.
 * if (authorize({ peer, identity: { nodeName: "web" }, cmd: 0, service: "echo" })) {
 *   throw new Error("allowed");
 * }
 * ```
 *
 * @throws {TypeError} For a rule that is not an array of numbers and strings.
 */
export function allowList(list: Readonly<Record<string, AllowRule>>): Authorize {
  const sets = new Map<string, Set<number | string>>();
  for (const [name, rule] of Object.entries(list)) {
    if (
      !Array.isArray(rule) ||
      !rule.every((item) => typeof item === "number" || typeof item === "string")
    ) {
      throw new TypeError(
        `Invalid allow-list entry ${name}: expected an array of cmd numbers and service names`,
      );
    }
    sets.set(name, new Set(rule));
  }
  const allows = (set: Set<number | string> | undefined, cmd: number, service?: string) =>
    set !== undefined && (set.has(cmd) || (service !== undefined && set.has(service)));
  return ({ identity, cmd, service }) => {
    if (allows(sets.get("*"), cmd, service)) return true;
    for (const name of [identity.keyId, identity.certificate?.subject]) {
      if (name !== undefined && allows(sets.get(name), cmd, service)) return true;
    }
    return identity.nodeName !== undefined && isAuthenticated(identity) &&
      allows(sets.get(`name:${identity.nodeName}`), cmd, service);
  };
}
