/**
 * {@linkcode HeldCancels}: CANCELs that wait out a congested connection.
 * A caller that gives up (a timeout, an abort) tells the peer with a
 * CANCEL; while the connection is congested the CANCEL waits for it to
 * drain like everything else, up to {@linkcode MAX_QUEUED_CANCELS}. More
 * are dropped and counted: the peer's handler then runs to its end, and
 * its response is dropped on arrival (nobody waits for it).
 *
 * @module
 */

/**
 * CANCEL frames held while the connection is congested; more are dropped.
 * Each is a call this node made and gave up on (a number, a few bytes), so
 * the bound is generous: a dropped CANCEL leaves the peer's handler holding
 * one of its slots for this connection until it ends on its own.
 */
export const MAX_QUEUED_CANCELS = 1 << 18;

/**
 * One connection's CANCELs held back by congestion.
 *
 * Its example runs as a test in tests/connection/doc_examples_test.ts.
 */
export class HeldCancels {
  #sessions: number[] = [];
  /** CANCELs dropped because too many waited. */
  dropped = 0;

  /** Holds the CANCEL of `session` until the connection drains (or drops it past the bound). */
  hold(session: number): void {
    if (this.#sessions.length < MAX_QUEUED_CANCELS) this.#sessions.push(session);
    else this.dropped++;
  }

  /** The connection drained: each held CANCEL goes to `send`, in order. */
  release(send: (session: number) => void): void {
    const sessions = this.#sessions;
    if (sessions.length === 0) return;
    this.#sessions = [];
    for (const session of sessions) send(session);
  }

  /** The connection closed: forget them. */
  clear(): void {
    this.#sessions = [];
  }
}
