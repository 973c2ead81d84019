/**
 * {@linkcode RequestBudget}: the node-wide account of requests, shared by
 * every connection of one cluster. It bounds two things the per-connection
 * limits multiply with the number of connections:
 *
 * - **handlers running** (`maxHandlersPerNode`): async handlers and raw
 *   forwards, counted from the moment they are tracked until they end. A
 *   request its connection's own limit would run waits, in its
 *   connection's queue of waiting requests, while the node is at the cap;
 *   each slot that frees goes to the next waiting connection in turn
 *   (round-robin), one request each, so one connection's backlog cannot
 *   starve another's;
 * - **bytes of requests waiting** (`maxWaitingBytesPerNode`), on every
 *   connection together: past it admission refuses a request (`busy` where
 *   the mode can answer, else dropped), unless its connection has none
 *   waiting (a client making one call at a time is never refused because
 *   others filled the budget).
 *
 * Under the cap the check costs one compare per request: the queue of
 * waiting connections is only looked at when a slot frees while it holds
 * any.
 *
 * Its example runs as a test in tests/connection/doc_examples_test.ts.
 *
 * @module
 */

import { limitOption } from "../_limit_option.ts";

/** Default `maxHandlersPerNode`: handlers running at once on all connections of a node. */
export const DEFAULT_MAX_HANDLERS_PER_NODE = 8192;

/** Default `maxWaitingBytesPerNode`: bytes of requests waiting on all connections of a node. */
export const DEFAULT_MAX_WAITING_BYTES_PER_NODE = 64 * 1024 * 1024;

/** A connection waiting for a node-wide handler slot (its admission). */
export interface SlotWaiter {
  /**
   * A slot is free: run the oldest waiting request if the connection's own
   * limit allows. Returns true if it has more to run (it stays in the queue,
   * behind the others), false if not (it leaves the queue).
   */
  serveOne(): boolean;
}

/**
 * The node-wide account of handlers running and bytes of requests waiting
 * (made by the cluster, one per node, and shared by its connections).
 */
export class RequestBudget {
  /** Handlers (async ones, and raw forwards) that may run at once. */
  readonly maxHandlers: number;
  /** Bytes of requests that may wait on every connection together. */
  readonly maxWaitingBytes: number;
  /** Handlers running now (a field: admission compares it once per request). */
  running = 0;
  /** Bytes of requests waiting now (payloads plus a fixed cost per request). */
  waitingBytes = 0;
  /** Requests refused because the waiting bytes were over `maxWaitingBytes`. */
  refusedWaiting = 0;
  /**
   * Requests refused for their own connection's bounds: its backlog of
   * waiting requests, or twice its in-flight limit while this node's calls
   * wait on it (counted here so that the node's stats show every refusal).
   */
  refusedBacklog = 0;
  /** Requests that waited for a node-wide handler slot (their connection's own limit would have run them). */
  waited = 0;
  /** Connections waiting for a slot, in turn (a Set keeps its order; one entry each). */
  readonly #queue = new Set<SlotWaiter>();
  #serving = false;

  /**
   * A budget holding nothing yet.
   *
   * @param maxHandlers Handlers that may run at once (`Infinity`: no cap).
   * @param maxWaitingBytes Bytes of requests that may wait (`Infinity`: no cap).
   */
  constructor(maxHandlers: number, maxWaitingBytes: number) {
    this.maxHandlers = maxHandlers;
    this.maxWaitingBytes = maxWaitingBytes;
  }

  /** Connections waiting for a slot. */
  get queued(): number {
    return this.#queue.size;
  }

  /** A handler (or a forward) began running: it holds a slot. */
  began(): void {
    this.running++;
  }

  /** A handler (or a forward) ended: its slot goes to the next waiting connection, if any. */
  ended(): void {
    this.running--;
    if (this.#queue.size > 0) this.serve();
  }

  /** `waiter` waits for a slot, behind those already waiting (once, however often called). */
  wait(waiter: SlotWaiter): void {
    this.#queue.add(waiter);
  }

  /** `waiter` no longer waits (its connection closed). */
  forget(waiter: SlotWaiter): void {
    this.#queue.delete(waiter);
  }

  /**
   * While slots are free, the waiting connections run one request each in
   * turn; one that has more goes to the back. (Not re-entered: a slot
   * freed meanwhile is taken by the loop already running.)
   */
  serve(): void {
    if (this.#serving) return;
    this.#serving = true;
    const queue = this.#queue;
    try {
      while (queue.size > 0 && this.running < this.maxHandlers) {
        const waiter: SlotWaiter = queue.values().next().value!;
        queue.delete(waiter);
        if (waiter.serveOne()) queue.add(waiter);
      }
    } finally {
      this.#serving = false;
    }
  }
}

/** The node-wide request budgets, part of the cluster's options. */
export interface RequestBudgetOptions {
  /**
   * Handlers (async ones, still running, and raw forwards) running at once
   * on all connections of this node together. A request its connection's
   * own limit (`maxInflightPerConnection`) would run waits, in its
   * connection's queue, while the node is at the cap; each handler that
   * ends hands its slot to the next waiting connection in turn
   * (round-robin, one request each), so a peer with a long backlog delays
   * another's call by about one slot per waiting connection, not by its
   * whole backlog. Not counted against it: requests of a peer on whose
   * connection calls of this node wait (they may be the peer calling back;
   * see `maxInflightPerConnection`). `Infinity`: no node-wide cap.
   *
   * @default {8192}
   */
  maxHandlersPerNode?: number;
  /**
   * Bytes of requests waiting for a handler slot (their payloads plus 64
   * bytes each) on all connections of this node together. Past it a
   * request is refused as over the per-connection backlog: weft answers a
   * `remote` error of code `busy`, silly drops it; counted in
   * `stats().limits.refused["waiting bytes"]`. A connection with nothing
   * waiting may always queue one request, so a client making one call at a
   * time is not refused because other peers filled the budget. `Infinity`:
   * no node-wide cap.
   *
   * @default {67108864}
   */
  maxWaitingBytesPerNode?: number;
}

/**
 * Validates `maxHandlersPerNode` and `maxWaitingBytesPerNode` and makes the
 * node's budget (defaults applied).
 *
 * @throws {TypeError} Naming the option, for a wrong type.
 * @throws {RangeError} Naming the option, for a value under 1 or not an integer.
 */
export function createRequestBudget(options: RequestBudgetOptions): RequestBudget {
  return new RequestBudget(
    limitOption(options.maxHandlersPerNode, "maxHandlersPerNode", DEFAULT_MAX_HANDLERS_PER_NODE),
    limitOption(
      options.maxWaitingBytesPerNode,
      "maxWaitingBytesPerNode",
      DEFAULT_MAX_WAITING_BYTES_PER_NODE,
    ),
  );
}
