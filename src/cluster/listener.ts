/**
 * {@linkcode ClusterListener}: a listening address of a cluster.
 *
 * @module
 */

import type { Address, Listener } from "../transport/types.ts";

/** Default cap on connections accepted by one listener and open at once. */
export const DEFAULT_MAX_CONNECTIONS = 1000;

/**
 * Default cap on connections from one remote address (an IPv6 address's
 * /64) open at once on one listener: a quarter of
 * {@linkcode DEFAULT_MAX_CONNECTIONS}, so one host never holds the whole
 * pool, and far above what a cluster's nodes open to each other (one or a
 * few connections per pair). Every listener has it: plain clusters, routers,
 * registry nodes, named nodes and the CLI.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256;

/**
 * What a listener reads of its accept gate: the connections it holds and
 * those it refused (the gate itself lives in accept_gate.ts, which imports
 * this file's options; this shape keeps the two from importing each other).
 */
export interface ConnectionCount {
  /** Connections open now. */
  readonly open: number;
  /** Connections closed at once because the cap was reached. */
  readonly refused: number;
  /** Connections closed to make room for an address holding fewer. */
  readonly evicted: number;
}

/** Options of `cluster.listen`. */
export interface ClusterListenOptions {
  /**
   * Maximum length of the queue of pending connections.
   *
   * @default {511}
   */
  backlog?: number;
  /**
   * Connections accepted by this listener that may be open at once, TLS
   * handshakes in progress included (a socket counts from its TCP accept).
   * When they are all taken, a new connection from an address holding at
   * least two fewer than the address holding the most closes the newest
   * connection of that address (counted in `listener.evicted`); otherwise
   * it is closed at once (counted in `listener.refused` and in
   * `stats().limits.refused`, logged through the rate-limited fault log).
   * Keep it under the process's file limit.
   *
   * @default {1000}
   */
  maxConnections?: number;
  /**
   * Connections from one remote address (IPv4 address, or IPv6 /64 prefix;
   * without the port) that may be open at once on this listener, TLS
   * handshakes included. Over it, a new connection from that address is
   * closed at once (counted as above), while other addresses are still
   * admitted: one host cannot fill `maxConnections` for the rest. Loopback
   * is an address like any other; raise it for many clients behind one
   * proxy or NAT address.
   *
   * @default {DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}
   */
  maxConnectionsPerAddress?: number;
}

/**
 * A listening address. Accepted connections become peers handed to the
 * cluster's `accept` hook. Closing it stops accepting; peers already
 * accepted stay connected.
 */
export class ClusterListener {
  readonly #listener: Listener;
  readonly #onClose: (listener: ClusterListener) => void;
  readonly #gate: ConnectionCount | undefined;
  #closing: Promise<void> | null = null;

  /**
   * Made by `cluster.listen`.
   *
   * @param listener The transport listener.
   * @param onClose Told once when this listener closes.
   * @param gate Its connection count and cap.
   */
  constructor(
    listener: Listener,
    onClose: (listener: ClusterListener) => void,
    gate?: ConnectionCount,
  ) {
    this.#listener = listener;
    this.#onClose = onClose;
    this.#gate = gate;
  }

  /** Connections accepted by this listener and still open, TLS handshakes in progress included. */
  get connections(): number {
    return this.#gate?.open ?? 0;
  }

  /** Connections closed at once for `maxConnections` or `maxConnectionsPerAddress`. */
  get refused(): number {
    return this.#gate?.refused ?? 0;
  }

  /** Connections closed to make room for an address holding fewer (the pool full). */
  get evicted(): number {
    return this.#gate?.evicted ?? 0;
  }

  /** The bound address (the real port when listening on port 0). */
  get address(): Address {
    return this.#listener.address;
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.#closing !== null;
  }

  /** Stops accepting. Resolves when the listening socket is closed; harmless twice. */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#onClose(this);
      this.#closing = this.#listener.close();
    }
    return this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
