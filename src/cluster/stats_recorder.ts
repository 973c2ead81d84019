// The stats recorder behind the cluster option `stats` (the public side,
// types and prometheusText, is ./stats.ts): per-command entries, the timed
// pending calls, the handler wrapper, the connection byte counters, and the
// STATS_REPLY payload.

import { now } from "../_platform.ts";
import type { CallObserver, PendingCall } from "../session/pending_calls.ts";
import type { Connection, ConnectionHandler } from "../transport/types.ts";
import type { PartialBudget } from "../protocol/weft/parts.ts";
import type { CallContext } from "./call_context.ts";
import {
  type CommandStats,
  DEFAULT_TIME_EVERY,
  LATENCY_BUCKETS_MS,
  type StatsOptions,
  type StatsSnapshot,
} from "./stats.ts";

export type { StatsSnapshot } from "./stats.ts";

/** Per-slot numbers in {@linkcode Direction.nums}: calls finished, ok, in flight, timed ms, calls to go until the next timed one. */
const COUNT = 0, OK = 1, IN_FLIGHT = 2, SUM_MS = 3, SKIP = 4, FIELDS = 5;
/** Buckets per slot: one per bound and one over the last. */
const BUCKETS = LATENCY_BUCKETS_MS.length + 1;
const BOUNDS = Float64Array.from(LATENCY_BUCKETS_MS);
/** Slots a direction starts with; doubled (up to maxCommands + 1) when a new command needs one. */
const INITIAL_SLOTS = 8;

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
  readonly every: number;
  constructor(max: number, every: number) {
    this.max = max;
    this.every = every;
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
   * One starts in `slot`: if it is timed (the first, then every `every`-th),
   * the index of its clock reading in the timer slab, else -1. A small
   * integer, so the field holding it never boxes a double.
   */
  begin(slot: number): number {
    const nums = this.nums;
    const at = slot * FIELDS;
    nums[at + IN_FLIGHT]!++;
    if (nums[at + SKIP]! > 0) {
      nums[at + SKIP]!--;
      return -1;
    }
    nums[at + SKIP] = this.every - 1;
    if (this.#freeTop === 0) this.#growTimers();
    const timer = this.#free[--this.#freeTop]!;
    this.#started[timer] = now();
    return timer;
  }

  // The clock readings of the timed calls in flight, and a stack of free
  // indices into them; doubled when all are in use (at most one per timed
  // call in flight).
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

  /** One finished ok; `timer` from {@linkcode begin}. */
  ok(slot: number, timer: number): void {
    const nums = this.nums;
    const at = slot * FIELDS;
    nums[at + IN_FLIGHT]!--;
    nums[at + COUNT]!++;
    nums[at + OK]!++;
    if (timer >= 0) this.#time(slot, timer);
  }

  /** One finished otherwise (`outcome`: a WeftError code, "error" or "sent"); `timer` from {@linkcode begin}. */
  other(slot: number, timer: number, outcome: string): void {
    const nums = this.nums;
    const at = slot * FIELDS;
    nums[at + IN_FLIGHT]!--;
    nums[at + COUNT]!++;
    const outcomes = this.#outcomes[slot] ??= {};
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (timer >= 0) this.#time(slot, timer);
  }

  /** An outgoing call (tracked by {@linkcode ClusterStats.track}) settled. */
  settled(call: PendingCall, ok: boolean, reason: unknown): void {
    if (ok) this.ok(call.slot, call.mark);
    else this.other(call.slot, call.mark, outcomeOf(reason));
  }

  /** A one-way send went out in `slot` (counted at once, never in flight). */
  sent(slot: number): void {
    this.nums[slot * FIELDS + IN_FLIGHT]!++;
    this.other(slot, -1, "sent");
  }

  /** Records the latency of `timer` (from {@linkcode begin}) in `slot`, and frees it. */
  #time(slot: number, timer: number): void {
    const ms = now() - this.#started[timer]!;
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
  readonly #out: Direction;
  readonly #in: Direction;
  /** True if peers' `stats` INFO requests are answered (see info.ts). */
  readonly remote: boolean;
  #open = 0;
  #opened = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  readonly #partials: PartialBudget | undefined;

  /**
   * @param options The validated options.
   * @param partials The node's budget of half-sent messages (weft mode).
   */
  constructor(options: Required<StatsOptions>, partials?: PartialBudget) {
    this.remote = options.remote;
    this.#partials = partials;
    this.#out = new Direction(options.maxCommands, options.timeEvery);
    this.#in = new Direction(options.maxCommands, options.timeEvery);
  }

  /**
   * Records `call`, an outgoing call of `wireCmd`: its outcome and (one in
   * `timeEvery`) its latency when it settles; nothing is allocated.
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
    served.ok(served.slot(context.cmd), context.statsMark);
  }

  /** The handler of `context` threw `error` (or its promise rejected with it). */
  failed(context: CallContext, error: unknown): void {
    const served = this.#in;
    served.other(served.slot(context.cmd), context.statsMark, outcomeOf(error));
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
        refused: {
          "partial bytes": this.#partials?.refused ?? 0,
          "part timeout": this.#partials?.timedOut ?? 0,
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
): ClusterStats | undefined {
  return statsFor(option, partials);
}

function statsFor(
  option: boolean | StatsOptions | undefined,
  partials?: PartialBudget,
): ClusterStats | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) {
    return new ClusterStats(
      { remote: false, maxCommands: 256, timeEvery: DEFAULT_TIME_EVERY },
      partials,
    );
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
  const timeEvery = option.timeEvery ?? DEFAULT_TIME_EVERY;
  if (!Number.isInteger(timeEvery) || timeEvery < 1 || timeEvery > 65536) {
    throw new RangeError(
      `Invalid option stats.timeEvery: expected an integer from 1 to 65536, got ${timeEvery}`,
    );
  }
  return new ClusterStats({ remote, maxCommands, timeEvery }, partials);
}
