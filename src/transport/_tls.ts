// TLS connect and listen over `node:tls`, for the Node and Deno adapters.
//
// Deno's own TLS API (Deno.connectTls/listenTls) cannot ask a client for a
// certificate, show the peer's certificate, or set a minimum version, so
// the Deno adapter uses its `node:tls` (backed by the same rustls). Bun's
// adapter uses Bun's own TLS sockets (bun.ts); the refusal codes are shared
// (_tls_common.ts).

import { createPrivateKey, X509Certificate } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import { WeftError } from "../errors.ts";
import { formatAddress } from "./address.ts";
import { codeOf } from "./_errors.ts";
import { askGate, handOver } from "./_connection.ts";
import { listenServer, wrap } from "./_node_socket.ts";
import {
  clientCertError,
  detail,
  handshakeError,
  handshakeTimeoutError,
  type RawCert,
  toPeerCertificate,
} from "./_tls_common.ts";
import type { ResolvedConnectOptions, ResolvedListenOptions, ResolvedTls } from "./_options.ts";
import type { AbortSignalLike } from "../_platform.ts";
import type { AcceptHandler, Address, Connection, Listener, PeerCertificate } from "./types.ts";

/** The identity in the certificate the other end of `socket` presented. */
function peerCertificate(socket: tls.TLSSocket): PeerCertificate | undefined {
  try {
    return toPeerCertificate(socket.getPeerCertificate() as unknown as RawCert | null);
  } catch {
    return undefined;
  }
}

/**
 * Reads `tls.cert`, `tls.key` and `tls.ca` as the runtime will, and checks
 * that the key is the certificate's, so a mistake is a TypeError naming the
 * option at listen or connect (Deno's TLS would only fail each handshake).
 *
 * @throws {TypeError} Naming the option that cannot be read, or `tls.key` for a key of another certificate.
 */
export function checkPem(t: ResolvedTls): void {
  const read = <T>(option: string, what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw new TypeError(`Invalid option ${option}: cannot read it as ${what}: ${detail(error)}`);
    }
  };
  t.ca?.forEach((ca, i) => read(`tls.ca[${i}]`, "a certificate", () => new X509Certificate(ca)));
  if (t.cert === undefined || t.key === undefined) return;
  const key = read("tls.key", "a private key", () => createPrivateKey(t.key!));
  const cert = read("tls.cert", "a certificate", () => new X509Certificate(t.cert!));
  if (!cert.checkPrivateKey(key)) {
    throw new TypeError(
      `Invalid option tls.key: it is not the private key of tls.cert (${
        cert.subject.replace(/\n/g, ", ")
      }): give the key made with that certificate`,
    );
  }
}

function secureOptions(t: ResolvedTls): tls.SecureContextOptions {
  return {
    ...(t.cert === undefined ? {} : { cert: t.cert, key: t.key }),
    ...(t.ca === undefined ? {} : { ca: t.ca }),
    minVersion: t.minVersion,
  };
}

/**
 * Connects over TLS: resolves once the handshake is done and the server's
 * certificate verified, within the handshake timeout.
 */
export function connectTls(
  target: Address,
  signal: AbortSignalLike,
  resolved: ResolvedConnectOptions,
): Promise<Connection> {
  const t = resolved.tls!;
  const where = formatAddress(target);
  checkPem(t);
  return new Promise<Connection>((resolve, reject) => {
    const serverName = t.serverName ?? target.hostname;
    const socket = tls.connect({
      host: target.hostname,
      port: target.port,
      noDelay: resolved.noDelay,
      ...secureOptions(t),
      // SNI takes names only; the identity check below takes addresses too.
      ...(net.isIP(serverName) === 0 ? { servername: serverName } : {}),
      checkServerIdentity: (_host: string, cert: tls.PeerCertificate) =>
        tls.checkServerIdentity(serverName, cert),
      // A net.Socket connect option, honoured by tls.connect too.
    } as tls.ConnectionOptions);
    let connected = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fail = (error: unknown): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      // Before the TCP connect: refused, not found, as plain TCP. After: TLS.
      if (!connected && codeOf(error) !== "transport") reject(error);
      else if (error instanceof WeftError) reject(error);
      else {
        reject(
          handshakeError(where, error, "client"),
        );
      }
    };
    const onAbort = (): void => fail(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("error", fail);
    socket.once("connect", () => {
      connected = true;
      timer = setTimeout(() => {
        fail(handshakeTimeoutError(where, t.handshakeTimeout));
      }, t.handshakeTimeout);
    });
    socket.once("close", () => {
      if (connected) fail(new Error("the server closed the connection during the handshake"));
    });
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.removeAllListeners("close");
      socket.off("error", fail);
      resolve(wrap(socket, resolved.noDelay, resolved.highWaterMark, peerCertificate(socket)));
    });
  });
}

/** The TCP socket under a TLS socket of a `node:tls` server (Node and Deno keep it as `_parent`). */
function tcpOf(socket: tls.TLSSocket): net.Socket | undefined {
  return (socket as unknown as { _parent?: net.Socket })._parent;
}

/**
 * Listens over TLS. Connections reach `onAccept` after their handshake (and
 * client certificate check); refusals go to `onRefused`. The gate
 * (`admit`) sees each TCP socket at accept, before its handshake, and is
 * released when that socket closes (the server destroys every socket whose
 * handshake fails or times out, which closes its TCP socket).
 */
export function listenTls(
  target: Address,
  address: string,
  onAccept: AcceptHandler,
  resolved: ResolvedListenOptions,
): Promise<Listener> {
  const t = resolved.tls!;
  checkPem(t);
  const refused = (error: WeftError, remote: Address | undefined): void => {
    try {
      resolved.onRefused?.(error, remote);
    } catch { /* a hook's failure must not stop the listener */ }
  };
  const remoteOf = (socket: net.Socket): Address | undefined =>
    socket.remoteAddress === undefined
      ? undefined
      : { hostname: socket.remoteAddress, port: socket.remotePort ?? 0 };
  const server = tls.createServer({
    noDelay: resolved.noDelay,
    ...secureOptions(t),
    requestCert: t.requireClientCert,
    // Verified below, so that each refusal gets its own code.
    rejectUnauthorized: false,
    handshakeTimeout: t.handshakeTimeout,
  }, (socket) => {
    const remote = remoteOf(socket);
    const name = remote === undefined ? "a client" : formatAddress(remote);
    const error = t.requireClientCert && !socket.authorized
      ? clientCertError(
        socket.getPeerCertificate() as unknown as RawCert | null,
        socket.authorizationError as unknown,
        name,
      )
      : undefined;
    if (error !== undefined) {
      socket.destroy();
      refused(error, remote);
      return;
    }
    const connection = wrap(
      socket,
      resolved.noDelay,
      resolved.highWaterMark,
      peerCertificate(socket),
    );
    const tcp = tcpOf(socket);
    const gated = tcp === undefined ? undefined : gates.get(tcp);
    // From here an eviction closes the connection as any close does.
    if (gated !== undefined) gated.close = () => void connection.close();
    handOver(connection, onAccept);
  });
  /** The sockets the gate admitted, and how an eviction closes each. */
  const gates = new WeakMap<net.Socket, { close: () => void }>();
  /** The sockets the gate refused: their reset is not a handshake failure. */
  const refusedByGate = new WeakSet<net.Socket>();
  if (resolved.admit !== undefined) {
    const admit = resolved.admit;
    // Before the TLS server's own listener wraps the socket.
    server.prependListener("connection", (tcp: net.Socket) => {
      const gated = { close: () => void tcp.destroy() };
      const release = askGate(
        admit,
        remoteOf(tcp) ?? { hostname: "", port: 0 },
        () => gated.close(),
      );
      if (release === null || release === undefined) {
        refusedByGate.add(tcp);
        tcp.destroy();
        return;
      }
      gates.set(tcp, gated);
      tcp.once("close", release);
    });
  }
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    const remote = remoteOf(socket);
    socket.destroy();
    const tcp = tcpOf(socket);
    if (tcp !== undefined && refusedByGate.has(tcp)) return;
    refused(
      handshakeError(remote === undefined ? "a client" : formatAddress(remote), error),
      remote,
    );
  });
  return listenServer(server, target, resolved.backlog).catch((error) => {
    throw error instanceof WeftError ? error : new WeftError(
      codeOf(error),
      `Cannot listen on ${address}: ${detail(error)}`,
      { cause: error },
    );
  });
}
