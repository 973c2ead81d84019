import assert from "node:assert/strict";
import { SessionSlots } from "../../src/session/session_slots.ts";

interface Entry {
  readonly session: number;
  readonly name: string;
}

const entry = (session: number, name = `s${session}`): Entry => ({ session, name });

Deno.test("`SessionSlots` finds, takes and deletes entries by session", () => {
  const table = new SessionSlots<Entry>();
  const a = entry(1);
  const b = entry(2);
  table.add(a);
  table.add(b);
  assert.equal(table.size, 2);
  assert.equal(table.get(1), a);
  assert.equal(table.has(2), true);
  assert.equal(table.has(3), false);
  assert.equal(table.get(3), undefined);
  assert.equal(table.take(1), a);
  assert.equal(table.take(1), undefined);
  assert.equal(table.has(1), false);
  assert.equal(table.size, 1);
  // delete() removes only the very entry held under its session.
  assert.equal(table.delete(entry(2, "another")), false);
  assert.equal(table.get(2), b);
  assert.equal(table.delete(b), true);
  assert.equal(table.delete(b), false);
  assert.equal(table.size, 0);
});

Deno.test("`SessionSlots` keeps colliding sessions apart (a peer choosing ids on one slot)", () => {
  const table = new SessionSlots<Entry>();
  // Multiples of 4096 share a slot at every size up to 4096 slots.
  const entries = Array.from({ length: 3000 }, (_, i) => entry(i * 4096));
  for (const e of entries) table.add(e);
  assert.equal(table.size, 3000);
  for (const e of entries) assert.equal(table.get(e.session), e);
  assert.deepEqual(
    table.values().map((e) => e.session).sort((x, y) => x - y),
    entries.map((e) => e.session),
  );
  for (const e of entries.slice(0, 1500)) assert.equal(table.take(e.session), e);
  assert.equal(table.size, 1500);
  for (const e of entries.slice(0, 1500)) assert.equal(table.has(e.session), false);
  for (const e of entries.slice(1500)) assert.equal(table.get(e.session), e);
});

Deno.test("`SessionSlots` grows past its first size and keeps every entry, then clears", () => {
  const table = new SessionSlots<Entry>();
  // A window of consecutive ids that wraps around the slots several times
  // while growing, with the oldest entries left behind (lapped).
  const held: Entry[] = [];
  for (let s = 0; s < 5000; s++) {
    const e = entry(s);
    table.add(e);
    held.push(e);
    if (s % 3 === 0) {
      assert.equal(table.take(held.splice(held.length - 2, 1)[0]!.session) !== undefined, true);
    }
  }
  assert.equal(table.size, held.length);
  for (const e of held) assert.equal(table.get(e.session), e);
  assert.equal(table.values().length, held.length);
  // Sessions above 2^31 (silly peers send any u32) work too.
  const high = entry(0xffff_fff0);
  table.add(high);
  assert.equal(table.get(0xffff_fff0), high);
  table.clear();
  assert.equal(table.size, 0);
  assert.equal(table.get(high.session), undefined);
  assert.deepEqual(table.values(), []);
  table.add(entry(9));
  assert.equal(table.get(9)?.name, "s9");
});

Deno.test("`SessionSlots` under constant add and take holds only what is in flight", () => {
  const table = new SessionSlots<Entry>();
  const inFlight: Entry[] = [];
  let next = 1;
  for (let round = 0; round < 20_000; round++) {
    const e = entry(next++);
    table.add(e);
    inFlight.push(e);
    if (inFlight.length > 256) {
      const done = inFlight.shift()!;
      assert.equal(table.take(done.session), done);
    }
  }
  assert.equal(table.size, 256);
  assert.deepEqual(
    table.values().map((e) => e.session).sort((x, y) => x - y),
    inFlight.map((e) => e.session),
  );
});
