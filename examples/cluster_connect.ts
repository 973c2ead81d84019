// Ports silly's `cluster.connect(addr)` example from silly.net.cluster's
// reference (findstr/silly docs/src/en/reference/net/cluster.md):
// `connect` returns a peer handle at once, without checking anything; the
// first call connects, and a call to an address nobody serves fails with
// an error instead of the handle failing. silly's second peer is
// example.com:80; this port stays on loopback: `localhost` (a DNS name) for
// the server, and a port that was just freed for the failing one.
//
//   deno run -A examples/cluster_connect.ts
//   bun examples/cluster_connect.ts
//   node24 examples/cluster_connect.ts
//
// Exits 0 only if every check passed; closes everything, so the process
// ends by itself.

import { Cluster } from "../src/cluster/cluster.ts";
import { json } from "../src/codec/json.ts";
import { check, codeOf, finish } from "./_check.ts";

const commands = { request: 0x01 };
const server = new Cluster({
  ...json({ commands }),
  call: (_peer, _cmd, body) => ({ got: (body as { data: string }).data }),
});
// Quiet: the failed connect below is expected, not worth a warning on stderr.
const client = new Cluster({ ...json({ commands }), logger: { error() {}, warn() {} } });
const port = (await server.listen("127.0.0.1:0")).address.port;
const gone = await server.listen("127.0.0.1:0"); // a port nothing listens on any more
await server.close(gone);

// Peer handles come back at once; nothing has connected yet.
const peer1 = client.connect(`localhost:${port}`);
const peer2 = client.connect(`127.0.0.1:${gone.address.port}`);
check(!peer1.isConnected && !peer2.isConnected, "connect() returns handles without connecting");

// Use the handles directly; the call connects (the DNS name resolves).
const resp = await client.call(peer1, "request", { data: "test" }) as { got: string };
check(resp.got === "test" && peer1.isConnected, `peer1 response: ${resp.got}`);
const code = await codeOf(client.call(peer2, "request", { data: "test" }));
check(code === "connect failed", `peer2 call failed: ${code}`);
await client.close();
await server.close();
finish();
