/**
 * {@linkcode Liveness}: whether the peer of one connection is still there,
 * for a mode with heartbeats. One timer (the cluster's) ticks every
 * connection once per heartbeat interval; a tick pings the peer, or counts
 * a ping still unanswered. Any bytes from the peer since the last tick
 * count as a sign of life: a pong can be queued behind megabytes the peer
 * is sending, and a dead peer sends nothing.
 *
 * @module
 */

/** What a tick says: the peer is alive (nothing to send). */
export const ALIVE: number = 0;
/** What a tick says: the peer is dead (too many heartbeats unanswered). */
export const DEAD: number = -1;

/** Where a connection stands, for a tick. */
export interface LivenessState {
  /** The handshake completed. */
  readonly ready: boolean;
  /** An accepted connection (the connecting side waits for a handshake's answer by its own deadline). */
  readonly accepted: boolean;
  /** Reading is paused only by this node's choice (busy handlers, a hold, its read turns): an unread pong is no sign of death. */
  readonly pausedByChoice: boolean;
}

/**
 * One connection's heartbeats.
 *
 * Its example runs as a test in tests/connection/doc_examples_test.ts.
 */
export class Liveness {
  #seq = 0;
  #outstanding = false;
  #missed = 0;
  /** Bytes arrived since the last tick (set by the connection on every chunk). */
  heard = false;

  /**
   * Once per heartbeat interval.
   *
   * @param misses Ticks in a row without an answer after which the peer is dead.
   * @param state Where the connection stands.
   * @returns A ping's sequence number (> 0) to send now, {@linkcode ALIVE}, or {@linkcode DEAD}.
   */
  tick(misses: number, state: LivenessState): number {
    if (!state.ready) {
      // The connecting side waits for the handshake's answer up to its
      // connect timeout (the reaper's deadline), not a heartbeat's.
      if (!state.accepted) return ALIVE;
      // The accepting side waits for the peer's first frame: a peer that
      // never sends it (or stalls inside it) is dead the same way as one
      // that stops answering.
      this.#missed++;
      return this.#missed <= misses ? ALIVE : DEAD;
    }
    if (this.#outstanding) {
      // Not reading only because this node's handlers are busy, it holds
      // the peer, or it still runs requests it read, turn by turn: the pong
      // may be waiting unread, so that is no sign of a dead peer.
      if (state.pausedByChoice) return ALIVE;
      // Bytes keep coming: the pong is queued behind them (megabytes sent to
      // a node that was stopped, say), and a dead peer sends nothing.
      if (this.heard) {
        this.heard = false;
        return ALIVE;
      }
      this.#missed++;
      return this.#missed < misses ? ALIVE : DEAD;
    }
    this.#seq = this.#seq === 0x7fffffff ? 1 : this.#seq + 1;
    this.#outstanding = true;
    this.heard = false;
    return this.#seq;
  }

  /** The peer answered ping `seq` (an answer to an older one is ignored). */
  pong(seq: number): void {
    if (seq !== this.#seq) return;
    this.#outstanding = false;
    this.#missed = 0;
  }

  /** The handshake completed: misses counted while waiting for it are forgotten. */
  ready(): void {
    this.#missed = 0;
  }
}
