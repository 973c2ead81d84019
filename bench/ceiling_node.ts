/**
 * The raw-socket ceiling on Node: a length-prefixed echo over `node:net`,
 * with no weft code (see _ceiling.ts).
 *
 * ```sh
 * node24 bench/ceiling_node.ts server 127.0.0.1:0
 * node24 bench/ceiling_node.ts client 127.0.0.1:PORT --payload=32 --depth=1
 * node24 bench/ceiling_node.ts floor 127.0.0.1:PORT --payload=32 --depth=256
 * ```
 *
 * @module
 */

import * as net from "node:net";
import { args, exit, loadCase, report } from "./_common.ts";
import { EchoCalls, EchoFramer, EchoLoad } from "./_ceiling.ts";

function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  return {
    host: address.slice(0, at).replace(/^\[|\]$/g, ""),
    port: Number(address.slice(at + 1)),
  };
}

const [mode, ...rest] = args;
if (mode === "server") {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const framer = new EchoFramer();
    socket.on("data", (chunk: Uint8Array) => {
      // Node hands each read its own memory: a view of it can be written.
      const out = framer.feed(chunk);
      if (out !== null) socket.write(out);
    });
    socket.on("error", () => {});
  });
  const { host, port } = hostPort(rest[0] ?? "127.0.0.1:0");
  server.listen(port, host, () => {
    const bound = server.address() as net.AddressInfo;
    console.log(`listening ${bound.address}:${bound.port}`);
  });
} else if (mode === "client" || mode === "floor") {
  const c = loadCase(rest);
  const socket = net.connect(hostPort(c.address));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.setNoDelay(true);
  socket.on("error", () => {});
  const send = (bytes: Uint8Array) => void socket.write(bytes);
  const load = mode === "floor" ? new EchoCalls(c, send) : new EchoLoad(c, send);
  socket.on("data", (chunk: Uint8Array) => load.data(chunk));
  report(await load.run());
  socket.destroy();
  exit(0);
} else {
  console.error(
    "usage: ceiling_node.ts server HOST:PORT | client|floor HOST:PORT [--payload=N --depth=N]",
  );
  exit(2);
}
