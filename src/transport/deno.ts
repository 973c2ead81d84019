/**
 * The Deno transport: TCP over `Deno.connect` and `Deno.listen`.
 *
 * - Reads go into one reused buffer per connection, so a chunk handed to
 *   `data` is valid only during that call (as the contract says). The
 *   buffer starts at 4 KiB, so an idle connection stays small, and becomes
 *   64 KiB after the first read that fills it.
 * - Writes are queued and sent by one writer loop per connection; small
 *   queued chunks are joined into one `conn.write`. `bufferedAmount` is the
 *   queue, including the bytes of the write in flight.
 * - `pause()` stops issuing reads; a read already in flight completes and
 *   its chunk is held until `resume()`.
 * - `close()` waits up to 2 s for queued bytes to be written, then closes.
 *
 * Needs `--allow-net`.
 *
 * @example Echo one message over loopback
 * ```ts ignore
 * import { transport } from "@weft/cluster/deno";
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
  acceptPlain,
  CLOSE_FLUSH_TIMEOUT,
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
  CloseInfo,
  Connection,
  ConnectOptions,
  Listener,
  ListenOptions,
  Transport,
} from "./types.ts";

// The slice of Deno's API this adapter uses.
interface DenoNetAddr {
  hostname: string;
  port: number;
}
interface DenoConn {
  readonly localAddr: DenoNetAddr;
  readonly remoteAddr: DenoNetAddr;
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  setNoDelay(noDelay?: boolean): void;
  close(): void;
}
interface DenoListener {
  readonly addr: DenoNetAddr;
  accept(): Promise<DenoConn>;
  close(): void;
}
declare const Deno: {
  connect(options: {
    hostname: string;
    port: number;
    transport: "tcp";
    signal?: AbortSignal;
  }): Promise<DenoConn>;
  listen(options: {
    hostname: string;
    port: number;
    transport: "tcp";
    tcpBacklog?: number;
  }): DenoListener;
};

/** First read buffer of a connection: idle connections keep only this. */
const FIRST_READ_SIZE = 4 * 1024;
/** Read buffer of a connection once a read has filled the first one. */
const READ_SIZE = 64 * 1024;

function toAddress(addr: DenoNetAddr): Address {
  return { hostname: addr.hostname, port: addr.port };
}

function wrap(conn: DenoConn, noDelay: boolean, highWaterMark: number): Connection {
  try {
    conn.setNoDelay(noDelay);
  } catch { /* the socket may already be gone; the first read will say so */ }
  const queue = new WriteQueue();
  let reading = false;
  let wake: (() => void) | undefined;
  let readLoop: Promise<void> | undefined;
  let writeLoop: Promise<void> | undefined;
  let closing = false;
  let tornDown = false;

  const teardown = async (info: CloseInfo): Promise<void> => {
    if (tornDown) return;
    tornDown = true;
    queue.clear();
    try {
      conn.close();
    } catch { /* already closed */ }
    wake?.();
    // Wait for the pending read and write ops to settle, so nothing leaks.
    await Promise.allSettled([readLoop, writeLoop]);
    events.end(info);
  };

  const failed = (error: unknown): void => {
    if (closing) void teardown({ reason: "local" });
    else if (isReset(error)) void teardown({ reason: "remote", error: resetError(error) });
    else void teardown({ reason: "error", error: ioError(error) });
  };

  const runReads = async (): Promise<void> => {
    let buffer = new Uint8Array(FIRST_READ_SIZE);
    while (!tornDown && !closing) {
      if (!reading) {
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
        continue;
      }
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch (error) {
        if (!tornDown) failed(error);
        return;
      }
      if (tornDown || closing) return;
      if (n === null) {
        void teardown({ reason: "remote" });
        return;
      }
      events.data(buffer.subarray(0, n));
      // A full read means more is coming: read in larger bites from now on.
      if (n === buffer.length && n < READ_SIZE) buffer = new Uint8Array(READ_SIZE);
    }
  };

  const runWrites = async (): Promise<void> => {
    try {
      while (queue.bytes > 0 && !tornDown) {
        const chunk = queue.peek();
        const n = await conn.write(chunk);
        if (tornDown) return;
        queue.consume(n);
        events.progress();
      }
    } catch (error) {
      if (!tornDown) failed(error);
    } finally {
      writeLoop = undefined;
    }
  };

  const driver: SocketDriver = {
    read(on) {
      reading = on;
      if (!on) return;
      if (readLoop === undefined) readLoop = runReads();
      else wake?.();
    },
    write(bytes) {
      queue.push(bytes);
      if (writeLoop === undefined) writeLoop = runWrites();
    },
    buffered: () => queue.bytes,
    close() {
      closing = true;
      wake?.();
      if (writeLoop === undefined) {
        void teardown({ reason: "local" });
        return;
      }
      // Flush what is queued, for a bounded time.
      const timer = setTimeout(() => void teardown({ reason: "local" }), CLOSE_FLUSH_TIMEOUT);
      void writeLoop.then(() => {
        clearTimeout(timer);
        void teardown({ reason: "local" });
      });
    },
  };
  const { connection, events } = createConnection(
    driver,
    toAddress(conn.localAddr),
    toAddress(conn.remoteAddr),
    highWaterMark,
  );
  return connection;
}

/**
 * Connects to `address` over TCP.
 *
 * @param address `host:port`, `[ipv6]:port` or `name:port`.
 * @param options Signal, connect timeout, TCP_NODELAY, high-water mark.
 * @returns The open connection; call `start()` to receive.
 * @throws {WeftError} `bad address`, `connection refused`, `host not found`,
 * `connect timeout`, `aborted` or `transport` (the Deno error as `cause`).
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If an option is out of range.
 */
export function connect(address: string, options?: ConnectOptions): Promise<Connection> {
  return connectWithin(
    address,
    options,
    async (target, signal, resolved) => {
      if (resolved.tls !== undefined) return await connectTls(target, signal, resolved);
      const conn = await Deno.connect({
        hostname: target.hostname,
        port: target.port,
        transport: "tcp",
        // The platform's AbortSignal, typed as the structural subset weft uses.
        signal: signal as unknown as AbortSignal,
      });
      return wrap(conn, resolved.noDelay, resolved.highWaterMark);
    },
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
  let listener: DenoListener;
  let resolved: ResolvedListenOptions;
  try {
    const args = listenArgs(address, onAccept, options);
    const target = args.target;
    resolved = args.options;
    if (resolved.tls !== undefined) return listenTls(target, address, onAccept, resolved);
    listener = Deno.listen({
      hostname: target.hostname,
      port: target.port,
      transport: "tcp",
      tcpBacklog: resolved.backlog,
    });
  } catch (error) {
    return Promise.reject(mapError(error, "listen on", address));
  }
  let closed = false;
  const acceptLoop = (async () => {
    while (!closed) {
      let conn: DenoConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed) return;
        // Out of file descriptors and the like: back off, keep listening.
        if (error instanceof Error && error.name === "BadResource") return;
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      acceptPlain(wrap(conn, resolved.noDelay, resolved.highWaterMark), onAccept, resolved.admit);
    }
  })();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      try {
        listener.close();
      } catch { /* already closed */ }
      await acceptLoop;
    })();
    return closing;
  };
  return Promise.resolve({
    address: toAddress(listener.addr),
    close,
    [Symbol.asyncDispose]: close,
  });
}

/**
 * The Deno transport, for passing to code that takes a
 * {@linkcode Transport}.
 *
 * @example
 * ```ts ignore
 * import { transport } from "@weft/cluster/deno";
 *
 * console.log(transport.name); // "deno"
 * ```
 */
export const transport: Transport = { name: "deno", connect, listen };

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
