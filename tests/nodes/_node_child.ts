// A named node for the cross-runtime tests, under Deno, Bun or Node:
// opens as argv[0] on loopback port 0, prints `listening HOST:PORT`, and
// serves calc (add, whoami), relay (call: calls onwards by node and
// service name) and ctl (reload: the test hands it the config). Closes on
// ctl.close.

import { Nodes } from "../../src/nodes/mod.ts";
import type { CallContext } from "../../src/cluster/call_context.ts";
import { detectRuntime } from "../../src/transport/detect.ts";

declare const process: { argv: string[] };
const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const name = args[0]!;
const runtime = String(detectRuntime());

type Calc = {
  add: { request: { a: number; b: number }; response: number };
  whoami: { request: null; response: { node: string; runtime: string; caller: string | null } };
};

const nodes = new Nodes({ name, timeout: 10_000 });
nodes.register<Calc>("calc", {
  add: ({ a, b }) => a + b,
  whoami: (_body, context) => ({ node: name, runtime, caller: context.peer.nodeName ?? null }),
});
nodes.register("relay", {
  call: (
    { node, service, cmd, body }: { node: string; service: string; cmd: string; body: unknown },
    context: CallContext,
  ) => nodes.call(node, service, cmd, body, { context }),
  typed: ({ node }: { node: string }) => nodes.proxy<Calc>(node, "calc").add({ a: 20, b: 22 }),
} as never);
nodes.register("ctl", {
  reload: async (config: Record<string, string>) =>
    (await nodes.reload(config)).map((o) => [o.node, o.outcome, o.reachable ?? null]),
  close: () => {
    setTimeout(() => nodes.close(), 10);
    return "bye";
  },
} as never);
const listener = await nodes.open(name, { address: "127.0.0.1:0" });
console.log(`listening 127.0.0.1:${listener.address.port}`);
