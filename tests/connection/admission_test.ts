import assert from "node:assert/strict";
import { Admission, PROBE_LIMIT } from "../../src/connection/admission.ts";
import { RequestBudget } from "../../src/connection/request_budget.ts";
import { FlowControl, Pause } from "../../src/connection/flow_control.ts";
import { FRAME_COST } from "../../src/connection/serving.ts";
import type { WeftError } from "../../src/errors.ts";
import type { Frame } from "../../src/wire/frame.ts";

const ERROR_HEAD = Uint8Array.of(1);

function frame(session: number, payload = new Uint8Array(0)): Frame {
  return { kind: "request", session, cmd: 9, traceHi: 0, traceLo: 0, payload };
}

/** A connection stand-in, the cluster's side (runs, refusals), and a served request per session. */
function setup(
  options: {
    maxInflight?: number;
    perTurn?: number;
    soloTurnTime?: number;
    highWaterMark?: number;
    errors?: boolean;
    keepReading?: boolean;
  } = {},
) {
  const ran: number[] = [];
  const refused: string[] = [];
  const answered: { session: number; body: string }[] = [];
  const closedWith: WeftError[] = [];
  const channel = {
    closed: false,
    peer: "a peer",
    pending: { size: 0 },
    protocol: {
      errorHead: options.errors === false ? null : ERROR_HEAD,
      oneWay: (payload: Uint8Array) => payload[0] === 1,
      encodeError: (info: { code?: string }) => new TextEncoder().encode(String(info.code)),
    },
    response(session: number, bytes: Uint8Array, head: Uint8Array) {
      assert.equal(head, ERROR_HEAD);
      answered.push({ session, body: new TextDecoder().decode(bytes) });
    },
    close(error: WeftError) {
      closedWith.push(error);
      channel.closed = true;
    },
  };
  const flow = new FlowControl({ pause() {}, resume() {}, drained: () => Promise.resolve() });
  let throwOn = -1;
  /** One served request per session, as the cluster tracks an async handler (by identity). */
  const servedBySession = new Map<number, { session: number; abort(): void }>();
  const served = (session: number) => {
    let request = servedBySession.get(session);
    if (request === undefined) servedBySession.set(session, request = { session, abort() {} });
    return request;
  };
  const host = {
    onRequest(_channel: unknown, f: Frame) {
      if (f.session === throwOn) throw new Error("handler setup failed");
      ran.push(f.session);
      // An async handler: tracked until it finishes (a second one under the same session too).
      admission.serving.add(
        ran.filter((s) => s === f.session).length > 1
          ? { session: f.session, abort() {} }
          : served(f.session),
      );
    },
    onRefused(_channel: unknown, kind: string, message: () => string) {
      refused.push(`${kind}: ${message()}`);
    },
  };
  const budget = new RequestBudget(Infinity, Infinity);
  const admission = new Admission(channel, host, flow, {
    maxInflight: options.maxInflight ?? 2,
    maxRequestsPerTurn: options.perTurn ?? Infinity,
    // Counted turns, whoever else this process reads, unless a test says.
    soloTurnTime: options.soloTurnTime ?? 0,
    highWaterMark: options.highWaterMark ?? 1 << 20,
    refuseReused: options.errors !== false,
    keepReading: options.keepReading ?? false,
    budget,
  });
  const start = (session: number) => admission.request(frame(session));
  return {
    admission,
    budget,
    channel,
    flow,
    ran,
    refused,
    answered,
    closedWith,
    served,
    start,
    throwOn: (s: number) => (throwOn = s),
  };
}

Deno.test("`Admission` runs requests while slots are free; the rest wait in order for finished ones", () => {
  const t = setup({ maxInflight: 2 });
  for (const session of [1, 2, 3, 4]) t.start(session);
  assert.deepEqual(t.ran, [1, 2]);
  assert.equal(t.admission.serving.waiting, 2);
  assert.ok(t.admission.busy);
  t.admission.finished(t.served(1));
  assert.deepEqual(t.ran, [1, 2, 3]);
  t.admission.finished(t.served(2));
  assert.deepEqual(t.ran, [1, 2, 3, 4]);
  assert.equal(t.admission.serving.waiting, 0);
});

Deno.test("`Admission` pauses reading once the waiting requests reach the high-water mark", () => {
  const t = setup({ maxInflight: 1, highWaterMark: 200 });
  t.start(1);
  t.admission.request(frame(2, new Uint8Array(100)));
  assert.equal(t.flow.has(Pause.Inflight), false);
  t.admission.request(frame(3, new Uint8Array(100)));
  assert.ok(t.flow.has(Pause.Inflight), "about 328 bytes wait");
  t.admission.finished(t.served(1));
  t.admission.finished(t.served(2));
  assert.equal(t.flow.has(Pause.Inflight), false, "read again once none wait");
});

Deno.test("`Admission.probe()` reads once more while only busy handlers stop reading, within PROBE_LIMIT", () => {
  const t = setup({ maxInflight: 1, highWaterMark: 100 });
  t.start(1);
  t.admission.request(frame(2, new Uint8Array(100)));
  assert.equal(t.flow.paused, Pause.Inflight);
  t.admission.probe();
  assert.equal(t.flow.paused, 0);
  for (let i = 0; i < PROBE_LIMIT; i++) t.admission.request(frame(10 + i, new Uint8Array(100)));
  t.admission.probe();
  assert.equal(t.flow.paused, Pause.Inflight, "too much waits: no more reads");
});

Deno.test("`Admission`: while calls of ours wait, requests run up to twice the limit, then are refused", () => {
  const t = setup({ maxInflight: 1 });
  t.channel.pending.size = 1;
  for (const session of [1, 2, 3]) t.start(session);
  assert.deepEqual(t.ran, [1, 2], "the second runs at once: it may be what our call waits for");
  assert.deepEqual(t.answered, [{ session: 3, body: "busy" }]);
  assert.equal(t.refused.length, 1);
  assert.match(
    t.refused[0]!,
    /^busy: Request cmd 9 session 3 from a peer refused: 2 requests in flight/,
  );
});

Deno.test("`Admission` refuses a reused session when the mode can say so, keeps both when it cannot", () => {
  const weft = setup();
  weft.start(5);
  weft.start(5);
  assert.deepEqual(weft.ran, [5]);
  assert.deepEqual(weft.answered, [{ session: 5, body: "protocol" }]);
  const silly = setup({ errors: false });
  silly.start(5);
  silly.start(5);
  assert.deepEqual(silly.ran, [5, 5], "silly itself does not look");
  assert.deepEqual(silly.answered, []);
});

Deno.test("`Admission` hands every refusal to its host (which rate-limits the log node-wide); one-way ones get no answer", () => {
  const t = setup({ maxInflight: 1 });
  t.channel.pending.size = 1;
  t.start(1);
  t.start(2);
  for (let i = 0; i < 5; i++) t.admission.request(frame(100 + i, Uint8Array.of(1)));
  assert.equal(t.refused.length, 5, "each refusal reaches the host's fault log");
  assert.deepEqual(t.answered, [], "one-way requests want no answer");
});

Deno.test("`Admission`: past a turn's budget requests wait for a later turn, reading paused meanwhile", async () => {
  const t = setup({ maxInflight: 100, perTurn: 2 });
  for (const session of [1, 2, 3, 4, 5]) t.admission.request(frame(session));
  assert.deepEqual(t.ran, [1, 2]);
  assert.ok(t.flow.has(Pause.Turn));
  assert.ok(t.admission.turn.scheduled);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(t.ran, [1, 2, 3, 4, 5], "two more per turn, in order");
  assert.equal(t.flow.has(Pause.Turn), false, "reading again");
  t.admission.stop();
});

Deno.test("`Admission`: a connection read alone runs a whole read past the turn's count, never pausing for a turn", () => {
  const t = setup({ maxInflight: 100, perTurn: 2, soloTurnTime: 60_000 });
  const at = performance.now();
  t.admission.newTurn(at);
  // The same connection read again a window later: nobody else read in
  // between, so it is alone (whoever the process read before this test).
  t.admission.newTurn(at + 1001);
  assert.equal(t.admission.turn.contended, false);
  for (let session = 1; session <= 50; session++) t.admission.request(frame(session));
  assert.equal(t.ran.length, 50, "not cut every 2");
  assert.equal(t.flow.has(Pause.Turn), false);
  assert.equal(t.admission.turn.scheduled, false);
  assert.equal(t.admission.turn.throttled, 0);
});

Deno.test("`Admission.stop()` cancels a scheduled turn", async () => {
  const t = setup({ maxInflight: 100, perTurn: 1 });
  for (const session of [1, 2, 3]) t.admission.request(frame(session));
  t.admission.stop();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(t.ran, [1]);
});

Deno.test("`Admission.dropWaiting()` drops a cancelled request still waiting for a slot", () => {
  const t = setup({ maxInflight: 1 });
  t.start(1);
  t.start(2);
  assert.equal(t.admission.dropWaiting(2), true);
  assert.equal(t.admission.dropWaiting(2), false);
  t.admission.finished(t.served(1));
  assert.deepEqual(t.ran, [1]);
});

Deno.test("`Admission.finished()`: a waiting request whose handling throws closes the connection", () => {
  const t = setup({ maxInflight: 1 });
  t.start(1);
  t.start(2);
  t.throwOn(2);
  t.admission.finished(t.served(1));
  assert.equal(t.closedWith.length, 1);
  assert.equal(t.closedWith[0]!.code, "protocol");
});

Deno.test("`Admission` with keepReading (a peer that can cancel) never pauses for waiting requests; past PROBE_LIMIT high-water marks it refuses them busy", () => {
  const t = setup({ maxInflight: 1, highWaterMark: 100, keepReading: true });
  t.start(1);
  let session = 10;
  while (t.answered.length === 0 && session < 1000) {
    t.admission.request(frame(session++, new Uint8Array(100)));
    assert.equal(t.flow.paused, 0, "still reading: the peer's CANCELs lie behind these");
  }
  const kept = t.admission.serving.waiting;
  assert.equal(kept, session - 11, "all but the last one wait");
  // Counted for the node's stats (limits.refused["connection backlog"]).
  assert.equal(t.budget.refusedBacklog, 1);
  assert.equal(t.budget.refusedWaiting, 0);
  assert.ok(kept >= 2 && t.admission.serving.waitingBytes >= PROBE_LIMIT * 100);
  assert.deepEqual(t.answered.map((a) => [a.session, a.body]), [[session - 1, "busy"]]);
  // CANCELs of the oldest waiting ones, in order: the queue shrinks.
  for (let i = 0; i < kept - 1; i++) assert.equal(t.admission.dropWaiting(10 + i), true);
  assert.equal(t.admission.serving.waiting, 1);
  t.admission.finished(t.served(1));
  assert.deepEqual(t.ran, [1, 10 + kept - 1]);
});

Deno.test("`Admission.dropWaiting()` out of order leaves the rest in order", () => {
  const t = setup({ maxInflight: 1 });
  for (const session of [1, 2, 3, 4, 5]) t.start(session);
  assert.equal(t.admission.dropWaiting(3), true);
  assert.equal(t.admission.dropWaiting(2), true);
  assert.equal(t.admission.serving.waiting, 2);
  t.admission.finished(t.served(1));
  t.admission.finished(t.served(4));
  assert.deepEqual(t.ran, [1, 4, 5]);
  assert.equal(t.admission.serving.waiting, 0);
  assert.equal(t.admission.serving.waitingBytes, 0);
});

Deno.test("`Admission.dropWaiting()` finds a waiting request by its session: a reused session's oldest first, an absent one false, the rest run in order", () => {
  const t = setup({ maxInflight: 1 });
  // Session 7 waits twice (a peer may reuse one), with payloads told apart by size.
  t.start(1);
  t.admission.request(frame(7, new Uint8Array(1)));
  t.admission.request(frame(8));
  t.admission.request(frame(7, new Uint8Array(2)));
  t.admission.request(frame(9));
  const serving = t.admission.serving;
  assert.equal(serving.waiting, 4);
  assert.equal(serving.waitingBytes, 3 + 4 * FRAME_COST);
  // Sessions that do not wait: nothing changes.
  assert.equal(t.admission.dropWaiting(1), false, "running, not waiting");
  assert.equal(t.admission.dropWaiting(42), false);
  assert.equal(serving.waiting, 4);
  // The oldest of session 7 (1 byte) goes first; the other stays, in its place.
  assert.equal(t.admission.dropWaiting(7), true);
  assert.equal(serving.waitingBytes, 2 + 3 * FRAME_COST);
  assert.equal(t.admission.dropWaiting(9), true);
  t.admission.finished(t.served(1));
  t.admission.finished(t.served(8));
  assert.deepEqual(t.ran, [1, 8, 7]);
  // The second 7 ran: nothing of it waits, so a cancel for 7 finds nothing.
  assert.equal(t.admission.dropWaiting(7), false);
  assert.equal(serving.waiting, 0);
  assert.equal(serving.waitingBytes, 0);
});
