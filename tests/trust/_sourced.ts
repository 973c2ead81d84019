/**
 * A transport whose connections leave from a chosen local address (any of
 * 127.0.0.0/8 on Linux): to the listener each address is another host, as
 * an attacker elsewhere would be. Test-only; `node:net`, which Deno, Bun and
 * Node all have, takes the `localAddress`.
 */

import net from "node:net";
import { parseAddress } from "../../src/transport/address.ts";
import { wrap } from "../../src/transport/_node_socket.ts";
import { transport as nodeTransport } from "../../src/transport/node.ts";
import type { Connection, Transport } from "../../src/transport/types.ts";

/** A transport connecting from `localAddress` (listening as the node transport does). */
export function sourcedTransport(localAddress: string): Transport {
  return {
    name: `node from ${localAddress}`,
    listen: nodeTransport.listen,
    connect: (address) =>
      new Promise<Connection>((resolve, reject) => {
        const { hostname, port } = parseAddress(address);
        const socket = net.connect({ host: hostname, port, localAddress });
        const onError = (error: Error) => {
          socket.destroy();
          reject(error);
        };
        socket.once("error", onError);
        socket.once("connect", () => {
          socket.off("error", onError);
          resolve(wrap(socket, true, 64 * 1024));
        });
      }),
  };
}
