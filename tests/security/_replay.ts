/**
 * A hostile peer for the replay test: connects with a raw socket, sends a
 * captured HELLO, waits for the answer, then sends the rest of the captured
 * bytes (the old proof and a request), and prints what came back:
 * `received HEX` and `closed` once the server hangs up (or `open` after
 * 5 s). Runs under Deno, Bun or Node.
 *
 * ```sh
 * node24 tests/security/_replay.ts HOST:PORT HELLO_HEX REST_HEX
 * ```
 */

import * as net from "node:net";

declare const process: { argv: string[]; exit(code: number): never };

const [address, helloHex, restHex] = process.argv.slice(2);
const at = address!.lastIndexOf(":");
const hex = (text: string) => Uint8Array.from(text.match(/../g)!.map((h) => parseInt(h, 16)));
const received: number[] = [];
const socket = net.connect({ host: address!.slice(0, at), port: Number(address!.slice(at + 1)) });
let sentRest = false;
socket.on("connect", () => socket.write(hex(helloHex!)));
socket.on("data", (chunk: Uint8Array) => {
  received.push(...chunk);
  if (!sentRest) {
    sentRest = true;
    socket.write(hex(restHex!));
  }
});
socket.on("error", () => {});
const timer = setTimeout(() => finish("open"), 5000);
socket.on("close", () => finish("closed"));

function finish(state: string): void {
  clearTimeout(timer);
  console.log(`received ${received.map((b) => b.toString(16).padStart(2, "0")).join("")}`);
  console.log(state);
  socket.destroy();
  process.exit(0);
}
