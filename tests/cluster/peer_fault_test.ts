// peerFault(): a handler refusing a request as the peer's fault (real
// loopback sockets). The caller gets the coded error as from any handler;
// the node logs nothing for it, builds no stack, and answers through its
// errorInfo hook with a body encoded once; a one-way send gets nothing.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { faultBody, isPeerFault, peerFault } from "../../src/cluster/fault_reply.ts";
import type { ModeConnection } from "../../src/protocol/mode.ts";
import { encodeErrorInfo } from "../../src/protocol/weft/protocol.ts";
import { raw } from "../../src/codec/raw.ts";
import { RemoteError, WeftError } from "../../src/errors.ts";
import { counting } from "./_log_lines.ts";

Deno.test("peerFault() makes a stackless WeftError the cluster knows; other errors are not faults", () => {
  const fault = peerFault("unreachable", "no live service 5.1");
  assert.ok(fault instanceof WeftError);
  assert.equal(fault.code, "unreachable");
  assert.equal(fault.message, "no live service 5.1");
  assert.ok(isPeerFault(fault));
  assert.equal((fault.stack ?? "").includes("\n    at "), false, `a stack: ${fault.stack}`);
  assert.equal(isPeerFault(new WeftError("unreachable", "x")), false);
  assert.equal(isPeerFault(new Error("x")), false);
  assert.equal(isPeerFault(undefined), false);
  // the stack capture of other errors is left as it was
  assert.ok((new Error("after").stack ?? "").includes("\n    at "));
});

Deno.test("a handler's peerFault is answered to the caller and not logged, a thousand times over", async () => {
  const server = counting();
  let handled = 0;
  await using node = new Cluster({
    ...raw(),
    logger: server.logger,
    call: (_peer, cmd) => {
      handled++;
      if (cmd === 1) throw peerFault("bad route", `cmd ${cmd} refused`);
      if (cmd === 2) throw new WeftError("bad route", "thrown the ordinary way");
      return new Uint8Array([7]);
    },
  });
  const listener = await node.listen("127.0.0.1:0");
  await using client = new Cluster({ ...raw(), logger: counting().logger });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  const outcomes = await Promise.allSettled(
    Array.from({ length: 1000 }, () => client.call(peer, 1, new Uint8Array(4))),
  );
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    const error = (outcome as PromiseRejectedResult).reason;
    assert.ok(error instanceof RemoteError);
    assert.deepEqual(error.remote, {
      name: "WeftError",
      code: "bad route",
      message: "cmd 1 refused",
    });
  }
  // one-way: nothing to answer, still nothing logged
  await client.send(peer, 1, new Uint8Array(4));
  // good calls still work on the same connection
  assert.deepEqual(await client.call(peer, 3, new Uint8Array(1)), new Uint8Array([7]));
  assert.equal(handled, 1002);
  assert.deepEqual(server.lines, [], "the node logged a peer's fault");
  // an ordinary throw is still logged, as before
  const ordinary = await client.call(peer, 2, new Uint8Array(1)).catch((error) => error);
  assert.ok(ordinary instanceof RemoteError);
  assert.equal(server.lines.length, 1);
  assert.match(server.lines[0]!, /^error Handler for cmd 2 .* threw$/);
});

Deno.test("a peerFault is answered through the node's errorInfo hook", async () => {
  await using node = new Cluster({
    ...raw(),
    errorInfo: (error) => ({
      name: "RouterError",
      code: (error as WeftError).code,
      message: `routed: ${(error as Error).message}`,
    }),
    call: () => {
      throw peerFault("unreachable", "nobody there");
    },
  });
  const listener = await node.listen("127.0.0.1:0");
  await using client = new Cluster(raw());
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  for (let i = 0; i < 3; i++) {
    const error = await client.call(peer, 1, new Uint8Array(1)).catch((e) => e);
    assert.ok(error instanceof RemoteError);
    assert.deepEqual(error.remote, {
      name: "RouterError",
      code: "unreachable",
      message: "routed: nobody there",
    });
  }
});

Deno.test("faultBody() encodes each distinct name, code and message once, and never mixes two up", () => {
  const protocol = { encodeError: encodeErrorInfo } as unknown as ModeConnection;
  const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));
  const first = faultBody(protocol, "forbidden", "Not allowed", "WeftError");
  assert.equal(faultBody(protocol, "forbidden", "Not allowed", "WeftError"), first, "reused");
  assert.deepEqual(decode(first), { name: "WeftError", code: "forbidden", message: "Not allowed" });
  // no code, an empty code, and parts whose joins would read alike stay apart
  assert.deepEqual(decode(faultBody(protocol, undefined, "m", "Error")), {
    name: "Error",
    message: "m",
  });
  assert.deepEqual(decode(faultBody(protocol, "", "m", "Error")), {
    name: "Error",
    code: "",
    message: "m",
  });
  assert.deepEqual(decode(faultBody(protocol, "b\nc", "d", "a")), {
    name: "a",
    code: "b\nc",
    message: "d",
  });
  assert.deepEqual(decode(faultBody(protocol, "b", "c\nd", "a")), {
    name: "a",
    code: "b",
    message: "c\nd",
  });
});

Deno.test("an authorize refusal is answered coded, and through a custom errorInfo hook as a WeftError", async () => {
  const seen: unknown[] = [];
  const nodes = [
    new Cluster({ ...raw(), logger: counting().logger, authorize: ({ cmd }) => cmd !== 1 }),
    new Cluster({
      ...raw(),
      logger: counting().logger,
      authorize: ({ cmd }) => cmd !== 1,
      errorInfo: (error) => {
        seen.push(error);
        return { name: "Custom", code: (error as WeftError).code, message: "custom" };
      },
    }),
  ];
  await using client = new Cluster({ ...raw(), logger: counting().logger });
  try {
    const [plain, custom] = await Promise.all(nodes.map((n) => n.listen("127.0.0.1:0")));
    const refused = await client.call(
      client.connect(`127.0.0.1:${plain!.address.port}`),
      1,
      new Uint8Array(1),
    ).catch((e) => e);
    assert.ok(refused instanceof RemoteError);
    assert.deepEqual(refused.remote, {
      name: "WeftError",
      code: "forbidden",
      message: "Not allowed: cmd 1 for an unauthenticated peer",
    });
    const viaHook = await client.call(
      client.connect(`127.0.0.1:${custom!.address.port}`),
      1,
      new Uint8Array(1),
    ).catch((e) => e);
    assert.ok(viaHook instanceof RemoteError);
    assert.deepEqual(viaHook.remote, { name: "Custom", code: "forbidden", message: "custom" });
    assert.equal(seen.length, 1);
    assert.ok(seen[0] instanceof WeftError && seen[0].code === "forbidden", String(seen[0]));
    assert.equal((seen[0] as Error).message, "Not allowed: cmd 1 for an unauthenticated peer");
  } finally {
    for (const node of nodes) await node.close();
  }
});

Deno.test("a thrown error with an odd name is answered as it is, not as a failed send", async () => {
  await using node = new Cluster({
    ...raw(),
    logger: counting().logger,
    call: () => {
      const error = new Error("odd");
      (error as { name: unknown }).name = null;
      throw error;
    },
  });
  const listener = await node.listen("127.0.0.1:0");
  await using client = new Cluster(raw());
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  const error = await client.call(peer, 1, new Uint8Array(1)).catch((e) => e);
  assert.ok(error instanceof RemoteError);
  assert.deepEqual(error.remote, { name: "null", message: "odd" });
});
