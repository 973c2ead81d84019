// Ports silly's "Simple RPC Service" example and the `cluster.serve(conf)`
// example (the same ping/pong program) from silly.net.cluster's reference
// (findstr/silly docs/src/en/reference/net/cluster.md). zproto's
// `ping 0x01` / `pong 0x02` become a JSON command table; silly's single
// global cluster, configured twice by a server and a client script, becomes
// two Cluster nodes in one process, on loopback port 0.
//
//   deno run -A examples/cluster_simple_rpc.ts
//   bun examples/cluster_simple_rpc.ts
//   node24 examples/cluster_simple_rpc.ts
//
// Exits 0 only if every check passed; closes everything, so the process
// ends by itself.

import { Cluster } from "../src/cluster/cluster.ts";
import type { Peer } from "../src/connection/peer.ts";
import { Commands } from "../src/codec/commands.ts";
import { json } from "../src/codec/json.ts";
import { check, finish, until } from "./_check.ts";

// ping is answered by pong, as silly's marshal turns "ping" into "pong" for responses.
const commands = new Commands({ ping: { id: 0x01, response: "pong" }, pong: 0x02 });

const accepted: Peer[] = [];
let closedCode = "";
const server = new Cluster({
  ...json({ commands }),
  timeout: 3000,
  accept: (peer) => {
    accepted.push(peer);
    console.log(`server: new connection from ${peer}`);
  },
  call: (_peer, cmd, body) => {
    const { msg } = body as { msg: string };
    console.log(`server: received ${commands.nameOf(cmd)}: ${msg}`);
    return { msg: "pong from server" };
  },
  // Only for remote closes: the client closing its peer below triggers it.
  close: (peer, reason) => {
    closedCode = reason.code;
    console.log(`server: connection closed: ${peer} (${reason.code})`);
  },
});
const client = new Cluster({ ...json({ commands }) });

try {
  const listener = await server.listen("127.0.0.1:0");
  const address = `127.0.0.1:${listener.address.port}`;
  console.log(`server: listening on ${address}`);

  const peer = client.connect(address);
  const resp = await client.call(peer, "ping", { msg: "ping" }) as { msg: string };
  console.log(`client: response: ${resp.msg}`);
  check(resp.msg === "pong from server", "the ping is answered by the server's pong");
  check(accepted.length === 1, "the server accepted one connection");
  await client.close(peer);

  // The server learns of the remote close shortly after.
  await until(() => closedCode !== "");
  check(closedCode === "closed", "the server's close hook saw the client go (code closed)");
} finally {
  await client.close();
  await server.close();
}

finish();
