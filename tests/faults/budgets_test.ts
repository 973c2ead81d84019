/**
 * Node-wide budgets against a hostile peer (issue 22), from a separate
 * process: the fault server runs under Deno, Bun and Node in turn, the
 * attackers are raw sockets in this Deno process, and a well-behaved client
 * calls beside them. Every wait is bounded; every child is stopped in
 * `finally`.
 */

import assert from "node:assert/strict";
import type { Cluster } from "../../src/cluster/cluster.ts";
import { parseAddress } from "../../src/transport/address.ts";
import { concat } from "../wire/_util.ts";
import { type RuntimeName, type ScriptChild, spawnScript } from "../_runtimes.ts";
import { HANG_GUARD } from "../trust/_measure.ts";
import { lowerPriority } from "../trust/_nice.ts";
import { delay, type ServerChild, startServer } from "./_child.ts";
import { CMD } from "./_commands.ts";
import {
  client,
  codes,
  dec,
  enc,
  HELLO,
  outcome,
  rawPeer,
  requestFrame,
  RUNTIMES,
  settleAll,
  sourced,
  type SourcedSocket,
  stats,
  untilStats,
  weftRequest,
  wellBehaved,
} from "./_helpers.ts";

/** weft's PART control cmd. */
const PART = 0xffffff06;
/** PART flags: the first part. */
const FIRST = 1;

/** A first PART of `stream` announcing a request of `total` bytes, carrying `data` bytes of it. */
function firstPart(stream: number, total: number, data: number): Uint8Array {
  const payload = new Uint8Array(21 + data);
  const view = new DataView(payload.buffer);
  payload[0] = FIRST;
  view.setUint32(1, total, true);
  view.setUint32(5, stream, true);
  view.setUint32(9, 1, true);
  return requestFrame(stream, PART, payload.fill(7, 21));
}

/** The weft default hard limit, so the largest message a peer may announce. */
const MAX_MESSAGE = 4 * 1024 * 1024;
const CONNECTIONS = 100;
const PARTIALS = 4;
/** The node-wide budget the server runs with: 2 MiB. */
const BUDGET = 2 * 1024 * 1024;

/** Opens `CONNECTIONS` raw connections, each HELLO then four first parts carrying `data` bytes. */
async function openPartials(port: number, data: number): Promise<SourcedSocket[]> {
  const bytes = concat([
    HELLO,
    ...Array.from({ length: PARTIALS }, (_, i) => firstPart(i + 1, MAX_MESSAGE, data)),
  ]);
  const sockets: SourcedSocket[] = [];
  for (let i = 0; i < CONNECTIONS; i++) sockets.push(await sourced(port, "127.0.0.1", bytes));
  return sockets;
}

for (const runtime of RUNTIMES) {
  Deno.test(`budgets (${runtime}): half-sent messages hold only the bytes that arrived, within maxPartialBytesPerNode, and are closed at partTimeout; a good client keeps working`, async () => {
    const { cluster } = client();
    let server: ServerChild | undefined;
    let calls: ReturnType<typeof wellBehaved> | undefined;
    const sockets: SourcedSocket[] = [];
    try {
      server = await startServer(runtime, "127.0.0.1:0", [
        "--heartbeat=600000",
        `--max-partial-node=${BUDGET}`,
        "--part-timeout=2000",
      ]);
      const port = parseAddress(server.address).port;
      calls = wellBehaved(cluster, server.address);
      const before = await stats(cluster, server.address);

      // 1. First parts announcing the largest message and carrying nothing:
      // 100 connections x 4 x 4 MiB = 1.6 GiB announced, nothing allocated.
      const announcing = await openPartials(port, 0);
      sockets.push(...announcing);
      // HELLO_ACK and four PART_ACKs each (20 bytes at least each): all taken.
      for (const s of announcing) {
        await s.until(() => s.received >= 5 * 20 || s.ended, 20_000, "the parts acknowledged");
      }
      const held = await stats(cluster, server.address);
      assert.equal(held.limits?.partialBytes, 0, "an announced size is never allocated");
      assert.ok(
        held.rss - before.rss < 256 * 1024 * 1024,
        `rss grew ${held.rss - before.rss} bytes for 1.6 GiB announced`,
      );
      // Each is closed by its deadline for the next part, none by the budget.
      for (const s of announcing) await s.until(() => s.ended, 30_000, "partTimeout closing it");
      const timedOut = await stats(cluster, server.address);
      assert.ok(
        (timedOut.limits?.refused["part timeout"] ?? 0) >= CONNECTIONS,
        JSON.stringify(timedOut.limits),
      );
      assert.equal(timedOut.limits?.refused["partial bytes"], 0);

      // 2. Unfinished parts carrying 16 KiB each: 6.4 MiB attempted against
      // a 2 MiB budget. What the node holds never passes the budget; the
      // connections over it are closed (`over budget`), the rest at partTimeout.
      const filling = await openPartials(port, 16 * 1024);
      sockets.push(...filling);
      let peak = 0;
      const end = Date.now() + 30_000;
      for (let i = 0; i < 10_000 && Date.now() < end && filling.some((s) => !s.ended); i++) {
        const s = await stats(cluster, server.address);
        peak = Math.max(peak, s.limits!.partialBytes);
        assert.ok(s.limits!.partialBytes <= BUDGET, `${s.limits!.partialBytes} bytes held`);
        await delay(10);
      }
      assert.ok(filling.every((s) => s.ended), "every attacker closed");
      const after = await stats(cluster, server.address);
      assert.equal(after.limits?.partialBytes, 0, "nothing held once they are closed");
      assert.ok((after.limits?.refused["partial bytes"] ?? 0) >= 1, JSON.stringify(after.limits));
      assert.ok(peak > 0, "the node held parts at some point");

      await calls.stop();
      assert.deepEqual(calls.failures, []);
      assert.ok(calls.ok > 0);
    } finally {
      for (const s of sockets) s.destroy();
      await calls?.stop();
      await cluster.close();
      await server?.stop();
    }
  });
}

for (const runtime of RUNTIMES) {
  Deno.test(`budgets (${runtime}): 20,000 calls timing out after 5 ms against held handlers: their CANCELs arrive, the handlers end, and the next calls on the same connection succeed`, async () => {
    let closes = 0;
    const { cluster } = client({ close: () => void closes++ });
    let server: ServerChild | undefined;
    try {
      server = await startServer(runtime, "127.0.0.1:0");
      const peer = cluster.connect(server.address);
      await cluster.call(peer, CMD.echo, enc.encode("warm"), { timeout: 5000 });
      const storm = await settleAll(
        Array.from(
          { length: 20_000 },
          () => outcome(cluster.call(peer, CMD.hold, undefined, { timeout: 5 })),
        ),
        60_000,
      );
      assert.deepEqual(codes(storm), new Map([["timeout", 20_000]]));
      // The next calls on the same connection: answered, none lost.
      const next = await settleAll(
        Array.from(
          { length: 100 },
          (_, i) => outcome(cluster.call(peer, CMD.echo, enc.encode(`n${i}`), { timeout: 20_000 })),
        ),
        30_000,
      );
      assert.deepEqual(codes(next), new Map([["ok", 100]]));
      // Every held handler was cancelled.
      await untilStats(
        cluster,
        server.address,
        (s) => s.running === 0,
        "every handler cancelled",
        30_000,
      );
      assert.equal(closes, 0, "the connection was never lost");
    } finally {
      await cluster.close();
      await server?.stop();
    }
  });
}

/** `count` request frames of `cmd`, sessions from 1, with weft's request head or silly's bare body. */
function pipelined(count: number, weft: boolean, cmd: number): Uint8Array {
  const empty = new Uint8Array(0);
  return concat(
    Array.from(
      { length: count },
      (_, i) => weft ? weftRequest(i + 1, cmd, empty) : requestFrame(i + 1, cmd, empty),
    ),
  );
}

for (const runtime of RUNTIMES) {
  Deno.test(`budgets (${runtime}): 5 rounds of pipelining held requests past the in-flight cap, then hanging up, leave no handler running, in both modes`, async () => {
    const servers: ServerChild[] = [];
    const clients: Cluster[] = [];
    let calls: ReturnType<typeof wellBehaved> | undefined;
    try {
      for (const protocol of ["weft", "silly"] as const) {
        const weft = protocol === "weft";
        const server = await startServer(runtime, "127.0.0.1:0", [
          `--protocol=${protocol}`,
          "--heartbeat=600000",
        ]);
        servers.push(server);
        const { cluster: good } = client({ protocol });
        clients.push(good);
        calls = wellBehaved(good, server.address);
        // 20,000 held requests (about 1.7 MB waiting, past what a connection may queue).
        const flood = pipelined(20_000, weft, CMD.hold);
        for (let round = 1; round <= 5; round++) {
          const attacker = await rawPeer(server.address);
          if (weft) await attacker.write(HELLO);
          await attacker.write(flood);
          await untilStats(
            good,
            server.address,
            (s) => s.running === 1024,
            `round ${round}: the cap`,
          );
          await attacker.close();
          const after = await untilStats(
            good,
            server.address,
            (s) => s.running === 0,
            `${protocol} round ${round}: every handler aborted`,
            30_000,
          );
          assert.equal(after.started, 1024 * round, `${protocol} round ${round}`);
        }
        await calls.stop();
        assert.deepEqual(calls.failures, []);
        assert.ok(calls.ok > 0);
      }
    } finally {
      await calls?.stop();
      for (const c of clients) await c.close();
      for (const s of servers) await s.stop();
    }
  });
}

// ---- the good client keeps at least half its calls/s ------------------------

const ATTACKER = new URL("./_attacker.ts", import.meta.url).pathname;
/** Paired windows (alone, then beside the attack) at most; the first pair at half passes. */
const PAIRS = 8;
/** Pairs always measured before passing (so the report shows a spread). */
const MIN_PAIRS = 3;
const WINDOW_MS = 300;

/** Echo calls on `peer`, 4 in flight, for `ms`; each answer checked; how many completed. */
async function callsIn(cluster: Cluster, address: string, ms: number): Promise<number> {
  const peer = cluster.connect(address);
  const end = performance.now() + ms;
  let done = 0;
  await Promise.all(Array.from({ length: 4 }, async (_, lane) => {
    for (let i = 0; i < 1_000_000 && performance.now() < end; i++) {
      const body = `g${lane}.${i}`;
      const reply = await cluster.call(peer, CMD.echo, enc.encode(body), { timeout: 30_000 });
      assert.equal(new TextDecoder().decode(reply as Uint8Array), body, "a correct answer");
      done++;
    }
  }));
  return done;
}

/**
 * What an attack costs a good client: its calls completed in a window
 * beside the attack are at least `share` of those of a window just before,
 * with the attacker stopped (SIGSTOP: its connections stay, its activity
 * stops). Pairs of adjacent windows, so that a swing in the machine's load
 * meets both; up to {@linkcode PAIRS} pairs, passing at the first at `share`
 * or more once {@linkcode MIN_PAIRS} were measured (a loaded machine can
 * starve one window; an attack that takes more fails every pair). Counts,
 * not timings: both windows have the same length.
 */
async function keepsShare(
  cluster: Cluster,
  address: string,
  attacker: ScriptChild,
  what: string,
  share: number,
): Promise<void> {
  const seen: string[] = [];
  const rounds = () => attacker.stdout().match(/^round \d+$/gm)?.length ?? 0;
  const rounds0 = rounds();
  let best = 0;
  for (let i = 0; i < PAIRS && (best < share || i < MIN_PAIRS); i++) {
    attacker.signal("SIGSTOP");
    let alone: number;
    try {
      alone = await callsIn(cluster, address, WINDOW_MS);
    } finally {
      attacker.signal("SIGCONT");
    }
    const beside = await callsIn(cluster, address, WINDOW_MS);
    // A pair whose alone window completed nothing says nothing (and passes nothing).
    if (alone > 0) best = Math.max(best, beside / alone);
    seen.push(`${beside}/${alone}`);
  }
  console.log(
    `${what}: calls beside/alone per ${WINDOW_MS} ms window: ${seen.join(", ")} (${
      rounds() - rounds0
    } attack rounds meanwhile)`,
  );
  assert.ok(
    best >= share,
    `${what}: under ${share} of the calls beside the attack: ${seen.join(", ")}`,
  );
}

/**
 * The share of its calls/s the good client must keep beside each attack:
 * half, the bound, beside every attack but handler exceptions.
 * Beside those the node spends most of each attacker request in the
 * handler making its `Error` (a stack: about 5 µs on Node; about 8 µs on
 * Deno, 75% of the node's time there, which no turn size gives back), and
 * the good client keeps 0.2-0.4 on Deno, 0.3-0.5 on Node, 0.5-0.6 on Bun on
 * a quiet machine (7 December 2026), so the test asserts that it is served,
 * correctly, and not starved (an eighth). README: "Limits against a hostile
 * peer".
 */
const SHARE_ATTACKS = [
  { kind: "parts", server: ["--max-partial-node=262144", "--part-timeout=2000"], share: 1 / 2 },
  { kind: "storm", server: [], share: 1 / 2 },
  { kind: "hangups", server: [], share: 1 / 2 },
  { kind: "exceptions", server: [], share: 1 / 8 },
  { kind: "refusals", server: ["--forbid=10"], share: 1 / 2 },
  { kind: "cancels", server: [], share: 1 / 2 },
] as const;

for (const runtime of RUNTIMES) {
  Deno.test(`budgets (${runtime}): a good client keeps half its calls/s beside unfinished parts, a timeout storm, hang-ups, authorize refusals and CANCELs for sessions that do not wait, at least an eighth beside handler exceptions, with correct answers (attackers at nice 19)`, async () => {
    for (const { kind, server: flags, share } of SHARE_ATTACKS) {
      const { cluster } = client();
      let server: ServerChild | undefined;
      let attacker: ScriptChild | undefined;
      try {
        server = await startServer(runtime, "127.0.0.1:0", ["--heartbeat=600000", ...flags]);
        await callsIn(cluster, server.address, 100); // connected and warm
        attacker = await spawnScript("deno", ATTACKER, [server.address, kind]);
        // Started at normal priority (a reniced start-up can take minutes
        // beside CPU burners), lowered once its first round went out.
        await attacker.waitFor(/^attacking$/m, HANG_GUARD);
        await lowerPriority(attacker.pid);
        await keepsShare(cluster, server.address, attacker, `${runtime} ${kind}`, share);
      } finally {
        await attacker?.stop();
        await cluster.close();
        await server?.stop();
      }
    }
  });
}

// ---- floods of requests answered with an error: all answered, log bounded --

/**
 * Starts a fault server with `flags`, a good client calling beside it, and
 * a raw connection pipelining `count` requests of `cmd` in `batches` writes
 * (each answered before the next goes out); checks every answer is an error
 * (`code`, if given), and that the lines matching `logged` are at least one
 * and at most 10 a second (the default faultLogLimit) of the flood.
 */
async function answeredFlood(
  runtime: RuntimeName,
  flags: string[],
  cmd: number,
  count: number,
  batches: number,
  logged: RegExp,
  code?: string,
): Promise<void> {
  const { cluster: good } = client();
  let server: ServerChild | undefined;
  let calls: ReturnType<typeof wellBehaved> | undefined;
  try {
    server = await startServer(runtime, "127.0.0.1:0", ["--heartbeat=600000", ...flags]);
    calls = wellBehaved(good, server.address);
    const attacker = await rawPeer(server.address);
    await attacker.write(HELLO);
    const started = performance.now();
    // Sessions 1 to count / batches in each batch: each is answered first.
    const batch = pipelined(count / batches, true, cmd);
    let answered = 1; // HELLO_ACK
    for (let i = 0; i < batches; i++) {
      await attacker.write(batch);
      answered += count / batches;
      await attacker.until(() => attacker.frames.length >= answered, 60_000, "the answers");
    }
    const seconds = (performance.now() - started) / 1000;
    const answers = attacker.frames.slice(1);
    assert.equal(answers.length, count);
    assert.ok(answers.every((f) => f.payload[0] === 1), "error responses");
    if (code !== undefined) {
      for (const f of [answers[0]!, answers.at(-1)!]) {
        assert.equal(JSON.parse(dec.decode(f.payload.subarray(1))).code, code);
      }
    }
    await attacker.close();
    const lines = server.lines(logged);
    assert.ok(
      lines.length >= 1 && lines.length <= 10 * (Math.ceil(seconds) + 1),
      `${lines.length} lines in ${seconds.toFixed(1)} s`,
    );
    await calls.stop();
    assert.deepEqual(calls.failures, []);
    assert.ok(calls.ok > 0);
  } finally {
    await calls?.stop();
    await good.close();
    await server?.stop();
  }
}

for (const runtime of RUNTIMES) {
  Deno.test(`budgets (${runtime}): 20,000 requests that make the handler throw are all answered, and logged at most faultLogLimit lines a second; a good client keeps working`, async () => {
    // cmd 99: the fault server's handler throws a RangeError for it. Before:
    // one line with its stack per request (20,000).
    await answeredFlood(runtime, [], 99, 20_000, 1, /threw/);
  });

  Deno.test(`budgets (${runtime}): 100,000 requests authorize refuses (the hook saying no, then throwing) are all answered forbidden, and logged at most faultLogLimit lines a second; a good client keeps working`, async () => {
    // Before: a line per refusal (100,000; the throwing hook's with its stack: ~98 MB).
    await answeredFlood(
      runtime,
      ["--forbid=10"],
      10,
      100_000,
      10,
      /Refused a request/,
      "forbidden",
    );
    await answeredFlood(
      runtime,
      ["--forbid=10", "--forbid-throws"],
      10,
      100_000,
      10,
      /authorize hook threw/,
      "forbidden",
    );
  });
}
