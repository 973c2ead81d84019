/**
 * The examples of modules the package does not export (a doc example
 * imports the package by name, and these are not in it), run as tests:
 * src/connection/admission.ts, cancels.ts, flow_control.ts,
 * large_messages.ts, liveness.ts, read_turn.ts, readers.ts, readiness.ts,
 * request_budget.ts and write_line.ts.
 */

import assert from "node:assert/strict";
import { Admission } from "../../src/connection/admission.ts";
import { FlowControl, Pause } from "../../src/connection/flow_control.ts";
import type { Frame } from "../../src/wire/frame.ts";
import { HeldCancels } from "../../src/connection/cancels.ts";
import { LargeMessages } from "../../src/connection/large_messages.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";
import type { OutgoingMessage } from "../../src/protocol/mode.ts";
import { ALIVE, DEAD, Liveness } from "../../src/connection/liveness.ts";
import { ReadTurn } from "../../src/connection/read_turn.ts";
import { Readers } from "../../src/connection/readers.ts";
import { Readiness } from "../../src/connection/readiness.ts";
import { RequestBudget } from "../../src/connection/request_budget.ts";
import { WriteLine } from "../../src/connection/write_line.ts";

Deno.test("Admission (src/connection/admission.ts): The in-flight limit: the second request waits for the first", () => {
  const ran: number[] = [];
  const flow = new FlowControl({ pause() {}, resume() {}, drained: () => Promise.resolve() });
  const channel = {
    closed: false,
    peer: "a peer",
    pending: { size: 0 },
    protocol: { errorHead: null, oneWay: () => false, encodeError: () => new Uint8Array(0) },
    response() {},
    close() {},
  };
  const host = { onRequest: (_: unknown, frame: Frame) => ran.push(frame.session), onRefused() {} };
  const admission = new Admission(channel, host, flow, {
    maxInflight: 1,
    highWaterMark: 1024,
    refuseReused: true,
  });
  const frame = (session: number): Frame => ({
    kind: "request",
    session,
    cmd: 1,
    traceHi: 0,
    traceLo: 0,
    payload: new Uint8Array(0),
  });
  const first = { session: 1, abort() {} };
  admission.request(frame(1));
  admission.serving.add(first); // its handler is running (the cluster tracks async ones)
  admission.request(frame(2));
  if (ran.join() !== "1" || admission.serving.waiting !== 1) throw new Error("2 should wait");
  admission.finished(first);
  if (ran.join() !== "1,2") throw new Error(ran.join());
});

Deno.test("RequestBudget (src/connection/request_budget.ts): A freed slot goes to the connection waiting first", () => {
  const budget = new RequestBudget(1, Infinity);
  const served: string[] = [];
  budget.began(); // one handler runs: the node is at its cap
  budget.wait({ serveOne: () => (served.push("a"), false) });
  budget.wait({ serveOne: () => (served.push("b"), false) });
  budget.ended(); // its slot goes to "a", then (nothing ran) to "b"
  if (served.join() !== "a,b") throw new Error(served.join());
});

Deno.test("HeldCancels (src/connection/cancels.ts): Held while congested, sent once drained", () => {
  const sent: number[] = [];
  const cancels = new HeldCancels();
  cancels.hold(7);
  cancels.release((session) => sent.push(session));
  if (sent.join() !== "7") throw new Error(sent.join());
});

Deno.test("FlowControl (src/connection/flow_control.ts): Reading resumes only when every reason is gone", () => {
  const calls: string[] = [];
  const flow = new FlowControl({
    pause: () => calls.push("pause"),
    resume: () => calls.push("resume"),
    drained: () => Promise.resolve(),
  });
  flow.pause(Pause.Inflight);
  flow.hold();
  flow.resume(Pause.Inflight); // still held
  flow.release();
  if (calls.join() !== "pause,resume") throw new Error(calls.join());
});

Deno.test("LargeMessages (src/connection/large_messages.ts): A body over the threshold is queued and pumped a part at a time", () => {
  const parts: number[] = [];
  const channel = {
    closed: false,
    pending: { size: 0 },
    protocol: {
      writer: new FrameEncoder(),
      writePart(message: OutgoingMessage, size: number) {
        const take = Math.min(size, message.body.length - message.sent);
        message.sent += take;
        parts.push(take);
        return take;
      },
    },
    connection: { write: () => true },
  };
  const flow = new FlowControl({ pause() {}, resume() {}, drained: () => Promise.resolve() });
  const queue = new LargeMessages(channel, flow, {
    threshold: 4,
    window: { partWindow: 1024, maxMessageSize: 1024 },
    highWaterMark: 1024,
  });
  const body = queue.large(new Uint8Array(10), new Uint8Array(0))!;
  queue.add(false, 1, 7, 0, 0, new Uint8Array(0), body);
  queue.pump();
  if (parts.join() !== "4,4,2" || queue.pending) throw new Error(parts.join());
});

Deno.test("Liveness (src/connection/liveness.ts): Two ticks unanswered: the peer is dead", () => {
  const liveness = new Liveness();
  const state = { ready: true, accepted: false, pausedByChoice: false };
  const seq = liveness.tick(2, state); // a ping to send
  if (seq <= 0) throw new Error("no ping");
  if (liveness.tick(2, state) !== ALIVE) throw new Error("one miss is not death");
  if (liveness.tick(2, state) !== DEAD) throw new Error("two misses are");
});

Deno.test("ReadTurn (src/connection/read_turn.ts): Contended: three requests per turn; the fourth waits for the next turn", async () => {
  const readers = new Readers();
  readers.read(1_000_000, 0); // another connection
  const turn = new ReadTurn(3, 1, () => 0, readers);
  turn.begin(0);
  const ran = [1, 2, 3, 4].map(() => turn.take());
  if (JSON.stringify(ran) !== "[true,true,true,false]") throw new Error("unexpected result");
  await new Promise<void>((resolve) => turn.schedule(resolve));
  if (!turn.take()) throw new Error("a new turn has a new budget");
});

Deno.test("ReadTurn (src/connection/read_turn.ts): Alone: the turn lasts until its time is up, the clock read every 3 requests", () => {
  let clock = 0;
  const turn = new ReadTurn(3, 1, () => clock, new Readers());
  turn.begin(0);
  for (let i = 0; i < 7; i++) if (!turn.take()) throw new Error("alone, under 1 ms: runs on");
  clock = 1;
  const ran = [1, 2, 3].map(() => turn.take());
  if (JSON.stringify(ran) !== "[true,true,false]") throw new Error("the clock is read at the 10th");
});

Deno.test("Readers (src/connection/readers.ts): A second connection's read makes both contended, for the window", () => {
  const readers = new Readers(1000);
  if (readers.read(1, 0)) throw new Error("the first connection is alone");
  if (!readers.read(2, 10)) throw new Error("2 read after 1: contended");
  if (!readers.read(1, 20)) throw new Error("1 read after 2: contended");
  if (readers.read(1, 1020 + 1)) throw new Error("2 was quiet for the window: 1 is alone");
});

Deno.test("Readiness (src/connection/readiness.ts): A waiter is released when the handshake completes", async () => {
  const readiness = new Readiness();
  const waiting = readiness.wait();
  readiness.ready();
  await waiting;
});

Deno.test("WriteLine (src/connection/write_line.ts): requests write in the order they joined", async () => {
  const line = new WriteLine();
  const first = line.enter();
  const second = line.enter();
  const order: string[] = [];
  const b = second.turn.then(() => {
    order.push("second");
    line.leave(second);
  });
  const a = first.turn.then(() => {
    order.push("first");
    line.leave(first);
  });
  await Promise.all([a, b]);
  assert.deepEqual(order, ["first", "second"]);
  assert.equal(line.size, 0);
});
