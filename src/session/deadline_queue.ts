/**
 * One timer for many deadlines: a min-heap of entries ordered by deadline,
 * with a single platform timer armed for the earliest. Pending calls use it
 * instead of a timer each, so a call costs no timer allocation.
 *
 * @module
 */

import { now, startRefTimer, stopTimer, type TimerHandle } from "../_platform.ts";

/** Something with a deadline; the queue owns `deadlineIndex` while it holds it. */
export interface Deadline {
  /** Monotonic milliseconds (see `performance.now()`) at which it expires. */
  deadline: number;
  /** Position in the heap, or -1 when not queued. Managed by the queue. */
  deadlineIndex: number;
  /** Called once when the deadline passes while queued. */
  expire(): void;
}

/**
 * A min-heap of {@linkcode Deadline}s with one timer.
 *
 * The timer is armed for the earliest deadline. Removing an entry does not
 * re-arm or stop it (that would cost a timer per call when calls finish in
 * order); the timer then fires early, finds nothing due, and re-arms for the
 * new earliest or, when the queue is empty, stays off. So an idle queue
 * keeps its timer at most until the last removed deadline; `clear()` stops
 * it at once (the cluster calls it on close).
 *
 * @example
 * ```ts
 * import { DeadlineQueue } from "./deadline_queue.ts";
 *
 * const queue = new DeadlineQueue();
 * let expired = false;
 * queue.add({ deadline: performance.now() + 5, deadlineIndex: -1, expire: () => (expired = true) });
 * await new Promise((resolve) => setTimeout(resolve, 30));
 * if (!expired || queue.size !== 0) throw new Error("unexpected result");
 * ```
 */
export class DeadlineQueue {
  readonly #heap: Deadline[] = [];
  #timer: TimerHandle | undefined = undefined;
  #armedFor = Infinity;
  readonly #fire = (): void => this.#onTimer();

  /** Entries waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Queues `item` (its `deadline` must be set). */
  add(item: Deadline): void {
    const heap = this.#heap;
    item.deadlineIndex = heap.length;
    heap.push(item);
    this.#up(item.deadlineIndex);
    if (item.deadline < this.#armedFor) this.#arm(item.deadline);
  }

  /** Removes `item` if queued; harmless otherwise. */
  remove(item: Deadline): void {
    const i = item.deadlineIndex;
    if (i < 0) return;
    const heap = this.#heap;
    const last = heap.pop()!;
    item.deadlineIndex = -1;
    if (i < heap.length) {
      heap[i] = last;
      last.deadlineIndex = i;
      this.#down(i);
      this.#up(last.deadlineIndex);
    }
  }

  /** Stops the timer and forgets every entry without expiring them. */
  clear(): void {
    for (const item of this.#heap) item.deadlineIndex = -1;
    this.#heap.length = 0;
    this.#disarm();
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const heap = this.#heap;
    // A deadline within 1 ms counts as due: timers may fire a little early.
    const due = now() + 1;
    while (heap.length > 0 && heap[0]!.deadline <= due) {
      const item = heap[0]!;
      this.remove(item);
      item.expire();
    }
    if (heap.length > 0) this.#arm(heap[0]!.deadline);
  }

  #arm(deadline: number): void {
    if (this.#timer !== undefined) stopTimer(this.#timer);
    this.#armedFor = deadline;
    this.#timer = startRefTimer(this.#fire, Math.max(0, deadline - now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) stopTimer(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #up(i: number): void {
    const heap = this.#heap;
    const item = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.deadline <= item.deadline) break;
      heap[i] = p;
      p.deadlineIndex = i;
      i = parent;
    }
    heap[i] = item;
    item.deadlineIndex = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right]!.deadline < heap[left]!.deadline ? right : left;
      const c = heap[child]!;
      if (c.deadline >= item.deadline) break;
      heap[i] = c;
      c.deadlineIndex = i;
      i = child;
    }
    heap[i] = item;
    item.deadlineIndex = i;
  }
}
