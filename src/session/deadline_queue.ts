/**
 * One timer for many deadlines: entries ordered by deadline, with a single
 * platform timer armed for the earliest. Pending calls use it instead of a
 * timer each, so a call costs no timer allocation.
 *
 * @module
 */

import { now, startRefTimer, stopTimer, type TimerHandle } from "../_platform.ts";

/** Something with a deadline; the queue owns `deadlineIndex` while it holds it. */
export interface Deadline {
  /** Monotonic milliseconds (see `performance.now()`) at which it expires. */
  deadline: number;
  /**
   * Where the queue holds it: -1 when not queued. Managed by the queue
   * (0 and up: a heap slot; -2 and down: a slot of the in-order run).
   */
  deadlineIndex: number;
  /** Called once when the deadline passes while queued. */
  expire(): void;
}

/**
 * {@linkcode Deadline}s with one timer: an in-order run and a min-heap.
 *
 * Calls made with the same timeout are added in deadline order and mostly
 * answered in that order, so an entry whose deadline is not earlier than the
 * last one added goes to the in-order run: a FIFO where adding is a push
 * and removing leaves a hole, both O(1) (a heap costs O(log n) per removal,
 * which was one of the larger per-call costs at 256 calls in flight). Holes
 * are skipped at the front and compacted away once they outnumber the live
 * entries, so the run holds at most about twice its live entries. Entries
 * out of order go to the heap; the earliest deadline is the earlier of the
 * two fronts.
 *
 * The timer is armed for the earliest deadline. Removing an entry does not
 * re-arm or stop it (that would cost a timer per call when calls finish in
 * order); the timer then fires early, finds nothing due, and re-arms for the
 * new earliest or, when the queue is empty, stays off. So an idle queue
 * keeps its timer at most until the last removed deadline; `clear()` stops
 * it at once (the cluster calls it on close).
 *
 * Internal (no package entry exports it, so it has no doc example: doc
 * examples import the package by name); tests/session/deadline_queue_test.ts shows it at work.
 */
export class DeadlineQueue {
  readonly #heap: Deadline[] = [];
  /** The in-order run: deadlines never decrease along it; null marks a hole. */
  #run: (Deadline | null)[] = [];
  /** Index of the run's first slot that may be live. */
  #runHead = 0;
  /** Live entries in the run. */
  #runLive = 0;
  /** Deadline of the last entry pushed on the run (live or not). */
  #runTail = -Infinity;
  #timer: TimerHandle | undefined = undefined;
  #armedFor = Infinity;
  readonly #fire = (): void => this.#onTimer();

  /** Entries waiting. */
  get size(): number {
    return this.#heap.length + this.#runLive;
  }

  /** Queues `item` (its `deadline` must be set). */
  add(item: Deadline): void {
    if (item.deadline >= this.#runTail) {
      const run = this.#run;
      item.deadlineIndex = -2 - run.length;
      run.push(item);
      this.#runLive++;
      this.#runTail = item.deadline;
      if (item.deadline < this.#armedFor) this.#arm(item.deadline);
      return;
    }
    const heap = this.#heap;
    item.deadlineIndex = heap.length;
    heap.push(item);
    this.#up(item.deadlineIndex);
    if (item.deadline < this.#armedFor) this.#arm(item.deadline);
  }

  /** Removes `item` if queued; harmless otherwise. */
  remove(item: Deadline): void {
    const i = item.deadlineIndex;
    if (i < 0) {
      if (i !== -1) this.#removeFromRun(item, -2 - i);
      return;
    }
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
    for (const item of this.#run) if (item !== null) item.deadlineIndex = -1;
    this.#resetRun();
    this.#disarm();
  }

  #removeFromRun(item: Deadline, i: number): void {
    const run = this.#run;
    run[i] = null;
    item.deadlineIndex = -1;
    if (--this.#runLive === 0) {
      this.#resetRun();
      return;
    }
    if (i === this.#runHead) {
      let head = i + 1;
      while (run[head] === null) head++;
      this.#runHead = head;
    }
    const holes = run.length - this.#runHead - this.#runLive;
    if (holes > 1024 && holes > this.#runLive) this.#compactRun();
    else if (this.#runHead > 1024 && this.#runHead * 2 > run.length) this.#compactRun();
  }

  /** Drops the holes and the skipped front; renumbers the live entries. */
  #compactRun(): void {
    const old = this.#run;
    const run: Deadline[] = [];
    for (let i = this.#runHead; i < old.length; i++) {
      const item = old[i];
      if (item === null || item === undefined) continue;
      item.deadlineIndex = -2 - run.length;
      run.push(item);
    }
    this.#run = run;
    this.#runHead = 0;
  }

  #resetRun(): void {
    // Emptied in place: with one call in flight this runs once per call.
    this.#run.length = 0;
    this.#runHead = 0;
    this.#runLive = 0;
    this.#runTail = -Infinity;
  }

  /** The entry with the earliest deadline, or undefined. */
  #first(): Deadline | undefined {
    const top = this.#heap[0];
    const front = this.#runLive > 0 ? this.#run[this.#runHead]! : undefined;
    if (top === undefined) return front;
    if (front === undefined) return top;
    return front.deadline < top.deadline ? front : top;
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    // A deadline within 1 ms counts as due: timers may fire a little early.
    const due = now() + 1;
    for (let item = this.#first(); item !== undefined; item = this.#first()) {
      if (item.deadline > due) {
        this.#arm(item.deadline);
        return;
      }
      this.remove(item);
      item.expire();
    }
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
