// Option validation and the connect deadline, shared by the socket adapters.

import { abortController, type AbortSignalLike, startRefTimer, stopTimer } from "../_platform.ts";

import {
  DEFAULT_BACKLOG,
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_HIGH_WATER_MARK,
  parseAddress,
} from "./address.ts";
import type {
  Address,
  AdmitHandler,
  ConnectOptions,
  ListenOptions,
  TlsConnectOptions,
  TlsListenOptions,
  TlsVersion,
} from "./types.ts";
import type { WeftError } from "../errors.ts";
import { abortedError, connectTimeoutError, mapError } from "./_errors.ts";

/** Connect options with every default filled in. */
export interface ResolvedConnectOptions {
  signal: AbortSignalLike | undefined;
  timeout: number;
  noDelay: boolean;
  highWaterMark: number;
  tls: ResolvedTls | undefined;
}

/** Listen options with every default filled in. */
export interface ResolvedListenOptions {
  backlog: number;
  noDelay: boolean;
  highWaterMark: number;
  tls: ResolvedTls | undefined;
  onRefused: ((error: WeftError, remote: Address | undefined) => void) | undefined;
  admit: AdmitHandler | undefined;
}

/** TLS settings, checked, with defaults. */
export interface ResolvedTls {
  cert: string | undefined;
  key: string | undefined;
  ca: string[] | undefined;
  minVersion: TlsVersion;
  handshakeTimeout: number;
  serverName: string | undefined;
  requireClientCert: boolean;
}

/** Default TLS handshake timeout, in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** The labels of a PEM text's blocks (`CERTIFICATE`, `PRIVATE KEY`, ...). */
function pemLabels(text: string): string[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]!);
}

const isKeyLabel = (label: string) => /PRIVATE KEY$/.test(label);
const isCertLabel = (label: string) => /CERTIFICATE$/.test(label) && !/REQUEST$/.test(label);

/**
 * A PEM option's text, checked for what it must hold: a certificate
 * (`tls.cert`, `tls.ca`) or an unencrypted private key (`tls.key`). The
 * usual mistakes (a file name instead of its contents, cert and key
 * swapped, an encrypted key, a certificate request) are named.
 */
function pem(value: unknown, option: string, want: "certificate" | "key"): string | undefined {
  if (value === undefined) return undefined;
  const example = want === "key" ? "-----BEGIN PRIVATE KEY-----" : "-----BEGIN CERTIFICATE-----";
  if (typeof value !== "string") {
    throw new TypeError(
      `Invalid option ${option}: expected PEM text (${example} ...), got ${
        value === null ? "null" : typeof value
      }`,
    );
  }
  const labels = pemLabels(value);
  if (labels.length === 0) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    throw new TypeError(
      `Invalid option ${option}: expected PEM text (${example} ...), got ${JSON.stringify(shown)}${
        /^[^\n]{1,200}\.(pem|crt|cer|key)$/i.test(value.trim())
          ? ' (a file name? pass the file\'s contents: readFileSync(path, "utf8"))'
          : ""
      }`,
    );
  }
  const other = want === "key" ? "tls.cert" : "tls.key";
  if (want === "key") {
    if (labels.includes("ENCRYPTED PRIVATE KEY")) {
      throw new TypeError(
        `Invalid option ${option}: an encrypted private key (-----BEGIN ENCRYPTED PRIVATE KEY-----); weft takes no passphrase: decrypt it first (openssl pkey -in key.pem -out key-plain.pem)`,
      );
    }
    if (!labels.some(isKeyLabel)) {
      const swapped = labels.some(isCertLabel) ? `: are ${option} and ${other} swapped?` : "";
      throw new TypeError(
        `Invalid option ${option}: expected a private key (${example}), got ${
          labels.map((l) => `-----BEGIN ${l}-----`).join(", ")
        }${swapped}`,
      );
    }
    return value;
  }
  if (!labels.some(isCertLabel)) {
    const swapped = labels.some(isKeyLabel)
      ? option === "tls.cert"
        ? `: are tls.cert and tls.key swapped?`
        : ": a private key is never a CA"
      : labels.includes("CERTIFICATE REQUEST")
      ? ": a certificate request, not yet signed by a CA"
      : "";
    throw new TypeError(
      `Invalid option ${option}: expected a certificate (${example}), got ${
        labels.map((l) => `-----BEGIN ${l}-----`).join(", ")
      }${swapped}`,
    );
  }
  return value;
}

/**
 * Validates TLS settings (`tls` of connect or listen options).
 *
 * @throws {TypeError} If a setting has the wrong type, or a listener lacks `cert`/`key`.
 * @throws {RangeError} If `handshakeTimeout` is out of range.
 */
export function tlsOptions(
  value: TlsConnectOptions | TlsListenOptions | undefined,
  listen: boolean,
): ResolvedTls | undefined {
  if (value === undefined) return undefined;
  const o = object(value, "tls options");
  const cert = pem(o.cert, "tls.cert", "certificate");
  const key = pem(o.key, "tls.key", "key");
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError("Invalid option tls.key: tls.cert and tls.key go together");
  }
  if (listen && cert === undefined) {
    throw new TypeError("Invalid option tls.cert: a TLS listener needs cert and key");
  }
  const caValue = o.ca;
  const ca = caValue === undefined
    ? undefined
    : (Array.isArray(caValue) ? caValue : [caValue]).map((c, i) =>
      pem(c, Array.isArray(caValue) ? `tls.ca[${i}]` : "tls.ca", "certificate")!
    );
  const minVersion = o.minVersion ?? "TLSv1.2";
  if (minVersion !== "TLSv1.2" && minVersion !== "TLSv1.3") {
    throw new TypeError(
      `Invalid option tls.minVersion: expected "TLSv1.2" or "TLSv1.3", got ${String(minVersion)}`,
    );
  }
  const serverName = o.serverName;
  if (serverName !== undefined && (typeof serverName !== "string" || serverName === "")) {
    throw new TypeError("Invalid option tls.serverName: expected a host name");
  }
  const requireClientCert = boolean(o.requireClientCert, "tls.requireClientCert", false);
  if (requireClientCert && ca === undefined) {
    throw new TypeError("Invalid option tls.ca: requireClientCert needs the CA that signs clients");
  }
  return {
    cert,
    key,
    ca,
    minVersion,
    handshakeTimeout: integer(
      o.handshakeTimeout,
      "tls.handshakeTimeout",
      DEFAULT_HANDSHAKE_TIMEOUT,
      1,
      2 ** 31 - 1,
    ),
    serverName: serverName as string | undefined,
    requireClientCert,
  };
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null) {
    throw new TypeError(
      `Invalid ${what}: expected an object, got ${value === null ? "null" : typeof value}`,
    );
  }
  return value as Record<string, unknown>;
}

function integer(
  value: unknown,
  option: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`Invalid option ${option}: expected a number, got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Invalid option ${option}: expected an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

function boolean(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new TypeError(`Invalid option ${option}: expected a boolean, got ${typeof value}`);
  }
  return value;
}

/**
 * Validates connect options.
 *
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If an option is out of range.
 */
export function connectOptions(options: ConnectOptions | undefined): ResolvedConnectOptions {
  const o = object(options, "connect options");
  const signal = o.signal;
  if (
    signal !== undefined &&
    (typeof signal !== "object" || signal === null || !("aborted" in signal))
  ) {
    throw new TypeError("Invalid option signal: expected an AbortSignal");
  }
  return {
    signal: signal as AbortSignalLike | undefined,
    timeout: integer(o.timeout, "timeout", DEFAULT_CONNECT_TIMEOUT, 1, 2 ** 31 - 1),
    noDelay: boolean(o.noDelay, "noDelay", true),
    highWaterMark: integer(
      o.highWaterMark,
      "highWaterMark",
      DEFAULT_HIGH_WATER_MARK,
      1,
      2 ** 31 - 1,
    ),
    tls: tlsOptions(o.tls as TlsConnectOptions | undefined, false),
  };
}

/**
 * Validates listen options.
 *
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If an option is out of range.
 */
export function listenOptions(options: ListenOptions | undefined): ResolvedListenOptions {
  const o = object(options, "listen options");
  return {
    backlog: integer(o.backlog, "backlog", DEFAULT_BACKLOG, 1, 65535),
    noDelay: boolean(o.noDelay, "noDelay", true),
    highWaterMark: integer(
      o.highWaterMark,
      "highWaterMark",
      DEFAULT_HIGH_WATER_MARK,
      1,
      2 ** 31 - 1,
    ),
    tls: tlsOptions(o.tls as TlsListenOptions | undefined, true),
    onRefused: fn(o.onRefused, "onRefused"),
    admit: fn(o.admit, "admit"),
  };
}

function fn<T>(value: unknown, option: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "function") {
    throw new TypeError(`Invalid option ${option}: expected a function, got ${typeof value}`);
  }
  return value as T;
}

/**
 * Validates the arguments of `listen`: the address, the accept callback and
 * the options.
 *
 * @throws {WeftError} `bad address` if the address is not `host:port`.
 * @throws {TypeError} If `onAccept` is not a function or an option has the wrong type.
 * @throws {RangeError} If an option is out of range.
 */
export function listenArgs(
  address: string,
  onAccept: unknown,
  options: ListenOptions | undefined,
): { target: Address; options: ResolvedListenOptions } {
  if (typeof onAccept !== "function") {
    throw new TypeError("Invalid onAccept: expected a function");
  }
  const resolved = listenOptions(options);
  return { target: parseAddress(address), options: resolved };
}

/**
 * Runs one connect attempt under the signal and the connect timeout.
 *
 * `attempt` gets a signal that aborts when the caller's signal aborts or the
 * timeout fires; it should give up then. Whatever it resolves with after the
 * deadline has passed is handed to `discard` (for runtimes whose connect
 * cannot be cancelled). Runtime errors are mapped to coded errors.
 */
export function connectWithin<T>(
  address: string,
  connectOptions_: ConnectOptions | undefined,
  attempt: (
    target: Address,
    signal: AbortSignalLike,
    options: ResolvedConnectOptions,
  ) => Promise<T>,
  discard: (value: T) => void,
): Promise<T> {
  // Bad options and addresses reject, like every other failure.
  let target: Address;
  let options: ResolvedConnectOptions;
  try {
    options = connectOptions(connectOptions_);
    target = parseAddress(address);
  } catch (error) {
    return Promise.reject(error);
  }
  const { signal, timeout } = options;
  if (signal?.aborted) return Promise.reject(abortedError(address, signal.reason));
  return new Promise<T>((resolve, reject) => {
    const cancel = abortController();
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      stopTimer(timer);
      signal?.removeEventListener("abort", onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (!finish()) return;
      reject(abortedError(address, signal?.reason));
      cancel.abort(signal?.reason);
    };
    const timer = startRefTimer(() => {
      if (!finish()) return;
      reject(connectTimeoutError(address, timeout));
      cancel.abort(connectTimeoutError(address, timeout));
    }, timeout);
    signal?.addEventListener("abort", onAbort, { once: true });
    attempt(target, cancel.signal, options).then(
      (value) => {
        if (finish()) resolve(value);
        else discard(value);
      },
      (error) => {
        if (finish()) reject(mapError(error, "connect to", address));
      },
    );
  });
}
