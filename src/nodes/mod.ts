/**
 * Named nodes and services (skynet's cluster layer) on weft's
 * {@linkcode Cluster}: a config of node names and addresses, `open(name)`,
 * an awaitable `reload()` with per-node outcomes, named services with
 * `register`, and `call` / `send` / `query` / `proxy` by node and service
 * name, for Deno, Bun and Node alike.
 *
 * @example Two named nodes
 * ```ts
 * import { Nodes } from "@weft/cluster/nodes";
 * import { transport } from "@weft/cluster/memory";
 *
 * type Calc = { add: { request: { a: number; b: number }; response: number } };
 *
 * await using node1 = new Nodes({ transport, name: "node1" });
 * const { address } = await node1.open("node1", { address: "127.0.0.1:0" });
 * node1.register<Calc>("calc", { add: ({ a, b }) => a + b });
 *
 * await using node2 = new Nodes({ transport, name: "node2", config: { node1: `127.0.0.1:${address.port}` } });
 * const calc = node2.proxy<Calc>("node1", "calc");
 * const sum: number = await calc.add({ a: 1, b: 2 });
 * if (sum !== 3) throw new Error("unexpected result");
 * ```
 *
 * @module
 */

export * from "./nodes.ts";
export * from "./config.ts";
export * from "./lua_config.ts";
export type { Cluster } from "../cluster/cluster.ts";
export * from "./follow.ts";
