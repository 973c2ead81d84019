/**
 * {@linkcode AcceptGate}: a listener's count of open accepted connections
 * and its cap (`maxConnections`). Internal.
 *
 * @module
 */

import { now } from "../_platform.ts";
import type { Connection } from "../transport/types.ts";
import { type ClusterListenOptions, DEFAULT_MAX_CONNECTIONS } from "./listener.ts";
import type { Logger } from "./logger.ts";

/**
 * Counts a listener's open connections and closes new ones over its cap
 * (internal; made by `cluster.listen`).
 */
export class AcceptGate {
  readonly #max: number;
  readonly #address: string;
  readonly #logger: Logger;
  /** Connections accepted and not closed yet. */
  open = 0;
  /** Connections closed at once for being over the cap. */
  refused = 0;
  #loggedAt = -Infinity;
  #unlogged = 0;

  /**
   * Validates `maxConnections`; made by `cluster.listen`.
   *
   * @param options `maxConnections` (validated here).
   * @param address For log lines.
   * @param logger Where refusals are reported.
   * @throws {TypeError} Naming `maxConnections`, for a wrong type.
   * @throws {RangeError} Naming `maxConnections`, for an out-of-range value.
   */
  constructor(options: ClusterListenOptions, address: string, logger: Logger) {
    const max = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (typeof max !== "number") {
      throw new TypeError("Invalid option maxConnections: expected a number");
    }
    if (!(Number.isInteger(max) && max >= 1) && max !== Infinity) {
      throw new RangeError(
        `Invalid option maxConnections: expected a positive integer, got ${max}`,
      );
    }
    this.#max = max;
    this.#address = address;
    this.#logger = logger;
  }

  /** Hands `connection` to `accept`, or closes it when the listener is full. */
  admit(connection: Connection, accept: (connection: Connection) => void): void {
    if (this.open >= this.#max) {
      this.refused++;
      this.#unlogged++;
      connection.close();
      const t = now();
      if (t - this.#loggedAt >= 1000) {
        this.#loggedAt = t;
        this.#logger.warn(
          `Listener ${this.#address} refused ${this.#unlogged} connection(s): ${this.open} open, maxConnections ${this.#max}`,
        );
        this.#unlogged = 0;
      }
      return;
    }
    this.open++;
    connection.closed.then(() => this.open--);
    accept(connection);
  }
}
