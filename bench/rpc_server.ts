/**
 * The weft side of the loopback benchmark: a cluster node serving
 * benchmark commands over the runtime's own transport, with the raw codec.
 * Runs unchanged under Deno, Bun and Node 24.
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc bench/rpc_server.ts 127.0.0.1:0
 * ```
 *
 * Prints `listening HOST:PORT`, then serves until killed. Commands:
 *
 * - 1 `echo`: answers with the request's bytes;
 * - 2 `hold`: answers only at the next `release` (a pending call);
 * - 3 `release`: answers every held call (empty), then itself with the count;
 * - 4 `stats`: collects garbage (if exposed) and answers JSON
 *   `{ rss, heap, open, accepted, held, gc }`;
 * - 5 `burst`: the body's first 4 bytes (u32 LE) say N; holds the call
 *   until N `burst` calls from this peer are held, then echoes all N
 *   bodies in one turn (one batch of N responses, however large);
 * - 6 `cpu`: answers this process's CPU time so far, user + system, in µs
 *   (decimal text, as bytes): what the client reads as its measured window
 *   opens and closes.
 *
 * `--exit-after=MS` exits normally after MS (so `--cpu-prof` writes its
 * profile). `--per-turn=N` sets `maxRequestsPerTurn` (a number or `Infinity`),
 * `--solo-turn-time=MS` sets `soloTurnTime`. `--tls=DIR` serves over TLS with the test certificates in DIR
 * (tests/security/_certs.ts). `--codec=pass` swaps the raw codec (whose `unmarshal` copies the payload)
 * for hooks that lend the payload view through, to see what the copy costs.
 *
 * @module
 */

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import type { Codec } from "../src/codec/types.ts";
import type { Peer } from "../src/connection/peer.ts";
import { args, collect, cpuMicros, exit, memory, options } from "./_common.ts";
import { readCerts } from "../tests/security/_certs.ts";

/** Benchmark commands. */
export const CMD = { echo: 1, hold: 2, release: 3, stats: 4, burst: 5, cpu: 6 } as const;

/** Hooks that pass payload bytes through, both ways, with no copy. */
export const passThrough: Codec = {
  marshal: (_type, cmd, body) => [cmd as number, body as Uint8Array],
  unmarshal: (_type, _cmd, bytes) => bytes,
};

const { flags, positional } = options(args);
const address = positional[0];
if (address === undefined) {
  console.error("usage: rpc_server.ts HOST:PORT [--codec=raw|pass]");
  exit(2);
}
const codec = flags.get("codec") === "pass" ? passThrough : raw();
const EMPTY = new Uint8Array(0);
const held: ((value: unknown) => void)[] = [];
const bursts = new Map<Peer, (() => void)[]>();
let open = 0;
let accepted = 0;

const hwm = flags.get("hwm");
const perTurn = flags.get("per-turn");
const soloTurnTime = flags.get("solo-turn-time");
const tlsDir = flags.get("tls");
const certs = tlsDir === undefined ? undefined : readCerts(tlsDir);
const cluster = new Cluster({
  codec,
  ...(certs === undefined ? {} : { tls: { cert: certs.serverCert, key: certs.serverKey } }),
  timeout: 60_000,
  ...(hwm === undefined ? {} : { highWaterMark: Number(hwm) }),
  ...(perTurn === undefined ? {} : { maxRequestsPerTurn: Number(perTurn) }),
  ...(soloTurnTime === undefined ? {} : { soloTurnTime: Number(soloTurnTime) }),
  accept() {
    open++;
    accepted++;
  },
  close(peer) {
    open--;
    bursts.delete(peer);
  },
  call(peer, cmd, body) {
    switch (cmd) {
      case CMD.echo:
        return body;
      case CMD.hold:
        return new Promise((resolve) => held.push(resolve));
      case CMD.release: {
        const n = held.length;
        for (const resolve of held.splice(0)) resolve(EMPTY);
        return String(n);
      }
      case CMD.burst: {
        const bytes = body as Uint8Array;
        const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(0, true);
        let held = bursts.get(peer);
        if (held === undefined) bursts.set(peer, held = []);
        const list = held;
        return new Promise((resolve) => {
          list.push(() => resolve(body));
          if (list.length >= n) { for (const answer of list.splice(0)) answer(); }
        });
      }
      case CMD.cpu:
        return new TextEncoder().encode(String(cpuMicros()));
      case CMD.stats: {
        const gc = collect();
        return JSON.stringify({ ...memory(), open, accepted, held: held.length, gc });
      }
      default:
        return undefined;
    }
  },
});
const listener = await cluster.listen(address);
console.log(`listening ${listener.address.hostname}:${listener.address.port}`);
// For profiling: exit normally (so that --cpu-prof writes its profile).
const exitAfter = Number(flags.get("exit-after") ?? 0);
if (exitAfter > 0) setTimeout(() => exit(0), exitAfter);
