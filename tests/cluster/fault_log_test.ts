/** `FaultLog`: per-kind windows, the held-back count, one line each, the option's bounds. */

import assert from "node:assert/strict";
import {
  checkFaultLogLimit,
  FAULT_LOG_WINDOW,
  FaultLog,
  quoteForLog,
} from "../../src/cluster/fault_log.ts";

function recorder(limit: number) {
  const lines: { message: string; detail: unknown }[] = [];
  let clock = 0;
  const log = new FaultLog(
    { error: (message, detail) => lines.push({ message, detail }) },
    limit,
    () => clock,
  );
  return {
    lines,
    log,
    advance(ms: number) {
      clock += ms;
    },
  };
}

Deno.test("`FaultLog.report` logs `limit` lines per kind per window, each kind on its own budget", () => {
  const r = recorder(3);
  for (let i = 0; i < 10; i++) r.log.report("protocol", `p${i}`);
  for (let i = 0; i < 10; i++) r.log.report("frame too large", `f${i}`);
  assert.deepEqual(r.lines.map((l) => l.message), ["p0", "p1", "p2", "f0", "f1", "f2"]);
  assert.equal(r.log.suppressed, 14);
  // Still inside the window: nothing more.
  r.advance(FAULT_LOG_WINDOW - 1);
  r.log.report("protocol", "late");
  assert.equal(r.lines.length, 6);
  // A new window: the next line carries the count held back, once.
  r.advance(1);
  r.log.report("protocol", "again");
  r.log.report("protocol", "and again");
  assert.deepEqual(r.lines.slice(6).map((l) => l.message), [
    "again (and 8 more protocol faults not logged)",
    "and again",
  ]);
  assert.equal(r.log.suppressed, 7);
  assert.deepEqual(r.lines[0]!.detail, { code: "protocol" });
  assert.equal(r.lines[0]!.detail instanceof Error, false);
});

Deno.test("`FaultLog.report` writes one line however many lines the message has; 0 logs nothing, Infinity everything", () => {
  const r = recorder(Infinity);
  for (let i = 0; i < 1000; i++) r.log.report("transport", "a\nb");
  assert.equal(r.lines.length, 1000);
  assert.equal(r.lines[0]!.message, "a b");
  const silent = recorder(0);
  silent.log.report("transport", "x");
  assert.equal(silent.lines.length, 0);
});

Deno.test("`FaultLog` tracks at most 64 kinds; further kinds share one budget", () => {
  const r = recorder(1);
  for (let i = 0; i < 100; i++) r.log.report(`kind ${i}`, `k${i}`);
  // 64 kinds of their own, then "other" (one line for the remaining 36).
  assert.equal(r.lines.length, 65);
  assert.deepEqual(r.lines[64]!.detail, { code: "other" });
});

Deno.test("`checkFaultLogLimit` takes integers from 0, and Infinity", () => {
  assert.equal(checkFaultLogLimit(undefined, 10), 10);
  assert.equal(checkFaultLogLimit(0, 10), 0);
  assert.equal(checkFaultLogLimit(Infinity, 10), Infinity);
  assert.throws(() => checkFaultLogLimit(1.5, 10), RangeError);
  assert.throws(() => checkFaultLogLimit(-1, 10), RangeError);
  assert.throws(() => checkFaultLogLimit("1", 10), TypeError);
});

Deno.test("`FaultLog`: at most two lines per kind per second; the rest are counted (the module's example)", () => {
  const lines: string[] = [];
  let clock = 0;
  const log = new FaultLog({ error: (m) => lines.push(m) }, 2, () => clock);
  for (let i = 0; i < 5; i++) log.report("protocol", `bad frame ${i}`);
  log.report("frame too large", "huge");
  clock = 1000;
  log.report("protocol", "bad frame 5");
  assert.deepEqual(lines, [
    "bad frame 0",
    "bad frame 1",
    "huge",
    "bad frame 5 (and 3 more protocol faults not logged)",
  ]);
});

Deno.test("`quoteForLog()` quotes, escapes control bytes and cuts a peer's text", () => {
  assert.equal(quoteForLog('ev"il\n\u001b[31m'), '"ev\\"il\\n\\u001b[31m"');
  assert.equal(quoteForLog("x".repeat(100)).length, 80 + 5);
});
