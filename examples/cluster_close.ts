// Ports silly's `cluster.close(peer)` example from silly.net.cluster's
// reference (findstr/silly docs/src/en/reference/net/cluster.md): close a
// peer, then the listener. A close made here does not fire this node's
// `close` hook and the peer does not reconnect; the other end sees a remote
// close, so its hook fires. silly listens on 127.0.0.1:6666 with one global
// cluster; this port uses loopback port 0 and two Cluster nodes.
//
//   deno run -A examples/cluster_close.ts
//   bun examples/cluster_close.ts
//   node24 examples/cluster_close.ts
//
// Exits 0 only if every check passed; closes everything, so the process
// ends by itself.

import { Cluster } from "../src/cluster/cluster.ts";
import { json } from "../src/codec/json.ts";
import { check, codeOf, finish, until } from "./_check.ts";

const commands = { test: 0x01 };
const closed: string[] = [];
const server = new Cluster({
  ...json({ commands }),
  call: (_peer, _cmd, body) => body,
  close: (peer, reason) => closed.push(`server: ${peer} (${reason.code})`),
});
const client = new Cluster({
  ...json({ commands }),
  logger: { error: () => {}, warn: () => {} },
  close: (peer, reason) => closed.push(`client: ${peer} (${reason.code})`),
});
const listener = await server.listen("127.0.0.1:0");
const address = `127.0.0.1:${listener.address.port}`;
const peer = client.connect(address);
check((await client.call(peer, "test", { x: 1 }) as { x: number }).x === 1, "the peer works");

await client.close(peer); // actively close the connection
await until(() => closed.length > 0);
console.log(closed.join("\n"));
check(closed.length === 1 && closed[0]!.startsWith("server:"), "only the other end's hook fires");
check(await codeOf(client.call(peer, "test", {})) === "peer closed", "no reconnect: peer closed");

await server.close(listener); // new connections are refused
const fresh = await codeOf(client.call(client.connect(address), "test", {}));
check(fresh === "connect failed", "the closed listener accepts nothing: connect failed");
await client.close();
await server.close();
finish();
