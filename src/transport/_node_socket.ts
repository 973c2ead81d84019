// The Connection over a node:net socket (a node:tls socket is one too):
// shared by the Node adapter and by the TLS paths of every adapter.

import type * as net from "node:net";
import { CLOSE_FLUSH_TIMEOUT, createConnection, type SocketDriver } from "./_connection.ts";
import { ioError, isReset, resetError } from "./_errors.ts";
import type { Address, Connection, Listener, PeerCertificate } from "./types.ts";

function bareHost(host: string | undefined): string {
  return host ?? "";
}

/** A connection over a `node:net` (or `node:tls`) socket. */
export function wrap(
  socket: net.Socket,
  noDelay: boolean,
  highWaterMark: number,
  peerCertificate?: PeerCertificate,
): Connection {
  socket.setNoDelay(noDelay);
  let flowing = false;
  let closing = false;
  let failure: unknown;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;

  const onData = (buf: Uint8Array): void => {
    events.data(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  };
  const progress = (): void => events.progress();

  socket.on("error", (error) => failure ??= error);
  socket.on("close", () => {
    clearTimeout(flushTimer);
    socket.off("data", onData);
    if (closing) events.end({ reason: "local" });
    else if (failure === undefined) events.end({ reason: "remote" });
    else if (isReset(failure)) events.end({ reason: "remote", error: resetError(failure) });
    else events.end({ reason: "error", error: ioError(failure) });
  });

  const driver: SocketDriver = {
    read(on) {
      if (on) {
        if (!flowing) {
          flowing = true;
          socket.on("data", onData);
        }
        socket.resume();
      } else {
        socket.pause();
      }
    },
    write(bytes) {
      // A socket the peer already tore down reports it through 'close'; a
      // write in between would only add a misleading ERR_STREAM_DESTROYED.
      if (!socket.destroyed && socket.writable) socket.write(bytes, progress);
    },
    buffered: () => socket.writableLength,
    gone: () => socket.destroyed,
    close() {
      closing = true;
      socket.pause();
      if (socket.destroyed) return;
      flushTimer = setTimeout(() => socket.destroy(), CLOSE_FLUSH_TIMEOUT);
      socket.end(() => socket.destroy());
    },
  };
  const local: Address = { hostname: bareHost(socket.localAddress), port: socket.localPort ?? 0 };
  const remote: Address = {
    hostname: bareHost(socket.remoteAddress),
    port: socket.remotePort ?? 0,
  };
  const { connection, events } = createConnection(
    driver,
    local,
    remote,
    highWaterMark,
    peerCertificate,
  );
  return connection;
}

/**
 * Starts a `node:net` (or `node:tls`) server on `target` and resolves with
 * its Listener; an error before it listens rejects as it is (the caller
 * maps it). Shared by the Node adapter and every adapter's TLS listener.
 */
export function listenServer(
  server: net.Server,
  target: Address,
  backlog: number,
): Promise<Listener> {
  return new Promise<Listener>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: target.hostname, port: target.port, backlog }, () => {
      server.off("error", reject);
      // Errors after listening (accept failures) are not fatal to the listener.
      server.on("error", () => {});
      const bound = server.address() as net.AddressInfo;
      let closing: Promise<void> | undefined;
      const close = (): Promise<void> => {
        // The listening socket closes now; the server's callback would wait
        // for every accepted connection, so it is not awaited. (A timer, not
        // setImmediate: Deno runs this file for TLS too.)
        closing ??= new Promise<void>((done) => {
          server.close();
          setTimeout(done, 0);
        });
        return closing;
      };
      resolve({
        address: { hostname: bound.address, port: bound.port },
        close,
        [Symbol.asyncDispose]: close,
      });
    });
  });
}
