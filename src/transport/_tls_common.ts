// Runtime-free pieces of TLS shared by the node:tls path (_tls.ts) and
// Bun's own TLS sockets (bun.ts): reading a peer certificate, and turning a
// refused client certificate or a failed handshake into a coded error.

import { WeftError } from "../errors.ts";
import type { PeerCertificate } from "./types.ts";

/** A certificate as `getPeerCertificate()` returns it (Node, Bun and Deno alike). */
export interface RawCert {
  subject?: Record<string, string | string[]>;
  issuer?: Record<string, string | string[]>;
  subjectaltname?: string;
  fingerprint256?: string;
  valid_from?: string;
  valid_to?: string;
}

function cn(name: Record<string, string | string[]> | undefined): string {
  const value = name?.CN;
  return Array.isArray(value) ? value[0] ?? "" : value ?? "";
}

/** The identity in a raw certificate, or undefined when there is none. */
export function toPeerCertificate(raw: RawCert | null | undefined): PeerCertificate | undefined {
  if (raw === null || raw === undefined || raw.fingerprint256 === undefined) return undefined;
  return {
    subject: cn(raw.subject),
    altNames: (raw.subjectaltname ?? "").split(/,\s*/).filter((s) => s !== ""),
    issuer: cn(raw.issuer),
    fingerprint256: raw.fingerprint256,
    validTo: raw.valid_to ?? "",
  };
}

/** An error's message, with its code when the message lacks it. */
export function detail(error: unknown): string {
  if (typeof error === "string") return error;
  const e = error as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === "string" ? e.message : String(error);
  return typeof e?.code === "string" && !message.includes(e.code)
    ? `${message} (${e.code})`
    : message;
}

/** True if the certificate is outside its validity period. */
function outOfDate(raw: RawCert | null | undefined): boolean {
  const from = Date.parse(raw?.valid_from ?? "");
  const to = Date.parse(raw?.valid_to ?? "");
  const now = Date.now();
  return (Number.isFinite(from) && now < from) || (Number.isFinite(to) && now > to);
}

/**
 * Why a client's certificate is refused: `certificate required` (none),
 * `certificate expired` (or not yet valid), `certificate untrusted`.
 * `reason` is the runtime's verification error.
 */
export function clientCertError(
  raw: RawCert | null | undefined,
  reason: unknown,
  remote: string,
): WeftError {
  if (toPeerCertificate(raw) === undefined) {
    return new WeftError(
      "certificate required",
      `Refused ${remote}: it presented no client certificate`,
    );
  }
  const code = typeof reason === "string"
    ? reason
    : String((reason as { code?: unknown } | null)?.code ?? "");
  // Not every runtime names expiry in its error: check the dates too.
  const expired = code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID" || outOfDate(raw);
  return new WeftError(
    expired ? "certificate expired" : "certificate untrusted",
    `Refused ${remote}: its certificate is ${
      expired ? "expired or not yet valid" : "not signed by a trusted CA"
    } (${detail(reason)})`,
    { cause: reason },
  );
}

/** What a runtime says when the bytes it got are not TLS (OpenSSL, BoringSSL, rustls). */
const NOT_TLS =
  /wrong.?version.?number|UnknownProtocolVersion|InvalidContentType|unknown.?protocol|packet.?length.?too.?long|record.?layer|corrupt.?message|http.?request/i;

/** What a runtime says when the server hung up during the handshake. */
const HUNG_UP =
  /closed the connection during the handshake|disconnected before secure TLS|socket hang up|ECONNRESET|UnexpectedEof|unexpected eof|peer closed connection/i;

/**
 * A clause naming the likely cause of a failed handshake, from the
 * runtime's words: the peer does not speak TLS (plain TCP or HTTP to a TLS
 * port), or a server that hung up mid-handshake (a plain port), or "".
 *
 * @param side The side that failed: `server` (a client's bytes were not TLS) or `client`.
 */
export function handshakeHint(side: "client" | "server", error: unknown): string {
  const text = detail(error);
  if (side === "server") {
    if (/http.?request/i.test(text)) return ": the client sent plain HTTP to this TLS port";
    if (NOT_TLS.test(text)) {
      return ": the client does not speak TLS (plain TCP, a weft node without tls options, to this TLS port)";
    }
    return "";
  }
  if (NOT_TLS.test(text)) {
    return ": the server does not speak TLS (a plain port: connect without tls)";
  }
  if (HUNG_UP.test(text)) {
    return ": the server closed the connection mid-handshake: does it speak TLS? (a plain weft port does not: connect without tls)";
  }
  return "";
}

/** `tls`: a handshake with `where` (a client, on the `server` side) failed. */
export function handshakeError(
  where: string,
  error: unknown,
  side: "client" | "server" = "server",
): WeftError {
  return new WeftError(
    "tls",
    `TLS handshake with ${where} failed: ${detail(error)}${handshakeHint(side, error)}`,
    { cause: error },
  );
}

/** `tls`: a handshake with `where` took longer than `ms`. */
export function handshakeTimeoutError(where: string, ms: number): WeftError {
  return new WeftError(
    "tls",
    `TLS handshake with ${where} timed out after ${ms} ms (does it speak TLS?)`,
  );
}
