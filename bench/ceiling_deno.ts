/**
 * The raw-socket ceiling on Deno: a length-prefixed echo over
 * `Deno.listen`/`Deno.connect`, with no weft code (see _ceiling.ts).
 *
 * ```sh
 * deno run -A bench/ceiling_deno.ts server 127.0.0.1:0
 * deno run -A bench/ceiling_deno.ts client 127.0.0.1:PORT --payload=32 --depth=1
 * deno run -A bench/ceiling_deno.ts floor 127.0.0.1:PORT --payload=32 --depth=256
 * ```
 *
 * @module
 */

import { args, exit, loadCase, report } from "./_common.ts";
import { EchoCalls, EchoFramer, EchoLoad } from "./_ceiling.ts";

function hostPort(address: string): { hostname: string; port: number } {
  const at = address.lastIndexOf(":");
  return {
    hostname: address.slice(0, at).replace(/^\[|\]$/g, ""),
    port: Number(address.slice(at + 1)),
  };
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const framer = new EchoFramer();
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const out = framer.feed(buffer.subarray(0, n));
      // The read buffer is reused only after this write: no copy needed.
      if (out !== null) await writeAll(conn, out);
    }
  } catch { /* the client went away */ }
  try {
    conn.close();
  } catch { /* already closed */ }
}

const [mode, ...rest] = args;
if (mode === "server") {
  const listener = Deno.listen({ ...hostPort(rest[0] ?? "127.0.0.1:0"), transport: "tcp" });
  console.log(`listening ${listener.addr.hostname}:${listener.addr.port}`);
  for await (const conn of listener) void serve(conn);
} else if (mode === "client" || mode === "floor") {
  const c = loadCase(rest);
  const conn = await Deno.connect({ ...hostPort(c.address), transport: "tcp" });
  conn.setNoDelay(true);
  const queue: Uint8Array[] = [];
  let writing = false;
  const pump = async (): Promise<void> => {
    writing = true;
    try {
      while (queue.length > 0) await writeAll(conn, queue.shift()!);
    } catch { /* closing */ }
    writing = false;
  };
  const send = (bytes: Uint8Array) => {
    queue.push(bytes);
    if (!writing) void pump();
  };
  const load = mode === "floor" ? new EchoCalls(c, send) : new EchoLoad(c, send);
  const buffer = new Uint8Array(64 * 1024);
  const reads = (async () => {
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) return;
        load.data(buffer.subarray(0, n));
      }
    } catch { /* closed below */ }
  })();
  report(await load.run());
  conn.close();
  await reads;
  exit(0);
} else {
  console.error(
    "usage: ceiling_deno.ts server HOST:PORT | client|floor HOST:PORT [--payload=N --depth=N]",
  );
  exit(2);
}
