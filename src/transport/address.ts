/**
 * `host:port` strings to {@linkcode Address} and back.
 *
 * @module
 */

import { WeftError } from "../errors.ts";
import type { Address } from "./types.ts";

/** Default connect timeout of every adapter, in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT = 10_000;

/** Default send-buffer high-water mark of every adapter, in bytes. */
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

/** Default listen backlog of every adapter. */
export const DEFAULT_BACKLOG = 511;

/**
 * Parses `host:port` or `[ipv6]:port`. A bare IPv6 address is refused: it
 * is ambiguous without brackets.
 *
 * @param address The address string.
 * @returns The host name (IPv6 without brackets) and port.
 * @throws {WeftError} `bad address` if the string is not of that form.
 *
 * @example
 * ```ts
 * import { parseAddress } from "@weft/cluster";
 *
 * if (JSON.stringify(parseAddress("[::1]:8888")) !== JSON.stringify({ hostname: "::1", port: 8888 })) throw new Error("unexpected result");
 * if (JSON.stringify(parseAddress("localhost:0")) !== JSON.stringify({ hostname: "localhost", port: 0 })) throw new Error("unexpected result");
 * ```
 */
export function parseAddress(address: string): Address {
  if (typeof address !== "string") {
    throw new WeftError("bad address", `Invalid address: expected a string, got ${typeof address}`);
  }
  let hostname: string;
  let portText: string;
  if (address.startsWith("[")) {
    const close = address.indexOf("]");
    if (close < 0 || address[close + 1] !== ":") throw badAddress(address);
    hostname = address.slice(1, close);
    portText = address.slice(close + 2);
    if (!hostname.includes(":")) throw badAddress(address);
  } else {
    const colon = address.lastIndexOf(":");
    if (colon <= 0) throw badAddress(address);
    hostname = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (hostname.includes(":")) throw badAddress(address);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) throw badAddress(address);
  const port = Number(portText);
  if (port > 65535 || hostname.length === 0 || /\s/.test(hostname)) throw badAddress(address);
  return { hostname, port };
}

/**
 * Formats an address as `host:port`, bracketing IPv6 hosts.
 *
 * @example
 * ```ts
 * import { formatAddress } from "@weft/cluster";
 *
 * if (formatAddress({ hostname: "::1", port: 80 }) !== "[::1]:80") throw new Error("unexpected result");
 * ```
 */
export function formatAddress(address: Address): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

function badAddress(address: string): WeftError {
  return new WeftError(
    "bad address",
    `Invalid address: expected host:port or [ipv6]:port, got "${address}"`,
  );
}
