// Runtime errors to weft's coded errors, shared by the Deno, Bun and Node
// adapters. Runtime-free: it only reads `code`, `name` and `message`.

import { type ErrorCode, WeftError } from "../errors.ts";

const BY_CODE: Record<string, ErrorCode> = {
  ECONNREFUSED: "connection refused",
  ConnectionRefused: "connection refused",
  ENOTFOUND: "host not found",
  EAI_NONAME: "host not found",
  EAI_AGAIN: "host not found",
  EAI_FAIL: "host not found",
  EAI_NODATA: "host not found",
  EADDRINUSE: "address in use",
  AddrInUse: "address in use",
};

const DNS_MESSAGE =
  /failed to lookup address|name or service not known|name resolution|nodename nor servname|getaddrinfo/i;

const RESET_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ConnectionReset",
  "BrokenPipe",
  "ConnectionAborted",
  "ECONNABORTED",
]);

function field(error: unknown, key: "code" | "name" | "message"): string {
  if (typeof error !== "object" || error === null) return "";
  const value = (error as Record<string, unknown>)[key];
  return typeof value === "string" ? value : "";
}

/** The weft code for a runtime error met while connecting or listening. */
export function codeOf(error: unknown): ErrorCode {
  for (const key of ["code", "name"] as const) {
    const code = BY_CODE[field(error, key)];
    if (code !== undefined) return code;
  }
  // Node's happy-eyeballs connect reports an AggregateError of attempts.
  const inner = (error as { errors?: unknown } | null)?.errors;
  if (Array.isArray(inner) && inner.length > 0) return codeOf(inner[0]);
  // Deno reports a DNS failure as a plain Error with the resolver's message.
  if (DNS_MESSAGE.test(field(error, "message"))) return "host not found";
  return "transport";
}

/**
 * A TypeError naming the TLS option behind a runtime's PEM or key error
 * (OpenSSL's and BoringSSL's codes), or undefined for any other error.
 */
export function tlsOptionError(error: unknown): TypeError | undefined {
  const text = `${field(error, "code")} ${field(error, "message")}`;
  if (/KEY_VALUES_MISMATCH|key values mismatch/i.test(text)) {
    return new TypeError(
      `Invalid option tls.key: it is not the private key of tls.cert (${field(error, "message")})`,
    );
  }
  if (/ERR_OSSL_PEM|PEM routines|BAD_BASE64|no start line/i.test(text)) {
    return new TypeError(
      `Invalid option tls.cert or tls.key: the runtime cannot read it as PEM (${
        field(error, "message")
      })`,
    );
  }
  return undefined;
}

/** Maps a connect or listen failure to a WeftError, the runtime error as `cause`. */
export function mapError(error: unknown, what: string, address: string): Error {
  // Coded errors and caller bugs (TypeError, RangeError) pass through.
  if (error instanceof WeftError || error instanceof TypeError || error instanceof RangeError) {
    return error;
  }
  const option = tlsOptionError(error);
  if (option !== undefined) return option;
  const code = codeOf(error);
  const detail = field(error, "message") || String(error);
  return new WeftError(code, `Cannot ${what} ${address}: ${detail}`, { cause: error });
}

/** Whether a read or write error means the peer went away (reset, broken pipe). */
export function isReset(error: unknown): boolean {
  return RESET_CODES.has(field(error, "code")) || RESET_CODES.has(field(error, "name"));
}

/**
 * The error of a reset or broken pipe: the peer went away, which is a close
 * (`closed`), whichever runtime noticed it first and how.
 */
export function resetError(error: unknown): WeftError {
  const detail = field(error, "message") || String(error);
  return new WeftError("closed", `Connection reset by the remote end: ${detail}`, { cause: error });
}

/** The error of an I/O failure on an open connection. */
export function ioError(error: unknown): WeftError {
  if (error instanceof WeftError) return error;
  const detail = field(error, "message") || String(error);
  return new WeftError("transport", `Connection failed: ${detail}`, { cause: error });
}

/** `closed`: a write or drain on a closed connection. */
export function closedError(): WeftError {
  return new WeftError("closed", "Connection closed");
}

/** `connect timeout` after `ms` milliseconds. */
export function connectTimeoutError(address: string, ms: number): WeftError {
  return new WeftError(
    "connect timeout",
    `Cannot connect to ${address}: no connection after ${ms} ms`,
  );
}

/** `aborted`, the signal's reason as `cause`. */
export function abortedError(address: string, reason: unknown): WeftError {
  return new WeftError("aborted", `Connect to ${address} aborted`, { cause: reason });
}
