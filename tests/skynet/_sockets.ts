// Plain Deno sockets under the sans-I/O skynet ends (src/session/skynet_link.ts),
// for live_test.ts and bench/skynet_interop.ts: until the skynet protocol
// mode puts those ends inside weft's connection, this is their I/O.

/**
 * A `SkynetWrite` onto a connection: the frames of one event-loop turn
 * leave in one write, in order (as weft's connection writes).
 */
export function socketWriter(conn: Deno.Conn): (frames: Uint8Array[]) => void {
  let queue: Uint8Array[] = [];
  let scheduled = false;
  let chain = Promise.resolve();
  return (frames) => {
    queue.push(...frames);
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      const batch = queue;
      queue = [];
      let size = 0;
      for (const f of batch) size += f.length;
      const out = new Uint8Array(size);
      let at = 0;
      for (const f of batch) {
        out.set(f, at);
        at += f.length;
      }
      chain = chain.then(async () => {
        let n = 0;
        while (n < out.length) n += await conn.write(out.subarray(n));
      }).catch(() => {});
    });
  };
}

/** Reads `conn` until it ends, handing each chunk to `receive`. */
export async function pumpSocket(
  conn: Deno.Conn,
  receive: (chunk: Uint8Array) => void,
): Promise<void> {
  const buffer = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return;
      receive(buffer.subarray(0, n));
    }
  } catch {
    // closed
  }
}
