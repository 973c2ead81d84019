// Ports silly's "Broadcast Message to All Nodes" example from
// silly.net.cluster's reference (findstr/silly
// docs/src/en/reference/net/cluster.md). Three receiver nodes (silly's
// ports 8001-8003; loopback port 0 here), each its own Cluster in this
// process; a client connects to all of them, calls `broadcast` on every
// one concurrently, and counts the `ack`s.
//
// Where silly forks one task per call and sleeps 500 ms hoping they are
// done, weft awaits the calls themselves (`Promise.allSettled`), so the
// count is exact and a failed node shows up as a rejected call.
//
//   deno run -A examples/cluster_broadcast.ts
//   bun examples/cluster_broadcast.ts
//   node24 examples/cluster_broadcast.ts
//
// Exits 0 only if every check passed; closes everything, so the process
// ends by itself.

import { Cluster } from "../src/cluster/cluster.ts";
import { Commands } from "../src/codec/commands.ts";
import { json } from "../src/codec/json.ts";
import { check, finish } from "./_check.ts";

// broadcast 0x20 is answered by ack 0x21.
const commands = new Commands({ broadcast: { id: 0x20, response: "ack" }, ack: 0x21 });

const received = new Map<string, string>();
const receivers: Cluster[] = [];
const client = new Cluster({ ...json({ commands }), timeout: 1000 });
try {
  // Start 3 receiver nodes.
  const addresses: string[] = [];
  for (const name of ["node_1", "node_2", "node_3"]) {
    const receiver = new Cluster({
      ...json({ commands }),
      timeout: 1000,
      call: (_peer, _cmd, body) => {
        const { message } = body as { message: string };
        console.log(`${name}: received broadcast: ${message}`);
        received.set(name, message);
        return { node_id: name };
      },
    });
    receivers.push(receiver);
    const listener = await receiver.listen("127.0.0.1:0");
    addresses.push(`127.0.0.1:${listener.address.port}`);
  }
  console.log(`receivers listening on ${addresses.join(", ")}`);

  // Connect to all nodes, then broadcast to all of them at once.
  const peers = addresses.map((address) => client.connect(address));
  const message = "Important notice: System will be under maintenance in 10 minutes";
  const results = await Promise.allSettled(
    peers.map((peer) => client.call(peer, "broadcast", { message })),
  );
  const acks: string[] = [];
  for (const result of results) {
    if (result.status === "fulfilled") {
      const { node_id } = result.value as { node_id: string };
      console.log(`received ack: ${node_id}`);
      acks.push(node_id);
    } else {
      console.log(`broadcast failed: ${result.reason}`);
    }
  }
  console.log(`broadcast complete, ack count: ${acks.length}`);
  check(acks.length === 3, "every node acknowledged");
  check(new Set(acks).size === 3, "the acks come from three different nodes");
  check(
    received.size === 3 && [...received.values()].every((m) => m === message),
    "every node received the message",
  );

  // Clean up connections.
  for (const peer of peers) await client.close(peer);
} finally {
  await client.close();
  for (const receiver of receivers) await receiver.close();
}

finish();
