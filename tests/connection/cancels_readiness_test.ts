import assert from "node:assert/strict";
import { HeldCancels, MAX_QUEUED_CANCELS } from "../../src/connection/cancels.ts";
import { Readiness } from "../../src/connection/readiness.ts";
import { isWeftError, WeftError } from "../../src/errors.ts";

Deno.test("`HeldCancels` keeps at most MAX_QUEUED_CANCELS, in order, and counts the rest", () => {
  const cancels = new HeldCancels();
  for (let i = 0; i < MAX_QUEUED_CANCELS + 3; i++) cancels.hold(i);
  assert.equal(cancels.dropped, 3);
  const sent: number[] = [];
  cancels.release((session) => sent.push(session));
  assert.equal(sent.length, MAX_QUEUED_CANCELS);
  assert.deepEqual(sent.slice(0, 3), [0, 1, 2]);
  cancels.release((session) => sent.push(session));
  assert.equal(sent.length, MAX_QUEUED_CANCELS, "released once");
  cancels.hold(9);
  cancels.clear();
  cancels.release((session) => sent.push(session));
  assert.equal(sent.length, MAX_QUEUED_CANCELS, "cleared: nothing left");
});

Deno.test("`Readiness.fail()` passes on why a handshake failed, and calls a plain close `closed`", async () => {
  const handshake = new Readiness();
  const waiting = handshake.wait();
  handshake.fail(new WeftError("authentication failed", "Authentication failed: wrong key"));
  await assert.rejects(waiting, (error) => isWeftError(error, "authentication failed"));
  await assert.rejects(handshake.wait(), (error) => isWeftError(error, "authentication failed"));
  const dropped = new Readiness();
  const waiter = dropped.wait();
  dropped.fail(new WeftError("timeout", "idle"));
  await assert.rejects(
    waiter,
    (error) => isWeftError(error, "closed") && /idle/.test(error.message),
  );
});

Deno.test("`Readiness.ready()` releases every waiter", async () => {
  const readiness = new Readiness();
  const a = readiness.wait();
  const b = readiness.wait();
  readiness.ready();
  await Promise.all([a, b]);
});
