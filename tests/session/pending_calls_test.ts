import assert from "node:assert/strict";
import { DeadlineQueue } from "../../src/session/deadline_queue.ts";
import { PendingCall, PendingCalls } from "../../src/session/pending_calls.ts";
import { MAX_SESSION } from "../../src/wire/frame.ts";

function table(): { calls: PendingCalls; deadlines: DeadlineQueue; timedOut: PendingCall[] } {
  const deadlines = new DeadlineQueue();
  const timedOut: PendingCall[] = [];
  return {
    deadlines,
    timedOut,
    calls: new PendingCalls({ deadlines, onTimeout: (call) => timedOut.push(call) }),
  };
}

const noop = () => {};

Deno.test("`PendingCalls.nextSession()` wraps from 2^31 - 1 to 0 and skips ids still pending", () => {
  const deadlines = new DeadlineQueue();
  const calls = new PendingCalls({ deadlines, onTimeout: noop, firstSession: MAX_SESSION - 1 });
  const ids: number[] = [];
  for (let i = 0; i < 4; i++) {
    const id = calls.nextSession();
    calls.add(new PendingCall(id, noop, noop), id, Infinity);
    ids.push(id);
  }
  assert.deepEqual(ids, [MAX_SESSION - 1, MAX_SESSION, 0, 1]);
  // An id still pending when the counter reaches it is skipped (here the
  // pending ids are placed ahead of the counter, as a wrap would find them).
  const skip = new PendingCalls({ deadlines, onTimeout: noop });
  for (const id of [2, 3, 5]) skip.add(new PendingCall(id, noop, noop), id, Infinity);
  const handed: number[] = [];
  for (let i = 0; i < 4; i++) {
    const id = skip.nextSession();
    skip.add(new PendingCall(id, noop, noop), id, Infinity);
    handed.push(id);
  }
  assert.deepEqual(handed, [1, 4, 6, 7]);
});

Deno.test("`PendingCalls` keeps long-pending calls across growth and laps (checked against a Map)", () => {
  const { calls } = table();
  const reference = new Map<number, PendingCall>();
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 0x100000000;
  };
  // A few calls that stay pending for the whole run, so the window laps them.
  for (let i = 0; i < 5; i++) {
    const id = calls.nextSession();
    const call = new PendingCall(id, noop, noop);
    calls.add(call, id, Infinity);
    reference.set(id, call);
  }
  const live: number[] = [];
  for (let step = 0; step < 20_000; step++) {
    if (live.length < 300 && random() < 0.55) {
      const id = calls.nextSession();
      assert.ok(!reference.has(id), `id ${id} handed out while pending`);
      const call = new PendingCall(id, noop, noop);
      calls.add(call, id, Infinity);
      reference.set(id, call);
      live.push(id);
    } else if (live.length > 0) {
      const id = live.splice(Math.floor(random() * live.length), 1)[0]!;
      assert.equal(calls.take(id), reference.get(id));
      reference.delete(id);
    }
    assert.equal(calls.size, reference.size);
  }
  assert.equal(calls.take(999_999), undefined, "an unknown session is undefined");
  const drained = calls.drain();
  assert.equal(drained.length, reference.size);
  assert.deepEqual(new Set(drained), new Set(reference.values()));
  assert.equal(calls.size, 0);
});

Deno.test("`PendingCalls` expires calls through the shared deadline queue", async () => {
  const { calls, timedOut, deadlines } = table();
  const id = calls.nextSession();
  const call = new PendingCall(id, noop, noop);
  calls.add(call, id, performance.now() + 5);
  const kept = calls.nextSession();
  calls.add(new PendingCall(kept, noop, noop), kept, performance.now() + 60_000);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(timedOut, [call]);
  assert.equal(calls.take(id), undefined, "an expired call is gone");
  assert.equal(calls.size, 1);
  calls.drain();
  deadlines.clear();
});

Deno.test("`PendingCalls` with `lowestSession: 1` wraps from 2^31 - 1 to 1, never handing out 0", () => {
  const deadlines = new DeadlineQueue();
  const calls = new PendingCalls({
    deadlines,
    onTimeout: noop,
    firstSession: MAX_SESSION - 1,
    lowestSession: 1,
  });
  const ids: number[] = [];
  for (let i = 0; i < 4; i++) {
    const id = calls.nextSession();
    calls.add(new PendingCall(id, noop, noop), id, Infinity);
    ids.push(id);
  }
  assert.deepEqual(ids, [MAX_SESSION - 1, MAX_SESSION, 1, 2]);
  const fresh = new PendingCalls({ deadlines, onTimeout: noop, firstSession: 0, lowestSession: 1 });
  assert.equal(fresh.nextSession(), 1, "a first session below the lowest starts at the lowest");
});

Deno.test("`PendingCalls.arm()` queues the deadline of a call added without one, once, and not after it settled", () => {
  const { calls, deadlines, timedOut } = table();
  const id = calls.nextSession();
  const call = new PendingCall(id, noop, noop);
  // As a channel adds a call whose timeout counts from the write.
  calls.add(call, id, Infinity);
  call.timeout = 50;
  assert.equal(deadlines.size, 0);
  calls.arm(call, 1_000);
  assert.equal(call.deadline, 1_000);
  assert.equal(call.timeout, Infinity);
  assert.equal(deadlines.size, 1);
  // Armed once: a second arm changes nothing.
  calls.arm(call, 2_000);
  assert.equal(call.deadline, 1_000);
  assert.equal(deadlines.size, 1);
  // Its response took it: its deadline went with it.
  assert.equal(calls.take(id), call);
  assert.equal(deadlines.size, 0);
  // A call that settled before its batch was written (an abort) is not armed.
  const late = new PendingCall(calls.nextSession(), noop, noop);
  calls.add(late, late.cmd as number, Infinity);
  late.timeout = 50;
  assert.ok(calls.remove(late));
  calls.arm(late, 1_000);
  assert.equal(deadlines.size, 0);
  assert.equal(late.deadline, Infinity);
  assert.deepEqual(timedOut, []);
  deadlines.clear();
});
