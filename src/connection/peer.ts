/**
 * {@linkcode Peer}: the handle of the other end of a cluster connection.
 *
 * @module
 */

import { formatAddress } from "../transport/address.ts";
import type { Address, PeerCertificate } from "../transport/types.ts";

/** What a peer proved about itself on its connection; see src/cluster/security.ts. */
export interface PeerIdentity {
  /** The key id the peer proved (key authentication, the cluster's `auth` option). */
  keyId?: string;
  /** The certificate the peer presented (TLS). */
  certificate?: PeerCertificate;
  /**
   * Weft mode: the node name the peer gave in its handshake (its
   * `nodeName` option; the named-nodes layer's node name). A claim, not a
   * proof: any peer can send any name. Trust it only as far as the key or
   * certificate beside it (see `isAuthenticated`).
   */
  nodeName?: string;
}

/**
 * What a peer's bookkeeping needs of its connection. The cluster's
 * `Channel` is one; naming only this keeps `peer.ts` below `channel.ts`
 * (which imports it) instead of the two importing each other.
 */
export interface PeerConnection {
  /** The transport connection, for the remote address. */
  readonly connection: { readonly remoteAddress: Address };
}

/**
 * The cluster's mutable bookkeeping for a peer; not part of the public API.
 * `C` is the connection type the caller knows it holds (the cluster's `Channel`).
 */
export interface PeerState<C extends PeerConnection = PeerConnection> {
  /** The live connection, or null. */
  channel: C | null;
  /** The connect in progress that calls share, or null. */
  connecting: Promise<C> | null;
  /** Closed for good: by `close(peer)`, the cluster's close, or (inbound) a disconnect. */
  closed: boolean;
  /** The remote address of the last connection. */
  lastRemote: Address | undefined;
  /** What the peer proved on its current (or last) connection. */
  identity: PeerIdentity;
  /** The fields of the peer's last handshake (weft's HELLO/HELLO_ACK: see `HelloField`). */
  hello: Map<number, Uint8Array> | undefined;
  /** The node name the peer's last handshake gave, as its mode read it. */
  nodeName: string | undefined;
}

/** `identity` with the node name of the peer's handshake fields (HELLO field 1), if any. */
export function withNodeName(identity: PeerIdentity, nodeName: string | undefined): PeerIdentity {
  const { nodeName: _, ...rest } = identity;
  return nodeName === undefined ? rest : { ...rest, nodeName };
}

let stateOf: (peer: Peer) => PeerState;

/**
 * The other end of a connection: a node this cluster connected to (an
 * outbound peer, made by `cluster.connect(address)`) or one that connected
 * to it (an accepted peer, handed to the `accept` hook and to handlers).
 *
 * Both kinds are full peers: `cluster.call(peer, ...)` and
 * `cluster.send(peer, ...)` work on either, over the same connection.
 * Outbound peers connect lazily and reconnect on the next call after the
 * connection drops; accepted peers never reconnect, and once their
 * connection is gone calls to them reject with `peer closed`.
 */
export class Peer {
  /** The address given to `connect()`, or undefined for an accepted peer. */
  readonly address: string | undefined;
  /** True for a peer that connected to us. */
  readonly inbound: boolean;
  readonly #state: PeerState = {
    channel: null,
    connecting: null,
    closed: false,
    lastRemote: undefined,
    identity: {},
    hello: undefined,
    nodeName: undefined,
  };

  static {
    stateOf = (peer) => peer.#state;
  }

  /**
   * Made by the cluster; users get peers from `cluster.connect()` and hooks.
   *
   * @param address The address to connect to (outbound), or undefined (inbound).
   */
  constructor(address: string | undefined) {
    this.address = address;
    this.inbound = address === undefined;
  }

  /** The remote address of the current (or last) connection, if any. */
  get remoteAddress(): Address | undefined {
    return this.#state.channel?.connection.remoteAddress ?? this.#state.lastRemote;
  }

  /**
   * What the peer proved on its current (or last) connection: the key id
   * of key authentication, the certificate it presented over TLS. Empty
   * for a peer that proved nothing.
   */
  get identity(): PeerIdentity {
    return this.#state.identity;
  }

  /** True while a connection is open. */
  get isConnected(): boolean {
    return this.#state.channel !== null;
  }

  /**
   * Weft mode: the node name the other end gave in its handshake (its
   * `nodeName` option), once the handshake arrived; else undefined.
   */
  get nodeName(): string | undefined {
    return this.#state.nodeName;
  }

  /**
   * Weft mode: the fields of the other end's last handshake, by tag (see
   * `HelloField`); undefined before the handshake arrived.
   */
  get helloFields(): ReadonlyMap<number, Uint8Array> | undefined {
    return this.#state.hello;
  }

  /** True once the peer is closed for good (calls reject with `peer closed`). */
  get isClosed(): boolean {
    return this.#state.closed;
  }

  /** `outbound host:port` or `inbound host:port`, for logs. */
  toString(): string {
    const remote = this.remoteAddress;
    const where = this.address ?? (remote === undefined ? "?" : formatAddress(remote));
    return `${this.inbound ? "inbound" : "outbound"} ${where}`;
  }
}

/** The connection's peer presented `certificate` (TLS), or nothing: what it proved so far. */
export function provedCertificate(peer: Peer, certificate: PeerCertificate | undefined): void {
  stateOf(peer).identity = certificate === undefined ? {} : { certificate };
}

/** The peer's handshake fields arrived: kept, and its node name (a claim) joins its identity. */
export function saidHello(
  peer: Peer,
  fields: Map<number, Uint8Array>,
  nodeName: string | undefined,
): void {
  const state = stateOf(peer);
  state.hello = fields;
  state.nodeName = nodeName;
  state.identity = withNodeName(state.identity, nodeName);
}

/** The peer proved the key `keyId` (key authentication). */
export function provedKey(peer: Peer, keyId: string): void {
  const state = stateOf(peer);
  state.identity = { ...state.identity, keyId };
}

/**
 * The cluster's bookkeeping of `peer` (internal). Only the cluster stores
 * connections there, so its callers name their type: `peerState<Channel>(peer)`.
 */
export function peerState<C extends PeerConnection = PeerConnection>(peer: Peer): PeerState<C> {
  return stateOf(peer) as PeerState<C>;
}
