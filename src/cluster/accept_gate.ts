/**
 * {@linkcode AcceptGate}: a listener's count of open accepted connections
 * and its caps, over all (`maxConnections`) and per remote address
 * (`maxConnectionsPerAddress`). Internal.
 *
 * @module
 */

import { now } from "../_platform.ts";
import type { Connection } from "../transport/types.ts";
import { type ClusterListenOptions, DEFAULT_MAX_CONNECTIONS } from "./listener.ts";
import type { Logger } from "./logger.ts";

function cap(value: unknown, option: string, fallback: number): number {
  const max = value ?? fallback;
  if (typeof max !== "number") {
    throw new TypeError(`Invalid option ${option}: expected a number`);
  }
  if (!(Number.isInteger(max) && max >= 1) && max !== Infinity) {
    throw new RangeError(`Invalid option ${option}: expected a positive integer, got ${max}`);
  }
  return max;
}

/**
 * Validates the caps of `cluster.listen` (`maxConnections`,
 * `maxConnectionsPerAddress`): a positive integer or `Infinity`.
 *
 * @throws {TypeError} Naming the option, for a wrong type.
 * @throws {RangeError} Naming the option, for an out-of-range value.
 */
export function checkConnectionCaps(
  options: ClusterListenOptions,
): { maxConnections: number; maxConnectionsPerAddress: number } {
  return {
    maxConnections: cap(options.maxConnections, "maxConnections", DEFAULT_MAX_CONNECTIONS),
    maxConnectionsPerAddress: cap(
      options.maxConnectionsPerAddress,
      "maxConnectionsPerAddress",
      Infinity,
    ),
  };
}

/** The key connections are counted under: the remote IP (an IPv4-mapped IPv6 one as IPv4). */
function addressKey(connection: Connection): string {
  return connection.remoteAddress.hostname.toLowerCase().replace(/^::ffff:(?=\d+\.)/, "");
}

/**
 * Counts a listener's open connections and closes new ones over its caps
 * (internal; made by `cluster.listen`).
 */
export class AcceptGate {
  readonly #max: number;
  readonly #maxPerAddress: number;
  readonly #address: string;
  readonly #logger: Logger;
  /** Open connections by remote address; only kept with a per-address cap (at most `open` entries). */
  readonly #byAddress = new Map<string, number>();
  /** Connections accepted and not closed yet. */
  open = 0;
  /** Connections closed at once for being over a cap. */
  refused = 0;
  #loggedAt = -Infinity;
  #unlogged = 0;
  #unloggedPerAddress = 0;

  /**
   * Validates the caps; made by `cluster.listen`.
   *
   * @param options `maxConnections` and `maxConnectionsPerAddress` (validated here).
   * @param address For log lines.
   * @param logger Where refusals are reported.
   * @throws {TypeError} Naming the option, for a wrong type.
   * @throws {RangeError} Naming the option, for an out-of-range value.
   */
  constructor(options: ClusterListenOptions, address: string, logger: Logger) {
    const caps = checkConnectionCaps(options);
    this.#max = caps.maxConnections;
    this.#maxPerAddress = caps.maxConnectionsPerAddress;
    this.#address = address;
    this.#logger = logger;
  }

  /** Hands `connection` to `accept`, or closes it when the listener (or its address's share) is full. */
  admit(connection: Connection, accept: (connection: Connection) => void): void {
    if (this.open >= this.#max) return this.#refuse(connection, false);
    if (this.#maxPerAddress === Infinity) {
      this.open++;
      connection.closed.then(() => this.open--);
      accept(connection);
      return;
    }
    const key = addressKey(connection);
    const held = this.#byAddress.get(key) ?? 0;
    if (held >= this.#maxPerAddress) return this.#refuse(connection, true);
    this.#byAddress.set(key, held + 1);
    this.open++;
    connection.closed.then(() => {
      this.open--;
      const left = this.#byAddress.get(key)! - 1;
      if (left === 0) this.#byAddress.delete(key);
      else this.#byAddress.set(key, left);
    });
    accept(connection);
  }

  #refuse(connection: Connection, perAddress: boolean): void {
    this.refused++;
    if (perAddress) this.#unloggedPerAddress++;
    else this.#unlogged++;
    connection.close();
    const t = now();
    if (t - this.#loggedAt < 1000) return;
    this.#loggedAt = t;
    const parts: string[] = [];
    if (this.#unlogged > 0) {
      parts.push(
        `${this.#unlogged} connection(s) over maxConnections ${this.#max} (${this.open} open)`,
      );
    }
    if (this.#unloggedPerAddress > 0) {
      parts.push(
        `${this.#unloggedPerAddress} connection(s) from addresses holding maxConnectionsPerAddress ${this.#maxPerAddress}` +
          (perAddress ? ` (the last from ${addressKey(connection)})` : ""),
      );
    }
    this.#logger.warn(`Listener ${this.#address} refused ${parts.join(" and ")}`);
    this.#unlogged = 0;
    this.#unloggedPerAddress = 0;
  }
}
