/**
 * The node-wide request budget (`maxHandlersPerNode`, `maxWaitingBytesPerNode`)
 * without sockets: several admissions share one {@linkcode RequestBudget},
 * as a cluster's connections do.
 */

import assert from "node:assert/strict";
import { Admission } from "../../src/connection/admission.ts";
import { FlowControl } from "../../src/connection/flow_control.ts";
import {
  createRequestBudget,
  DEFAULT_MAX_HANDLERS_PER_NODE,
  DEFAULT_MAX_WAITING_BYTES_PER_NODE,
  RequestBudget,
  type SlotWaiter,
} from "../../src/connection/request_budget.ts";
import { FRAME_COST } from "../../src/connection/serving.ts";
import type { Frame } from "../../src/wire/frame.ts";

const ERROR_HEAD = Uint8Array.of(1);

function frame(session: number, payload = new Uint8Array(0)): Frame {
  return { kind: "request", session, cmd: 9, traceHi: 0, traceLo: 0, payload };
}

interface Served {
  session: number;
  abort(): void;
}

/**
 * A node: connections named by a letter, each an admission over a stand-in
 * channel, sharing `budget`. Every request run is an async handler (tracked
 * and counted as the cluster's `HandlerRunner` does) unless `sync` says.
 */
function node(budget: RequestBudget, options: { maxInflight?: number } = {}) {
  /** What ran, in order: `A1` is connection A's session 1. */
  const ran: string[] = [];
  const refused: string[] = [];
  const answered: string[] = [];
  let sync = false;
  const connection = (name: string) => {
    const served = new Map<number, Served>();
    const channel = {
      closed: false,
      peer: name,
      pending: { size: 0 },
      protocol: {
        errorHead: ERROR_HEAD,
        oneWay: () => false,
        encodeError: (info: { code?: string }) => new TextEncoder().encode(String(info.code)),
      },
      response(session: number, bytes: Uint8Array) {
        answered.push(`${name}${session} ${new TextDecoder().decode(bytes)}`);
      },
      close() {
        channel.closed = true;
      },
    };
    const flow = new FlowControl({ pause() {}, resume() {}, drained: () => Promise.resolve() });
    const host = {
      onRequest(_channel: unknown, f: Frame) {
        ran.push(`${name}${f.session}`);
        if (sync) return;
        const request = { session: f.session, abort() {} };
        served.set(f.session, request);
        admission.serving.add(request);
        budget.began();
      },
      onRefused(_channel: unknown, kind: string, message: () => string) {
        refused.push(`${kind}: ${message()}`);
      },
    };
    const admission = new Admission(channel, host, flow, {
      maxInflight: options.maxInflight ?? 100,
      maxRequestsPerTurn: Infinity,
      soloTurnTime: 0,
      highWaterMark: 64 * 1024,
      refuseReused: true,
      keepReading: true,
      budget,
    });
    return {
      admission,
      channel,
      send: (...sessions: number[]) => {
        for (const s of sessions) admission.request(frame(s));
      },
      /** The handler of `session` ends, as the cluster's runner tells it: the connection, then the node. */
      finish(session: number) {
        const request = served.get(session)!;
        served.delete(session);
        admission.finished(request);
        budget.ended();
      },
      /** The connection closes, as the channel and the cluster do it. */
      close() {
        channel.closed = true;
        admission.stop();
        admission.serving.clear();
      },
    };
  };
  return { ran, refused, answered, connection, sync: (on: boolean) => (sync = on) };
}

Deno.test("`RequestBudget` hands freed slots to waiting connections in turn, one request each", () => {
  const budget = new RequestBudget(1, Infinity);
  const log: string[] = [];
  const waiter = (name: string, count: number): SlotWaiter => {
    let left = count;
    return {
      serveOne() {
        log.push(name);
        budget.began();
        return --left > 0;
      },
    };
  };
  budget.began();
  budget.wait(waiter("a", 3));
  const b = waiter("b", 2);
  budget.wait(b);
  budget.wait(b); // once, however often
  assert.equal(budget.queued, 2);
  for (let i = 0; i < 5; i++) budget.ended();
  assert.deepEqual(log, ["a", "b", "a", "b", "a"]);
  assert.equal(budget.queued, 0);
  assert.equal(budget.running, 1);
});

Deno.test("`RequestBudget.forget()`: a connection that closed is not served", () => {
  const budget = new RequestBudget(1, Infinity);
  const served: string[] = [];
  const a = { serveOne: () => (served.push("a"), false) };
  const b = { serveOne: () => (served.push("b"), false) };
  budget.began();
  budget.wait(a);
  budget.wait(b);
  budget.forget(a);
  budget.ended();
  assert.deepEqual(served, ["b"]);
});

Deno.test("maxHandlersPerNode: handlers over the node's cap wait in their connection; freed slots go to the connections in turn", () => {
  const budget = new RequestBudget(2, Infinity);
  const n = node(budget);
  const a = n.connection("A");
  const b = n.connection("B");
  a.send(1, 2, 3, 4, 5);
  assert.deepEqual(n.ran, ["A1", "A2"], "the node's cap, though A's own limit is 100");
  assert.equal(budget.running, 2);
  b.send(1, 2);
  assert.deepEqual(n.ran, ["A1", "A2"], "B waits too");
  assert.equal(a.admission.serving.waiting, 3);
  assert.equal(b.admission.serving.waiting, 2);
  assert.equal(budget.queued, 2);
  // A's own handler ending does not let A jump the queue: its slot goes in turn.
  for (const session of [1, 2, 3, 4]) {
    a.finish(session);
    assert.ok(budget.running <= 2, `${budget.running} running`);
  }
  assert.deepEqual(n.ran, ["A1", "A2", "A3", "B1", "A4", "B2"]);
  b.finish(1);
  assert.deepEqual(n.ran.slice(6), ["A5"]);
  assert.equal(budget.queued, 0);
  assert.equal(a.admission.serving.waiting + b.admission.serving.waiting, 0);
  assert.ok(budget.waited >= 5, `${budget.waited} waited`);
  assert.deepEqual(n.refused, []);
  // Everything ends: nothing running, nothing waiting.
  b.finish(2);
  a.finish(5);
  assert.equal(budget.running, 0);
  assert.equal(budget.waitingBytes, 0);
});

Deno.test("maxHandlersPerNode: one connection's long backlog does not starve another's single call", () => {
  const budget = new RequestBudget(4, Infinity);
  const n = node(budget, { maxInflight: 1000 });
  const flood = n.connection("F");
  const good = n.connection("G");
  flood.send(...Array.from({ length: 200 }, (_, i) => i + 1));
  good.send(1);
  assert.equal(budget.running, 4);
  // The good call runs after at most one freed slot per waiting connection.
  flood.finish(1);
  flood.finish(2);
  assert.ok(n.ran.includes("G1"), n.ran.join());
  assert.equal(budget.running, 4);
});

Deno.test("maxHandlersPerNode: a handler that finishes synchronously holds no slot; the check is a counter compare", () => {
  const budget = new RequestBudget(1, Infinity);
  const n = node(budget);
  n.sync(true);
  const a = n.connection("A");
  a.send(1, 2, 3);
  assert.deepEqual(n.ran, ["A1", "A2", "A3"]);
  assert.equal(budget.running, 0);
  assert.equal(budget.waited, 0);
});

Deno.test("maxHandlersPerNode: while calls of this node wait on a connection its requests run past the node's cap (they may be the peer calling back)", () => {
  const budget = new RequestBudget(1, Infinity);
  const n = node(budget, { maxInflight: 2 });
  const other = n.connection("O");
  other.send(1);
  const peer = n.connection("P");
  peer.channel.pending.size = 1;
  peer.send(1, 2, 3, 4);
  assert.deepEqual(n.ran, ["O1", "P1", "P2", "P3", "P4"], "up to twice its own limit");
  peer.send(5, 6);
  assert.equal(n.ran.length, 5);
  assert.equal(n.answered.length, 2, "beyond twice its limit: refused");
  assert.ok(n.answered.every((a) => a.endsWith(" busy")));
});

Deno.test("maxHandlersPerNode: a closed connection leaves the queue; its handlers free their slots when they end", () => {
  const budget = new RequestBudget(1, Infinity);
  const n = node(budget);
  const a = n.connection("A");
  const b = n.connection("B");
  a.send(1, 2);
  b.send(1);
  assert.equal(budget.queued, 2);
  assert.ok(budget.waitingBytes > 0);
  a.close();
  assert.equal(budget.queued, 1);
  assert.equal(budget.waitingBytes, FRAME_COST, "only B's request waits");
  assert.equal(budget.running, 1, "A's handler runs until it ends (aborted)");
  a.finish(1);
  assert.deepEqual(n.ran, ["A1", "B1"]);
  b.finish(1);
  assert.equal(budget.running, 0);
  assert.equal(budget.waitingBytes, 0);
});

Deno.test("maxWaitingBytesPerNode: past it a request is refused busy and counted, unless its connection has none waiting", () => {
  const payload = new Uint8Array(100);
  const cost = payload.length + FRAME_COST;
  const budget = new RequestBudget(1, 2 * cost);
  const n = node(budget);
  const a = n.connection("A");
  const b = n.connection("B");
  const c = n.connection("C");
  a.admission.request(frame(1, payload)); // runs: the one slot
  a.admission.request(frame(2, payload)); // waits
  a.admission.request(frame(3, payload)); // waits: 2 x cost
  a.admission.request(frame(4, payload)); // over: refused
  assert.deepEqual(n.answered, ["A4 busy"]);
  assert.equal(budget.refusedWaiting, 1);
  assert.equal(budget.waitingBytes, 2 * cost);
  assert.match(n.refused[0]!, /^busy: .*session 4 from A refused: .*maxWaitingBytesPerNode 328/);
  // A connection with nothing waiting may always queue one.
  b.admission.request(frame(1, payload));
  assert.equal(budget.waitingBytes, 3 * cost);
  b.admission.request(frame(2, payload));
  assert.deepEqual(n.answered, ["A4 busy", "B2 busy"]);
  c.admission.request(frame(1, payload));
  assert.equal(budget.refusedWaiting, 2);
  // Slots free: the waiting ones run in turn, the bytes go down.
  a.finish(1);
  a.finish(2);
  b.finish(1);
  assert.deepEqual(n.ran, ["A1", "A2", "B1", "C1"]);
  assert.equal(budget.waitingBytes, cost, "A3 waits");
});

Deno.test("createRequestBudget() applies the defaults and validates, naming the option", () => {
  const budget = createRequestBudget({});
  assert.equal(budget.maxHandlers, DEFAULT_MAX_HANDLERS_PER_NODE);
  assert.equal(budget.maxWaitingBytes, DEFAULT_MAX_WAITING_BYTES_PER_NODE);
  assert.equal(createRequestBudget({ maxHandlersPerNode: Infinity }).maxHandlers, Infinity);
  assert.throws(() => createRequestBudget({ maxHandlersPerNode: 0 }), RangeError);
  assert.throws(
    () => createRequestBudget({ maxHandlersPerNode: 1.5 }),
    /Invalid option maxHandlersPerNode/,
  );
  assert.throws(
    () => createRequestBudget({ maxWaitingBytesPerNode: "1" as unknown as number }),
    (e) => e instanceof TypeError && /maxWaitingBytesPerNode/.test(e.message),
  );
  assert.throws(() => createRequestBudget({ maxWaitingBytesPerNode: -1 }), RangeError);
});
