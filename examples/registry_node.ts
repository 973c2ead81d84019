// A registry node: the embedded discovery store served over weft, so that
// processes on Deno, Bun and Node share one registry with nothing to
// install (they use RemoteRegistry with this node's address). One process:
// a single point of failure; use etcd for real deployments.
//
//   deno run -A examples/registry_node.ts [HOST:PORT]     (default 127.0.0.1:0)
//   bun examples/registry_node.ts 127.0.0.1:7400
//   node examples/registry_node.ts 127.0.0.1:7400
//
// Prints `registry listening HOST:PORT` and serves until it is killed (or,
// with --for MS, for that long, then closes and exits 0).

import { serveRegistry } from "../src/discovery/remote.ts";

declare const process: { argv: string[] };
const argv = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const at = argv.indexOf("--for");
const lifetime = at < 0 ? undefined : Number(argv[at + 1]);
const address = argv.find((a, i) => !a.startsWith("--") && argv[i - 1] !== "--for") ??
  "127.0.0.1:0";

const server = await serveRegistry(address);
console.log(`registry listening ${server.address}`);
if (lifetime !== undefined) {
  await new Promise((resolve) => setTimeout(resolve, lifetime));
  await server.close();
  console.log("registry closed");
}
