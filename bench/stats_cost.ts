/**
 * What the `stats` option costs: two echo pairs in one process over
 * loopback (raw codec, 32 B, 256 calls in flight), one with stats off on
 * both ends and one with stats on on both ends, measured in alternating
 * rounds in the same run so machine noise falls on both alike. Prints each
 * round, the medians, and the cost: 1 - the median of each round's on/off
 * ratio (adjacent measurements, so a busy machine skews both alike). Runs unchanged under Deno, Bun and Node
 * 24. Every call is counted and timed (the histogram is exact).
 *
 * ```sh
 * deno run -A bench/stats_cost.ts --rounds=20 --duration=500 --warmup=200
 * ```
 *
 * @module
 */

import { echoPair, runCost } from "./_cost.ts";

const pair = (stats: boolean) => echoPair(() => ({ stats }));

await runCost(pair, (on) => {
  const served = on.server.stats()!.in[0];
  if (served?.count === 0) throw new Error("stats recorded nothing");
});
