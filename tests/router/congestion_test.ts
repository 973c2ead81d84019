// A congested target (a Node service frozen with SIGSTOP) behind a Deno
// router child: the router stops reading from the caller instead of
// queueing, so its memory stays bounded and the caller is slowed; once the
// target runs again every send arrives, in order: nothing dropped or cut.

import assert from "node:assert/strict";
import { rssOf } from "../faults/_child.ts";
import { waitLimit } from "../_wait.ts";
import { serviceId, target } from "../../src/router/mod.ts";
import { makeService } from "./_fixture.ts";
import { type Child, spawnRouter, spawnService, stopAll } from "./_children.ts";

const PAD = "x".repeat(64 * 1024);
const N = 1200; // 75 MiB of sends in all

Deno.test("router: a congested target slows its callers; router memory bounded, nothing dropped", async () => {
  const children: Child[] = [];
  let service: ReturnType<typeof makeService>["service"] | undefined;
  try {
    const router = await spawnRouter("deno", ["--heartbeat", "60000", "--stats", "100"]);
    children.push(router);
    const slow = serviceId(2, 1);
    const targetChild = await spawnService("node", slow, [router.address]);
    children.push(targetChild);
    service = makeService(serviceId(1, 1), [router.address], {
      // the router does not read a held caller, so its pings wait too
      heartbeatInterval: 60_000,
      timeout: 120_000,
    }).service;
    await service.start();
    await service.call(slow, "who");
    const baseline = await rssOf(router.child.pid);
    targetChild.child.signal("SIGSTOP");
    let sent = 0;
    let failure: unknown;
    const sending = (async () => {
      for (let n = 0; n < N; n++) {
        await service!.send(target(slow), "note", { n, pad: PAD });
        sent++;
      }
    })().catch((error) => failure = error);
    // wait until the sender is stuck (no progress for 500 ms)
    let last = -1;
    for (let i = 0; i < 100 && sent !== last; i++) {
      last = sent;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const held = sent;
    const peak = await rssOf(router.child.pid);
    assert.ok(held < N, `the caller was not slowed: ${held} of ${N} sends went out`);
    // The router prints its stats every 100 ms: wait for a line with forwards waiting.
    await router.child.until(
      (out) => /"waiting":[1-9]/.test(out),
      0,
      "the router's stats with forwards waiting",
    );
    const grown = peak - baseline;
    console.log(
      `target frozen: ${held} of ${N} sends (64 KiB) accepted; router RSS +${
        (grown / 2 ** 20).toFixed(1)
      } MiB (${(held * PAD.length / 2 ** 20).toFixed(1)} MiB sent so far)`,
    );
    assert.ok(grown < 48 * 2 ** 20, `router RSS grew by ${grown} bytes`);
    targetChild.child.signal("SIGCONT");
    await sending;
    assert.equal(failure, undefined);
    assert.equal(sent, N);
    let notes = { count: 0, ordered: false, bytes: 0 };
    const end = Date.now() + waitLimit(60_000);
    for (let i = 0; i < 3000 && notes.count < N && Date.now() < end; i++) {
      notes = (await service.call(slow, "notes")) as typeof notes;
      if (notes.count < N) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(notes, { count: N, ordered: true, bytes: N * PAD.length });
    assert.match(router.child.stdout().trim().split("\n").pop()!, /"dropped":0/);
  } finally {
    await service?.close();
    await stopAll(children);
  }
});
