// Requests keep their order through congestion, on Deno, Bun and Node over
// loopback (a child process per runtime, tests/cluster/_order_child.ts):
// calls and sends made in one synchronous run with a small high-water mark
// find the connection congested part of the way; those that wait, and those
// made after them, must arrive in the order they were made. Before the
// write line (src/connection/write_line.ts), on Bun and Node every tenth
// call or so was overtaken by the one after it: the waiter's drain flushed
// the batch, and a request made next saw an uncongested connection (or a
// waiter resumed to find it congested again and those behind it went first).
// And the line leaves in batches: each request that waited used to be its own
// write (on Deno 1 KiB calls at 256 in flight ran at 0.68 of the code of 2
// December); now those in line join one batch until it is full.

import assert from "node:assert/strict";
import { runScript } from "../_runtimes.ts";

const CHILD = new URL("./_order_child.ts", import.meta.url).pathname;

for (const runtime of ["deno", "bun", "node"] as const) {
  Deno.test(`order (${runtime}): calls and sends made at once through a congested connection arrive in the order made`, async () => {
    for (const [size, highWaterMark] of [[100, 1024], [50, 512], [300, 4096]] as const) {
      const result = await runScript(
        runtime,
        CHILD,
        ["500", String(size), String(highWaterMark)],
        120_000,
      );
      assert.equal(result.code, 0, result.stderr);
      const line = result.stdout.trim().split("\n").at(-1)!;
      const { writes, ...order } = JSON.parse(line);
      const what = `${size} B bodies, highWaterMark ${highWaterMark}`;
      assert.deepEqual(order, { arrived: 500, overtaken: 0 }, what);
      // A write per full batch (frames are the body and about 25 bytes),
      // twice that for slack: far below one write per request.
      const batches = Math.ceil((500 * (size + 25)) / highWaterMark);
      assert.ok(writes <= 2 * batches + 10, `${what}: ${writes} writes for ${batches} batches`);
    }
  });
}
