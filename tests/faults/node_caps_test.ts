/**
 * The node-wide caps on handlers running (`maxHandlersPerNode`) and bytes
 * of requests waiting (`maxWaitingBytesPerNode`), from a separate process
 * (issue 22): the fault server runs under Deno, Bun and Node in turn, in
 * weft and silly mode; many raw connections in this Deno process pipeline
 * slow requests far past both caps, while a well-behaved client calls
 * beside them and a watcher reads the server's stats on a connection of
 * its own. Every wait is bounded; every child is stopped in `finally`; no
 * assertion is about time.
 */

import assert from "node:assert/strict";
import type { Cluster } from "../../src/cluster/cluster.ts";
import type { Frame } from "../../src/wire/frame.ts";
import { concat } from "../wire/_util.ts";
import type { ServerChild } from "./_child.ts";
import { startServer } from "./_child.ts";
import { CMD, type Stats } from "./_commands.ts";
import {
  client,
  dec,
  enc,
  HELLO,
  type RawPeer,
  rawPeer,
  requestFrame,
  RUNTIMES,
  stats,
  untilStats,
  weftRequest,
  wellBehaved,
} from "./_helpers.ts";

/** The server's cap on handlers running at once, node-wide. */
const MAX_HANDLERS = 64;
/** The server's cap on bytes of requests waiting, node-wide. */
const MAX_WAITING = 256 * 1024;
/** Attacking connections, each pipelining `PER_ATTACKER` slow requests. */
const ATTACKERS = 16;
const PER_ATTACKER = 3000;
/** What each attacker's requests ask the handler to wait, ms. */
const HOLD_MS = "300";
/**
 * What waiting bytes may reach: the budget, plus one request per
 * connection that had none waiting (attackers, good client, watcher), each
 * its payload and 64 bytes.
 */
const WAITING_BOUND = MAX_WAITING + (ATTACKERS + 2) * 128;

/** The error a weft error response carries, or null for another frame. */
function errorOf(frame: Frame): { code?: string; message: string } | null {
  if (frame.kind !== "response" || frame.payload[0] !== 1) return null;
  return JSON.parse(dec.decode(frame.payload.subarray(1)));
}

/** `PER_ATTACKER` slow requests, sessions from 1, with weft's head or silly's bare body. */
function flood(weft: boolean): Uint8Array {
  const body = enc.encode(HOLD_MS);
  return concat(
    Array.from(
      { length: PER_ATTACKER },
      (_, i) => weft ? weftRequest(i + 1, CMD.slow, body) : requestFrame(i + 1, CMD.slow, body),
    ),
  );
}

/** The server's numbers now, checked against both caps. */
async function bounded(watcher: Cluster, address: string, what: string): Promise<Stats> {
  const s = await stats(watcher, address);
  const limits = s.limits!;
  assert.ok(s.peakRunning <= MAX_HANDLERS, `${what}: ${s.peakRunning} handlers ran at once`);
  assert.ok(limits.handlers! <= MAX_HANDLERS, `${what}: ${limits.handlers} handlers running`);
  assert.ok(
    limits.waitingBytes! <= WAITING_BOUND,
    `${what}: ${limits.waitingBytes} bytes of requests waiting`,
  );
  return s;
}

for (const runtime of RUNTIMES) {
  Deno.test(`node caps (${runtime}): connections pipelining slow requests past maxHandlersPerNode and maxWaitingBytesPerNode never run more handlers or hold more bytes than the caps; a good client is answered; after the hang-up nothing is left, in both modes`, async () => {
    const servers: ServerChild[] = [];
    const clusters: Cluster[] = [];
    const attackers: RawPeer[] = [];
    let calls: ReturnType<typeof wellBehaved> | undefined;
    try {
      for (const protocol of ["weft", "silly"] as const) {
        const weft = protocol === "weft";
        const server = await startServer(runtime, "127.0.0.1:0", [
          `--protocol=${protocol}`,
          "--heartbeat=600000",
          `--max-handlers-node=${MAX_HANDLERS}`,
          `--max-waiting-node=${MAX_WAITING}`,
        ]);
        servers.push(server);
        const { cluster: good } = client({ protocol });
        const { cluster: watcher } = client({ protocol });
        clusters.push(good, watcher);
        calls = wellBehaved(good, server.address);
        const bytes = flood(weft);
        const round: RawPeer[] = [];
        for (let i = 0; i < ATTACKERS; i++) {
          const attacker = await rawPeer(server.address);
          attackers.push(attacker);
          round.push(attacker);
          if (weft) await attacker.write(HELLO);
          await attacker.write(bytes);
          await bounded(watcher, server.address, `${protocol}, attacker ${i + 1} written`);
        }
        // The caps are reached: the node runs as many handlers as it may,
        // and refuses what would wait past its budget.
        await untilStats(
          watcher,
          server.address,
          (s) => s.peakRunning === MAX_HANDLERS && (s.limits?.refused["waiting bytes"] ?? 0) > 0,
          `${protocol}: both caps reached`,
        );
        for (let i = 0; i < 20; i++) await bounded(watcher, server.address, `${protocol}, held`);
        const held = await bounded(watcher, server.address, `${protocol}, held`);
        assert.ok(held.limits!.handlerWaits! > 0, JSON.stringify(held.limits));
        if (weft) {
          // Refused as over the per-connection backlog is: `busy`, naming the budget.
          const refusals = round.flatMap((a) => a.frames).map(errorOf).filter((e) => e !== null);
          assert.ok(refusals.length > 0, "refusals answered");
          assert.ok(refusals.every((e) => e.code === "busy"), JSON.stringify(refusals[0]));
          assert.ok(refusals.some((e) => /maxWaitingBytesPerNode/.test(e.message)));
        }
        for (const attacker of round) await attacker.close();
        const after = await untilStats(
          watcher,
          server.address,
          (s) => s.running === 0 && s.limits?.handlers === 0 && s.limits?.waitingBytes === 0,
          `${protocol}: nothing left after the hang-up`,
        );
        assert.ok(after.peakRunning <= MAX_HANDLERS, `${after.peakRunning} at once`);
        await calls.stop();
        assert.deepEqual(calls.failures, [], `${protocol}: the good client's calls`);
        assert.ok(calls.ok > 0);
      }
    } finally {
      await calls?.stop();
      for (const attacker of attackers) await attacker.close();
      for (const cluster of clusters) await cluster.close();
      for (const server of servers) await server.stop();
    }
  });
}
