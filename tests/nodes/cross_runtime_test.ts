// Three named nodes, one per runtime: "a" in this Deno process, "b" under
// Bun and "c" under Node (tests/nodes/_node_child.ts), calling each other's
// services by node and service name, through proxies and typed proxies,
// with the caller's node name seen on the other side.

import assert from "node:assert/strict";
import { spawnScript } from "../_runtimes.ts";
import { Nodes } from "../../src/nodes/mod.ts";
import { transport } from "../../src/transport/deno.ts";
import type { CallContext } from "../../src/cluster/call_context.ts";
import { isWeftError } from "../../src/errors.ts";

const CHILD = new URL("./_node_child.ts", import.meta.url).pathname;

type Calc = {
  add: { request: { a: number; b: number }; response: number };
  whoami: { request: null; response: { node: string; runtime: string; caller: string | null } };
};

Deno.test("Nodes across runtimes: a (deno), b (bun), c (node) call each other by name", async () => {
  const b = await spawnScript("bun", CHILD, ["b"]);
  const c = await spawnScript("node", CHILD, ["c"]);
  const a = new Nodes({ transport, name: "a", timeout: 10_000 });
  try {
    a.register<Calc>("calc", {
      add: ({ a: x, b: y }) => x + y,
      whoami: (_body, context: CallContext) => ({
        node: "a",
        runtime: "deno",
        caller: context.peer.nodeName ?? null,
      }),
    });
    const la = await a.open("a", { address: "127.0.0.1:0" });
    const [, addrB] = await b.waitFor(/^listening (\S+)$/m, 30_000);
    const [, addrC] = await c.waitFor(/^listening (\S+)$/m, 30_000);
    const config = { a: `127.0.0.1:${la.address.port}`, b: addrB!, c: addrC! };
    const mine = await a.reload(config);
    assert.deepEqual(mine.map((o) => [o.node, o.outcome, o.reachable ?? null]), [
      ["a", "added", true],
      ["b", "added", true],
      ["c", "added", true],
    ]);
    for (const child of ["b", "c"]) {
      const theirs = await a.call(child, "ctl", "reload", config) as unknown[][];
      assert.ok(theirs.every((o) => o[1] === "added" && o[2] === true), JSON.stringify(theirs));
    }
    // a -> b, a -> c, by name and through typed proxies.
    assert.equal(await a.call("b", "calc", "add", { a: 1, b: 2 }), 3);
    const calcC = a.proxy<Calc>("c", "calc");
    assert.equal(await calcC.add({ a: 5, b: 6 }), 11);
    assert.deepEqual(await a.proxy<Calc>("b", "calc").whoami(null), {
      node: "b",
      runtime: "bun",
      caller: "a",
    });
    assert.deepEqual(await calcC.whoami(null), { node: "c", runtime: "node", caller: "a" });
    // b -> c, c -> a, b -> a, c -> b (relayed: the callee sees the relaying node).
    const relay = (via: string, node: string) =>
      a.call(via, "relay", "call", { node, service: "calc", cmd: "whoami", body: null });
    assert.deepEqual(await relay("b", "c"), { node: "c", runtime: "node", caller: "b" });
    assert.deepEqual(await relay("c", "a"), { node: "a", runtime: "deno", caller: "c" });
    assert.deepEqual(await relay("b", "a"), { node: "a", runtime: "deno", caller: "b" });
    assert.deepEqual(await relay("c", "b"), { node: "b", runtime: "bun", caller: "c" });
    // Typed proxies inside the children.
    assert.equal(await a.call("b", "relay", "typed", { node: "c" }), 42);
    assert.equal(await a.call("c", "relay", "typed", { node: "b" }), 42);
    // The error taxonomy crosses runtimes: c (node) calling an unknown service on b (bun).
    await assert.rejects(
      a.call("c", "relay", "call", { node: "b", service: "nope", cmd: "x", body: null }),
      (e) =>
        isWeftError(e, "unknown service") && /Node b: No service "nope" on node b/.test(e.message),
    );
    await assert.rejects(a.call("b", "nope", "x"), (e) => isWeftError(e, "unknown service"));
    assert.equal(await a.call("b", "ctl", "close"), "bye");
    assert.equal(await a.call("c", "ctl", "close"), "bye");
    assert.equal(await b.exited(10_000), 0);
    assert.equal(await c.exited(10_000), 0);
  } finally {
    await a.close();
    await b.stop();
    await c.stop();
  }
});
