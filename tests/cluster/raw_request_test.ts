// The `rawRequest` hook and `RawRequest.forward`: a node forwards a request
// before any handler or context exists, answered from the target's read
// callback, over real loopback sockets. Ok answers (with a prefix), empty
// answers, remote errors, one-way sends and trace ids pass through; the
// hook declines to the handler; `authorize` and the in-flight limit still
// apply; a caller's cancel or close cancels the forward on the target; a
// graceful close waits for forwards. And the handler's context is made only
// when it asks for one (four parameters, or a rest parameter).

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { CallContext } from "../../src/cluster/call_context.ts";
import type { RawRequest } from "../../src/cluster/forward.ts";
import type { Peer } from "../../src/connection/peer.ts";
import { raw } from "../../src/codec/raw.ts";
import { RemoteError, WeftError } from "../../src/errors.ts";
import { until } from "./cases.ts";

const text = (bytes: unknown) => new TextDecoder().decode(bytes as Uint8Array);
const utf8 = (s: string) => new TextEncoder().encode(s);
const PREFIX = utf8("> ");

interface Back {
  /** Per request at the back: its body, trace id, and its context. */
  requests: { body: string; traceId: bigint; context: CallContext }[];
  /** Requests whose handler is still running. */
  running: number;
}

/** A back node: echo, "empty", "fail", "sleep" (until aborted), "hold" (until released). */
async function backNode(seen: Back, held: (() => void)[]) {
  const back = new Cluster({
    ...raw(),
    call: (_peer, _cmd, body, context) => {
      const what = text(body);
      seen.requests.push({ body: what, traceId: context.traceId, context });
      if (what === "empty") return undefined;
      if (what === "fail") throw new TypeError("back failed");
      if (what === "sleep" || what === "hold") {
        seen.running++;
        return new Promise((resolve, reject) => {
          if (what === "hold") held.push(() => resolve(utf8("released")));
          context.signal.addEventListener("abort", () => reject(context.signal.reason), {
            once: true,
          });
        }).finally(() => seen.running--);
      }
      return utf8(`echo ${what}`);
    },
  });
  const listener = await back.listen("127.0.0.1:0");
  return { back, address: `127.0.0.1:${listener.address.port}` };
}

interface Front {
  /** Requests the hook saw, as it saw them (copied out of the scratch). */
  raw: { cmd: number; session: number; oneWay: boolean; deadline: number; forwarded: boolean }[];
  /** Requests the handler saw. */
  handled: string[];
}

/**
 * A client calling a front whose `rawRequest` hook forwards to a back (all
 * but "local", which it declines), over loopback; disposing closes all three.
 */
async function chain(
  frontOptions: { authorize?: (r: { cmd: number }) => boolean; maxInflightPerConnection?: number } =
    {},
) {
  const seen: Back = { requests: [], running: 0 };
  const held: (() => void)[] = [];
  const { back, address } = await backNode(seen, held);
  const front: Front = { raw: [], handled: [] };
  const to: { back?: Peer } = {};
  const frontNode = new Cluster({
    ...raw(),
    ...frontOptions,
    rawRequest: (_peer, cmd, payload, request: RawRequest) => {
      const local = text(payload) === "local";
      const forwarded = !local && request.forward(to.back!, cmd, payload, PREFIX);
      front.raw.push({
        cmd: request.cmd,
        session: request.session,
        oneWay: request.oneWay,
        deadline: request.deadline,
        forwarded,
      });
      return forwarded;
    },
    call: (_peer, _cmd, body) => {
      front.handled.push(text(body));
      return utf8(`front ${text(body)}`);
    },
  });
  to.back = frontNode.connect(address);
  const frontAt = await frontNode.listen("127.0.0.1:0");
  const client = new Cluster(raw());
  const peer = client.connect(`127.0.0.1:${frontAt.address.port}`);
  // The front connects to the back on its first use: warm it up through the handler path.
  await frontNode.call(to.back, 1, utf8("warm"));
  seen.requests.length = 0;
  return {
    seen,
    held,
    back,
    front,
    frontNode,
    client,
    peer,
    async [Symbol.asyncDispose]() {
      await client.close();
      await frontNode.close();
      await back.close();
    },
  };
}

Deno.test("rawRequest: ok answers (after the prefix), empty answers, remote errors and trace ids pass through; no handler runs", async () => {
  await using c = await chain();
  const answer = await c.client.call(c.peer, 3, utf8("a"), { traceId: 0x1234_5678_9abc_0001n });
  assert.equal(text(answer), "> echo a");
  assert.equal(await c.client.call(c.peer, 3, utf8("empty")), undefined);
  const failed = await c.client.call(c.peer, 3, utf8("fail")).catch((e) => e);
  assert.ok(failed instanceof RemoteError, String(failed));
  assert.match(failed.message, /back failed/);
  assert.deepEqual(c.seen.requests.map((r) => r.body), ["a", "empty", "fail"]);
  // The root of the trace id is kept; the low 16 bits are the front's node id.
  assert.equal(c.seen.requests[0]!.traceId >> 16n, 0x1234_5678_9abcn);
  assert.equal(c.seen.requests[0]!.traceId & 0xffffn, BigInt(c.frontNode.nodeId));
  assert.deepEqual(c.front.handled, []);
  assert.ok(c.front.raw.every((r) => r.forwarded && r.cmd === 3 && !r.oneWay));
  // The deadline travelled: the client's default timeout, in the front's clock.
  assert.ok(c.front.raw.every((r) => r.deadline < Infinity));
});

Deno.test("rawRequest: a declined request goes to the handler; a one-way send is forwarded one-way", async () => {
  await using c = await chain();
  assert.equal(text(await c.client.call(c.peer, 3, utf8("local"))), "front local");
  assert.deepEqual(c.front.handled, ["local"]);
  await c.client.send(c.peer, 3, utf8("one-way"));
  await until(() => c.seen.requests.length === 1, 5000, "the one-way send at the back");
  assert.equal(c.seen.requests[0]!.body, "one-way");
  assert.equal(c.seen.requests[0]!.context.oneWay, true);
  const sent = c.front.raw.find((r) => r.oneWay);
  assert.ok(sent?.forwarded);
});

Deno.test("rawRequest: authorize refuses before the hook sees the request", async () => {
  await using c = await chain({ authorize: (r) => r.cmd !== 9 });
  const refused = await c.client.call(c.peer, 9, utf8("a")).catch((e) => e);
  assert.ok(refused instanceof RemoteError, String(refused));
  assert.equal(refused.remote.code, "forbidden");
  assert.equal(c.front.raw.length, 0);
  assert.equal(c.seen.requests.length, 0);
  assert.equal(text(await c.client.call(c.peer, 3, utf8("b"))), "> echo b");
});

Deno.test("rawRequest: a forward holds an in-flight slot until its answer", async () => {
  await using c = await chain({ maxInflightPerConnection: 1 });
  const first = c.client.call(c.peer, 3, utf8("hold"));
  await until(() => c.seen.requests.length === 1, 5000, "the first forward at the back");
  const second = c.client.call(c.peer, 3, utf8("b"));
  // The second waits for the slot: not forwarded while the first holds it.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(c.seen.requests.length, 1);
  c.held.shift()!();
  assert.equal(text(await first), "> released");
  assert.equal(text(await second), "> echo b");
});

Deno.test("rawRequest: the caller's cancel cancels the forward on the target and frees its slot", async () => {
  await using c = await chain({ maxInflightPerConnection: 1 });
  const abort = new AbortController();
  const call = c.client.call(c.peer, 3, utf8("sleep"), { signal: abort.signal });
  await until(() => c.seen.running === 1, 5000, "the forward at the back");
  abort.abort(new Error("no longer needed"));
  const error = await call.catch((e) => e);
  assert.ok(error instanceof WeftError && error.code === "aborted", String(error));
  await until(() => c.seen.running === 0, 5000, "the back's handler aborted");
  assert.equal(c.seen.requests[0]!.context.aborted, true);
  // The slot is free again: the next call is forwarded.
  assert.equal(text(await c.client.call(c.peer, 3, utf8("next"))), "> echo next");
});

Deno.test("rawRequest: the caller's connection closing cancels the forward; a graceful close waits for forwards", async () => {
  await using c = await chain();
  const call = c.client.call(c.peer, 3, utf8("sleep")).catch((e) => e);
  await until(() => c.seen.running === 1, 5000, "the forward at the back");
  await c.client.close();
  assert.ok((await call) instanceof WeftError);
  await until(() => c.seen.running === 0, 5000, "the back's handler aborted");
  // Nothing runs at the front any more: a graceful close does not wait out its grace.
  const start = Date.now();
  await c.frontNode.close({ grace: 120_000 });
  assert.ok(Date.now() - start < 60_000);

  // A forward running when the front closes gracefully is waited for.
  await using d = await chain();
  const held = d.client.call(d.peer, 3, utf8("hold"));
  await until(() => d.seen.running === 1, 5000, "the held forward at the back");
  const closing = d.frontNode.close({ grace: 10_000 });
  await new Promise((resolve) => setTimeout(resolve, 20));
  d.held.shift()!();
  await closing;
  assert.equal(text(await held), "> released");
});

Deno.test("rawRequest: an option that is not a function is refused, naming it", () => {
  assert.throws(
    () => new Cluster({ ...raw(), rawRequest: 1 as never }),
    (e: unknown) => e instanceof TypeError && /rawRequest/.test(e.message),
  );
});

Deno.test("the handler's context is made when it asks for one: four parameters or a rest parameter", async () => {
  const seen: { arity: string; args: number; context: boolean }[] = [];
  const handlers: Record<string, (...args: never[]) => unknown> = {
    three: function (_peer: Peer, _cmd: number, _body: unknown) {
      seen.push({ arity: "three", args: arguments.length, context: arguments[3] !== undefined });
      return utf8("three");
    },
    four: function (_peer: Peer, _cmd: number, _body: unknown, context: CallContext) {
      seen.push({ arity: "four", args: arguments.length, context: context?.session > 0 });
      return utf8("four");
    },
    rest: (...args: unknown[]) => {
      seen.push({ arity: "rest", args: args.length, context: args[3] !== undefined });
      return utf8("rest");
    },
    asyncThree: async function (_peer: Peer, _cmd: number, _body: unknown) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      seen.push({ arity: "asyncThree", args: arguments.length, context: false });
      return utf8("asyncThree");
    },
  };
  for (const [name, handler] of Object.entries(handlers)) {
    await using server = new Cluster({ ...raw(), call: handler as never });
    const at = await server.listen("127.0.0.1:0");
    await using client = new Cluster(raw());
    const peer = client.connect(`127.0.0.1:${at.address.port}`);
    assert.equal(text(await client.call(peer, 1, utf8("x"))), name);
  }
  assert.deepEqual(seen, [
    { arity: "three", args: 3, context: false },
    { arity: "four", args: 4, context: true },
    { arity: "rest", args: 4, context: true },
    { arity: "asyncThree", args: 3, context: false },
  ]);
});
