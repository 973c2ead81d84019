// cluster.stats(), prometheusText and fetchStats over real loopback sockets
// (Deno in process; Bun and Node nodes as `weft serve --stats` processes).
// Prometheus texts are checked by `promtool check metrics` (Debian's
// `prometheus` package): without promtool on PATH those checks are ignored
// with one line saying why, except under CI (`CI=true`), where they fail.

import assert from "node:assert/strict";
import { Cluster, isWeftError, WeftError } from "../../mod.ts";
import { json } from "../../src/codec/json.ts";
import {
  type CommandStats,
  fetchStats,
  LATENCY_BUCKETS_MS,
  prometheusText,
  type StatsSnapshot,
} from "../../src/cluster/stats.ts";
import { type RuntimeName, spawnScript } from "../_runtimes.ts";
import { until } from "./cases.ts";

const quiet = { error() {}, warn() {} };

/** `promtool` on PATH, or why not. */
const promtool = await (async () => {
  try {
    const out = await new Deno.Command("promtool", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success ? "promtool" : undefined;
  } catch {
    return undefined;
  }
})();
const noPromtool = promtool === undefined && Deno.env.get("CI") !== "true";
if (noPromtool) {
  console.log(
    "tests/cluster/stats_test.ts: promtool is not on PATH: the promtool checks are ignored (apt-get install prometheus)",
  );
}

/** Runs `promtool check metrics` on `text`; fails the test with promtool's words. */
async function promtoolCheck(text: string): Promise<void> {
  if (promtool === undefined) {
    assert.fail("promtool is not on PATH (CI=true: apt-get install prometheus)");
  }
  const child = new Deno.Command(promtool, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `promtool check metrics failed:\n${said}\n--- text ---\n${text}`);
  assert.equal(said.trim(), "", `promtool's lint: ${said}`);
}

function entry(list: CommandStats[], cmd: number): CommandStats {
  const found = list.find((c) => c.cmd === cmd);
  assert.ok(found, `stats for cmd ${cmd} in ${JSON.stringify(list.map((c) => c.cmd))}`);
  return found;
}

/** Checks the sums: outcomes add up to the count, and every call but a send is in the histogram. */
function consistent(s: StatsSnapshot): void {
  for (const c of [...s.out, ...s.in]) {
    const outcomes = Object.values(c.outcomes).reduce((a, b) => a + b, 0);
    assert.equal(outcomes, c.count, `cmd ${c.cmd}: outcomes add up to count`);
    assert.equal(c.latency.counts.length, LATENCY_BUCKETS_MS.length + 1);
    const observed = c.count - (c.outcomes.sent ?? 0);
    assert.equal(c.latency.counts.reduce((a, b) => a + b, 0), observed, `cmd ${c.cmd}: histogram`);
    assert.ok(c.latency.sumMs >= 0);
  }
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "no error";
  } catch (error) {
    return isWeftError(error) ? error.code : String(error);
  }
}

Deno.test("stats: calls, requests, outcomes, in flight, bytes, histogram", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await using server = new Cluster({
    ...json(),
    stats: true,
    logger: quiet,
    call: async (_peer, cmd, body, context) => {
      if (cmd === 2) throw new Error("no");
      if (cmd === 3) {
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 2000);
          context.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve(undefined);
          });
        });
        throw new WeftError("aborted", "gave up");
      }
      if (cmd === 4) await held;
      return body;
    },
  });
  const listener = await server.listen("127.0.0.1:0");
  await using client = new Cluster({ ...json(), stats: true, logger: quiet });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);

  for (let i = 0; i < 5; i++) assert.equal(await client.call(peer, 1, i), i);
  assert.equal(await codeOf(client.call(peer, 2, "x")), "remote");
  assert.equal(await codeOf(client.call(peer, 3, "x", { timeout: 50 })), "timeout");
  await client.send(peer, 1, "one-way");
  const pending = client.call(peer, 4, "held", { timeout: 60_000 });
  await until(
    () => (server.stats()!.in.find((c) => c.cmd === 4)?.inFlight ?? 0) === 1,
    20_000,
    "the server handling cmd 4",
  );
  // From here to the release the handler surely runs: a lower bound on its time.
  const heldFrom = performance.now();
  const during = client.stats()!;
  assert.equal(entry(during.out, 4).inFlight, 1);
  assert.equal(entry(server.stats()!.in, 4).inFlight, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const heldFor = performance.now() - heldFrom;
  release();
  assert.equal(await pending, "held");

  const out = client.stats()!;
  consistent(out);
  assert.ok(entry(out.out, 4).latency.sumMs >= heldFor, "the call lasted the hold at least");
  assert.deepEqual(entry(out.out, 1).outcomes, { ok: 5, sent: 1 });
  assert.deepEqual(entry(out.out, 2).outcomes, { ok: 0, remote: 1 });
  assert.deepEqual(entry(out.out, 3).outcomes, { ok: 0, timeout: 1 });
  assert.equal(entry(out.out, 4).inFlight, 0);
  assert.deepEqual(out.in, []);
  assert.deepEqual(out.connections, { open: 1, opened: 1 });
  assert.ok(out.bytes.out > 0 && out.bytes.in > 0);

  // The server sees the send too, and the handler that gave up when cancelled.
  await until(() => entry(server.stats()!.in, 1).count === 6, 20_000, "the send served");
  await until(() => entry(server.stats()!.in, 3).count === 1, 20_000, "cmd 3 given up");
  const inn = server.stats()!;
  consistent(inn);
  assert.ok(entry(inn.in, 4).latency.sumMs >= heldFor, "the handler lasted the hold at least");
  assert.deepEqual(entry(inn.in, 1).outcomes, { ok: 6 });
  assert.deepEqual(entry(inn.in, 2).outcomes, { ok: 0, error: 1 });
  assert.deepEqual(entry(inn.in, 3).outcomes, { ok: 0, aborted: 1 });
  assert.equal(inn.connections.open, 1);
  assert.equal(inn.bytes.in, out.bytes.out, "what one sent, the other received");

  await client.close();
  await until(() => server.stats()!.connections.open === 0, 20_000, "the server's side closed");
  assert.equal(server.stats()!.connections.open, 0);
  assert.equal(client.stats()!.connections.open, 0);
});

Deno.test("stats: a synchronous handler's answers, throws and busy time; the last-command cache across commands", async () => {
  let busyMs = 0;
  await using server = new Cluster({
    ...json(),
    stats: true,
    logger: quiet,
    call: (_peer, cmd, body) => {
      if (cmd === 2) throw new WeftError("protocol", "synchronously");
      if (cmd === 5) {
        // Busy for 5 ms: a synchronous handler's time counts in full.
        const from = performance.now();
        while (performance.now() - from < 5) { /* busy */ }
        busyMs += performance.now() - from;
      }
      return body;
    },
  });
  const listener = await server.listen("127.0.0.1:0");
  await using client = new Cluster({ ...json(), stats: true, logger: quiet });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  // Alternating commands, so each lookup misses the last-command cache.
  for (let i = 0; i < 4; i++) {
    assert.equal(await client.call(peer, 1, i), i);
    assert.equal(await codeOf(client.call(peer, 2, i)), "remote");
  }
  // Pipelined, so several are in flight at once in both directions.
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => client.call(peer, 1, i)));
  assert.deepEqual(many, Array.from({ length: 20 }, (_, i) => i));
  // Several busy handlers in one chunk: each one's time is its own, not shared.
  await Promise.all(Array.from({ length: 4 }, (_, i) => client.call(peer, 5, i)));

  const inn = server.stats()!;
  consistent(inn);
  assert.ok(entry(inn.in, 5).latency.sumMs >= busyMs, `busy ${busyMs} ms counted`);
  assert.deepEqual(entry(inn.in, 1).outcomes, { ok: 24 });
  assert.deepEqual(entry(inn.in, 2).outcomes, { ok: 0, protocol: 4 });
  assert.equal(entry(inn.in, 1).inFlight, 0);
  assert.equal(entry(inn.in, 2).inFlight, 0);
  const out = client.stats()!;
  consistent(out);
  assert.deepEqual(entry(out.out, 1).outcomes, { ok: 24 });
  assert.deepEqual(entry(out.out, 2).outcomes, { ok: 0, remote: 4 });
  assert.equal(entry(out.out, 1).inFlight, 0);
});

Deno.test("stats: off by default; bad options name the option; maxCommands bounds", async () => {
  await using plain = new Cluster({ ...json() });
  assert.equal(plain.stats(), undefined);
  assert.throws(
    () => new Cluster({ ...json(), stats: "yes" as unknown as boolean }),
    (e: Error) => e instanceof TypeError && /option stats\b/.test(e.message),
  );
  assert.throws(
    () => new Cluster({ ...json(), stats: { maxCommands: 0 } }),
    (e: Error) => e instanceof RangeError && /stats\.maxCommands/.test(e.message),
  );
  assert.throws(
    () => new Cluster({ ...json(), stats: { remote: 1 as unknown as boolean } }),
    (e: Error) => e instanceof TypeError && /stats\.remote/.test(e.message),
  );
  assert.throws(
    () => new Cluster({ ...json(), stats: { timeEvery: 16 } as unknown as boolean }),
    (e: Error) => e instanceof TypeError && /stats\.timeEvery: removed/.test(e.message),
  );

  await using server = new Cluster({
    ...json(),
    stats: { maxCommands: 2 },
    call: (_p, cmd) => cmd,
  });
  const listener = await server.listen("127.0.0.1:0");
  await using client = new Cluster({ ...json() });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  for (let cmd = 1; cmd <= 6; cmd++) assert.equal(await client.call(peer, cmd), cmd);
  const cmds = server.stats()!.in.map((c) => [c.cmd, c.count]);
  assert.deepEqual(cmds, [[-1, 4], [1, 1], [2, 1]]);
});

Deno.test("stats: the histogram counts every call (51 of 51) and sums their time, in base units", async () => {
  await using server = new Cluster({ ...json(), stats: true, call: (_p, _c, b) => b });
  const listener = await server.listen("127.0.0.1:0");
  await using client = new Cluster({ ...json(), stats: true });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  for (let i = 0; i < 51; i++) await client.call(peer, 9, i);
  await client.send(peer, 9, "one-way");
  await until(() => entry(server.stats()!.in, 9).count === 52, 20_000, "the send served");
  for (
    const [text, dir, n] of [
      [prometheusText(client.stats()!), "out", 51],
      [prometheusText(server.stats()!), "in", 52],
    ] as const
  ) {
    assert.match(
      text,
      new RegExp(`^weft_request_duration_seconds_count\\{direction="${dir}",cmd="9"\\} ${n}$`, "m"),
    );
    assert.match(text, new RegExp(`le="\\+Inf"\\} ${n}$`, "m"));
    const sum = Number(/^weft_request_duration_seconds_sum\{[^}]*\} (\S+)$/m.exec(text)![1]);
    const sumMs = entry(dir === "out" ? client.stats()!.out : server.stats()!.in, 9).latency.sumMs;
    assert.ok(Math.abs(sum - sumMs / 1000) < 1e-9, "the sum in seconds");
    assert.match(text, /^weft_received_bytes_total \d+$/m);
    assert.match(text, /^weft_sent_bytes_total \d+$/m);
    assert.doesNotMatch(text, /weft_bytes_(received|sent)_total/, "the old names are gone");
  }
  assert.match(
    prometheusText(client.stats()!),
    /^weft_requests_total\{direction="out",cmd="9",outcome="sent"\} 1$/m,
    "a send is counted, not timed",
  );
});

Deno.test("stats: prometheusText is valid exposition with cumulative buckets", async () => {
  await using server = new Cluster({ ...json(), stats: true, call: (_p, _c, b) => b });
  const listener = await server.listen("127.0.0.1:0");
  await using client = new Cluster({ ...json(), stats: true });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  for (let i = 0; i < 20; i++) await client.call(peer, 9, i);
  const text = prometheusText(client.stats()!, { node: 'a"b' });
  const types = new Map<string, string>();
  const buckets: number[] = [];
  for (const line of text.trimEnd().split("\n")) {
    const type = /^# TYPE (\w+) (gauge|counter|histogram)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith("# HELP ")) continue;
    const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    assert.ok(!Number.isNaN(Number(m[3])), line);
    assert.match(m[2]!, /^node="a\\"b"/, "extra labels first, escaped");
    const family = m[1]!.replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(family) || types.has(m[1]!), `TYPE before ${m[1]}`);
    if (m[1] === "weft_request_duration_seconds_bucket") buckets.push(Number(m[3]));
  }
  assert.equal(buckets.length, LATENCY_BUCKETS_MS.length + 1);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]! >= buckets[i - 1]!);
  assert.equal(buckets.at(-1), 20);
  assert.match(
    text,
    /^weft_requests_total\{node="a\\"b",direction="out",cmd="9",outcome="ok"\} 20$/m,
  );
  assert.match(text, /le="\+Inf"\} 20$/m);
});

Deno.test({
  name:
    "stats: prometheusText of one cluster and of several in one exposition pass promtool check metrics",
  ignore: noPromtool,
  async fn() {
    await using server = new Cluster({
      ...json(),
      stats: true,
      logger: quiet,
      call: (_p, cmd, b) => {
        if (cmd === 2) throw new Error("no");
        return b;
      },
    });
    const listener = await server.listen("127.0.0.1:0");
    await using client = new Cluster({ ...json(), stats: true, logger: quiet });
    const peer = client.connect(`127.0.0.1:${listener.address.port}`);
    for (let i = 0; i < 5; i++) await client.call(peer, 1, i);
    await client.call(peer, 2, "x").catch(() => {});
    await client.send(peer, 1, "one-way");
    const a = client.stats()!;
    const b = server.stats()!;
    await promtoolCheck(prometheusText(a));
    await promtoolCheck(prometheusText(b, { node: 'server "b"\nline' }));
    const both = prometheusText([
      { stats: a, labels: { node: "client", zone: "x" } },
      { stats: b, labels: { node: "server", zone: "x" } },
    ]);
    await promtoolCheck(both);
    assert.equal(both.match(/^# HELP weft_requests_total /gm)?.length, 1, "one HELP per family");
    assert.equal(both.match(/^# TYPE weft_request_duration_seconds histogram$/gm)?.length, 1);
    assert.match(both, /^weft_connections\{node="client",zone="x"\} 1$/m);
    assert.match(both, /^weft_connections\{node="server",zone="x"\} 1$/m);
    // Two separate texts concatenated are not one exposition (promtool says so).
    const joined = prometheusText(a, { node: "client" }) + prometheusText(b, { node: "server" });
    await assert.rejects(promtoolCheck(joined), /second HELP line|second TYPE line/);
  },
});

Deno.test("stats: prometheusText refuses sources it cannot tell apart, and labels weft sets or Prometheus refuses", async () => {
  await using c = new Cluster({ ...json(), stats: true });
  const s = c.stats()!;
  assert.throws(
    () =>
      prometheusText([{ stats: s, labels: { node: "a" } }, { stats: s, labels: { node: "a" } }]),
    (e: Error) =>
      e instanceof TypeError && /0 and 1 have the same labels \{node="a"\}/.test(e.message),
  );
  assert.throws(
    () => prometheusText([{ stats: s, labels: {} }, { stats: s, labels: {} }]),
    (e: Error) => e instanceof TypeError && /same labels/.test(e.message),
  );
  assert.throws(() => prometheusText(s, { cmd: "x" }), /label name cmd: weft sets it/);
  assert.throws(() => prometheusText(s, { "a-b": "x" }), /Invalid label name "a-b"/);
  assert.throws(() => prometheusText(s, { __name: "x" }), /Invalid label name "__name"/);
  assert.equal(prometheusText([]), prometheusText([]), "no sources: the families alone");
});

Deno.test("fetchStats: allowed, refused, and a silly-mode node", async () => {
  await using open = new Cluster({ ...json(), stats: { remote: true }, call: (_p, _c, b) => b });
  const a = await open.listen("127.0.0.1:0");
  await using closed = new Cluster({ ...json(), stats: true, call: (_p, _c, b) => b });
  const b = await closed.listen("127.0.0.1:0");
  await using silly = new Cluster({ ...json(), protocol: "silly", logger: quiet });
  const c = await silly.listen("127.0.0.1:0");
  await using client = new Cluster({ ...json() });
  await client.call(client.connect(`127.0.0.1:${a.address.port}`), 5, "x");

  const remote = await fetchStats(`127.0.0.1:${a.address.port}`);
  assert.deepEqual(entry(remote.in, 5).outcomes, { ok: 1 });
  assert.ok(remote.connections.open >= 1);

  await assert.rejects(
    fetchStats(`127.0.0.1:${b.address.port}`),
    (e: WeftError) => e.code === "remote" && /stats not allowed/.test(e.message),
  );
  await assert.rejects(
    fetchStats(`127.0.0.1:${c.address.port}`, { timeout: 2000 }),
    (e: WeftError) => e.code === "closed" || e.code === "protocol",
  );
  await assert.rejects(fetchStats("127.0.0.1:1"), (e: WeftError) => isWeftError(e));
  await assert.rejects(fetchStats("127.0.0.1:1", { timeout: 0 }), RangeError);
});

for (const runtime of ["bun", "node"] as RuntimeName[]) {
  Deno.test(`fetchStats and weft stats: a ${runtime} node's stats`, async () => {
    const weft = new URL("../../src/cli/weft.ts", import.meta.url).pathname;
    const child = await spawnScript(runtime, weft, [
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--stats",
      "--quiet",
    ]);
    try {
      const address = (await child.waitFor(/^listening (\S+)$/m, 20_000))[1]!;
      {
        await using client = new Cluster({ ...json(), stats: true });
        const peer = client.connect(address);
        for (let i = 0; i < 10; i++) await client.call(peer, 3, { i });
        assert.equal(await codeOf(client.call(peer, 4, undefined)), "no error");
      }
      const snapshot = await fetchStats(address);
      consistent(snapshot);
      assert.deepEqual(entry(snapshot.in, 3).outcomes, { ok: 10 });
      assert.equal(entry(snapshot.in, 4).count, 1);
      assert.ok(snapshot.bytes.in > 0);
    } finally {
      await child.stop();
    }
  });
}
