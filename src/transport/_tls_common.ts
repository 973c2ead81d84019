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

/** `tls`: a handshake with `where` failed. */
export function handshakeError(where: string, error: unknown): WeftError {
  return new WeftError("tls", `TLS handshake with ${where} failed: ${detail(error)}`, {
    cause: error,
  });
}

/** `tls`: a handshake with `where` took longer than `ms`. */
export function handshakeTimeoutError(where: string, ms: number): WeftError {
  return new WeftError(
    "tls",
    `TLS handshake with ${where} timed out after ${ms} ms (does it speak TLS?)`,
  );
}
