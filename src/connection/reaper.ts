/**
 * {@linkcode Reaper}: the deadlines of a cluster's connections — the
 * handshake (modes that have one), idleness (accepted connections), and frame
 * completion — checked by one timer that sweeps every connection, so a
 * connection costs no timer of its own and a byte read costs no clock read.
 *
 * @module
 */

import { now, startRefTimer, stopTimer, type TimerHandle } from "../_platform.ts";
import { WeftError } from "../errors.ts";

/** What a channel counts for the reaper (plain fields, bumped on the hot path). */
export class Watch {
  /** Frames received (any kind). */
  frames = 0;
  /** Requests and responses, either way: heartbeats and handshakes do not count. */
  activity = 0;
  /** When the reaper first saw the connection. */
  openedAt = 0;
  /** Reaper's mark: `frames` at the last sweep (-1: no frame begun then). */
  seenFrames: number = -1;
  /** Reaper's mark: since when `frames` stands while a frame is begun. */
  stallSince = 0;
  /** Reaper's mark: `activity` at the last sweep. */
  seenActivity: number = -1;
  /** Reaper's mark: since when nothing went on. */
  idleSince = 0;
}

/** What the reaper needs from a channel. */
export interface Watched {
  /** Its counters. */
  readonly watch: Watch;
  /** An accepted connection (idle reaping applies to these only). */
  readonly accepted: boolean;
  /** The mode's handshake is not complete yet. */
  readonly handshaking: boolean;
  /** The error for a handshake not complete within `limit` ms (the mode words it). */
  handshakeExpired(limit: number): WeftError;
  /** A frame is begun and not complete. */
  readonly partialFrame: boolean;
  /** This side stopped reading (backpressure): a stalled frame is ours, not the peer's. */
  readonly readPaused: boolean;
  /** Calls wait or handlers run on it: not idle. */
  readonly busy: boolean;
  /** Reads once more if it stopped reading only for its busy handlers (to notice a hang-up). */
  probe(): void;
  /** The mode's own deadlines at time `t` (weft: the next part of a half-sent message). */
  modeDeadline(t: number): WeftError | null;
  /** Appended to a deadline's error when the first bytes suggest a framing mismatch. */
  framingHint(): string;
  /** Closes it (not local: the peer is at fault). */
  close(error: WeftError, local: boolean): unknown;
  /** For messages. */
  readonly peer: { toString(): string };
}

/** The reaper's deadlines, in milliseconds; `Infinity` turns one off. */
export interface ReaperOptions {
  /** An accepted connection must complete the mode's handshake within this. */
  handshakeTimeout: number;
  /** The connecting side must get the handshake's answer within this. */
  connectTimeout: number;
  /** Accepted connections with nothing going on are closed after this. */
  idleTimeout: number;
  /** A begun frame must be complete within this. */
  frameTimeout: number;
  /** Whether the connections' mode has a handshake. */
  handshake: boolean;
  /** The shortest of the mode's own deadlines (weft: `partTimeout`), for the sweep interval. */
  modeTimeout: number;
}

/**
 * Sweeps the channels it tracks every quarter of the shortest deadline (10
 * ms to 1 s) while there are any, and closes those past a deadline: so a
 * deadline fires between its value and its value plus one sweep interval.
 */
export class Reaper {
  readonly #o: ReaperOptions;
  readonly #channels = new Set<Watched>();
  readonly #interval: number;
  #timer: TimerHandle | undefined = undefined;

  /**
   * A reaper tracking no channel yet.
   *
   * @param options The deadlines.
   */
  constructor(options: ReaperOptions) {
    this.#o = options;
    const shortest = Math.min(
      options.handshake ? options.handshakeTimeout : Infinity,
      options.handshake ? options.connectTimeout : Infinity,
      options.idleTimeout,
      options.frameTimeout,
      options.modeTimeout,
    );
    this.#interval = shortest === Infinity
      ? Infinity
      : Math.min(1000, Math.max(10, Math.floor(shortest / 4)));
  }

  /** Starts watching a channel. */
  track(channel: Watched): void {
    if (this.#interval === Infinity) return;
    const watch = channel.watch;
    watch.openedAt = now();
    watch.idleSince = watch.openedAt;
    this.#channels.add(channel);
    if (this.#timer === undefined) this.#arm();
  }

  /** Stops watching a channel (it closed). */
  untrack(channel: Watched): void {
    this.#channels.delete(channel);
    if (this.#channels.size === 0) this.stop();
  }

  /** Stops the timer. */
  stop(): void {
    if (this.#timer !== undefined) stopTimer(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#timer = startRefTimer(() => {
      this.#timer = undefined;
      this.sweep(now());
      if (this.#channels.size > 0) this.#arm();
    }, this.#interval);
  }

  /** Checks every channel at time `t` (monotonic ms); closes the ones past a deadline. */
  sweep(t: number): void {
    for (const channel of [...this.#channels]) {
      channel.probe();
      const error = this.#check(channel, t);
      if (error !== null) {
        this.#channels.delete(channel);
        channel.close(error, false);
      }
    }
  }

  #check(channel: Watched, t: number): WeftError | null {
    const o = this.#o;
    const w = channel.watch;
    if (o.handshake && channel.handshaking) {
      const limit = channel.accepted ? o.handshakeTimeout : o.connectTimeout;
      if (t - w.openedAt >= limit) return channel.handshakeExpired(limit);
    }
    if (channel.partialFrame && !channel.readPaused) {
      if (w.frames !== w.seenFrames) {
        w.seenFrames = w.frames;
        w.stallSince = t;
      } else if (t - w.stallSince >= o.frameTimeout) {
        return new WeftError(
          "timeout",
          `Frame from ${channel.peer} not complete within ${o.frameTimeout} ms${channel.framingHint()}`,
        );
      }
    } else {
      w.seenFrames = -1;
    }
    const mode = channel.modeDeadline(t);
    if (mode !== null) return mode;
    if (channel.accepted && o.idleTimeout !== Infinity) {
      if (channel.busy || channel.partialFrame || w.activity !== w.seenActivity) {
        w.seenActivity = w.activity;
        w.idleSince = t;
      } else if (t - w.idleSince >= o.idleTimeout) {
        return new WeftError("timeout", `${channel.peer} idle for ${o.idleTimeout} ms`);
      }
    }
    return null;
  }
}
