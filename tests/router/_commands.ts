/** The commands of the router tests' services (shared by the in-process and child services). */
export const COMMANDS = {
  /** Answers `{ id, runtime }`. */
  who: 1,
  /** Answers its body. */
  echo: 2,
  /** Waits `body.ms` (or until cancelled), then answers `{ id }`. */
  sleep: 3,
  /** Throws an Error with `code` `body.code`. */
  fail: 4,
  /** One-way: counted, and its body (`{ n }`) kept in order per source. */
  note: 5,
  /** Answers `{ count, ordered, bytes }` about the notes received. */
  notes: 6,
  /** Answers `{ remaining, aborted }` about the last `sleep` handled. */
  last: 7,
  /** Calls `body.to` with `who` through the context (chained deadline and signal). */
  chain: 8,
} as const;
