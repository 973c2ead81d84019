/**
 * A named node for the attack tests, on Deno, Bun or Node:
 * `_named_node.ts`. Node `db` with key authentication (key id `registry`
 * of the test ring stands for the node's own key) and a service `echo`
 * (`echo` answers its body). Prints `listening HOST:PORT`, then each log
 * line as `log MS LEVEL JSON` (the message JSON-quoted, so the test sees
 * exactly what was logged).
 */

import { Nodes } from "../../src/nodes/nodes.ts";
import { formatAddress } from "../../src/transport/address.ts";
import { authAs } from "./_keys.ts";

const start = Date.now();
const line = (level: string) => (message: string) =>
  console.log(`log ${Date.now() - start} ${level} ${JSON.stringify(message)}`);
const nodes = new Nodes({
  name: "db",
  ...authAs("registry"),
  logger: { error: line("error"), warn: line("warn") },
});
nodes.register("echo", { echo: (body) => body });
const listener = await nodes.open("db", { address: "127.0.0.1:0" });
console.log(`listening ${formatAddress(listener.address)}`);
