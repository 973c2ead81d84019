// forwardRaw(): a node passes a request's bytes on to another node and gets
// the response back raw and synchronously, over real loopback sockets:
// bytes, empty answers, remote errors, trace ids, one-way sends, the cases it
// leaves to the ordinary path, and cancellation, deadlines and a closed
// target ending the forward (and the target's handler) as a call would.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { CallContext } from "../../src/cluster/call_context.ts";
import { forwardRaw, type ForwardSink } from "../../src/cluster/forward.ts";
import type { Peer } from "../../src/connection/peer.ts";
import { raw } from "../../src/codec/raw.ts";
import { RemoteError, WeftError } from "../../src/errors.ts";
import { until } from "../_wait.ts";

const text = (bytes: unknown) => new TextDecoder().decode(bytes as Uint8Array);
const utf8 = (s: string) => new TextEncoder().encode(s);

interface Seen {
  /** Per request at the back: its body, trace id, and whether its context aborted. */
  requests: { body: string; traceId: bigint; context: CallContext }[];
}

/** A back node: echo, "empty", "fail", "sleep" (until aborted), "send" (one-way). */
async function backNode(seen: Seen) {
  const back = new Cluster({
    ...raw(),
    call: (_peer, _cmd, body, context) => {
      const what = text(body);
      seen.requests.push({ body: what, traceId: context.traceId, context });
      if (what === "empty") return undefined;
      if (what === "fail") throw new TypeError("back failed");
      if (what === "sleep") {
        return new Promise((_, reject) =>
          context.signal.addEventListener("abort", () => reject(context.signal.reason), {
            once: true,
          })
        );
      }
      return utf8(`echo ${what}`);
    },
  });
  const listener = await back.listen("127.0.0.1:0");
  return { back, address: `127.0.0.1:${listener.address.port}` };
}

/**
 * A front node whose handler forwards raw to `target()` and records each
 * outcome; it answers its caller with the response (copied) or the error.
 */
function frontNode(target: () => Peer, outcomes: string[], forwarded: boolean[]) {
  const front: Cluster = new Cluster({
    ...raw(),
    call: (_peer, cmd, body, context) => {
      const { promise, resolve, reject } = Promise.withResolvers<unknown>();
      const sink: ForwardSink = {
        response(bytes) {
          // lent: copy before the read callback returns
          const copy = bytes?.slice();
          outcomes.push(copy === undefined ? "empty" : `ok ${text(copy)}`);
          resolve(copy);
        },
        error(reason) {
          outcomes.push(`error ${(reason as WeftError).code}`);
          reject(reason);
        },
      };
      const done = forwardRaw(
        target(),
        cmd,
        body as Uint8Array,
        context,
        sink,
        front.nodeId,
      );
      forwarded.push(done);
      if (!done) {
        return context.oneWay
          ? context.send(target(), cmd, body)
          : context.call(target(), cmd, body);
      }
      return context.oneWay ? undefined : promise;
    },
  });
  return front;
}

/**
 * A client calling a front that forwards to a back, over loopback; disposing
 * it closes all three (closing one twice is harmless).
 */
async function chain() {
  const seen: Seen = { requests: [] };
  const { back, address } = await backNode(seen);
  const outcomes: string[] = [];
  const forwarded: boolean[] = [];
  const to: { back?: Peer } = {};
  const front = frontNode(() => to.back!, outcomes, forwarded);
  const toBack = front.connect(address);
  to.back = toBack;
  const frontAt = await front.listen("127.0.0.1:0");
  const client = new Cluster(raw());
  const peer = client.connect(`127.0.0.1:${frontAt.address.port}`);
  return {
    seen,
    back,
    front,
    toBack,
    client,
    peer,
    outcomes,
    forwarded,
    async [Symbol.asyncDispose]() {
      await client.close();
      await front.close();
      await back.close();
    },
  };
}

Deno.test("forwardRaw(): responses, empty answers, remote errors and trace ids pass through", async () => {
  await using c = await chain();
  const { seen, front, client, peer, outcomes, forwarded } = c;

  // the first call connects front to back: the ordinary path
  assert.equal(text(await client.call(peer, 1, "first")), "echo first");
  assert.deepEqual(forwarded, [false]);
  // then raw
  const traceId = 0x1234_5678_9abc_0000n;
  assert.equal(text(await client.call(peer, 1, "hello", { traceId })), "echo hello");
  assert.equal(await client.call(peer, 1, "empty"), undefined);
  const failed = await client.call(peer, 1, "fail").catch((error) => error);
  assert.ok(failed instanceof RemoteError, String(failed));
  assert.match(failed.message, /back failed/);
  assert.deepEqual(forwarded, [false, true, true, true]);
  assert.deepEqual(outcomes, ["ok echo hello", "empty", "error remote"]);
  // the trace root is kept; the low 16 bits are the forwarding node's id
  const hello = seen.requests.find((r) => r.body === "hello")!;
  assert.equal(hello.traceId >> 16n, traceId >> 16n);
  assert.equal(Number(hello.traceId & 0xffffn), front.nodeId);
  // 500 concurrent forwards each get their own answer
  const many = await Promise.all(
    Array.from({ length: 500 }, (_, i) => client.call(peer, 1, `n${i}`).then(text)),
  );
  assert.deepEqual(many, Array.from({ length: 500 }, (_, i) => `echo n${i}`));
});

Deno.test("forwardRaw(): one-way sends go one-way; it declines a target not connected and an aborted context", async () => {
  await using c = await chain();
  const { seen, front, toBack, client, peer, outcomes, forwarded } = c;
  await client.send(peer, 1, "s0"); // connects front to back (ordinary path)
  await until(() => seen.requests.length === 1, 3000, "the first send");
  for (let i = 1; i <= 20; i++) await client.send(peer, 1, `s${i}`);
  await until(() => seen.requests.length === 21, 3000, "the sends");
  assert.deepEqual(seen.requests.map((r) => r.body), Array.from({ length: 21 }, (_, i) => `s${i}`));
  assert.ok(seen.requests.every((r) => r.context.oneWay));
  assert.deepEqual(forwarded, [false, ...Array(20).fill(true)]);
  assert.deepEqual(outcomes, [], "a one-way forward reports nothing");

  // a context already aborted is left to the ordinary path
  const sink: ForwardSink = {
    response: () => assert.fail("no response expected"),
    error: () => assert.fail("no error expected"),
  };
  const request = { cmd: 1, session: 1, traceHi: 0, traceLo: 0 };
  const { CallContext } = await import("../../src/cluster/call_context.ts");
  const aborted = new CallContext(front, toBack, request);
  aborted.abort(new Error("gone"));
  assert.equal(forwardRaw(toBack, 1, utf8("x"), aborted, sink, 0), false);
  const never = front.connect("127.0.0.1:9"); // never connected
  const fresh = new CallContext(front, toBack, request);
  assert.equal(forwardRaw(never, 1, utf8("x"), fresh, sink, 0), false);
  await front.close(never);
  assert.throws(() => forwardRaw({} as Peer, 1, utf8("x"), fresh, sink, 0), TypeError);
  assert.equal(seen.requests.length, 21, "nothing was sent by a declined forward");
});

Deno.test("forwardRaw(): a cancel, a deadline and a closed target end the forward and the target's handler", async () => {
  await using c = await chain();
  const { seen, back, client, peer, outcomes, forwarded } = c;
  assert.equal(text(await client.call(peer, 1, "warm")), "echo warm");

  // the caller aborts: the forward ends with aborted, the back's handler aborts
  const controller = new AbortController();
  const cancelled = client.call(peer, 1, "sleep", { signal: controller.signal });
  await until(() => seen.requests.length === 2, 3000, "the forwarded call");
  controller.abort(new Error("never mind"));
  assert.equal((await cancelled.catch((e: WeftError) => e) as WeftError).code, "aborted");
  await until(() => seen.requests[1]!.context.aborted, 3000, "the back's abort");
  await until(() => outcomes.length === 1, 3000, "the forward's outcome");
  assert.deepEqual(outcomes, ["error aborted"]);

  // the caller's deadline travels: the forward times out, the back's handler aborts
  const timed = client.call(peer, 1, "sleep", { timeout: 150 });
  assert.equal((await timed.catch((e: WeftError) => e) as WeftError).code, "timeout");
  await until(() => seen.requests[2]!.context.aborted, 3000, "the back's abort");
  await until(() => outcomes.length === 2, 3000, "the forward's outcome");
  assert.match(outcomes[1]!, /^error (timeout|aborted)$/);

  // the back goes away: a forward waiting on it ends with an error, the caller hears of it
  const stranded = client.call(peer, 1, "sleep", { timeout: 10_000 });
  await until(() => seen.requests.length === 4, 3000, "the forwarded call");
  await back.close();
  const error = await stranded.catch((e) => e);
  assert.ok(error instanceof WeftError, String(error));
  await until(() => outcomes.length === 3, 3000, "the forward's outcome");
  assert.match(outcomes[2]!, /^error (closed|peer closed)$/);
  assert.deepEqual(forwarded, [false, true, true, true]);
});
