/**
 * A flood of pipelined requests, half of them undecodable, from one hostile
 * connection, beside a well-behaved client, over real sockets: a fault
 * server (fault_server.ts) under Deno, Bun and Node in turn, the raw hostile
 * connection and the good client in this Deno process. Covers issue 10's
 * item 6 (what a bad-request flood costs the clients beside it): the node
 * runs at most `maxRequestsPerTurn` of one connection's requests per read
 * turn, answers the good client while the flood is still being worked
 * through, answers every flooded request in order, and a bad request's error
 * response carries no stack.
 */

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { json } from "../../src/codec/json.ts";
import { transport } from "../../src/transport/deno.ts";
import { MemoryLogger } from "../cluster/cases.ts";
import { concat } from "../wire/_util.ts";
import { type ServerChild, startServer } from "./_child.ts";
import { CMD, type Stats } from "./_commands.ts";
import { HELLO, rawPeer, RUNTIMES, weftRequest } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Requests the hostile connection pipelines in one write: bad and good alternately. */
const FLOOD = 20_000;
const PER_TURN = 16;

/** The flood: odd sessions undecodable JSON, even sessions a valid echo. */
function flood(): Uint8Array {
  const bad = enc.encode("{not json");
  const good = enc.encode('"x"');
  const frames: Uint8Array[] = [];
  for (let s = 1; s <= FLOOD; s++) frames.push(weftRequest(s, CMD.echo, s % 2 === 1 ? bad : good));
  return concat(frames);
}

/** Floods `server`, calls it from a good client meanwhile; what the node did. */
async function run(server: ServerChild) {
  const good = new Cluster({
    codec: json(),
    transport,
    logger: new MemoryLogger(),
    timeout: 10_000,
  });
  const hostile = await rawPeer(server.address);
  const bytes = flood();
  try {
    const peer = good.connect(server.address);
    await good.call(peer, CMD.echo, "warm");
    assert.ok(await hostile.write(HELLO));
    await hostile.until(() => hostile.frames.length >= 1, 5000, "HELLO_ACK");
    const writing = hostile.write(bytes);
    // The good client's calls, while the flood is worked through: how many
    // of the flood's valid requests the node had run when each was answered.
    // The first one (`runs`) also starts the node's count of the most run
    // in one macrotask from 0: whatever ran before the node read the good
    // client (on a slow machine the flood may start more than a second
    // after the handshake: read alone, in timed turns, see solo_turn_test.ts)
    // is not what the budget bounds.
    const first = await good.call(peer, CMD.runs) as { echoed: number };
    const seen: number[] = [first.echoed];
    for (let i = 0; i < 10_000 && hostile.frames.length < FLOOD + 1; i++) {
      const s = await good.call(peer, CMD.stats) as Stats;
      seen.push(s.echoed);
    }
    assert.ok(await writing);
    await hostile.until(() => hostile.frames.length >= FLOOD + 1, 20_000, "every flood response");
    const after = await good.call(peer, CMD.stats) as Stats;
    return { seen, after, frames: hostile.frames.slice(1) };
  } finally {
    await hostile.close();
    await good.close();
  }
}

for (const runtime of RUNTIMES) {
  Deno.test(`flood: a ${runtime} node runs at most maxRequestsPerTurn of a flooding connection's pipelined requests per turn, answers a good client while the flood is worked through, and answers the flood in order without stacks`, async () => {
    const server = await startServer(runtime, "127.0.0.1:0", [
      "--codec=json",
      `--per-turn=${PER_TURN}`,
    ]);
    try {
      const { seen, after, frames } = await run(server);
      // Fairness: beside a good client being read, one connection's 20,000
      // requests, read in chunks of thousands, ran at most a turn's budget
      // per macrotask (plus the good client's one call in flight and a
      // stats call).
      assert.ok(
        after.maxRun <= PER_TURN + 2,
        `${after.maxRun} echo requests ran in one macrotask, over the budget of ${PER_TURN}`,
      );
      // The good client was answered while the flood was still being run.
      assert.ok(
        seen.some((n) => n > 1 && n < FLOOD / 2 + 1),
        `no good call was answered mid-flood (echoes seen: ${seen.slice(0, 10).join(", ")})`,
      );
      // Every flooded request was answered, in the order sent (bad ones
      // with a stackless "unmarshal failed" error, good ones with their body).
      assert.equal(frames.length, FLOOD);
      for (let i = 0; i < FLOOD; i++) {
        const frame = frames[i]!;
        assert.equal(frame.session, i + 1, `response ${i} out of order`);
        if (frame.session % 2 === 1) {
          assert.equal(frame.payload[0], 1, `session ${frame.session}: not an error response`);
          const info = JSON.parse(dec.decode(frame.payload.subarray(1)));
          assert.equal(info.code, "unmarshal failed");
          assert.equal(info.stack, undefined);
        } else {
          assert.equal(frame.payload[0], 0, `session ${frame.session}: not an ok response`);
          assert.equal(dec.decode(frame.payload.subarray(1)), '"x"');
        }
      }
    } finally {
      await server.stop();
    }
  });
}

Deno.test("flood: without the per-turn budget (maxRequestsPerTurn Infinity) a deno node runs a whole read's requests at once (what the budget bounds)", async () => {
  const server = await startServer("deno", "127.0.0.1:0", ["--codec=json", "--per-turn=Infinity"]);
  try {
    const { after } = await run(server);
    assert.ok(after.maxRun > PER_TURN + 2, `only ${after.maxRun} ran in one macrotask`);
  } finally {
    await server.stop();
  }
});
