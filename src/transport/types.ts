/**
 * The transport contract: what weft needs from a byte stream, and nothing
 * more. Adapters for Deno, Bun, node:net and an in-memory network implement
 * it; the wire, session and cluster layers see only this interface.
 *
 * @module
 */

import type { AbortSignalLike } from "../_platform.ts";
import type { WeftError } from "../errors.ts";

/** A socket address. IPv6 hostnames are bare (`::1`), without brackets. */
export interface Address {
  /** Host name or IP address. */
  hostname: string;
  /** Port number, 0 to 65535. */
  port: number;
}

/** Why a connection closed. */
export type CloseReason =
  /** The remote end closed the stream (EOF) or reset it. */
  | "remote"
  /** A read or write failed; see `error`. */
  | "error"
  /** `close()` was called on this side. */
  | "local";

/** TLS protocol versions weft accepts as a minimum. */
export type TlsVersion = "TLSv1.2" | "TLSv1.3";

/**
 * The identity in the certificate the other end presented (TLS only): the
 * server's on a connecting side, the client's on an accepting side that
 * asked for one.
 */
export interface PeerCertificate {
  /** The subject's common name (CN), or `""`. */
  subject: string;
  /** Subject alternative names, as `DNS:name`, `IP Address:1.2.3.4`, `URI:...`. */
  altNames: string[];
  /** The issuer's common name (CN), or `""`. */
  issuer: string;
  /** SHA-256 fingerprint, upper-case hex pairs joined by `:`. */
  fingerprint256: string;
  /** End of validity, as the runtime prints it (e.g. `Jan  2 00:00:00 2027 GMT`). */
  validTo: string;
}

/** TLS settings shared by connect and listen. PEM strings throughout. */
export interface TlsCommonOptions {
  /** This end's certificate chain (PEM): the server's, or the client's for mutual TLS. */
  cert?: string;
  /** The private key of `cert` (PEM). */
  key?: string;
  /**
   * Trusted CA certificates (PEM). Connect: verifies the server (default:
   * the runtime's public roots). Listen: verifies client certificates.
   */
  ca?: string | string[];
  /**
   * The lowest TLS version accepted.
   *
   * @default {"TLSv1.2"}
   */
  minVersion?: TlsVersion;
  /**
   * Milliseconds the TLS handshake may take before the connection is
   * dropped (a peer that speaks plain TCP to a TLS end, or stalls inside
   * the handshake).
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
}

/** TLS settings of {@linkcode Transport.prototype.connect}. */
export interface TlsConnectOptions extends TlsCommonOptions {
  /**
   * The name the server's certificate must carry (and the SNI sent).
   *
   * @default {the host of the address}
   */
  serverName?: string;
}

/** TLS settings of {@linkcode Transport.prototype.listen}; `cert` and `key` are required. */
export interface TlsListenOptions extends TlsCommonOptions {
  /**
   * Mutual TLS: every client must present a certificate signed by `ca`;
   * a connection without one, or with an expired or untrusted one, is
   * refused (`certificate required`, `certificate expired`, `certificate
   * untrusted`) and never reaches `onAccept`.
   *
   * @default {false}
   */
  requireClientCert?: boolean;
}

/** What a closed connection reports. */
export interface CloseInfo {
  /** Who or what closed the connection. */
  reason: CloseReason;
  /** The coded error, when `reason` is `"error"` (or a reset seen as one). */
  error?: WeftError;
}

/**
 * What a connection tells its owner. Set with
 * {@linkcode Connection.prototype.start}; nothing is delivered before.
 */
export interface ConnectionHandler {
  /**
   * A chunk arrived. Chunks arrive in stream order, one call at a time.
   *
   * Ownership: the chunk is a plain `Uint8Array` view that is valid only
   * during this call; the adapter may reuse its memory for the next read.
   * Copy whatever must outlive the call.
   */
  data(chunk: Uint8Array): void;
  /**
   * The send buffer went from over the high-water mark to empty (or below
   * the low-water mark): the writer may produce again. Called only after a
   * `write()` returned `false`.
   */
  drain?(): void;
  /**
   * The connection closed, once, after the last `data` call. Not called for
   * a connection that was closed before `start()`.
   */
  close(info: CloseInfo): void;
}

/**
 * One byte-stream connection.
 *
 * Ordering: bytes are written in `write()` call order and delivered to the
 * peer in that order; chunk boundaries are not preserved.
 */
export interface Connection {
  /** The address of this end. */
  readonly localAddress: Address;
  /** The address of the other end. */
  readonly remoteAddress: Address;
  /** TLS: the certificate the other end presented, if any. */
  readonly peerCertificate?: PeerCertificate | undefined;
  /** Bytes accepted by `write()` and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /** `true` once the connection is closed, whatever closed it. */
  readonly isClosed: boolean;
  /**
   * Resolves once the connection is fully closed and its resources freed,
   * with the reason. Never rejects.
   */
  readonly closed: Promise<CloseInfo>;

  /**
   * Starts delivering events to `handler`. Call once; data that arrived
   * before is held (reading stays paused) until then.
   *
   * @throws {TypeError} If called twice.
   */
  start(handler: ConnectionHandler): void;

  /**
   * Queues bytes for sending.
   *
   * Ownership: the transport takes the bytes. It may hold them until they
   * are sent, so the caller must not modify them after the call (hand over
   * a fresh buffer or a region that will not be written again).
   *
   * Backpressure: returns `false` when the buffered amount is over the
   * high-water mark after this write. The bytes are still queued; the
   * caller should stop producing until the handler's `drain` is called (or
   * `drained()` resolves).
   *
   * @throws {WeftError} `closed` if the connection is closed.
   */
  write(bytes: Uint8Array): boolean;

  /**
   * Resolves when the send buffer is under the high-water mark: at once if
   * it already is. Rejects with `closed` if the connection closes first.
   */
  drained(): Promise<void>;

  /**
   * Stops reading: no `data` calls until `resume()`. The operating system's
   * receive buffer fills and TCP flow control then stops the sender.
   */
  pause(): void;

  /** Resumes reading after `pause()`. */
  resume(): void;

  /**
   * Closes the connection: queued bytes are flushed if possible, then the
   * socket is closed. Resolves when it is fully closed (same as `closed`).
   * Calling it again is harmless and returns the same promise.
   */
  close(): Promise<CloseInfo>;
}

/** Options of {@linkcode Transport.prototype.connect}. */
export interface ConnectOptions {
  /** Aborts the connect attempt; rejects with `aborted` carrying the reason. */
  signal?: AbortSignalLike;
  /**
   * Milliseconds to wait for the connection; rejects with `connect timeout`.
   *
   * @default {10000}
   */
  timeout?: number;
  /**
   * Disable Nagle's algorithm (TCP_NODELAY).
   *
   * @default {true}
   */
  noDelay?: boolean;
  /**
   * Send-buffer bytes over which `write()` returns `false`.
   *
   * @default {65536}
   */
  highWaterMark?: number;
  /**
   * Connect over TLS with these settings; the connection resolves once the
   * handshake is done and the server's certificate verified (a failure
   * rejects with `tls`). The connect timeout covers the handshake.
   */
  tls?: TlsConnectOptions;
}

/** Options of {@linkcode Transport.prototype.listen}. */
export interface ListenOptions {
  /**
   * Maximum length of the queue of pending connections.
   *
   * @default {511}
   */
  backlog?: number;
  /**
   * TCP_NODELAY on accepted connections.
   *
   * @default {true}
   */
  noDelay?: boolean;
  /**
   * Send-buffer high-water mark of accepted connections.
   *
   * @default {65536}
   */
  highWaterMark?: number;
  /**
   * Accept TLS only, with these settings: connections are handed to
   * `onAccept` once their handshake is done (and, with
   * `requireClientCert`, their certificate verified).
   */
  tls?: TlsListenOptions;
  /**
   * Told about each connection refused before `onAccept`: a failed or
   * timed-out TLS handshake (`tls`), a missing, expired or untrusted client
   * certificate. The connection is already closed.
   */
  onRefused?: (error: WeftError, remote: Address | undefined) => void;
  /**
   * The listener's gate, asked at each TCP accept, before any TLS handshake
   * and before `onAccept`: it returns `undefined` to refuse (the socket is
   * closed at once and reaches neither `onAccept` nor `onRefused`), or a
   * release function, which the transport calls exactly once when that
   * socket closes, whatever the stage: a failed or timed-out handshake, or
   * the end of the connection `onAccept` got. `close` closes the socket at
   * any stage (a gate may evict a connection it admitted). A connection in
   * its TLS handshake thus counts as much as an open one.
   */
  admit?: AdmitHandler;
}

/** A listening socket. */
export interface Listener {
  /** The bound address; the real port when listening on port 0. */
  readonly address: Address;
  /**
   * Stops accepting. Connections already accepted stay open. Resolves when
   * the listening socket is closed; calling it again is harmless.
   */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Called with each accepted connection, in accept order. */
export type AcceptHandler = (connection: Connection) => void;

/**
 * A listener's gate (see {@linkcode ListenOptions.admit}): given the remote
 * address of a socket just accepted and a function that closes it, returns
 * a release function, or `undefined` to refuse the socket.
 */
export type AdmitHandler = (
  remote: Address,
  close: () => void,
) => (() => void) | undefined;

/**
 * A way to make and accept byte-stream connections.
 *
 * Addresses are `host:port` strings: `127.0.0.1:8888`, `[::1]:8888`,
 * `localhost:8888`. Accepted connections are delivered to a callback
 * (rather than an async iterator) so that accepting never waits on a
 * consumer.
 */
export interface Transport {
  /** The adapter's name: `"deno"`, `"bun"`, `"node"` or `"memory"`. */
  readonly name: string;
  /**
   * Connects to `address`.
   *
   * @throws {WeftError} `bad address`, `connection refused`, `host not found`,
   * `connect timeout`, `aborted` or `transport`.
   */
  connect(address: string, options?: ConnectOptions): Promise<Connection>;
  /**
   * Listens on `address` (port 0 picks a free port) and calls `onAccept`
   * with each accepted connection.
   *
   * @throws {WeftError} `bad address`, `address in use` or `transport`.
   */
  listen(address: string, onAccept: AcceptHandler, options?: ListenOptions): Promise<Listener>;
}
