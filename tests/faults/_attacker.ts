/**
 * An attacker process of the budget tests (budgets_test.ts): repeats one of
 * issue 22's attacks against a fault server until killed, so a good client
 * can be measured beside it and, with the attacker stopped (SIGSTOP), alone.
 * Run by Deno at nice 19 (see tests/trust/_nice.ts). Prints `attacking` once
 * the first round went out, then `round N` after each; bounded by
 * `--limit` ms (default 300,000) and 1,000,000 rounds.
 *
 * ```sh
 * deno run -A tests/faults/_attacker.ts HOST:PORT parts|storm|hangups|exceptions|refusals|cancels
 * ```
 *
 * - parts: 10 connections, each HELLO then 4 first parts announcing 4 MiB
 *   and carrying 16 KiB, held 500 ms, then closed;
 * - storm: 2,000 calls to `hold` with a 5 ms timeout from one client;
 * - hangups: a connection pipelining 20,000 `hold` requests, closed 300 ms later;
 * - exceptions: 1,000 requests whose handler throws (cmd 99), pipelined,
 *   then their answers awaited;
 * - refusals: the same with cmd 10 (the server runs with `--forbid=10`);
 * - cancels: once, a connection pipelining 200,000 `hold` requests (1,024
 *   run, the rest wait); then 5,000 CANCELs for sessions that are neither
 *   running nor waiting and a PING, the PONG awaited, per round.
 *
 * @module
 */

import { Cluster } from "../../src/cluster/cluster.ts";
import { raw } from "../../src/codec/raw.ts";
import { transport } from "../../src/transport/deno.ts";
import { concat } from "../wire/_util.ts";
import { delay } from "./_child.ts";
import { CMD } from "./_commands.ts";
import { HELLO, type RawPeer, rawPeer, requestFrame, weftRequest } from "./_helpers.ts";

const address = Deno.args[0]!;
const kind = Deno.args[1];
const limit = Number(Deno.args.find((a) => a.startsWith("--limit="))?.slice(8) ?? 300_000);
if (Deno.args.length < 2) throw new TypeError("usage: HOST:PORT KIND");
const end = Date.now() + limit;
const EMPTY = new Uint8Array(0);

/** A first PART of `stream` announcing 4 MiB, carrying `data` bytes. */
function firstPart(stream: number, data: number): Uint8Array {
  const payload = new Uint8Array(21 + data).fill(7, 21);
  const view = new DataView(payload.buffer);
  payload[0] = 1;
  view.setUint32(1, 4 * 1024 * 1024, true);
  view.setUint32(5, stream, true);
  view.setUint32(9, 1, true);
  return requestFrame(stream, 0xffffff06, payload);
}

/** `count` `hold` requests, sessions from `first`. */
function pipelinedFrom(first: number, count: number): Uint8Array {
  return concat(Array.from({ length: count }, (_, i) => weftRequest(first + i, CMD.hold, EMPTY)));
}

function pipelined(count: number, cmd: number): Uint8Array {
  return concat(Array.from({ length: count }, (_, i) => weftRequest(i + 1, cmd, EMPTY)));
}

const PARTS = concat([HELLO, firstPart(1, 16384), firstPart(2, 16384), firstPart(3, 16384)]);
const HOLDS = concat([HELLO, pipelined(20_000, CMD.hold)]);
const client = new Cluster({ codec: raw(), transport, logger: { error() {}, warn() {} } });
const peer = client.connect(address);
let thrower: RawPeer | undefined;
let holder: RawPeer | undefined;
/** 5,000 CANCELs (control cmd 0xffffff02) for sessions never sent, then a PING (0xffffff03). */
const BOGUS_CANCELS = concat([
  ...Array.from({ length: 5000 }, (_, i) => requestFrame(0x7fff0000 + i, 0xffffff02, EMPTY)),
  requestFrame(1, 0xffffff03, EMPTY),
]);

async function round(): Promise<void> {
  switch (kind) {
    case "parts": {
      const peers = await Promise.all(Array.from({ length: 10 }, () => rawPeer(address)));
      await Promise.all(peers.map((p) => p.write(PARTS)));
      await delay(500);
      await Promise.all(peers.map((p) => p.close()));
      return;
    }
    case "storm":
      await Promise.allSettled(
        Array.from({ length: 2000 }, () => client.call(peer, CMD.hold, EMPTY, { timeout: 5 })),
      );
      return;
    case "hangups": {
      const p = await rawPeer(address);
      await p.write(HOLDS);
      await delay(300);
      await p.close();
      return;
    }
    case "exceptions":
    case "refusals": {
      if (thrower === undefined || thrower.ended) {
        await thrower?.close();
        thrower = await rawPeer(address);
        await thrower.write(HELLO);
      }
      const t = thrower;
      const want = t.frames.length + 1000;
      await t.write(pipelined(1000, kind === "exceptions" ? 99 : 10));
      await t.until(() => t.frames.length >= want || t.ended, 60_000, "the answers");
      t.frames.length = 0;
      return;
    }
    case "cancels": {
      if (holder === undefined || holder.ended) {
        await holder?.close();
        holder = await rawPeer(address);
        await holder.write(HELLO);
        for (let b = 0; b < 10; b++) await holder.write(pipelinedFrom(b * 20_000 + 1, 20_000));
      }
      const h = holder;
      const want = h.frames.length + 1;
      await h.write(BOGUS_CANCELS);
      await h.until(() => h.frames.length >= want || h.ended, 60_000, "the PONG");
      h.frames.length = 0;
      return;
    }
    default:
      throw new TypeError(`Unknown attack ${kind}`);
  }
}

for (let i = 1; i <= 1_000_000 && Date.now() < end; i++) {
  await round();
  if (i === 1) console.log("attacking");
  console.log(`round ${i}`);
}
await thrower?.close();
await holder?.close();
await client.close();
