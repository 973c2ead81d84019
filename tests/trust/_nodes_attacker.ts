/**
 * An attacker of a named node, on Deno, Bun or Node:
 * `_nodes_attacker.ts KEY ADDRESS`: calls services and commands the node
 * lacks, with names full of newlines and terminal escapes, 8 at a time,
 * until killed (bounded: 100,000 calls or 120 s); prints `progress {json}`
 * (outcomes by code) every 100 ms.
 */

import { Nodes } from "../../src/nodes/nodes.ts";
import { authAs } from "./_keys.ts";

declare const process: { argv: string[]; exit(code: number): never };

const [key, address] = process.argv.slice(2);
const counts: Record<string, number> = {};
setInterval(() => console.log(`progress ${JSON.stringify(counts)}`), 100);
const nodes = new Nodes({
  ...authAs(key!),
  config: { db: address! },
  logger: { error() {}, warn() {} },
  timeout: 10_000,
});
const end = Date.now() + 120_000;
let n = 0;
await Promise.all(Array.from({ length: 8 }, async () => {
  while (n < 100_000 && Date.now() < end) {
    const i = n++;
    const evil = `x${i}\nlog 0 error "forged line"\u001b[2J\u202e`;
    try {
      await (i % 2 === 0
        ? nodes.call("db", evil, "get", null)
        : nodes.call("db", "echo", evil, null));
      counts.ok = (counts.ok ?? 0) + 1;
    } catch (error) {
      const code = (error as { code?: string }).code ?? "?";
      counts[code] = (counts[code] ?? 0) + 1;
    }
  }
}));
console.log(`progress ${JSON.stringify(counts)}`);
process.exit(0);
