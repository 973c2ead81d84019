// Calls made through a handler's context end with it: an abort at the first caller
// reaches handlers two hops away, over real loopback sockets.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { Peer } from "../../src/connection/peer.ts";
import { json } from "../../src/codec/json.ts";
import { until } from "../_wait.ts";

Deno.test("context.call: 100 calls pending through a context all abort with it, and their handlers too", async () => {
  let stopped = 0;
  let started = 0;
  await using c = new Cluster({
    ...json(),
    call: (_peer, _cmd, _body, context) =>
      new Promise((_, reject) => {
        started++;
        context.signal.addEventListener("abort", () => {
          stopped++;
          reject(context.signal.reason);
        }, { once: true });
      }),
  });
  const cl = await c.listen("127.0.0.1:0");
  const outcomes: string[] = [];
  const toC: { peer?: Peer } = {};
  await using b = new Cluster({
    ...json(),
    call: async (_peer, _cmd, _body, context) => {
      const calls = Array.from({ length: 100 }, () =>
        context.call(toC.peer!, 1, {}).then(
          () => "ok",
          (error) => error.code,
        ));
      outcomes.push(...await Promise.all(calls));
      return "done";
    },
  });
  toC.peer = b.connect(`127.0.0.1:${cl.address.port}`);
  const bl = await b.listen("127.0.0.1:0");
  await using a = new Cluster({ ...json() });
  const controller = new AbortController();
  const call = a.call(a.connect(`127.0.0.1:${bl.address.port}`), 1, {}, {
    signal: controller.signal,
  });
  await until(() => started >= 100, 0, "100 handlers started at C");
  assert.equal(started, 100);
  controller.abort(new Error("enough"));
  assert.equal(((await call.catch((e) => e)) as { code: string }).code, "aborted");
  await until(() => stopped >= 100 && outcomes.length >= 100, 0, "every handler stopped");
  assert.deepEqual(new Set(outcomes), new Set(["aborted"]));
  assert.equal(outcomes.length, 100);
  assert.equal(stopped, 100, "the cancel reached every handler at C");
});

Deno.test("context.call after the context aborted rejects at once with aborted", async () => {
  let late: Promise<unknown> | undefined;
  await using server = new Cluster({
    ...json(),
    call: (peer, _cmd, _body, context) => {
      context.abort(new Error("gone")); // as the cluster does when the caller cancels
      late = context.call(peer, 1, {}).catch((e) => e);
      return undefined;
    },
  });
  const listener = await server.listen("127.0.0.1:0");
  await using client = new Cluster({ ...json(), call: () => "x" });
  await client.call(client.connect(`127.0.0.1:${listener.address.port}`), 1, {}).catch(() => {});
  assert.equal(((await late!) as { code: string }).code, "aborted");
});
