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
import { Commands } from "../src/codec/commands.ts";
import { json } from "../src/codec/json.ts";
import { isWeftError } from "../src/errors.ts";
import { check, finish } from "./_check.ts";

const commands = new Commands({ test: 0x01 });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "no error";
  } catch (error) {
    return isWeftError(error) ? error.code : String(error);
  }
}

const serverClosed: string[] = [];
const clientClosed: string[] = [];
const server = new Cluster({
  ...json({ commands }),
  call: (_peer, _cmd, body) => body,
  close: (peer, reason) => {
    console.log(`server: connection closed: ${peer} (${reason.code})`);
    serverClosed.push(reason.code);
  },
});
const client = new Cluster({
  ...json({ commands }),
  logger: { error: () => {}, warn: () => {} },
  close: (peer, reason) => {
    console.log(`client: connection closed: ${peer} (${reason.code})`);
    clientClosed.push(reason.code);
  },
});
try {
  const listener = await server.listen("127.0.0.1:0");
  const address = `127.0.0.1:${listener.address.port}`;
  const peer = client.connect(address);
  check((await client.call(peer, "test", { x: 1 }) as { x: number }).x === 1, "the peer works");

  // Actively close the connection.
  await client.close(peer);
  console.log("peer closed");
  for (let i = 0; i < 200 && serverClosed.length === 0; i++) await sleep(5);
  check(clientClosed.length === 0, "a local close does not fire this node's close hook");
  check(serverClosed.join() === "closed", "the other end's close hook fires (code closed)");
  const after = await codeOf(client.call(peer, "test", { x: 2 }));
  console.log(`call on the closed peer: ${after}`);
  check(after === "peer closed", "a closed peer does not reconnect: peer closed");

  // Close the listener: new connections are refused.
  await server.close(listener);
  console.log("listener closed");
  const fresh = await codeOf(client.call(client.connect(address), "test", { x: 3 }));
  console.log(`call after the listener closed: ${fresh}`);
  check(fresh === "connect failed", "the closed listener accepts nothing: connect failed");
} finally {
  await client.close();
  await server.close();
}

finish();
