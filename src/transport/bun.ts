/**
 * The Bun transport: TCP over `Bun.connect` and `Bun.listen` (the socket
 * handler API, not `node:net`).
 *
 * - Bun's `socket.write()` sends what the kernel takes at once and returns
 *   that count; this adapter queues the rest itself and sends it from the
 *   `drain` handler. `bufferedAmount` is that queue.
 * - Chunks arrive as Buffers and are handed up as plain `Uint8Array` views.
 * - `pause()`/`resume()` are the socket's `pause()`/`resume()`; a chunk Bun
 *   delivers after `pause()` is held until `resume()`.
 * - `close()` waits up to 2 s for the queue to be sent, then ends the socket.
 * - Bun's connect cannot be cancelled: on timeout or abort the promise
 *   rejects at once, and a socket that connects later is closed.
 * - `Bun.listen` has no backlog option; `backlog` is validated and ignored.
 * - TLS (`tls` in the options) uses Bun's own TLS sockets: a connection is
 *   handed over once its handshake is done and verified; a client
 *   certificate is checked in the `handshake` callback, so each refusal has
 *   its code; `minVersion` is checked against the negotiated version; the
 *   handshake timeout is this adapter's own timer.
 *
 * @example Echo one message over loopback
 * ```ts ignore
 * import { transport } from "@weft/cluster/bun";
 *
 * const listener = await transport.listen("127.0.0.1:0", (conn) => {
 *   conn.start({ data: (chunk) => conn.write(chunk.slice()), close: () => {} });
 * });
 * const conn = await transport.connect(`127.0.0.1:${listener.address.port}`);
 * conn.start({
 *   data: (chunk) => console.log(new TextDecoder().decode(chunk)),
 *   close: () => {},
 * });
 * conn.write(new TextEncoder().encode("hello"));
 * ```
 *
 * @module
 */

import {
  askGate,
  CLOSE_FLUSH_TIMEOUT,
  type ConnectionEvents,
  createConnection,
  handOver,
  type SocketDriver,
} from "./_connection.ts";
import { ioError, isReset, mapError, resetError } from "./_errors.ts";
import {
  connectWithin,
  listenArgs,
  type ResolvedConnectOptions,
  type ResolvedListenOptions,
  type ResolvedTls,
} from "./_options.ts";
import { WriteQueue } from "./_write_queue.ts";
import {
  clientCertError,
  handshakeError,
  handshakeTimeoutError,
  type RawCert,
  toPeerCertificate,
} from "./_tls_common.ts";
import { formatAddress } from "./address.ts";
import type { WeftError } from "../errors.ts";
import type {
  AcceptHandler,
  Address,
  AdmitHandler,
  Connection,
  ConnectOptions,
  Listener,
  ListenOptions,
  PeerCertificate,
  Transport,
} from "./types.ts";

// The slice of Bun's API this adapter uses.
interface BunSocket {
  data: SocketState | undefined;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  write(bytes: Uint8Array): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
  getPeerCertificate?(): RawCert | null | undefined;
  getTLSVersion?(): string | null;
}
interface BunTls {
  cert?: string;
  key?: string;
  ca?: string[];
  serverName?: string;
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
}
interface BunHandlers {
  open(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
  handshake?(socket: BunSocket, success: boolean, error: Error | null): void;
}
interface BunListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}
interface BunSocketOptions {
  hostname: string;
  port: number;
  socket: BunHandlers;
  tls?: BunTls;
}
declare const Bun: {
  connect(options: BunSocketOptions): Promise<BunSocket>;
  listen(options: BunSocketOptions): BunListener;
};

/** Per-socket state, kept on `socket.data`. */
interface SocketState {
  events: ConnectionEvents;
  connection: Connection;
  queue: WriteQueue;
  closing: boolean;
  failure: unknown;
  /** Called when the queue empties during a graceful close. */
  flushed: (() => void) | undefined;
  /** TLS: the timer that ends a close the peer does not answer. */
  ending: ReturnType<typeof setTimeout> | undefined;
}

/** Sends queued bytes until the kernel stops taking them. */
function flush(socket: BunSocket, state: SocketState): void {
  const queue = state.queue;
  while (queue.bytes > 0) {
    const chunk = queue.peek();
    const n = socket.write(chunk);
    if (n > 0) queue.consume(n);
    if (n < chunk.length) break;
  }
}

function wrap(
  socket: BunSocket,
  noDelay: boolean,
  highWaterMark: number,
  peerCertificate?: PeerCertificate,
  tls = false,
): SocketState {
  socket.setNoDelay(noDelay);
  // Nothing is delivered before start(): stay paused until the core reads.
  socket.pause();
  const queue = new WriteQueue();
  const driver: SocketDriver = {
    read(on) {
      if (on) socket.resume();
      else socket.pause();
    },
    write(bytes) {
      if (queue.bytes > 0) {
        queue.push(bytes);
        return;
      }
      const n = socket.write(bytes);
      if (n < bytes.length) queue.push(n > 0 ? bytes.subarray(n) : bytes);
    },
    buffered: () => queue.bytes,
    close() {
      state.closing = true;
      // TLS: end() waits for the peer's close_notify, which a peer that does
      // not read never sends; read (dropping what comes) and give up after
      // the flush timeout, as the other adapters do.
      const end = (): void => {
        socket.end();
        if (tls) {
          state.ending = setTimeout(() => {
            // Bun does not report the close of a TLS socket terminated here.
            socket.terminate();
            state.events.end({ reason: "local" });
          }, CLOSE_FLUSH_TIMEOUT);
        }
      };
      if (tls) socket.resume();
      if (queue.bytes === 0) {
        end();
        return;
      }
      const timer = setTimeout(() => {
        queue.clear();
        socket.terminate();
        if (tls) state.events.end({ reason: "local" });
      }, CLOSE_FLUSH_TIMEOUT);
      state.flushed = () => {
        clearTimeout(timer);
        end();
      };
    },
  };
  const local: Address = { hostname: socket.localAddress, port: socket.localPort };
  const remote: Address = { hostname: socket.remoteAddress, port: socket.remotePort };
  const { connection, events } = createConnection(
    driver,
    local,
    remote,
    highWaterMark,
    peerCertificate,
  );
  const state: SocketState = {
    events,
    connection,
    queue,
    closing: false,
    failure: undefined,
    flushed: undefined,
    ending: undefined,
  };
  socket.data = state;
  return state;
}

/** A TLS socket between TCP open and the end of its handshake. */
interface Handshaking {
  timer: ReturnType<typeof setTimeout>;
  error: unknown;
}

/** TLS on a side: its settings, and where a failed handshake is reported. */
interface TlsSide {
  tls: ResolvedTls;
  server: boolean;
  fail(error: WeftError, remote: Address): void;
}

function remoteOf(socket: BunSocket): Address {
  return { hostname: socket.remoteAddress, port: socket.remotePort };
}

/**
 * Why a finished handshake is refused: a failed verification, a client
 * certificate missing or refused, a version under the minimum.
 */
function handshakeRefusal(
  socket: BunSocket,
  side: TlsSide,
  success: boolean,
  error: Error | null,
): WeftError | undefined {
  const where = formatAddress(remoteOf(socket));
  const t = side.tls;
  if (side.server && t.requireClientCert) {
    // Bun reports a client without a certificate as a verification error too.
    const raw = socket.getPeerCertificate?.();
    if (error !== null || toPeerCertificate(raw) === undefined) {
      return clientCertError(raw, error, where);
    }
  } else if (!success || (!side.server && error !== null)) {
    return handshakeError(
      where,
      error ?? "the handshake failed",
      side.server ? "server" : "client",
    );
  }
  if (t.minVersion === "TLSv1.3" && socket.getTLSVersion?.() !== "TLSv1.3") {
    return handshakeError(where, `${socket.getTLSVersion?.()} is under the minimum TLSv1.3`);
  }
  return undefined;
}

function handlers(
  noDelay: boolean,
  highWaterMark: number,
  onOpen: (connection: Connection, release?: () => void) => void,
  tls?: TlsSide,
  admit?: AdmitHandler,
): BunHandlers {
  const handshaking = new WeakMap<BunSocket, Handshaking>();
  /** The gate's release of each socket in its TLS handshake. */
  const gates = new WeakMap<BunSocket, () => void>();
  /** Ends a handshake without a connection: the gate is released here (a terminated TLS socket may never report its close). */
  const release = (socket: BunSocket): void => {
    gates.get(socket)?.();
    gates.delete(socket);
  };
  const fail = (socket: BunSocket, error: WeftError): void => {
    socket.terminate();
    release(socket);
    tls!.fail(error, remoteOf(socket));
  };
  /** An eviction by the gate: a connection closes as any close does; a handshake ends at once. */
  const evict = (socket: BunSocket): void => {
    const state = socket.data;
    if (state !== undefined) {
      void state.connection.close();
      return;
    }
    const pending = handshaking.get(socket);
    if (pending !== undefined) clearTimeout(pending.timer);
    handshaking.delete(socket);
    socket.terminate();
    release(socket);
  };
  return {
    open(socket) {
      const gate = askGate(admit, remoteOf(socket), () => evict(socket));
      if (gate === null) {
        // Plain TCP: a FIN, as a refused connection of the other adapters
        // (a reset could reach the client before its connect resolves).
        if (tls === undefined) socket.end();
        else socket.terminate();
        return;
      }
      if (tls === undefined) {
        onOpen(wrap(socket, noDelay, highWaterMark).connection, gate);
        return;
      }
      if (gate !== undefined) gates.set(socket, gate);
      // TLS: the connection exists once the handshake is done (and verified).
      const timer = setTimeout(() => {
        handshaking.delete(socket);
        fail(
          socket,
          handshakeTimeoutError(formatAddress(remoteOf(socket)), tls.tls.handshakeTimeout),
        );
      }, tls.tls.handshakeTimeout);
      handshaking.set(socket, { timer, error: undefined });
    },
    handshake(socket, success, error) {
      const pending = handshaking.get(socket);
      if (pending === undefined || tls === undefined) return;
      handshaking.delete(socket);
      clearTimeout(pending.timer);
      const refused = handshakeRefusal(socket, tls, success, error);
      if (refused !== undefined) {
        fail(socket, refused);
        return;
      }
      const raw = socket.getPeerCertificate?.();
      const gate = gates.get(socket);
      gates.delete(socket);
      onOpen(wrap(socket, noDelay, highWaterMark, toPeerCertificate(raw), true).connection, gate);
    },
    data(socket, data) {
      socket.data?.events.data(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    },
    drain(socket) {
      const state = socket.data;
      if (state === undefined) return;
      flush(socket, state);
      state.events.progress();
      if (state.queue.bytes === 0) state.flushed?.();
    },
    end(socket) {
      // The peer sent FIN. The contract has no half-open state: close.
      const state = socket.data;
      if (state !== undefined) state.queue.clear();
      socket.end();
    },
    error(socket, error) {
      const state = socket.data;
      if (state !== undefined) state.failure ??= error;
      const pending = handshaking.get(socket);
      if (pending !== undefined) pending.error ??= error;
    },
    close(socket, error) {
      const pending = handshaking.get(socket);
      if (pending !== undefined) {
        // Closed inside the TLS handshake.
        handshaking.delete(socket);
        clearTimeout(pending.timer);
        release(socket);
        tls!.fail(
          handshakeError(
            formatAddress(remoteOf(socket)),
            pending.error ?? error ?? "the other end closed the connection during the handshake",
            tls!.server ? "server" : "client",
          ),
          remoteOf(socket),
        );
        return;
      }
      const state = socket.data;
      if (state === undefined) return;
      clearTimeout(state.ending);
      state.queue.clear();
      const failure = state.failure ?? error;
      if (state.closing) state.events.end({ reason: "local" });
      else if (failure === undefined) state.events.end({ reason: "remote" });
      else if (isReset(failure)) state.events.end({ reason: "remote", error: resetError(failure) });
      else state.events.end({ reason: "error", error: ioError(failure) });
    },
  };
}

/** Bun's TLS settings for `t` (client or server side). */
function bunTls(t: ResolvedTls, server: boolean, serverName?: string): BunTls {
  return {
    ...(t.cert === undefined ? {} : { cert: t.cert, key: t.key! }),
    ...(t.ca === undefined ? {} : { ca: t.ca }),
    ...(server
      ? { requestCert: t.requireClientCert, rejectUnauthorized: false }
      : { rejectUnauthorized: true, ...(serverName === undefined ? {} : { serverName }) }),
  };
}

/** Connects over TLS: resolves once the handshake is done and the server verified. */
function connectTls(target: Address, resolved: ResolvedConnectOptions): Promise<Connection> {
  const t = resolved.tls!;
  // SNI takes names only; Bun checks an address host against the IP SANs.
  const name = t.serverName ?? target.hostname;
  const serverName = /^[\d.]+$|:/.test(name) ? undefined : name;
  return new Promise<Connection>((resolve, reject) => {
    Bun.connect({
      hostname: target.hostname,
      port: target.port,
      tls: bunTls(t, false, serverName),
      socket: {
        ...handlers(resolved.noDelay, resolved.highWaterMark, resolve, {
          tls: t,
          server: false,
          fail: (error) => reject(error),
        }),
        connectError() {/* the promise rejects with the same error */},
      },
    }).catch(reject);
  });
}

/**
 * Connects to `address` over TCP.
 *
 * @param address `host:port`, `[ipv6]:port` or `name:port`.
 * @param options Signal, connect timeout, TCP_NODELAY, high-water mark.
 * @returns The open connection; call `start()` to receive.
 * @throws {WeftError} `bad address`, `connection refused`, `host not found`,
 * `connect timeout`, `aborted` or `transport` (the Bun error as `cause`).
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If an option is out of range.
 */
export function connect(address: string, options?: ConnectOptions): Promise<Connection> {
  return connectWithin(
    address,
    options,
    async (target, _signal, resolved) => {
      if (resolved.tls !== undefined) return await connectTls(target, resolved);
      let opened: Connection | undefined;
      const socket = await Bun.connect({
        hostname: target.hostname,
        port: target.port,
        socket: {
          ...handlers(resolved.noDelay, resolved.highWaterMark, (c) => opened = c),
          connectError() {/* the promise rejects with the same error */},
        },
      });
      return opened ?? socket.data!.connection;
    },
    (connection) => void connection.close(),
  );
}

/**
 * Listens on `address` over TCP and calls `onAccept` with each connection.
 *
 * @param address `host:port` or `[ipv6]:port`; port 0 picks a free port.
 * @param onAccept Called with each accepted connection, in accept order.
 * @param options TCP_NODELAY and high-water mark of accepted connections
 * (`backlog` is checked but Bun has no such option).
 * @returns The listener; its `address` holds the bound port.
 * @throws {WeftError} `bad address`, `address in use` or `transport`.
 * @throws {TypeError} If `onAccept` is not a function or an option has the wrong type.
 * @throws {RangeError} If an option is out of range.
 */
export function listen(
  address: string,
  onAccept: AcceptHandler,
  options?: ListenOptions,
): Promise<Listener> {
  let server: BunListener;
  let resolved: ResolvedListenOptions;
  try {
    const args = listenArgs(address, onAccept, options);
    const target = args.target;
    resolved = args.options;
    const t = resolved.tls;
    const onRefused = resolved.onRefused;
    server = Bun.listen({
      hostname: target.hostname,
      port: target.port,
      ...(t === undefined ? {} : { tls: bunTls(t, true) }),
      socket: handlers(
        resolved.noDelay,
        resolved.highWaterMark,
        (connection, release) => handOver(connection, onAccept, release),
        t === undefined ? undefined : {
          tls: t,
          server: true,
          fail: (error, remote) => {
            try {
              onRefused?.(error, remote);
            } catch { /* a hook's failure must not stop the listener */ }
          },
        },
        resolved.admit,
      ),
    });
  } catch (error) {
    return Promise.reject(mapError(error, "listen on", address));
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    // stop(false): stop accepting, leave accepted connections open.
    closing ??= Promise.resolve().then(() => server.stop(false));
    return closing;
  };
  return Promise.resolve({
    address: { hostname: server.hostname, port: server.port },
    close,
    [Symbol.asyncDispose]: close,
  });
}

/**
 * The Bun transport, for passing to code that takes a
 * {@linkcode Transport}.
 *
 * @example
 * ```ts ignore
 * import { transport } from "@weft/cluster/bun";
 *
 * console.log(transport.name); // "bun"
 * ```
 */
export const transport: Transport = { name: "bun", connect, listen };

export type {
  AcceptHandler,
  Address,
  AdmitHandler,
  CloseInfo,
  CloseReason,
  Connection,
  ConnectionHandler,
  ConnectOptions,
  Listener,
  ListenOptions,
  Transport,
} from "./types.ts";
export { type ErrorCode, WeftError } from "../errors.ts";
