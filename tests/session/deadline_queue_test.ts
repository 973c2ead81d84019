import assert from "node:assert/strict";
import { type Deadline, DeadlineQueue } from "../../src/session/deadline_queue.ts";
import { waitLimit } from "../_wait.ts";

interface Entry extends Deadline {
  name: number;
}

function entry(name: number, deadline: number, expired: number[]): Entry {
  return { name, deadline, deadlineIndex: -1, expire: () => expired.push(name) };
}

/** Resolves once `expired` holds `n` names, or after `ms` (then the test fails on its count). */
async function until(expired: number[], n: number, ms: number): Promise<void> {
  const end = performance.now() + waitLimit(ms);
  while (expired.length < n && performance.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("`DeadlineQueue` expires entries in deadline order, whether added in order or not", async () => {
  const queue = new DeadlineQueue();
  const expired: number[] = [];
  const base = performance.now() - 1000;
  // In order (the run), then earlier ones (the heap), then in order again.
  for (const d of [10, 20, 30, 40, 5, 15, 35, 50, 60]) queue.add(entry(d, base + d, expired));
  // Removed entries never expire, wherever they are held.
  const gone = [entry(25, base + 25, expired), entry(1, base + 1, expired)];
  for (const e of gone) queue.add(e);
  assert.equal(queue.size, 11);
  for (const e of gone) {
    queue.remove(e);
    assert.equal(e.deadlineIndex, -1);
    queue.remove(e); // harmless twice
  }
  assert.equal(queue.size, 9);
  await until(expired, 9, 2000);
  assert.deepEqual(expired, [5, 10, 15, 20, 30, 35, 40, 50, 60]);
  assert.equal(queue.size, 0);
});

Deno.test("`DeadlineQueue` skips and compacts the holes removals leave in its in-order run, and still expires what is left", async () => {
  const queue = new DeadlineQueue();
  const expired: number[] = [];
  const far = performance.now() + 60_000;
  const entries: Entry[] = [];
  for (let i = 0; i < 5000; i++) {
    const e = entry(i, far + i, expired);
    entries.push(e);
    queue.add(e);
  }
  // Remove all but every 100th, from the front and from the middle: holes
  // are skipped or compacted and the survivors keep working handles.
  for (const e of entries) if (e.name % 100 !== 0) queue.remove(e);
  assert.equal(queue.size, 50);
  for (const e of entries) {
    if (e.name % 100 === 0) assert.ok(e.deadlineIndex < -1, `entry ${e.name} is still queued`);
    else assert.equal(e.deadlineIndex, -1);
  }
  // Bring the survivors' deadlines forward, re-queueing each: they expire in order.
  const survivors = entries.filter((e) => e.name % 100 === 0);
  const now = performance.now();
  for (const e of survivors.toReversed()) {
    queue.remove(e);
    e.deadline = now - 1000 + e.name / 100;
    queue.add(e);
  }
  assert.equal(queue.size, 50);
  await until(expired, 50, 2000);
  assert.deepEqual(expired, survivors.map((e) => e.name));
  assert.equal(queue.size, 0);
  queue.clear();
});

Deno.test("`DeadlineQueue.clear()` forgets every entry without expiring it and stops the timer", async () => {
  const queue = new DeadlineQueue();
  const expired: number[] = [];
  const soon = performance.now() + 5;
  const entries = [
    entry(1, soon, expired),
    entry(2, soon + 1, expired),
    entry(0, soon - 1, expired),
  ];
  for (const e of entries) queue.add(e);
  queue.clear();
  assert.equal(queue.size, 0);
  for (const e of entries) assert.equal(e.deadlineIndex, -1);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(expired, []);
});
