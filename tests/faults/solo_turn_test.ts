/**
 * Turns over real sockets when a connection is read alone (issue 20): a
 * fault server (fault_server.ts) under Deno, Bun and Node in turn, a raw
 * connection pipelining 20,000 requests in one write, and a well-behaved
 * client from this Deno process. Alone, a connection's turns are timed
 * (`soloTurnTime`), not counted: its batches are not cut every
 * `maxRequestsPerTurn` requests, yet it still yields; as soon as another
 * connection is read, turns are counted again, and that connection is
 * answered while the flood is still being worked through. (Counted turns
 * beside a flood: flood_test.ts.)
 */

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { json } from "../../src/codec/json.ts";
import { CONTENTION_WINDOW } from "../../src/connection/readers.ts";
import { transport } from "../../src/transport/deno.ts";
import type { RuntimeName } from "../_runtimes.ts";
import { MemoryLogger } from "../cluster/cases.ts";
import { concat } from "../wire/_util.ts";
import { delay, type ServerChild, startServer } from "./_child.ts";
import { CMD, type Stats } from "./_commands.ts";
import { HELLO, type RawPeer, rawPeer, RUNTIMES, weftRequest } from "./_helpers.ts";

const enc = new TextEncoder();
/** Valid echo requests the raw connection pipelines in one write. */
const FLOOD = 20_000;
/**
 * The flood a newcomer meets: long enough that Deno, which looks at its
 * other sockets about every sixtieth turn of a busy event loop (60 lone
 * turns: 60 ms of the flood's work), reads the newcomer mid-flood.
 */
const LONG = 200_000;
const PER_TURN = 16;
/**
 * The most echoes two counted turns hold: `maxRun` counts between two
 * immediates, which can hold the end of one turn and the read after it.
 */
const COUNTED = 2 * PER_TURN + 2;
/** Longer than the contention window (readers.ts CONTENTION_WINDOW, 1 s): other reads forgotten. */
const QUIET = 1300;

function flood(n = FLOOD): Uint8Array {
  const body = enc.encode('"x"');
  const frames: Uint8Array[] = [];
  for (let s = 1; s <= n; s++) frames.push(weftRequest(s, CMD.echo, body));
  return concat(frames);
}

function goodClient(): Cluster {
  return new Cluster({ codec: json(), transport, logger: new MemoryLogger(), timeout: 20_000 });
}

/** A raw weft connection past its handshake. */
async function handshaken(server: ServerChild): Promise<RawPeer> {
  const hostile = await rawPeer(server.address);
  assert.ok(await hostile.write(HELLO));
  await hostile.until(() => hostile.frames.length >= 1, 5000, "HELLO_ACK");
  return hostile;
}

const counted = new WeakMap<RawPeer, { at: number; n: number }>();

/** Responses `hostile` received so far (counted once each). */
function responses(hostile: RawPeer): number {
  let c = counted.get(hostile);
  if (c === undefined) counted.set(hostile, c = { at: 0, n: 0 });
  for (; c.at < hostile.frames.length; c.at++) if (hostile.frames[c.at]!.kind === "response") c.n++;
  return c.n;
}

function assertInOrder(hostile: RawPeer, n = FLOOD): void {
  // Past HELLO_ACK, the responses (a long flood may meet a heartbeat PING).
  const frames = hostile.frames.slice(1).filter((f) => f.kind === "response");
  assert.equal(frames.length, n);
  for (let i = 0; i < n; i++) {
    assert.equal(frames[i]!.session, i + 1, `response ${i} out of order`);
    assert.equal(frames[i]!.payload[0], 0, `session ${i + 1}: not an ok response`);
  }
}

/**
 * A `runtime` fault server (with `args`) is sent FLOOD echoes in one write by
 * its only connection; once every response came back in order, the most
 * echoes it ran in one macrotask.
 */
async function floodAlone(runtime: RuntimeName, args: string[] = []): Promise<number> {
  const server = await startServer(runtime, "127.0.0.1:0", [
    "--codec=json",
    `--per-turn=${PER_TURN}`,
    ...args,
  ]);
  let hostile: RawPeer | undefined;
  const good = goodClient();
  try {
    hostile = await handshaken(server);
    // Nothing else is read on the server from here until the flood is answered.
    assert.ok(await hostile.write(flood()));
    await hostile.until(() => hostile!.frames.length >= FLOOD + 1, 30_000, "every response");
    assertInOrder(hostile);
    const after = await good.call(good.connect(server.address), CMD.stats) as Stats;
    assert.equal(after.echoed, FLOOD);
    return after.maxRun;
  } finally {
    await hostile?.close();
    await good.close();
    await server.stop();
  }
}

for (const runtime of RUNTIMES) {
  Deno.test(`solo turns: a ${runtime} node runs a connection read alone in timed turns, more than maxRequestsPerTurn each, and still yields within soloTurnTime`, async () => {
    const maxRun = await floodAlone(runtime);
    // Not cut every 16 requests: the batches of a lone connection run whole...
    assert.ok(
      maxRun > COUNTED,
      `alone, at most ${maxRun} requests ran in one macrotask: the turns were counted`,
    );
    // ...but the node still yielded: 1 ms of echo handlers is far from the
    // 20,000 requests (several reads) in one macrotask without fairness.
    assert.ok(
      maxRun < FLOOD / 2,
      `${maxRun} requests ran in one macrotask: the lone connection never yielded`,
    );
  });

  Deno.test(`solo turns: a ${runtime} node answers a client that starts calling beside a lone flood mid-flood, and counts the flood's turns from then on`, async () => {
    const server = await startServer(runtime, "127.0.0.1:0", [
      "--codec=json",
      `--per-turn=${PER_TURN}`,
    ]);
    let hostile: RawPeer | undefined;
    const good = goodClient();
    try {
      const peer = good.connect(server.address);
      await good.call(peer, CMD.echo, "warm");
      hostile = await handshaken(server);
      const bytes = flood(LONG);
      // The good client's reads are forgotten: the flood starts alone.
      await delay(QUIET);
      const writing = hostile.write(bytes);
      // The first call is read beside the flood: from then on turns are counted.
      let previousSent = performance.now();
      const first = await good.call(peer, CMD.runs) as { echoed: number; maxRun: number };
      const calls: number[] = [first.echoed];
      let last = first;
      let checked = 0;
      for (let i = 0; i < 100_000 && responses(hostile) < LONG; i++) {
        const sent = performance.now();
        last = await good.call(peer, CMD.runs) as { echoed: number; maxRun: number };
        // The server read this call and the one before within this span: if
        // it is under the contention window, every turn between the two
        // reads was counted. (A loaded machine can hold a call longer; the
        // flood then runs alone again, as it should, and is not checked.)
        const span = performance.now() - previousSent;
        previousSent = sent;
        calls.push(last.echoed);
        // The last answer may come after the flood's end: only what ran mid-flood counts.
        if (last.echoed < LONG + 1 && i > 0 && span < CONTENTION_WINDOW) {
          checked++;
          assert.ok(
            last.maxRun <= COUNTED,
            `${last.maxRun} requests ran in one macrotask beside a client being read (runs ${
              calls.slice(0, 20).join(", ")
            })`,
          );
        }
      }
      assert.ok(await writing);
      await hostile.until(() => responses(hostile!) >= LONG, 120_000, "every response");
      assertInOrder(hostile, LONG);
      // Answered while the flood was still being worked through, not after it.
      assert.ok(
        first.echoed < LONG + 1,
        `the first call beside the flood was answered after all ${first.echoed} echoes`,
      );
      // The check above ran: counted turns were seen mid-flood.
      assert.ok(
        checked >= 1,
        `too few calls mid-flood to see the counted turns (echoes seen: ${
          calls.slice(0, 20).join(", ")
        })`,
      );
    } finally {
      await hostile?.close();
      await good.close();
      await server.stop();
    }
  });
}

Deno.test("solo turns: with soloTurnTime 0 a deno node counts a lone connection's turns too (the behaviour before it)", async () => {
  const maxRun = await floodAlone("deno", ["--solo-turn-time=0"]);
  assert.ok(maxRun <= COUNTED, `${maxRun} ran in one macrotask`);
});
