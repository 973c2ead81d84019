// The stats recorder behind the cluster option `stats` (the public side,
// types and prometheusText, is ./stats.ts): per-command entries, the timed
// pending calls, the handler wrapper, the connection byte counters, and the
// STATS_REPLY payload.

import { microtask, now } from "../_platform.ts";
import type { CallObserver, PendingCall } from "../session/pending_calls.ts";
import type { Connection, ConnectionHandler } from "../transport/types.ts";
import type { PartialBudget } from "../protocol/weft/parts.ts";
import type { RequestBudget } from "../connection/request_budget.ts";
import type { CallContext } from "./call_context.ts";
import {
  type CommandStats,
  LATENCY_BUCKETS_MS,
  type StatsOptions,
  type StatsSnapshot,
} from "./stats.ts";

export type { StatsSnapshot } from "./stats.ts";

/** Per-slot numbers in {@linkcode Direction.nums}: calls finished, ok, in flight, the sum of their ms. */
const COUNT = 0, OK = 1, IN_FLIGHT = 2, SUM_MS = 3, FIELDS = 4;
/** Buckets per slot: one per bound and one over the last. */
const BUCKETS = LATENCY_BUCKETS_MS.length + 1;
const BOUNDS = Float64Array.from(LATENCY_BUCKETS_MS);
/** Slots a direction starts with; doubled (up to maxCommands + 1) when a new command needs one. */
const INITIAL_SLOTS = 8;

/**
 * The time, read from the system clock at most once per microtask
 * checkpoint and cached until the next one (as libuv caches its loop time
 * per iteration): a clock read costs more than the rest of a call's
 * bookkeeping together (100-600 ns on a virtual machine's clock, where a
 * pipelined call takes 1-2 µs), and every call is timed, so the reads are
 * shared by the calls started and ended in one turn. The cache expires at
 * the next checkpoint, when a chunk arrives, and is bypassed after user
 * code the cluster ran (a handler's end is read fresh), so a duration is
 * off by at most the synchronous work done in the same turn before it
 * started.
 */
class TurnClock {
  #t = 0;
  #valid = false;
  #queued = false;
  readonly #expire = (): void => {
    this.#valid = false;
    this.#queued = false;
  };

  /** The cached time, or the clock's when the cache expired. */
  now(): number {
    return this.#valid ? this.#t : this.fresh();
  }

  /** The clock's time, cached for the rest of this turn. */
  fresh(): number {
    this.#t = now();
    this.#valid = true;
    if (!this.#queued) {
      this.#queued = true;
      microtask(this.#expire);
    }
    return this.#t;
  }

  /** Forgets the cached time (a chunk arrived: a new turn). */
  expire(): void {
    this.#valid = false;
  }
}

// One direction's numbers (calls out, or requests in). The hot path touches
// only preallocated typed arrays indexed by a command's slot (resolved once
// per command: a Map lookup only when the command differs from the last
// one), so recording a call allocates nothing and stays monomorphic; the
// snapshot is built from the arrays when asked for.
class Direction implements CallObserver {
  readonly #slots = new Map<number, number>();
  /** The wire cmd of each slot (-1: the overflow slot for commands past `max`). */
  readonly #cmds: number[] = [];
  /** Outcomes other than ok per slot, made when a slot first has one. */
  readonly #outcomes: (Record<string, number> | undefined)[] = [];
  #lastCmd = NaN;
  #lastSlot = 0;
  /** FIELDS numbers per slot. */
  nums = new Float64Array(INITIAL_SLOTS * FIELDS);
  /** BUCKETS latency counts per slot. */
  counts = new Float64Array(INITIAL_SLOTS * BUCKETS);
  readonly max: number;
  readonly #clock: TurnClock;
  constructor(max: number, clock: TurnClock) {
    this.max = max;
    this.#clock = clock;
  }

  /** The slot of `cmd`: the last one's, or one looked up (or made) once per change of command. */
  slot(cmd: number): number {
    if (cmd === this.#lastCmd) return this.#lastSlot;
    return this.#lookup(cmd);
  }

  #lookup(cmd: number): number {
    let slot = this.#slots.get(cmd);
    if (slot === undefined) {
      if (this.#slots.size >= this.max) {
        // Past maxCommands: counted together under cmd -1 (not cached as the last).
        slot = this.#slots.get(-1);
        if (slot === undefined) slot = this.#add(-1);
        return slot;
      }
      slot = this.#add(cmd);
    }
    this.#lastCmd = cmd;
    this.#lastSlot = slot;
    return slot;
  }

  #add(cmd: number): number {
    const slot = this.#cmds.length;
    if ((slot + 1) * FIELDS > this.nums.length) {
      const nums = new Float64Array(this.nums.length * 2);
      nums.set(this.nums);
      this.nums = nums;
      const counts = new Float64Array(this.counts.length * 2);
      counts.set(this.counts);
      this.counts = counts;
    }
    this.#cmds.push(cmd);
    this.#outcomes.push(undefined);
    this.#slots.set(cmd, slot);
    return slot;
  }

  /**
   * One starts in `slot`: the index of its start time in the timer slab (a
   * small integer, so the field holding it never boxes a double).
   */
  begin(slot: number): number {
    this.nums[slot * FIELDS + IN_FLIGHT]!++;
    if (this.#freeTop === 0) this.#growTimers();
    const timer = this.#free[--this.#freeTop]!;
    this.#started[timer] = this.#clock.now();
    return timer;
  }

  // The start times of the calls in flight, and a stack of free indices
  // into them; doubled when all are in use (one per call in flight).
  #started = new Float64Array(0);
  #free = new Int32Array(0);
  #freeTop = 0;

  #growTimers(): void {
    const size = this.#started.length;
    const grown = Math.max(16, size * 2);
    const started = new Float64Array(grown);
    started.set(this.#started);
    this.#started = started;
    const free = new Int32Array(grown);
    // Only called with none free: the new indices are the free ones.
    for (let i = size; i < grown; i++) free[this.#freeTop++] = i;
    this.#free = free;
  }

  /** One finished ok at time `t`; `timer` from {@linkcode begin}. */
  ok(slot: number, timer: number, t: number): void {
    const nums = this.nums;
    const at = slot * FIELDS;
    nums[at + IN_FLIGHT]!--;
    nums[at + COUNT]!++;
    nums[at + OK]!++;
    this.#time(slot, timer, t);
  }

  /**
   * One finished otherwise at time `t` (`outcome`: a WeftError code,
   * "error" or "sent"); `timer` from {@linkcode begin}, or -1 for a send
   * (counted, lasting 0).
   */
  other(slot: number, timer: number, outcome: string, t: number): void {
    const nums = this.nums;
    const at = slot * FIELDS;
    nums[at + IN_FLIGHT]!--;
    nums[at + COUNT]!++;
    const outcomes = this.#outcomes[slot] ??= {};
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    this.#time(slot, timer, t);
  }

  /** An outgoing call (tracked by {@linkcode ClusterStats.track}) settled. */
  settled(call: PendingCall, ok: boolean, reason: unknown): void {
    const t = this.#clock.now();
    if (ok) this.ok(call.slot, call.mark, t);
    else this.other(call.slot, call.mark, outcomeOf(reason), t);
  }

  /** A one-way send went out in `slot` (counted at once, never in flight, lasting 0). */
  sent(slot: number): void {
    this.nums[slot * FIELDS + IN_FLIGHT]!++;
    this.other(slot, -1, "sent", 0);
  }

  /**
   * Records the duration of `timer` (from {@linkcode begin}; -1 for a send,
   * which has none and is not in the histogram) in `slot`, ended at `t`,
   * and frees it. Every call and request is observed.
   */
  #time(slot: number, timer: number, t: number): void {
    if (timer < 0) return;
    // A clock that never runs backwards is assumed; a cached start may be the end's.
    const ms = Math.max(0, t - this.#started[timer]!);
    this.#free[this.#freeTop++] = timer;
    this.nums[slot * FIELDS + SUM_MS]! += ms;
    let lo = 0;
    let hi = BOUNDS.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ms <= BOUNDS[mid]!) hi = mid;
      else lo = mid + 1;
    }
    this.counts[slot * BUCKETS + lo]!++;
  }

  snapshot(): CommandStats[] {
    const nums = this.nums;
    return this.#cmds.map((cmd, slot): CommandStats => {
      const at = slot * FIELDS;
      return {
        cmd,
        count: nums[at + COUNT]!,
        outcomes: { ok: nums[at + OK]!, ...this.#outcomes[slot] },
        inFlight: nums[at + IN_FLIGHT]!,
        latency: {
          counts: Array.from(this.counts.subarray(slot * BUCKETS, (slot + 1) * BUCKETS)),
          sumMs: nums[at + SUM_MS]!,
        },
      };
    }).sort((a, b) => a.cmd - b.cmd);
  }
}

function outcomeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "error";
}

/** A cluster's stats recorder; made by {@linkcode createStats}. */
export class ClusterStats {
  readonly #created = now();
  readonly #clock = new TurnClock();
  readonly #out: Direction;
  readonly #in: Direction;
  /** True if peers' `stats` INFO requests are answered (see info.ts). */
  readonly remote: boolean;
  #open = 0;
  #opened = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  readonly #partials: PartialBudget | undefined;
  readonly #requests: RequestBudget | undefined;

  /**
   * @param options The validated options.
   * @param partials The node's budget of half-sent messages (weft mode).
   * @param requests The node's handlers running and requests waiting.
   */
  constructor(
    options: Required<StatsOptions>,
    partials?: PartialBudget,
    requests?: RequestBudget,
  ) {
    this.remote = options.remote;
    this.#partials = partials;
    this.#requests = requests;
    this.#out = new Direction(options.maxCommands, this.#clock);
    this.#in = new Direction(options.maxCommands, this.#clock);
  }

  /**
   * Records `call`, an outgoing call of `wireCmd`: its outcome and its
   * latency when it settles; nothing is allocated.
   */
  track(call: PendingCall, wireCmd: number): void {
    const out = this.#out;
    const slot = out.slot(wireCmd);
    call.slot = slot;
    call.mark = out.begin(slot);
    call.observer = out;
  }

  /** A one-way send of `wireCmd` went out. */
  sent(wireCmd: number): void {
    const out = this.#out;
    out.sent(out.slot(wireCmd));
  }

  /** The handler is given `context`'s request (the cluster calls this, then {@linkcode served} or {@linkcode failed}). */
  serving(context: CallContext): void {
    const served = this.#in;
    context.statsMark = served.begin(served.slot(context.cmd));
  }

  /** The handler of `context` returned (or its promise resolved). */
  served(context: CallContext): void {
    const served = this.#in;
    // The handler ran since the clock was read: read it again.
    served.ok(served.slot(context.cmd), context.statsMark, this.#clock.fresh());
  }

  /** The handler of `context` threw `error` (or its promise rejected with it). */
  failed(context: CallContext, error: unknown): void {
    const served = this.#in;
    served.other(
      served.slot(context.cmd),
      context.statsMark,
      outcomeOf(error),
      this.#clock.fresh(),
    );
  }

  /** Counts `connection`'s bytes and its life; call before it is started. */
  connection(connection: Connection): void {
    this.#open++;
    this.#opened++;
    const start = connection.start.bind(connection);
    const write = connection.write.bind(connection);
    connection.start = (handler: ConnectionHandler) =>
      start({
        ...handler,
        data: (chunk) => {
          this.#bytesIn += chunk.length;
          this.#clock.expire();
          handler.data(chunk);
        },
        close: (info) => {
          this.#open--;
          handler.close(info);
        },
      });
    connection.write = (bytes) => {
      this.#bytesOut += bytes.length;
      return write(bytes);
    };
  }

  /** The numbers now. */
  snapshot(): StatsSnapshot {
    return {
      uptimeMs: now() - this.#created,
      connections: { open: this.#open, opened: this.#opened },
      bytes: { in: this.#bytesIn, out: this.#bytesOut },
      out: this.#out.snapshot(),
      in: this.#in.snapshot(),
      limits: {
        partialBytes: this.#partials?.held ?? 0,
        handlers: this.#requests?.running ?? 0,
        handlerWaits: this.#requests?.waited ?? 0,
        waitingBytes: this.#requests?.waitingBytes ?? 0,
        refused: {
          "partial bytes": this.#partials?.refused ?? 0,
          "part timeout": this.#partials?.timedOut ?? 0,
          "waiting bytes": this.#requests?.refusedWaiting ?? 0,
          "connection backlog": this.#requests?.refusedBacklog ?? 0,
        },
      },
    };
  }
}

/**
 * The recorder for a cluster's `stats` option, or undefined when it is off.
 *
 * @throws {TypeError} Naming the option, for a wrong type.
 * @throws {RangeError} For `maxCommands` out of range.
 */
export function createStats(
  option: boolean | StatsOptions | undefined,
  partials?: PartialBudget,
  requests?: RequestBudget,
): ClusterStats | undefined {
  return statsFor(option, partials, requests);
}

function statsFor(
  option: boolean | StatsOptions | undefined,
  partials?: PartialBudget,
  requests?: RequestBudget,
): ClusterStats | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) {
    return new ClusterStats({ remote: false, maxCommands: 256 }, partials, requests);
  }
  if (option === null || typeof option !== "object") {
    throw new TypeError(`Invalid option stats: expected a boolean or an object, got ${option}`);
  }
  const remote = option.remote ?? false;
  if (typeof remote !== "boolean") {
    throw new TypeError(`Invalid option stats.remote: expected a boolean, got ${remote}`);
  }
  const maxCommands = option.maxCommands ?? 256;
  if (!Number.isInteger(maxCommands) || maxCommands < 1 || maxCommands > 65536) {
    throw new RangeError(
      `Invalid option stats.maxCommands: expected an integer from 1 to 65536, got ${maxCommands}`,
    );
  }
  if ("timeEvery" in option) {
    throw new TypeError(
      "Invalid option stats.timeEvery: removed; every call is timed now (histogram counts and sums are exact)",
    );
  }
  return new ClusterStats({ remote, maxCommands }, partials, requests);
}
