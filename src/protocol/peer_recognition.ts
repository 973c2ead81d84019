/**
 * What is really on the other end of a connection that does not speak
 * weft, told from the first bytes it sent and from how the connection
 * ended, and what to do about it: an HTTP server or client, a TLS server or
 * client, silly (or a weft node in silly mode), a weft node of another
 * protocol version or framing, or bytes that are none of these.
 *
 * Pure: the channel keeps the first bytes (`FirstBytes`, src/protocol/mode.ts)
 * until its first frame decodes, and the modes ask here for the words of
 * their errors.
 *
 * @module
 */

import type { WeftError } from "../errors.ts";
import type { Framing } from "../wire/frame.ts";
import type { FirstBytes } from "./mode.ts";
import { ControlCmd, RESERVED_CMD_MIN, WEFT_VERSION } from "./weft/protocol.ts";

/** What the other end turned out to be. */
export type PeerKind =
  /** It answered with an HTTP status line. */
  | "http server"
  /** It sent an HTTP request line (or HTTP/2's preface). */
  | "http client"
  /** It answered with a TLS record (an alert): a TLS port, and this side spoke plain TCP. */
  | "tls server"
  /** It sent a TLS ClientHello to this plain listener. */
  | "tls client"
  /** It sent weft's HELLO (or HELLO_ACK) of another protocol version. */
  | "weft version"
  /** It sent weft's HELLO in the other framing. */
  | "weft framing"
  /** It sent silly's frames (this node's framing) without weft's handshake. */
  | "silly"
  /** Its bytes read as complete frames of the other framing only. */
  | "silly framing"
  /** None of the above. */
  | "unknown bytes";

/** A peer recognised by {@linkcode recognisePeer}. */
export interface Recognition {
  /** What it is. */
  kind: PeerKind;
  /** It, as a phrase: `an HTTP server (it answered "HTTP/1.1 400 Bad Request")`. */
  what: string;
  /** What to do, as a clause: `check the address: weft does not speak HTTP`. */
  advice: string;
}

/** Where a connection stands when its peer is to be recognised. */
export interface PeerSituation {
  /** What arrived before the first frame. */
  first: FirstBytes;
  /** The framing this node reads. */
  framing: Framing;
  /** The largest frame body this node accepts. */
  hardLimit: number;
  /** True on the side that connected (it sent weft's HELLO, in weft mode). */
  connecting?: boolean;
  /** Set if the connection is TLS: whether this side presented a certificate. */
  tls?: { readonly clientCert: boolean } | undefined;
}

const HTTP_METHODS = [
  "GET ",
  "POST ",
  "PUT ",
  "HEAD ",
  "DELETE ",
  "OPTIONS ",
  "PATCH ",
  "CONNECT ",
  "TRACE ",
  "PRI * HTTP/2",
];

function startsWith(bytes: Uint8Array, text: string): boolean {
  if (bytes.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

/** The first line of `bytes` as text, if it is printable ASCII (cut at 60 characters). */
function firstLine(bytes: Uint8Array): string {
  let line = "";
  for (const byte of bytes) {
    if (byte === 13 || byte === 10) break;
    if (byte < 0x20 || byte > 0x7e) return line;
    if (line.length === 60) return `${line}...`;
    line += String.fromCharCode(byte);
  }
  return line;
}

/** Up to 16 bytes in hex, with the text when all are printable. */
export function showBytes(bytes: Uint8Array): string {
  const shown = bytes.subarray(0, 16);
  const hex = Array.from(shown, (b) => b.toString(16).padStart(2, "0")).join(" ");
  const more = bytes.length > shown.length ? " ..." : "";
  const printable = shown.every((b) => (b >= 0x20 && b <= 0x7e) || b === 9 || b === 10 || b === 13);
  if (!printable || shown.length === 0) return `${hex}${more}`;
  return `${hex}${more} ("${
    String.fromCharCode(...shown).replace(/\r/g, "\\r").replace(/\n/g, "\\n")
  }${more === "" ? "" : "..."}")`;
}

const TLS_ALERT_DESCRIPTIONS: Record<number, string> = {
  10: "unexpected_message",
  20: "bad_record_mac",
  22: "record_overflow",
  40: "handshake_failure",
  42: "bad_certificate",
  45: "certificate_expired",
  48: "unknown_ca",
  50: "decode_error",
  70: "protocol_version",
  80: "internal_error",
  116: "certificate_required",
};

function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** "WEFT" at `at`. */
function weftMagicAt(b: Uint8Array, at: number): boolean {
  return b.length >= at + 6 && b[at] === 0x57 && b[at + 1] === 0x45 && b[at + 2] === 0x46 &&
    b[at + 3] === 0x54;
}

/** Where a HELLO payload starts in `framing`: after the 20-byte v2 header, or after v1's 2-byte length. */
function helloAt(framing: Framing): number {
  return framing === "v2" ? 20 : 2;
}

/**
 * Whether `b` starts as a frame of silly's `framing`: a length within the
 * hard limit and, in v2, a plausible session and cmd; with `whole`, the
 * frame is complete within the `received` bytes (the only reliable sign in
 * v1, whose session and cmd come last).
 */
function sillyFrame(
  b: Uint8Array,
  framing: Framing,
  hardLimit: number,
  received: number,
  whole: boolean,
): boolean {
  if (framing === "v2") {
    if (b.length < 8) return false;
    const length = u32le(b, 0);
    if (length < 4 || length > hardLimit) return false;
    if (whole && 4 + length > received) return false;
    if ((u32le(b, 4) & 0x80000000) !== 0) return true;
    return length >= 16 && b.length >= 12 && u32le(b, 8) < RESERVED_CMD_MIN;
  }
  if (b.length < 2) return false;
  const length = (b[0]! << 8) | b[1]!;
  return length >= 4 && 2 + length <= received;
}

/**
 * What the first bytes say the peer is, or undefined when they say
 * nothing (no bytes yet, or too few to tell).
 */
export function recognisePeer(s: PeerSituation): Recognition | undefined {
  const b = s.first.view();
  if (b.length === 0) return undefined;
  // TLS records: content type 20-23, version 3.x.
  if (b.length >= 3 && b[0]! >= 20 && b[0]! <= 23 && b[1] === 3 && b[2]! <= 4) {
    if (b[0] === 22 && (b.length < 6 || b[5] === 1)) {
      return {
        kind: "tls client",
        what: "a TLS client (it sent a TLS ClientHello)",
        advice:
          "this listener is plain TCP: give it tls options (cert and key), or connect without tls",
      };
    }
    const alert = b[0] === 21 && b.length >= 7
      ? `, alert ${TLS_ALERT_DESCRIPTIONS[b[6]!] ?? b[6]}`
      : "";
    return {
      kind: "tls server",
      what: `a TLS server (it answered with a TLS record${alert})`,
      advice: "connect with tls options (at least tls.ca, the CA that signed its certificate)",
    };
  }
  if (startsWith(b, "HTTP/")) {
    return {
      kind: "http server",
      what: `an HTTP server (it answered "${firstLine(b)}")`,
      advice:
        "check the address: weft speaks its own binary protocol over TCP, not HTTP, so point this node at a weft node's port",
    };
  }
  if (HTTP_METHODS.some((m) => startsWith(b, m))) {
    return {
      kind: "http client",
      what: `an HTTP client (it sent "${firstLine(b)}")`,
      advice:
        "this port speaks weft's binary protocol, not HTTP; to serve stats over HTTP, answer GET /metrics with prometheusText (examples/stats_http.ts)",
    };
  }
  const other: Framing = s.framing === "v2" ? "v1" : "v2";
  for (const framing of [s.framing, other]) {
    const at = helloAt(framing);
    if (!weftMagicAt(b, at)) continue;
    const cmdAt = framing === "v2" ? 8 : undefined;
    const isControl = cmdAt === undefined || b.length < cmdAt + 4 ||
      u32le(b, cmdAt) === ControlCmd.Hello || u32le(b, cmdAt) === ControlCmd.HelloAck;
    if (!isControl) continue;
    if (framing !== s.framing) {
      return {
        kind: "weft framing",
        what: `a weft node using framing "${framing}" (this node: "${s.framing}")`,
        advice: `give both nodes the same framing option`,
      };
    }
    const version = b[at + 4]! | (b[at + 5]! << 8);
    if (version !== WEFT_VERSION) {
      return {
        kind: "weft version",
        what: `a weft node of protocol version ${version} (this node: ${WEFT_VERSION})`,
        advice: "run the same weft protocol version on both nodes (upgrade the older one)",
      };
    }
    return undefined; // weft, of this version and framing: nothing to say
  }
  if (sillyFrame(b, s.framing, s.hardLimit, s.first.received, false)) {
    return {
      kind: "silly",
      what: s.connecting
        ? "a silly node, or a weft node in silly mode (it answered weft's HELLO with silly's frames)"
        : "a silly node, or a weft node in silly mode (it sent silly's frames without weft's HELLO)",
      advice: s.connecting
        ? 'talk to it with protocol "silly"'
        : 'serve it with protocol "silly" on this node, or make it speak weft',
    };
  }
  if (sillyFrame(b, other, s.hardLimit, s.first.received, true)) {
    return {
      kind: "silly framing",
      what:
        `a node using framing "${other}" (this node: "${s.framing}"): the first bytes read as a complete frame of silly's ${other} framing`,
      advice: `give both nodes the same framing option`,
    };
  }
  const enough = s.framing === "v2" ? 8 : 2;
  if (b.length < enough) return undefined;
  return {
    kind: "unknown bytes",
    what: `neither weft nor silly (its first bytes: ${showBytes(b)})`,
    advice: "check the address: something other than a weft or silly node answers there",
  };
}

/**
 * A sentence to append to an error (a decode failure, a handshake or frame
 * timeout) naming what the first bytes say the peer is, or `""`. Kept for
 * the messages that already name the mismatch in their own words: weft
 * peers of this framing and version get nothing.
 *
 * @param framing The framing this node reads.
 * @param first What arrived before the first frame.
 * @param hardLimit The largest body this node accepts.
 */
export function firstBytesHint(framing: Framing, first: FirstBytes, hardLimit: number): string {
  const seen = recognisePeer({ first, framing, hardLimit });
  if (seen === undefined || seen.kind === "silly" || seen.kind === "unknown bytes") return "";
  const other = framing === "v2" ? "v1" : "v2";
  if (seen.kind === "silly framing") {
    return `; the first bytes read as a complete frame of silly's ${other} framing: the peer likely uses framing "${other}" (this node: "${framing}")`;
  }
  if (seen.kind === "weft framing") {
    return `; the first bytes are weft's HELLO in framing "${other}": the peer likely uses framing "${other}" (this node: "${framing}")`;
  }
  return `; the peer is ${seen.what}: ${seen.advice}`;
}

/**
 * The detail of a protocol mismatch at weft's handshake: the peer's first
 * frame was not HELLO (accepting side) or HELLO_ACK (connecting side), or
 * its first length prefix was longer than any handshake frame. Names what
 * the peer is when its bytes tell.
 *
 * @param peer The peer, as named in logs.
 * @param s The connection's first bytes and this node's settings.
 * @param detail Why the frame was refused (a decode error), if it was.
 */
export function handshakeMismatch(peer: string, s: PeerSituation, detail?: string): string {
  const why = detail === undefined ? "" : ` (${detail})`;
  const head = s.connecting
    ? `${peer} answered without weft's HELLO_ACK${why}`
    : `${peer} sent frames without weft's HELLO${why}`;
  const seen = recognisePeer(s);
  if (seen === undefined) {
    return `${head}: it does not speak weft's protocol (a silly node? use protocol "silly" to talk to it)`;
  }
  return `${head}: it is ${seen.what}: ${seen.advice}`;
}

/** TLS alerts a runtime's error may name (OpenSSL: "tlsv13 alert certificate required", rustls: "CertificateRequired"). */
const TLS_ALERTS: readonly [RegExp, string][] = [
  [/certificate[ _]?required/i, "certificate required"],
  [/unknown[ _]?ca/i, "unknown ca"],
  [/bad[ _]?certificate/i, "bad certificate"],
  [/certificate[ _]?expired/i, "certificate expired"],
  [/certificate[ _]?revoked/i, "certificate revoked"],
  [/certificate[ _]?unknown/i, "certificate unknown"],
  [/unsupported[ _]?certificate/i, "unsupported certificate"],
  [/access[ _]?denied/i, "access denied"],
];

/** The TLS alert named in a runtime's error message, if any. */
function tlsAlert(message: string): string | undefined {
  return TLS_ALERTS.find(([pattern]) => pattern.test(message))?.[1];
}

function messagesOf(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const m = e as { message?: unknown; code?: unknown };
    if (typeof m.message === "string") parts.push(m.message);
    if (typeof m.code === "string") parts.push(m.code);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(" | ");
}

/**
 * The message of a connection that closed on the connecting side before
 * the peer answered weft's HELLO. A TLS server that refuses a client
 * certificate closes right after the handshake, and no runtime reliably
 * hands the client its alert (Deno and Node see a plain close, Bun a
 * reset), so a TLS connection closed without a byte is taken as that
 * refusal: certificate required if this side presented none, refused if it
 * did. Otherwise: what the bytes the peer sent say it is, or the likely
 * causes.
 *
 * @param peer The peer, as named in logs.
 * @param s The connection's first bytes and this node's settings.
 * @param error The transport's error, if the connection ended with one.
 */
export function closedBeforeHello(peer: string, s: PeerSituation, error?: WeftError): string {
  const alert = error === undefined ? undefined : tlsAlert(messagesOf(error));
  const refusedCert = s.tls !== undefined && s.first.received === 0;
  if (
    alert === "certificate required" || (refusedCert && !s.tls!.clientCert && alert === undefined)
  ) {
    return `${peer} closed the TLS connection before answering weft's HELLO: it most likely requires a client certificate (mutual TLS) and this node presented none: give this node tls.cert and tls.key, signed by a CA the peer trusts (or it is a node in silly mode; its log says which)`;
  }
  if (alert !== undefined || refusedCert) {
    const why = alert === undefined ? "" : ` (TLS alert: ${alert})`;
    return `${peer} closed the TLS connection before answering weft's HELLO: it most likely refused this node's client certificate${why}: give this node a tls.cert signed by a CA the peer trusts, and in date (or it is a node in silly mode; its log says which)`;
  }
  const seen = recognisePeer(s);
  if (seen !== undefined) {
    return `Connection closed by ${peer} before it answered weft's HELLO: it is ${seen.what}: ${seen.advice}`;
  }
  return `Connection closed by ${peer} before it answered weft's HELLO: it refused this node (its log says why: a connection cap, a refused key, its accept hook), or it is not a weft node: a node in silly mode (use protocol "silly"), or a TLS port (this connection is plain TCP: set tls)`;
}
