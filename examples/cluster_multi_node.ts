// Ports silly's "Multi-Node Cluster Communication" example from
// silly.net.cluster's reference (findstr/silly
// docs/src/en/reference/net/cluster.md). Three nodes, each its own Cluster
// in this process on loopback port 0 (silly's example uses fixed ports
// 10001-10003). node2 and node3 register with node1, node2 sends a
// heartbeat, and node3 asks node1 to forward a message to node2.
//
// One step further than silly's example, which only prints "forwarded":
// node1 really forwards, by calling node2 back over the connection node2
// opened (accepted peers are full peers), with `context.call` so the
// forwarded call carries the original request's trace id.
//
//   deno run -A examples/cluster_multi_node.ts
//   bun examples/cluster_multi_node.ts
//   node24 examples/cluster_multi_node.ts
//
// Exits 0 only if every check passed; closes everything, so the process
// ends by itself.

import { Cluster } from "../src/cluster/cluster.ts";
import type { Peer } from "../src/connection/peer.ts";
import { Commands } from "../src/codec/commands.ts";
import { json } from "../src/codec/json.ts";
import { check, finish } from "./_check.ts";

// silly's zproto: register 0x01, heartbeat 0x02, forward 0x03 (plus deliver, for the real forward).
const commands = new Commands({ register: 0x01, heartbeat: 0x02, forward: 0x03, deliver: 0x04 });

async function createNode(name: string) {
  const registered = new Map<string, Peer>();
  const inbox: string[] = [];
  const cluster = new Cluster({
    ...json({ commands }),
    accept: (peer) => console.log(`[${name}] accept connection: ${peer}`),
    call: async (peer, cmd, body, context) => {
      switch (commands.nameOf(cmd)) {
        case "register": {
          const { node_id, addr } = body as { node_id: string; addr: string };
          console.log(`[${name}] node registered: ${node_id} @ ${addr}`);
          registered.set(node_id, peer);
          return { status: "ok" };
        }
        case "heartbeat":
          return { timestamp: Date.now() };
        case "forward": {
          const { target, data } = body as { target: string; data: string };
          console.log(`[${name}] forward message to ${target}: ${data}`);
          const to = registered.get(target);
          if (to === undefined) return { result: `unknown node ${target}` };
          const ack = await context.call(to, "deliver", { from: name, data }) as {
            received: boolean;
          };
          return { result: ack.received ? "forwarded" : "not delivered" };
        }
        case "deliver": {
          const { from, data } = body as { from: string; data: string };
          console.log(`[${name}] delivered by ${from}: ${data}`);
          inbox.push(data);
          return { received: true };
        }
      }
      return undefined;
    },
    close: () => console.log(`[${name}] node disconnected`),
  });
  const listener = await cluster.listen("127.0.0.1:0");
  const address = `127.0.0.1:${listener.address.port}`;
  console.log(`[${name}] listening on ${address}`);
  return { name, cluster, address, registered, inbox };
}

const [node1, node2, node3] = await Promise.all(["node1", "node2", "node3"].map(createNode));

// node2 connects to node1 and registers.
const peer2 = node2!.cluster.connect(node1!.address);
const resp = await node2!.cluster.call(peer2, "register", {
  node_id: "node2",
  addr: node2!.address,
}) as { status: string };
check(resp.status === "ok", `registration response: ${resp.status}`);

// Heartbeat (silly waits 500 ms first; 20 ms here).
const before = Date.now();
await new Promise((resolve) => setTimeout(resolve, 20));
const hb = await node2!.cluster.call(peer2, "heartbeat", { timestamp: Date.now() }) as {
  timestamp: number;
};
check(hb.timestamp >= before, `heartbeat response: ${hb.timestamp}`);

// node3 connects to node1, registers, and asks node1 to forward to node2.
const peer3 = node3!.cluster.connect(node1!.address);
await node3!.cluster.call(peer3, "register", { node_id: "node3", addr: node3!.address });
const fwd = await node3!.cluster.call(peer3, "forward", {
  target: "node2",
  data: "Hello from node3",
}) as { result: string };
check(fwd.result === "forwarded", `forward result: ${fwd.result}`);
check(node2!.inbox.join() === "Hello from node3", "node2 received the forwarded message");
check(node1!.registered.size === 2, "node1 knows two registered nodes");
for (const node of [node1!, node2!, node3!]) await node.cluster.close();
finish();
