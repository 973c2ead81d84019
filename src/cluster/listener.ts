/**
 * {@linkcode ClusterListener}: a listening address of a cluster.
 *
 * @module
 */

import type { Address, Listener } from "../transport/types.ts";

/** Default cap on connections accepted by one listener and open at once. */
export const DEFAULT_MAX_CONNECTIONS = 1000;

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
   * Connections accepted by this listener that may be open at once. Over
   * it a new connection is closed at once (counted in
   * `listener.refused`, logged at most once a second). Keep it under the
   * process's file limit.
   *
   * @default {1000}
   */
  maxConnections?: number;
  /**
   * Connections from one remote address (IP, without the port) that may be
   * open at once on this listener. Over it, a new connection from that
   * address is closed at once (counted in `listener.refused`, logged at
   * most once a second), while other addresses are still admitted: one host
   * flooding the port cannot fill `maxConnections` for the rest. Loopback
   * is an address like any other.
   *
   * @default {Infinity}
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

  /** Connections accepted by this listener and still open. */
  get connections(): number {
    return this.#gate?.open ?? 0;
  }

  /** Connections closed at once because `maxConnections` were open. */
  get refused(): number {
    return this.#gate?.refused ?? 0;
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
