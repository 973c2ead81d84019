import assert from "node:assert/strict";
import { FlowControl, Pause } from "../../src/connection/flow_control.ts";
import { isWeftError, WeftError } from "../../src/errors.ts";

/** A transport stand-in that records pause and resume, and drains when told. */
function target() {
  const calls: string[] = [];
  let drain = Promise.withResolvers<void>();
  return {
    calls,
    drainNow() {
      drain.resolve();
      drain = Promise.withResolvers<void>();
    },
    readable: {
      pause: () => calls.push("pause"),
      resume: () => calls.push("resume"),
      drained: () => drain.promise,
    },
  };
}

Deno.test("`FlowControl` pauses the transport for the first reason and resumes after the last", () => {
  const t = target();
  const flow = new FlowControl(t.readable);
  flow.pause(Pause.Inflight);
  flow.pause(Pause.Turn);
  flow.pause(Pause.Turn);
  assert.deepEqual(t.calls, ["pause"]);
  assert.ok(flow.has(Pause.Turn) && flow.has(Pause.Inflight) && !flow.has(Pause.Parts));
  flow.resume(Pause.Turn);
  assert.deepEqual(t.calls, ["pause"], "still paused for the in-flight limit");
  flow.resume(Pause.Parts);
  assert.deepEqual(t.calls, ["pause"], "dropping a reason not in force changes nothing");
  flow.resume(Pause.Inflight);
  assert.deepEqual(t.calls, ["pause", "resume"]);
  assert.equal(flow.paused, 0);
  flow.resume(Pause.Inflight);
  assert.deepEqual(t.calls, ["pause", "resume"], "resuming a connection that reads does nothing");
});

Deno.test("`FlowControl` holds are counted; an extra release is harmless", () => {
  const t = target();
  const flow = new FlowControl(t.readable);
  flow.hold();
  flow.hold();
  flow.release();
  assert.ok(flow.has(Pause.Held));
  flow.release();
  flow.release();
  assert.equal(flow.paused, 0);
  assert.deepEqual(t.calls, ["pause", "resume"]);
});

Deno.test("`FlowControl.pausedByChoice` is true only for busy handlers, holds and read turns", () => {
  const flow = new FlowControl(target().readable);
  assert.equal(flow.pausedByChoice, false, "reading: no choice made");
  flow.pause(Pause.Inflight);
  flow.hold();
  assert.equal(flow.pausedByChoice, true);
  flow.pause(Pause.Congested);
  assert.equal(flow.pausedByChoice, false, "congestion is the peer's doing");
  const turns = new FlowControl(target().readable);
  turns.pause(Pause.Turn);
  assert.equal(turns.pausedByChoice, true, "requests already read wait for this node's next turn");
  turns.pause(Pause.Parts);
  assert.equal(turns.pausedByChoice, false, "large answers the peer does not read");
});

Deno.test("`FlowControl.congest()` stops reading unless calls of ours wait; `drained()` ends it", () => {
  const t = target();
  const flow = new FlowControl(t.readable);
  flow.congest(true);
  assert.ok(flow.congested);
  assert.equal(flow.paused, 0, "calls wait for responses on it: keep reading");
  flow.drained();
  assert.ok(!flow.congested);
  flow.congest(false);
  assert.ok(flow.has(Pause.Congested));
  flow.drained();
  assert.equal(flow.paused, 0);
  assert.deepEqual(t.calls, ["pause", "resume"]);
});

Deno.test("`FlowControl.stop()`: a closed connection is never resumed", () => {
  const t = target();
  const flow = new FlowControl(t.readable);
  flow.pause(Pause.Handshake);
  flow.stop();
  flow.resume(Pause.Handshake);
  assert.deepEqual(t.calls, ["pause"]);
});

Deno.test("`FlowControl.waitDrained()` is one wait per episode, runs onDrain first, rejects once ended", async () => {
  const t = target();
  const flow = new FlowControl(t.readable);
  let drains = 0;
  const onDrain = () => drains++;
  const a = flow.waitDrained(onDrain);
  const b = flow.waitDrained(onDrain);
  assert.equal(a, b, "waiters of one episode share it");
  t.drainNow();
  await a;
  assert.equal(drains, 1);
  const c = flow.waitDrained(onDrain);
  assert.notEqual(c, a, "a new episode, a new wait");
  flow.end(new WeftError("protocol", "bad frame"));
  await assert.rejects(
    c,
    (error) => isWeftError(error, "closed") && /bad frame/.test(error.message),
  );
  t.drainNow();
});
