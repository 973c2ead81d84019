/**
 * {@linkcode ClusterListener}: a listening address of a cluster.
 *
 * @module
 */

import type { Address, Listener } from "../transport/types.ts";

/** Options of `cluster.listen`. */
export interface ClusterListenOptions {
  /**
   * Maximum length of the queue of pending connections.
   *
   * @default {511}
   */
  backlog?: number;
}

/**
 * A listening address. Accepted connections become peers handed to the
 * cluster's `accept` hook. Closing it stops accepting; peers already
 * accepted stay connected.
 */
export class ClusterListener {
  readonly #listener: Listener;
  readonly #onClose: (listener: ClusterListener) => void;
  #closing: Promise<void> | null = null;

  /**
   * Made by `cluster.listen`.
   *
   * @param listener The transport listener.
   * @param onClose Told once when this listener closes.
   */
  constructor(listener: Listener, onClose: (listener: ClusterListener) => void) {
    this.#listener = listener;
    this.#onClose = onClose;
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
