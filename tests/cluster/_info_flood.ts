// A hostile peer for tests/cluster/info_test.ts, as its own process (any
// runtime): connects to ADDRESS, sends HELLO and COUNT INFO requests (kind
// stats) in one write, reads the first answer's worth and then stops
// reading, prints `sent`, and stays until killed (or 60 s).
//
//   bun tests/cluster/_info_flood.ts ADDRESS COUNT

import { ControlCmd, HELLO_PAYLOAD } from "../../src/protocol/weft/protocol.ts";
import { defaultTransport } from "../../src/transport/detect.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";

declare const process: { argv: string[]; exit(code: number): never };
const argv = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const [address, countText] = argv;
const transport = await defaultTransport();
const conn = await transport.connect(address!);
const encoder = new FrameEncoder({ framing: "v2" });
const header = { session: 0, cmd: ControlCmd.Hello as number, traceHi: 0, traceLo: 0 };
encoder.request(header, HELLO_PAYLOAD);
header.cmd = ControlCmd.Info;
const kind = new TextEncoder().encode("stats");
for (let i = 1; i <= Number(countText); i++) {
  header.session = i;
  encoder.request(header, kind);
}
let received = 0;
conn.start({
  data: (chunk) => {
    received += chunk.length;
    // Take the handshake and a little more, then never read again.
    if (received > 1024) conn.pause();
  },
  close: () => {},
});
conn.write(encoder.take());
console.log("sent");
setTimeout(() => process.exit(0), 60_000);
