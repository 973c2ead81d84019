// A peer whose requests `authorize` refuses cannot flood the log: each
// refusal is answered `forbidden`, and logged within the fault-log limit
// with the names it chose quoted.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { Nodes } from "../../src/nodes/nodes.ts";
import { json } from "../../src/codec/json.ts";
import { RemoteError } from "../../src/errors.ts";

Deno.test("authorize: refusals are answered forbidden and logged at most faultLogLimit lines a second, names quoted", async () => {
  const lines: string[] = [];
  const logger = { error: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
  await using server = new Cluster({
    ...json({ commands: { ping: 1 } }),
    authorize: () => false,
    faultLogLimit: 3,
    logger,
    call: () => "pong",
  });
  const listener = await server.listen("127.0.0.1:0");
  await using client = new Cluster(json({ commands: { ping: 1 } }));
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  for (let i = 0; i < 50; i++) {
    await assert.rejects(
      client.call(peer, "ping", i),
      (e) => e instanceof RemoteError && e.remote.code === "forbidden",
    );
  }
  assert.ok(lines.length >= 1 && lines.length <= 6, lines.join("\n"));
  // Named nodes: the service and command names a peer sends are quoted.
  const named: string[] = [];
  await using db = new Nodes({
    name: "db",
    authorize: ({ service }) => service === "open",
    logger: { error: (m: string) => named.push(m), warn: (m: string) => named.push(m) },
  });
  db.register("shut", { get: () => 1 });
  const l = await db.open("db", { address: "127.0.0.1:0" });
  await using web = new Nodes({ config: { db: `127.0.0.1:${l.address.port}` } });
  await assert.rejects(web.call("db", "shut", "get\n\u001b[2J", null));
  assert.equal(named.length, 1, named.join("\n"));
  assert.match(named[0]!, /of service "shut" \(command "get\\n\\u001b\[2J"\)/);
});
