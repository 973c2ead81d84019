/**
 * One node of the demo cluster, started by examples/demo.ts under Bun and
 * under Node (it runs under Deno too). Prints `listening HOST:PORT`, serves
 * the demo's commands (see _demo.ts), and exits by itself once told to
 * `quit`, or after 60 s if nobody does (so an interrupted demo leaves no
 * process behind).
 *
 * ```sh
 * bun examples/demo_node.ts
 * node24 examples/demo_node.ts
 * ```
 */

import { startDemoNode } from "./_demo.ts";

declare const process: { exit(code: number): never };

const LIFETIME_MS = 60_000;

const node = await startDemoNode();
const watchdog = setTimeout(() => {
  console.error(`demo node (${node.name}): no quit after ${LIFETIME_MS} ms, exiting`);
  process.exit(1);
}, LIFETIME_MS);
console.log(`listening ${node.address}`);
await node.quit;
clearTimeout(watchdog);
// Let the quit request's handler finish, then close everything; the process then ends.
await new Promise((resolve) => setTimeout(resolve, 0));
await node.cluster.close();
console.log(`${node.name} node closed`);
