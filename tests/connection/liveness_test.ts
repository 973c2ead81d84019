import assert from "node:assert/strict";
import { ALIVE, DEAD, Liveness } from "../../src/connection/liveness.ts";

const ready = { ready: true, accepted: false, pausedByChoice: false };

Deno.test("`Liveness.tick()` pings, then counts unanswered ticks; `misses` of them is death", () => {
  const liveness = new Liveness();
  const seq = liveness.tick(3, ready);
  assert.equal(seq, 1);
  assert.equal(liveness.tick(3, ready), ALIVE);
  assert.equal(liveness.tick(3, ready), ALIVE);
  assert.equal(liveness.tick(3, ready), DEAD);
});

Deno.test("`Liveness.pong()` of the outstanding ping clears the misses; an older one is ignored", () => {
  const liveness = new Liveness();
  const first = liveness.tick(2, ready);
  liveness.pong(first);
  const second = liveness.tick(2, ready);
  assert.equal(second, first + 1, "answered: the next tick pings again");
  liveness.pong(first);
  assert.equal(liveness.tick(2, ready), ALIVE, "a stale pong answers nothing: one miss");
  assert.equal(liveness.tick(2, ready), DEAD);
});

Deno.test("`Liveness`: bytes heard since the last tick count as life", () => {
  const liveness = new Liveness();
  liveness.tick(1, ready);
  for (let i = 0; i < 5; i++) {
    liveness.heard = true;
    assert.equal(liveness.tick(1, ready), ALIVE);
  }
  assert.equal(liveness.tick(1, ready), DEAD, "silence: dead at once with misses 1");
});

Deno.test("`Liveness`: reading paused by this node's choice is no sign of a dead peer", () => {
  const liveness = new Liveness();
  liveness.tick(1, ready);
  const busy = { ...ready, pausedByChoice: true };
  for (let i = 0; i < 5; i++) assert.equal(liveness.tick(1, busy), ALIVE);
});

Deno.test("`Liveness` before the handshake: the accepting side counts misses, the connecting side waits", () => {
  const connecting = new Liveness();
  for (let i = 0; i < 10; i++) {
    assert.equal(
      connecting.tick(2, { ready: false, accepted: false, pausedByChoice: false }),
      ALIVE,
    );
  }
  const accepting = new Liveness();
  const waiting = { ready: false, accepted: true, pausedByChoice: false };
  assert.equal(accepting.tick(2, waiting), ALIVE);
  assert.equal(accepting.tick(2, waiting), ALIVE);
  assert.equal(accepting.tick(2, waiting), DEAD, "more than `misses` ticks without a handshake");
  const late = new Liveness();
  late.tick(2, waiting);
  late.tick(2, waiting);
  late.ready();
  assert.ok(late.tick(2, ready) > 0, "ready: the misses before are forgotten, a ping goes");
});
