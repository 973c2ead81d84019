// ReadTurn without sockets: a fake clock and a Readers of the test's own,
// so each case decides who else was read, and when. Readers itself:
// readers_test.ts. Over real sockets: tests/faults/solo_turn_test.ts and
// flood_test.ts.

import assert from "node:assert/strict";
import {
  DEFAULT_MAX_REQUESTS_PER_TURN,
  DEFAULT_SOLO_TURN_TIME,
  ReadTurn,
} from "../../src/connection/read_turn.ts";
import { Readers } from "../../src/connection/readers.ts";

/** Another connection's reader id (ReadTurns take theirs from 1 up). */
const OTHER = 1e9;

/** A clock the test moves, counting how often it is read. */
function fakeClock() {
  const clock = { now: 0, reads: 0, read: () => (clock.reads++, clock.now) };
  return clock;
}

/** Takes until refused (at most `max`); how many were taken. */
function takeAll(turn: ReadTurn, max = 100_000): number {
  let n = 0;
  while (n < max && turn.take()) n++;
  return n;
}

Deno.test("ReadTurn contended: maxRequestsPerTurn requests per read, the clock never read, a new read or turn a new budget", async () => {
  const clock = fakeClock();
  const readers = new Readers();
  readers.read(OTHER, 0);
  const turn = new ReadTurn(8, 1, clock.read, readers);
  turn.begin(0);
  assert.equal(turn.contended, true);
  assert.equal(takeAll(turn), 8);
  assert.equal(turn.over, true);
  assert.equal(clock.reads, 0, "a counted turn does not read the clock");
  turn.begin(0.5);
  assert.equal(turn.over, false);
  assert.equal(takeAll(turn), 8, "each read is a turn");
  await new Promise<void>((resolve) => turn.schedule(resolve));
  assert.equal(turn.contended, true, "another connection read last: still contended");
  assert.equal(takeAll(turn), 8);
  assert.equal(turn.throttled, 1);
});

Deno.test("ReadTurn alone: runs past maxRequestsPerTurn until soloTurnTime passed since the read, reading the clock once per maxRequestsPerTurn requests", () => {
  const clock = fakeClock();
  const turn = new ReadTurn(8, 1, clock.read, new Readers());
  turn.begin(0);
  assert.equal(turn.contended, false);
  // 0.9 ms in: not over; the clock was read at the 9th, 17th, ... request.
  let n = 0;
  for (; n < 100; n++) {
    if (n === 50) clock.now = 0.9;
    assert.ok(turn.take(), `request ${n + 1} refused under 1 ms`);
  }
  assert.equal(clock.reads, Math.floor(100 / 8), "one clock read per 8 requests");
  clock.now = 1;
  // The next check (at request 105) ends the turn.
  assert.equal(takeAll(turn), 4);
  assert.equal(turn.over, true);
  assert.equal(turn.used, 104);
});

Deno.test("ReadTurn alone: every read and every later turn starts a fresh slice", async () => {
  const clock = fakeClock();
  const turn = new ReadTurn(4, 1, clock.read, new Readers());
  turn.begin(0);
  clock.now = 5;
  assert.equal(takeAll(turn), 4, "a slow read: over at the first check");
  turn.begin(5);
  assert.equal(takeAll(turn, 40), 40, "a new read: a new slice");
  clock.now = 6;
  assert.equal(takeAll(turn), 0, "the slice is over at the next check");
  await new Promise<void>((resolve) => turn.schedule(resolve));
  assert.equal(turn.contended, false);
  assert.equal(takeAll(turn, 40), 40, "the next turn: a new slice from its start");
});

Deno.test("ReadTurn: from another connection's read on, a lone connection's turns are counted; after the window, timed again", async () => {
  const clock = fakeClock();
  const readers = new Readers(1000);
  const turn = new ReadTurn(4, 1, clock.read, readers);
  turn.begin(0);
  assert.equal(takeAll(turn, 40), 40, "alone");
  // Its turn ends with requests waiting; meanwhile another connection is read.
  readers.read(OTHER, 0.2);
  clock.now = 0.3;
  await new Promise<void>((resolve) => turn.schedule(resolve));
  assert.equal(turn.contended, true, "the newcomer was read last");
  assert.equal(takeAll(turn), 4);
  turn.begin(0.4);
  assert.equal(turn.contended, true, "the newcomer read within the window");
  assert.equal(takeAll(turn), 4);
  clock.now = 1200;
  turn.begin(1200);
  assert.equal(turn.contended, false, "the newcomer has been quiet for the window");
  assert.equal(takeAll(turn, 40), 40);
});

Deno.test("ReadTurn: soloTurnTime 0 counts a lone connection's turns (as before it); maxRequestsPerTurn Infinity never ends a turn nor reads the clock", () => {
  const clock = fakeClock();
  const counted = new ReadTurn(8, 0, clock.read, new Readers());
  counted.begin(0);
  assert.equal(takeAll(counted), 8);
  const unlimited = new ReadTurn(Infinity, 1, clock.read, new Readers());
  unlimited.begin(0);
  clock.reads = 0;
  clock.now = 1e9;
  assert.equal(takeAll(unlimited, 50_000), 50_000);
  assert.equal(clock.reads, 0);
  const neverYields = new ReadTurn(8, Infinity, clock.read, new Readers());
  neverYields.begin(clock.now);
  clock.now += 1e6;
  assert.equal(takeAll(neverYields, 1000), 1000);
});

Deno.test("ReadTurn: the defaults are 32 requests per counted turn and 1 ms per lone turn", () => {
  assert.equal(DEFAULT_MAX_REQUESTS_PER_TURN, 32);
  assert.equal(DEFAULT_SOLO_TURN_TIME, 1);
  const turn = new ReadTurn();
  assert.equal(turn.budget, 32);
  assert.equal(turn.soloTime, 1);
});
