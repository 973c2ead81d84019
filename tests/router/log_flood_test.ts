// A service flooding a router with one-way sends nobody can take: each one
// is dropped and counted, but the router's log gets at most
// `faultLogLimit` (10) lines of that kind per second and then a count of
// the rest, not a line per send; a well-behaved service beside the flood
// keeps getting answers. The router is a child process on each runtime; the
// flooding and the well-behaved services are in the test's process.

import assert from "node:assert/strict";
import { Router, serviceId, target } from "../../src/router/mod.ts";
import { closeAll, makeService, QUIET, startRouter, until } from "./_fixture.ts";
import { type Child, spawnRouter, stopAll } from "./_children.ts";
import type { RuntimeName } from "../_runtimes.ts";

const SENDS = 5000;
const NOWHERE = serviceId(5, 1);

for (const runtime of ["deno", "bun", "node"] as RuntimeName[]) {
  Deno.test(`router (${runtime}): ${SENDS} sends to nowhere are counted, and logged at most 10 lines a second`, async () => {
    let router: Child | undefined;
    const made: { close(): Promise<void> }[] = [];
    try {
      router = await spawnRouter(runtime, ["--stats", "100"]);
      const routers = [router.address];
      const good = makeService(serviceId(2, 1), routers).service;
      const caller = makeService(serviceId(3, 1), routers).service;
      const flooder = makeService(serviceId(1, 1), routers).service;
      made.push(flooder, caller, good);
      for (const service of [good, caller, flooder]) await service.start();
      const started = Date.now();
      const calls: Promise<unknown>[] = [];
      for (let n = 0; n < SENDS; n++) {
        await flooder.send(target(NOWHERE), "note", { n });
        if (n % 50 === 0) calls.push(caller.call(target(serviceId(2, 1)), "echo", n));
      }
      const answers = await Promise.all(calls);
      assert.deepEqual(answers, Array.from({ length: SENDS / 50 }, (_, i) => i * 50));
      // One more after the log's window: its line carries the count held back.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await flooder.send(target(NOWHERE), "note", { n: SENDS });
      const seconds = (Date.now() - started) / 1000;
      await router.child.until(
        (out) => new RegExp(`"dropped":${SENDS + 1}\\b`).test(out),
        20_000,
        `the router's count of ${SENDS + 1} dropped sends`,
      );
      const stderr = await router.child.stop();
      router = undefined;
      const lines = stderr.split("\n").filter((line) => line.includes("Send dropped"));
      assert.ok(lines.length >= 1, `no line about the dropped sends:\n${stderr}`);
      assert.ok(
        lines.length <= 10 * (Math.ceil(seconds) + 1),
        `${lines.length} lines in ${seconds.toFixed(1)} s:\n${lines.slice(0, 40).join("\n")}`,
      );
      assert.ok(
        lines.some((line) => /and \d+ more unreachable faults not logged/.test(line)),
        `no count of the lines held back:\n${lines.join("\n")}`,
      );
    } finally {
      await closeAll(...made);
      await stopAll([router]);
    }
  });
}

Deno.test("router: a bad faultLogLimit is refused at construction, naming the option", () => {
  assert.throws(() => new Router({ faultLogLimit: -1 }), /faultLogLimit/);
  assert.throws(
    () => new Router({ faultLogLimit: "10" as unknown as number }),
    (error: unknown) => error instanceof TypeError && /faultLogLimit/.test(error.message),
  );
});

Deno.test("router: a service registering and leaving in a loop logs at most faultLogLimit info lines a second of each", async () => {
  const ROUNDS = 60;
  const LIMIT = 3;
  const lines: string[] = [];
  const logger = { ...QUIET, info: (message: string) => lines.push(message) };
  const { router, address } = await startRouter({ logger, faultLogLimit: LIMIT });
  try {
    const started = performance.now();
    for (let i = 0; i < ROUNDS; i++) {
      const { service } = makeService(serviceId(7, 1), [address]);
      await service.start();
      await service.close();
    }
    // The last leave is seen once the router reads the hang-up.
    await until(() => !router.members(7).includes(serviceId(7, 1)), 10_000, "the last leave");
    const windows = Math.ceil((performance.now() - started) / 1000) + 1;
    const registered = lines.filter((line) => line.includes("registered from")).length;
    const left = lines.filter((line) => / left/.test(line)).length;
    assert.ok(registered >= 1 && registered <= LIMIT * windows, lines.join("\n"));
    assert.ok(left <= LIMIT * windows, lines.join("\n"));
    assert.ok(registered < ROUNDS, `${registered} lines for ${ROUNDS} registrations`);
  } finally {
    await router.close();
  }
});
