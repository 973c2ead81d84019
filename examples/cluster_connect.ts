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
import { Commands } from "../src/codec/commands.ts";
import { json } from "../src/codec/json.ts";
import { isWeftError } from "../src/errors.ts";
import { check, finish } from "./_check.ts";

const commands = new Commands({ request: 0x01 });

const server = new Cluster({
  ...json({ commands }),
  call: (_peer, _cmd, body) => ({ got: (body as { data: string }).data }),
});
// Quiet: the failed connect below is expected, not worth a warning on stderr.
const client = new Cluster({
  ...json({ commands }),
  timeout: 2000,
  logger: { error: () => {}, warn: () => {} },
});
try {
  const listener = await server.listen("127.0.0.1:0");
  const port = listener.address.port;
  // A port that nothing listens on any more.
  const gone = await server.listen("127.0.0.1:0");
  const freePort = gone.address.port;
  await server.close(gone);

  // Peer handles come back at once; nothing has connected yet.
  const peer1 = client.connect(`localhost:${port}`);
  const peer2 = client.connect(`127.0.0.1:${freePort}`);
  console.log(`peer handles: ${peer1}, ${peer2}`);
  check(!peer1.isConnected && !peer2.isConnected, "connect() returns handles without connecting");

  // Use the handles directly; the call connects.
  const resp = await client.call(peer1, "request", { data: "test" }) as { got: string };
  console.log(`peer1 response: ${resp.got}`);
  check(resp.got === "test" && peer1.isConnected, "the first call connects (DNS name resolved)");

  try {
    await client.call(peer2, "request", { data: "test" });
    check(false, "a call to a closed port fails");
  } catch (error) {
    const code = isWeftError(error) ? error.code : String(error);
    console.log(`peer2 call failed: ${code}`);
    check(code === "connect failed", "a call to a closed port fails with connect failed");
  }

  await client.close(peer1);
} finally {
  await client.close();
  await server.close();
}

finish();
