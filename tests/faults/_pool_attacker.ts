/**
 * An attacker of the connection-pool tests (issue 22), on Deno, Bun or
 * Node: `_pool_attacker.ts MODE ADDRESS N FROM[,FROM...]`, N connections
 * from each local address FROM (any of 127.0.0.0/8 on Linux), held until
 * killed (bounded: 120 s). Prints `progress {json}` every 100 ms (outcomes
 * by kind) and `done` once every connection has its outcome. Modes:
 *
 * - `idle`: N weft clients per address with the node's key (id `good`):
 *   each connects, completes HELLO and key authentication, makes one call,
 *   then stays idle, answering the node's pings. Outcomes: `served` (the
 *   call answered), or the call's error code.
 * - `stall`: N raw TCP connections per address to a TLS port: even ones
 *   send nothing, odd ones the first 20 bytes of a ClientHello. Outcomes:
 *   `opened`, then `closed at once` (within 1 s) or `closed later`.
 */

import net from "node:net";
import { Cluster } from "../../src/cluster/cluster.ts";
import { raw } from "../../src/codec/raw.ts";
import { parseAddress } from "../../src/transport/address.ts";
import { authAs } from "../trust/_keys.ts";
import { sourcedTransport } from "../trust/_sourced.ts";

declare const process: { argv: string[]; exit(code: number): never };

const [mode, address, n, from] = process.argv.slice(2);
const count = Number(n);
const sources = from!.split(",");
const counts: Record<string, number> = {};
const add = (kind: string) => (counts[kind] = (counts[kind] ?? 0) + 1);
setInterval(() => console.log(`progress ${JSON.stringify(counts)}`), 100);
setTimeout(() => process.exit(0), 120_000);
const quiet = { error() {}, warn() {} };

/** The first bytes of a TLS 1.2/1.3 ClientHello record, cut short. */
const PARTIAL_HELLO = Uint8Array.of(
  ...[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03],
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9],
);

const all: Promise<void>[] = [];
if (mode === "idle") {
  for (const source of sources) {
    const transport = sourcedTransport(source);
    for (let i = 0; i < count; i++) {
      const cluster = new Cluster({
        ...raw(),
        ...authAs("good"),
        transport,
        logger: quiet,
        timeout: 60_000,
        call: () => new Uint8Array(0),
      });
      all.push(
        cluster.call(cluster.connect(address!), 1, new Uint8Array([1])).then(
          () => void add("served"),
          (error) => {
            if (process.argv.includes("--why") && (counts.closed ?? 0) < 3) {
              console.log(
                String((error as Error).message),
                String((error as { cause?: unknown }).cause),
              );
            }
            add((error as { code?: string }).code ?? "?");
          },
        ),
      );
    }
  }
} else {
  const { hostname, port } = parseAddress(address!);
  for (const source of sources) {
    for (let i = 0; i < count; i++) {
      all.push(
        new Promise<void>((resolve) => {
          const socket = net.connect({ host: hostname, port, localAddress: source });
          let opened = 0;
          socket.on("error", () => {});
          socket.once("connect", () => {
            opened = Date.now();
            add("opened");
            if (i % 2 === 1) socket.write(PARTIAL_HELLO);
            resolve();
          });
          socket.once("close", () => {
            add(
              opened === 0
                ? "failed"
                : Date.now() - opened < 1000
                ? "closed at once"
                : "closed later",
            );
            resolve();
          });
        }),
      );
    }
  }
}
await Promise.all(all);
console.log(`progress ${JSON.stringify(counts)}`);
console.log("done");
