// The router benchmark's floor: a byte relay. It listens, and for each
// connection it accepts connects to TARGET and copies bytes both ways
// without reading them, over the same transport adapter a router uses (the
// runtime's). No framing, no routing, no bookkeeping: less work than any
// router can do, so "through the relay" is the best a process in the middle
// can do on this machine, and the router's figures are read against it.
// Backpressure: a side over its high-water mark pauses the other's reads.
// Args: LISTEN TARGET. Prints `relay HOST:PORT`. Runs under Deno, Bun and Node.

import { defaultTransport } from "../src/transport/detect.ts";
import { formatAddress } from "../src/transport/address.ts";
import type { Connection } from "../src/transport/types.ts";
import { args } from "./_common.ts";

const [listenAt, targetAt] = args;
const transport = await defaultTransport();

function pipe(from: Connection, to: Connection): void {
  from.start({
    // Lent bytes (valid during this call): the write takes a copy.
    data: (chunk) => {
      if (!to.write(chunk.slice())) {
        from.pause();
        to.drained().then(() => from.resume(), () => {});
      }
    },
    close: () => void to.close(),
  });
}

const listener = await transport.listen(listenAt!, (inbound) => {
  transport.connect(targetAt!).then((outbound) => {
    pipe(inbound, outbound);
    pipe(outbound, inbound);
  }, () => void inbound.close());
});
console.log(`relay ${formatAddress(listener.address)}`);
