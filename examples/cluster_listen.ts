// Ports silly's `cluster.listen(addr, backlog)` example from
// silly.net.cluster's reference (findstr/silly
// docs/src/en/reference/net/cluster.md): one echo service listening on two
// addresses, the second with a backlog of 256. silly listens on
// 0.0.0.0:8888 and :8889; here both are loopback port 0, and a client
// calls `echo` through each listener to show both serve.
//
//   deno run -A examples/cluster_listen.ts
//   bun examples/cluster_listen.ts
//   node24 examples/cluster_listen.ts
//
// Exits 0 only if every check passed; closes everything, so the process
// ends by itself.

import { Cluster } from "../src/cluster/cluster.ts";
import { Commands } from "../src/codec/commands.ts";
import { json } from "../src/codec/json.ts";
import { check, finish } from "./_check.ts";

const commands = new Commands({ echo: 0x01 });

const server = new Cluster({
  ...json({ commands }),
  accept: (peer) => console.log(`accept connection from ${peer}`),
  call: (_peer, _cmd, body) => body,
  close: (peer, reason) => console.log(`connection closed: ${peer} (${reason.code})`),
});
const client = new Cluster({ ...json({ commands }) });
try {
  // Listen on two addresses; the second with a larger backlog.
  const listener1 = await server.listen("127.0.0.1:0");
  const listener2 = await server.listen("127.0.0.1:0", { backlog: 256 });
  const ports = [listener1.address.port, listener2.address.port];
  console.log(`listening on ports: ${ports.join(", ")}`);
  check(ports[0] !== ports[1], "each listener has its own port");

  for (const port of ports) {
    const peer = client.connect(`127.0.0.1:${port}`);
    const reply = await client.call(peer, "echo", { text: `hello ${port}` }) as { text: string };
    console.log(`echo through port ${port}: ${reply.text}`);
    check(reply.text === `hello ${port}`, `the listener on port ${port} serves`);
  }
} finally {
  await client.close();
  await server.close();
}

finish();
