/**
 * The Node transport: TCP over `node:net`, for Node 22 or newer.
 *
 * - Node's sockets buffer writes themselves: `bufferedAmount` is the
 *   socket's `writableLength`, and the write callbacks drive `drain`.
 * - Chunks arrive as Buffers and are handed up as plain `Uint8Array` views
 *   of the same memory.
 * - `pause()`/`resume()` are the socket's; accepted sockets start paused
 *   (`pauseOnConnect`) until `start()`.
 * - `close()` ends the socket after queued bytes are written (up to 2 s),
 *   then destroys it without waiting for the peer's FIN.
 * - `listener.close()` resolves once the listening socket is closed; Node's
 *   own server `close` event waits for every accepted connection, which the
 *   contract does not.
 *
 * @example Echo one message over loopback
 * ```ts ignore
 * import { transport } from "@weft/cluster/node";
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

import * as net from "node:net";
import { acceptPlain } from "./_connection.ts";
import { mapError } from "./_errors.ts";
import { connectWithin, listenArgs, type ResolvedListenOptions } from "./_options.ts";
import { listenServer, wrap } from "./_node_socket.ts";
import { connectTls, listenTls } from "./_tls.ts";
import type {
  AcceptHandler,
  Address,
  Connection,
  ConnectOptions,
  Listener,
  ListenOptions,
  Transport,
} from "./types.ts";

/**
 * Connects to `address` over TCP.
 *
 * @param address `host:port`, `[ipv6]:port` or `name:port`.
 * @param options Signal, connect timeout, TCP_NODELAY, high-water mark.
 * @returns The open connection; call `start()` to receive.
 * @throws {WeftError} `bad address`, `connection refused`, `host not found`,
 * `connect timeout`, `aborted` or `transport` (the Node error as `cause`).
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If an option is out of range.
 */
export function connect(address: string, options?: ConnectOptions): Promise<Connection> {
  return connectWithin(
    address,
    options,
    (target, signal, resolved) =>
      resolved.tls !== undefined
        ? connectTls(target, signal, resolved)
        : new Promise<Connection>((resolve, reject) => {
          const socket = net.connect({ host: target.hostname, port: target.port });
          const onAbort = (): void => {
            socket.destroy();
            reject(signal.reason);
          };
          const onError = (error: Error): void => {
            signal.removeEventListener("abort", onAbort);
            socket.destroy();
            reject(error);
          };
          signal.addEventListener("abort", onAbort, { once: true });
          socket.once("error", onError);
          socket.once("connect", () => {
            signal.removeEventListener("abort", onAbort);
            socket.off("error", onError);
            resolve(wrap(socket, resolved.noDelay, resolved.highWaterMark));
          });
        }),
    (connection) => void connection.close(),
  );
}

/**
 * Listens on `address` over TCP and calls `onAccept` with each connection.
 *
 * @param address `host:port` or `[ipv6]:port`; port 0 picks a free port.
 * @param onAccept Called with each accepted connection, in accept order.
 * @param options Backlog, TCP_NODELAY and high-water mark of accepted connections.
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
  let target: Address;
  let resolved: ResolvedListenOptions;
  try {
    ({ target, options: resolved } = listenArgs(address, onAccept, options));
  } catch (error) {
    return Promise.reject(error);
  }
  if (resolved.tls !== undefined) return listenTls(target, address, onAccept, resolved);
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    acceptPlain(wrap(socket, resolved.noDelay, resolved.highWaterMark), onAccept, resolved.admit);
  });
  return listenServer(server, target, resolved.backlog).catch((error) => {
    throw mapError(error, "listen on", address);
  });
}

/**
 * The Node transport, for passing to code that takes a
 * {@linkcode Transport}.
 *
 * @example
 * ```ts ignore
 * import { transport } from "@weft/cluster/node";
 *
 * console.log(transport.name); // "node"
 * ```
 */
export const transport: Transport = { name: "node", connect, listen };

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
