/**
 * A loopback listener that never accepts, for the connect timeout case.
 *
 * `Deno.listen` accepts only when `accept()` is called, so its kernel accept
 * queue fills up. Linux keeps `backlog + 1` finished handshakes queued and
 * drops further SYNs while the queue is full, so a connect to it hangs
 * (the client retransmits its SYN after 1 s, 3 s, ...) until a timeout.
 * A tiny connect timeout on an accepting listener would race the loopback
 * handshake instead, which completes in microseconds.
 *
 * Deno-only: Bun and Node listeners accept eagerly. The Bun and Node runners
 * get the address of one made here.
 */

/** The stalled listener and the connections that fill its queue. */
export interface Stalled {
  address: string;
  close(): void;
}

/**
 * Opens a listener with backlog 1 and connects until a connect hangs.
 *
 * @throws {Error} If no connect hangs within 16 attempts (not Linux-like).
 */
export async function stalledListener(): Promise<Stalled> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, tcpBacklog: 1 });
  const port = listener.addr.port;
  const fillers: Deno.Conn[] = [];
  const close = () => {
    for (const c of fillers) c.close();
    listener.close();
  };
  try {
    for (let i = 0; i < 16; i++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 200);
      try {
        fillers.push(
          await Deno.connect({ hostname: "127.0.0.1", port, signal: controller.signal }),
        );
      } catch {
        return { address: `127.0.0.1:${port}`, close };
      } finally {
        clearTimeout(timer);
      }
    }
  } catch (error) {
    close();
    throw error;
  }
  close();
  throw new Error("Cannot make a stalled listener: every connect to a full backlog succeeded");
}
