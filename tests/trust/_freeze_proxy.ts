/**
 * A TCP proxy that can be frozen: it forwards bytes both ways between each
 * accepted connection and `target` until `freeze()`, then stops forwarding
 * (and reading) while keeping every socket open, as a partition that drops
 * packets does. Deno only (the test side); every socket is closed by
 * `close()`.
 */

/** A running proxy. */
export interface FreezeProxy {
  /** `127.0.0.1:PORT`, where it listens. */
  readonly address: string;
  /** Stops forwarding; sockets stay open. */
  freeze(): void;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

/** Starts a proxy to `target` (`host:port`) on a free loopback port. */
export function startFreezeProxy(target: { hostname: string; port: number }): FreezeProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sockets = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  let frozen = false;
  let closing = false;
  let thaw = Promise.withResolvers<void>();

  async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        if (frozen) await thaw.promise;
        if (closing) return;
        const n = await from.read(buffer);
        if (n === null) return;
        // Read before the freeze, arrived after it: held, never forwarded.
        if (frozen) await thaw.promise;
        if (closing) return;
        let at = 0;
        while (at < n) at += await to.write(buffer.subarray(at, n));
      }
    } catch {
      // a socket closed
    } finally {
      for (const c of [from, to]) {
        if (sockets.delete(c)) {
          try {
            c.close();
          } catch { /* closed */ }
        }
      }
    }
  }

  const accepting = (async () => {
    for await (const client of listener) {
      let server: Deno.Conn;
      try {
        server = await Deno.connect(target);
      } catch {
        client.close();
        continue;
      }
      sockets.add(client);
      sockets.add(server);
      for (const p of [pump(client, server), pump(server, client)]) {
        pumps.add(p);
        p.finally(() => pumps.delete(p));
      }
    }
  })().catch(() => {});

  const { port } = listener.addr as Deno.NetAddr;
  return {
    address: `127.0.0.1:${port}`,
    freeze: () => {
      frozen = true;
      thaw = Promise.withResolvers<void>();
    },
    close: async () => {
      closing = true;
      listener.close();
      for (const c of sockets) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      sockets.clear();
      thaw.resolve();
      await accepting;
      await Promise.all([...pumps]);
    },
  };
}
