/** The fault server's commands and what `stats` answers (shared by the server and the tests). */

/** The fault server's commands. */
export const CMD = {
  echo: 1,
  slow: 2,
  hold: 3,
  stats: 4,
  poke: 5,
  busy: 6,
  size: 7,
  held: 8,
  runs: 9,
} as const;

/** What `stats` answers. */
export interface Stats {
  /** Connections accepted so far. */
  accepted: number;
  /** Connections open now. */
  open: number;
  /** Handlers started (slow and hold). */
  started: number;
  /** Handlers whose signal aborted, by the abort reason's code. */
  aborted: Record<string, number>;
  /** Handlers running now (slow and hold). */
  running: number;
  /** The most handlers (slow and hold) that ran at once so far. */
  peakRunning: number;
  /** Lines logged at level error. */
  errors: number;
  /** Connections the listener closed at once for being over `maxConnections`. */
  refused: number;
  /** Connections the listener holds open now. */
  connections: number;
  /** Resident set size and heap in use, bytes. */
  rss: number;
  heap: number;
  /** Peak resident set size of the process (VmHWM), bytes. */
  peakRss: number;
  /** Echo requests handled. */
  echoed: number;
  /** The most echo requests handled in one macrotask (between two immediates). */
  maxRun: number;
  /** The cluster's node-wide budgets (`stats().limits`), when the server keeps stats. */
  limits?: {
    partialBytes: number;
    handlers?: number;
    handlerWaits?: number;
    waitingBytes?: number;
    refused: Record<string, number>;
  };
}
