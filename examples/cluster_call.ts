// Ports silly's `cluster.call(peer, cmd, obj)` example from
// silly.net.cluster's reference (findstr/silly
// docs/src/en/reference/net/cluster.md): an `add` service answered by
// `sum`, called with {a = 10, b = 20}. silly listens on 127.0.0.1:9999;
// this port uses loopback port 0. The server and the client are two
// Cluster nodes in one process.
//
// Where silly returns `nil, err`, weft rejects with a WeftError whose
// `code` is silly's error string ("timeout", "closed", ...).
//
//   deno run -A examples/cluster_call.ts
//   bun examples/cluster_call.ts
//   node24 examples/cluster_call.ts
//
// Exits 0 only if every check passed; closes everything, so the process
// ends by itself.

import { Cluster } from "../src/cluster/cluster.ts";
import { Commands } from "../src/codec/commands.ts";
import { json } from "../src/codec/json.ts";
import { isWeftError } from "../src/errors.ts";
import { check, finish } from "./_check.ts";

declare const process: { exit(code: number): never };

// add 0x01 is answered by sum 0x02.
const commands = new Commands({ add: { id: 0x01, response: "sum" }, sum: 0x02 });

const server = new Cluster({
  ...json({ commands }),
  timeout: 2000,
  // Calculate addition.
  call: (_peer, _cmd, body) => {
    const { a, b } = body as { a: number; b: number };
    return { result: a + b };
  },
});
const client = new Cluster({ ...json({ commands }), timeout: 2000 });
try {
  const listener = await server.listen("127.0.0.1:0");
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);

  // Send the request and wait for the response.
  try {
    const resp = await client.call(peer, "add", { a: 10, b: 20 }) as { result: number };
    console.log(`calculation result: ${resp.result}`);
    check(resp.result === 30, "10 + 20 = 30");
  } catch (error) {
    console.log(`call failed: ${isWeftError(error) ? error.code : error}`);
    check(false, "the add call succeeds");
  }
  await client.close(peer);
} finally {
  await client.close();
  await server.close();
}

finish();
