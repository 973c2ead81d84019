/**
 * {@linkcode AcceptGate}: a listener's count of the connections it holds
 * and its caps, over all (`maxConnections`) and per remote address
 * (`maxConnectionsPerAddress`). A connection counts from its TCP accept,
 * so TLS handshakes in progress count as open connections. When the pool
 * is full, a connection from an address holding at least two fewer than
 * the address holding the most takes the newest connection of that one.
 * Internal.
 *
 * @module
 */

import type { Address, AdmitHandler, Connection } from "../transport/types.ts";
import type { FaultLog } from "./fault_log.ts";
import {
  type ClusterListenOptions,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
} from "./listener.ts";

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
 * `maxConnectionsPerAddress`): a positive integer or `Infinity`, the
 * defaults for those not given.
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
      DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    ),
  };
}

/** The first 64 bits of an IPv6 address, as `a:b:c:d::/64`. */
function prefix64(address: string): string {
  const bare = address.replace(/%.*$/, "");
  const halves = bare.split("::");
  const groups = (text: string | undefined): string[] =>
    text === undefined || text === "" ? [] : text.split(":");
  const left = groups(halves[0]);
  const right = groups(halves[1]);
  // A dotted IPv4 tail stands for two groups.
  const width = (g: string[]) => g.length + (g.at(-1)?.includes(".") ? 1 : 0);
  const all = halves.length === 1
    ? left
    : [...left, ...Array(Math.max(0, 8 - width(left) - width(right))).fill("0"), ...right];
  const head = all.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16));
  while (head.length < 4) head.push("0");
  return `${head.join(":")}::/64`;
}

/**
 * The key connections are counted under: an IPv4 address (an IPv4-mapped
 * IPv6 one as IPv4), or the /64 prefix of an IPv6 address (one host or
 * site: a single host may hold a whole /64).
 */
export function addressKey(hostname: string): string {
  const host = hostname.toLowerCase().replace(/^::ffff:(?=\d+\.)/, "");
  return host.includes(":") ? prefix64(host) : host;
}

/** Why a listener closed a connection at once, as `stats().limits.refused` counts it. */
export type ConnectionRefusal = "connections" | "per address" | "evicted";

/** The node-wide counts of {@linkcode ConnectionRefusal}s, shared by a cluster's listeners. */
export type ConnectionRefusals = Record<ConnectionRefusal, number>;

/** A new count of refusals, all 0. */
export function connectionRefusals(): ConnectionRefusals {
  return { connections: 0, "per address": 0, evicted: 0 };
}

/** One admitted socket: how to close it, and whether it still counts. */
interface Slot {
  readonly key: string;
  readonly close: () => void;
  live: boolean;
}

/**
 * Counts a listener's open connections and closes new ones over its caps
 * (internal; made by `cluster.listen`). The transport asks
 * {@linkcode AcceptGate.admit} at each TCP accept; a transport that does
 * not (a custom one) gets its connections counted in
 * {@linkcode AcceptGate.accept} instead, from the end of their handshake.
 */
export class AcceptGate {
  readonly #max: number;
  readonly #maxPerAddress: number;
  readonly #address: string;
  readonly #faults: FaultLog;
  readonly #counts: ConnectionRefusals;
  /** Admitted sockets by address key, oldest first. */
  readonly #byAddress = new Map<string, Set<Slot>>();
  /** True once the transport asked `admit`: it gates every socket itself. */
  #gated = false;
  /** Sockets admitted and not closed yet (TLS handshakes included). */
  open = 0;
  /** Connections closed at once for being over a cap. */
  refused = 0;
  /** Connections closed to make room for an address holding fewer. */
  evicted = 0;

  /**
   * Validates the caps; made by `cluster.listen`.
   *
   * @param options `maxConnections` and `maxConnectionsPerAddress` (validated here).
   * @param address For log lines.
   * @param faults Where refusals are reported (rate-limited).
   * @param counts The node-wide counts this gate adds to.
   * @throws {TypeError} Naming the option, for a wrong type.
   * @throws {RangeError} Naming the option, for an out-of-range value.
   */
  constructor(
    options: ClusterListenOptions,
    address: string,
    faults: FaultLog,
    counts: ConnectionRefusals = connectionRefusals(),
  ) {
    const caps = checkConnectionCaps(options);
    this.#max = caps.maxConnections;
    this.#maxPerAddress = caps.maxConnectionsPerAddress;
    this.#address = address;
    this.#faults = faults;
    this.#counts = counts;
  }

  /** The transport's `admit` hook: a release function, or undefined to refuse. */
  readonly admit: AdmitHandler = (remote: Address, close: () => void) => {
    this.#gated = true;
    return this.#take(remote, close);
  };

  /**
   * Hands `connection` to `next`: at once if the transport gated it at
   * accept, else after counting it here (closing it if over a cap).
   */
  accept(connection: Connection, next: (connection: Connection) => void): void {
    if (this.#gated) return next(connection);
    const release = this.#take(connection.remoteAddress, () => void connection.close());
    if (release === undefined) {
      void connection.close();
      return;
    }
    connection.closed.then(release);
    next(connection);
  }

  #take(remote: Address, close: () => void): (() => void) | undefined {
    const key = addressKey(remote.hostname);
    let held = this.#byAddress.get(key);
    const n = held?.size ?? 0;
    if (n >= this.#maxPerAddress) return this.#refuse("per address", key, n);
    if (this.open >= this.#max && !this.#evictFor(key, n)) {
      return this.#refuse("connections", key, n);
    }
    if (held === undefined) this.#byAddress.set(key, held = new Set());
    const slot: Slot = { key, close, live: true };
    held.add(slot);
    this.open++;
    return () => this.#release(slot);
  }

  #release(slot: Slot): void {
    if (!slot.live) return;
    slot.live = false;
    this.open--;
    const held = this.#byAddress.get(slot.key)!;
    held.delete(slot);
    if (held.size === 0) this.#byAddress.delete(slot.key);
  }

  /**
   * The pool is full: closes the newest connection of the address holding
   * the most, if that one holds at least two more than `key` (`n`), so
   * that `key` still holds fewer after. True if one was closed.
   */
  #evictFor(key: string, n: number): boolean {
    let top: Set<Slot> | undefined;
    for (const held of this.#byAddress.values()) {
      if (top === undefined || held.size > top.size) top = held;
    }
    if (top === undefined || top.size < n + 2) return false;
    let newest: Slot | undefined;
    for (const slot of top) newest = slot;
    const holder = newest!.key;
    const had = top.size;
    this.#release(newest!);
    this.evicted++;
    this.#counts.evicted++;
    this.#faults.report(
      "connection evicted",
      () =>
        `Listener ${this.#address} closed the newest connection of ${holder} (holding ${had}) for one from ${key} (holding ${n}): ${this.#max} connections were open (maxConnections)`,
    );
    newest!.close();
    return true;
  }

  #refuse(kind: "connections" | "per address", key: string, n: number): undefined {
    this.refused++;
    this.#counts[kind]++;
    this.#faults.report(
      kind === "connections" ? "connections refused" : "per address refused",
      () =>
        kind === "connections"
          ? `Listener ${this.#address} refused a connection from ${key}: ${this.open} open, maxConnections ${this.#max}`
          : `Listener ${this.#address} refused a connection from ${key}: it holds maxConnectionsPerAddress ${n}`,
    );
    return undefined;
  }
}
