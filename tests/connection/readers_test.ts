// Readers: the process-wide record of who read last, which tells a read
// turn whether its connection is read alone (read_turn_test.ts uses it).

import assert from "node:assert/strict";
import {
  CONTENTION_WINDOW,
  nextReaderId,
  processReaders,
  Readers,
} from "../../src/connection/readers.ts";

Deno.test("Readers: one connection is alone; a second one's read makes both contended for the window, then they are alone again", () => {
  const readers = new Readers(100);
  const a = 1, b = 2;
  assert.equal(readers.read(a, 0), false);
  assert.equal(readers.read(a, 50), false);
  assert.equal(readers.contended(a, 60), false);
  // b reads: a switch; both contended.
  assert.equal(readers.read(b, 70), true);
  assert.equal(readers.contended(a, 71), true, "b read last: a is not alone");
  assert.equal(readers.read(a, 80), true);
  assert.equal(readers.read(a, 179), true, "b read 109 ms ago, but a's own switch was at 80");
  assert.equal(readers.read(a, 181), false, "nobody but a for the window");
  assert.equal(readers.contended(a, 181), false);
  assert.equal(readers.contended(b, 181), true, "a read last: b is not alone");
});

Deno.test("Readers: two connections reading in turn stay contended however long they go on", () => {
  const readers = new Readers(100);
  let contended = 0;
  for (let t = 0; t < 10_000; t += 10) if (readers.read(t % 20 === 0 ? 1 : 2, t)) contended++;
  assert.equal(contended, 999, "every read after the first");
});

Deno.test("Readers: a new record knows nobody, so nobody is contended", () => {
  const readers = new Readers(100);
  assert.equal(readers.contended(1, 0), false);
  assert.equal(readers.contended(1, 1e9), false);
});

Deno.test("Readers: the process's record has the 1 s window; reader ids are never given twice", () => {
  assert.equal(CONTENTION_WINDOW, 1000);
  assert.equal(new Readers().window, CONTENTION_WINDOW);
  assert.equal(processReaders.window, CONTENTION_WINDOW);
  const ids = new Set(Array.from({ length: 1000 }, nextReaderId));
  assert.equal(ids.size, 1000);
  assert.ok(!ids.has(0), "0 means nobody");
});
