/**
 * Cluster echo server: a weft cluster node whose `echo` command answers
 * with the request's body, and which keeps the one-way `note`s each peer
 * sends so that `notes` can report them back.
 *
 * Runs unchanged under Deno, Bun and Node 24; the transport is picked for
 * the runtime. Pair it with examples/echo_client.ts on any runtime.
 *
 * ```sh
 * deno run -A examples/echo_server.ts 127.0.0.1:0
 * bun examples/echo_server.ts 127.0.0.1:0
 * node24 examples/echo_server.ts 127.0.0.1:0
 * ```
 *
 * Prints one line, `listening HOST:PORT`, with the bound address (port 0
 * picks a free port), then serves until killed.
 */

import { Cluster } from "../src/cluster/cluster.ts";
import type { Peer } from "../src/connection/peer.ts";
import { json } from "../src/codec/json.ts";
import { formatAddress } from "../src/transport/address.ts";
import { ECHO_COMMANDS } from "./_echo_commands.ts";

declare const process: { argv: string[]; exit(code: number): never };

const address = process.argv[2];
if (address === undefined) {
  console.error("usage: echo_server.ts HOST:PORT");
  process.exit(2);
}

const notes = new WeakMap<Peer, unknown[]>();
const server = new Cluster({
  ...json({ commands: ECHO_COMMANDS }),
  // Big echoes are expected: warn only over 4 MiB (silly's soft limit is 64 KiB).
  softLimit: 4 * 1024 * 1024,
  call(peer, cmd, body) {
    switch (ECHO_COMMANDS.nameOf(cmd)) {
      case "echo":
        return body;
      case "note": {
        // One-way: keep it, answer nothing.
        let list = notes.get(peer);
        if (list === undefined) notes.set(peer, list = []);
        list.push(body);
        return undefined;
      }
      case "notes":
        return notes.get(peer) ?? [];
    }
    return undefined;
  },
});
const listener = await server.listen(address);
console.log(`listening ${formatAddress(listener.address)}`);
