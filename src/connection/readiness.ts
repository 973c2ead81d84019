/**
 * {@linkcode Readiness}: calls waiting for a connection's handshake. Until
 * the mode's handshake completes the connection counts as congested and
 * callers wait here; if it never completes, they learn why.
 *
 * @module
 */

import { WeftError } from "../errors.ts";

/**
 * The waiters of one connection's handshake.
 *
 * Its example runs as a test in tests/connection/doc_examples_test.ts.
 */
export class Readiness {
  #waiter: PromiseWithResolvers<void> | null = null;
  /** Why the handshake never completed (once the connection is done). */
  #failed: WeftError | null = null;

  /** Resolves when the handshake completes; rejects with why it did not. */
  wait(): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    this.#waiter ??= Promise.withResolvers<void>();
    return this.#waiter.promise;
  }

  /** The handshake completed. */
  ready(): void {
    this.#waiter?.resolve();
    this.#waiter = null;
  }

  /**
   * The connection is done before the handshake completed: waiters reject
   * with `error` if it says why the handshake failed (`protocol`, `peer
   * closed`, `authentication failed`), else with `closed`.
   */
  fail(error: WeftError): void {
    this.#failed = error.code === "protocol" || error.code === "peer closed" ||
        error.code === "authentication failed"
      ? error
      : new WeftError("closed", `Connection closed: ${error.message}`, { cause: error });
    if (this.#waiter !== null) {
      this.#waiter.reject(this.#failed);
      this.#waiter.promise.catch(() => {});
      this.#waiter = null;
    }
  }
}
