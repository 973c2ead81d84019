// Named nodes: a request for a service or command the node lacks is the
// caller's mistake: answered with its code, logged as a warning within the
// fault-log limit, the peer-chosen name quoted so that no newline, control
// byte or bidi control of theirs reaches the log; never "handler threw". In
// process, then from other processes against a node on each runtime (the
// attacker without a key, then with a valid key), a good caller beside it
// keeping half its rate.

import assert from "node:assert/strict";
import { Nodes } from "../../src/nodes/nodes.ts";
import { isWeftError } from "../../src/errors.ts";
import { type RuntimeName, type ScriptChild, spawnScript } from "../_runtimes.ts";
import { authAs } from "./_keys.ts";
import { baseline, callsPerSecond, HANG_GUARD, keepsItsRate } from "./_measure.ts";
import { lowerPriority } from "./_nice.ts";

const HERE = (file: string) => new URL(file, import.meta.url).pathname;
// deno-lint-ignore no-control-regex
const EVIL = /[\n\r\u0000-\u0008\u000b-\u001f\u007f\u2028\u2029\u202e]/;

Deno.test("Nodes: unknown service and command are answered with their codes and logged as the caller's mistake, within the limit, names quoted", async () => {
  const warnings: string[] = [];
  const errors: string[] = [];
  const logger = { error: (m: string) => errors.push(m), warn: (m: string) => warnings.push(m) };
  await using db = new Nodes({ name: "db", logger, faultLogLimit: 3 });
  db.register("echo", { echo: (body) => body });
  const listener = await db.open("db", { address: "127.0.0.1:0" });
  await using web = new Nodes({ config: { db: `127.0.0.1:${listener.address.port}` } });
  for (let i = 0; i < 30; i++) {
    const evil = `ev\nil${i}\u001b[2J\u202e`;
    await assert.rejects(
      web.call("db", evil, "get", null),
      (e) => isWeftError(e, "unknown service"),
    );
    await assert.rejects(
      web.call("db", "echo", evil, null),
      (e) => isWeftError(e, "unknown command"),
    );
  }
  assert.deepEqual(errors, [], "nothing logged as an error (no 'handler threw')");
  assert.ok(warnings.length >= 2 && warnings.length <= 12, warnings.join("\n"));
  for (const line of warnings) assert.doesNotMatch(line, EVIL, JSON.stringify(line));
  assert.ok(
    warnings.some((l) => l.includes('no service "ev\\nil0\\u001b[2J\\u202e"')),
    warnings[0],
  );
  assert.ok(warnings.some((l) => /has no command "ev\\nil/.test(l)), warnings.join("\n"));
  assert.equal(await web.call("db", "echo", "echo", "still fine"), "still fine");
});

for (const runtime of ["deno", "bun", "node"] as RuntimeName[]) {
  Deno.test(`named node attacks (node on ${runtime}): a flood of unknown names fails with its code, the log stays within its limit and quoted, a good caller keeps half its rate`, async () => {
    const children: ScriptChild[] = [];
    let good: Nodes | undefined;
    try {
      const node = await spawnScript(runtime, HERE("./_named_node.ts"));
      children.push(node);
      const address = (await node.waitFor(/^listening (\S+)$/m, HANG_GUARD))[1]!;
      good = new Nodes({ ...authAs("good"), config: { db: address }, timeout: 10_000 });
      const rate = () =>
        callsPerSecond(async (i) => {
          assert.equal(await good!.call("db", "echo", "echo", i), i);
        });
      for (const key of ["none", "intruder"]) {
        const before = await baseline(rate);
        const attacker = await spawnScript(
          RUNTIMES_OTHER(runtime),
          HERE("./_nodes_attacker.ts"),
          [key, address],
        );
        children.push(attacker);
        try {
          // It gets going at normal priority and is reniced for the
          // measurement: at nice 19 from the start, beside a loaded
          // machine's other work, it can starve before it gets going.
          const progress = () => {
            const lines = attacker.stdout().split("\n").filter((l) => l.startsWith("progress "));
            return lines.length === 0
              ? {}
              : JSON.parse(lines.at(-1)!.slice(9)) as Record<string, number>;
          };
          await attacker.until(
            () => Object.values(progress()).reduce((a, b) => a + b, 0) >= 200,
            HANG_GUARD,
            `the attack (${key})`,
          );
          await lowerPriority(attacker.pid);
          await keepsItsRate(rate, before, `unknown names from ${key}`, attacker);
          const counts = progress();
          console.log(`unknown names (${key}): ${JSON.stringify(counts)}`);
          const want = key === "none"
            ? ["authentication failed"]
            : ["unknown command", "unknown service"];
          assert.deepEqual(Object.keys(counts).sort(), want, JSON.stringify(counts));
        } finally {
          await attacker.stop();
        }
      }
      const perSecond = new Map<number, number>();
      for (const line of node.stdout().split("\n")) {
        const m = /^log (\d+) (\w+) (.*)$/.exec(line);
        if (m === null) continue;
        const message = JSON.parse(m[3]!) as string;
        assert.doesNotMatch(message, EVIL, message);
        assert.doesNotMatch(message, /threw/, message);
        const second = Math.floor(Number(m[1]) / 1000);
        perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      }
      // 10 lines per kind per second (the default), a few kinds.
      assert.ok(Math.max(0, ...perSecond.values()) <= 40, JSON.stringify([...perSecond]));
    } finally {
      await good?.close();
      for (const child of children) await child.stop();
    }
  });
}

function RUNTIMES_OTHER(runtime: RuntimeName): RuntimeName {
  return runtime === "deno" ? "node" : "deno";
}
