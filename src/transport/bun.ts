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
  CLOSE_FLUSH_TIMEOUT,
  type ConnectionEvents,
  createConnection,
  type SocketDriver,
} from "./_connection.ts";
import { ioError, isReset, mapError, resetError } from "./_errors.ts";
import { connectWithin, listenArgs, type ResolvedListenOptions } from "./_options.ts";
import { WriteQueue } from "./_write_queue.ts";
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
}
interface BunHandlers {
  open(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
}
interface BunListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}
declare const Bun: {
  connect(options: { hostname: string; port: number; socket: BunHandlers }): Promise<BunSocket>;
  listen(options: { hostname: string; port: number; socket: BunHandlers }): BunListener;
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

function wrap(socket: BunSocket, noDelay: boolean, highWaterMark: number): SocketState {
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
      if (queue.bytes === 0) {
        socket.end();
        return;
      }
      const timer = setTimeout(() => {
        queue.clear();
        socket.terminate();
      }, CLOSE_FLUSH_TIMEOUT);
      state.flushed = () => {
        clearTimeout(timer);
        socket.end();
      };
    },
  };
  const local: Address = { hostname: socket.localAddress, port: socket.localPort };
  const remote: Address = { hostname: socket.remoteAddress, port: socket.remotePort };
  const { connection, events } = createConnection(driver, local, remote, highWaterMark);
  const state: SocketState = {
    events,
    connection,
    queue,
    closing: false,
    failure: undefined,
    flushed: undefined,
  };
  socket.data = state;
  return state;
}

function handlers(
  noDelay: boolean,
  highWaterMark: number,
  onOpen: (connection: Connection) => void,
): BunHandlers {
  return {
    open(socket) {
      onOpen(wrap(socket, noDelay, highWaterMark).connection);
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
    },
    close(socket, error) {
      const state = socket.data;
      if (state === undefined) return;
      state.queue.clear();
      const failure = state.failure ?? error;
      if (state.closing) state.events.end({ reason: "local" });
      else if (failure === undefined) state.events.end({ reason: "remote" });
      else if (isReset(failure)) state.events.end({ reason: "remote", error: resetError(failure) });
      else state.events.end({ reason: "error", error: ioError(failure) });
    },
  };
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
    async (target, signal, resolved) => {
      if (resolved.tls !== undefined) return await connectTls(target, signal, resolved);
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
    if (resolved.tls !== undefined) return listenTls(target, address, onAccept, resolved);
    server = Bun.listen({
      hostname: target.hostname,
      port: target.port,
      socket: handlers(resolved.noDelay, resolved.highWaterMark, (connection) => {
        try {
          onAccept(connection);
        } catch {
          void connection.close();
        }
      }),
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
