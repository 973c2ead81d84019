/**
 * Raw frame echo server: decodes silly frames and writes each one back
 * unchanged (same kind, session, cmd, traceid and payload).
 *
 * Runs unchanged under Deno, Bun and Node 24; the transport is picked for
 * the runtime by `defaultTransport()`.
 *
 * ```sh
 * deno run -A examples/raw_echo_server.ts 127.0.0.1:0
 * bun examples/raw_echo_server.ts 127.0.0.1:0
 * node24 examples/raw_echo_server.ts 127.0.0.1:0
 * ```
 *
 * Prints one line, `listening HOST:PORT`, with the bound address, then
 * serves until killed.
 */

import { FrameDecoder } from "../src/wire/frame_decoder.ts";
import { FrameEncoder } from "../src/wire/frame_encoder.ts";
import { formatAddress } from "../src/transport/address.ts";
import { defaultTransport } from "../src/transport/detect.ts";

declare const process: { argv: string[]; exit(code: number): never };

const address = process.argv[2];
if (address === undefined) {
  console.error("usage: raw_echo_server.ts HOST:PORT");
  process.exit(2);
}

const transport = await defaultTransport();
const listener = await transport.listen(address, (conn) => {
  const decoder = new FrameDecoder();
  const encoder = new FrameEncoder();
  conn.start({
    data(chunk) {
      try {
        decoder.decode(chunk, (frame) => {
          if (frame.kind === "request") encoder.request(frame, frame.payload);
          else encoder.response(frame.session, frame.payload);
        });
      } catch (error) {
        console.error(`closing ${formatAddress(conn.remoteAddress)}: ${error}`);
        void conn.close();
        return;
      }
      // take() hands the batch over; pause reading while the peer is slow.
      if (encoder.length > 0 && !conn.write(encoder.take())) conn.pause();
    },
    drain: () => conn.resume(),
    close() {},
  });
});
console.log(`listening ${formatAddress(listener.address)}`);
