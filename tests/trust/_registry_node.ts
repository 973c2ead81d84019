/**
 * The attack tests' registry node, on Deno, Bun or Node:
 * `_registry_node.ts`. Key authentication (key id `registry` of the test
 * ring) and small per-identity quotas, so that exhausting one is quick: 40
 * leases, 40 keys, 20 waiting watches per identity. Prints `listening
 * HOST:PORT`, and each log line as `log MS LEVEL MESSAGE`.
 */

import { serveRegistry } from "../../src/discovery/remote.ts";
import { authAs } from "./_keys.ts";

const start = Date.now();
const line = (level: string) => (message: string) =>
  console.log(`log ${Date.now() - start} ${level} ${JSON.stringify(message)}`);
const server = await serveRegistry("127.0.0.1:0", {
  ...authAs("registry"),
  maxLeasesPerIdentity: 40,
  maxKeysPerIdentity: 40,
  maxWatchesPerIdentity: 20,
  cluster: { logger: { error: line("error"), warn: line("warn") } },
});
console.log(`listening ${server.address}`);
