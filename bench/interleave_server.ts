// The interleaving benchmark's server (bench/interleave.ts starts it): cmd 1
// echoes, cmd 2 answers with a large body, cmd 3 answers with the size of
// the body it got. Args: [address] [partSize] [largeBytes] [partWindow].

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { defaultTransport } from "../src/transport/detect.ts";

declare const process: { argv: string[] };
const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const address = args[0] ?? "127.0.0.1:0";
const partSize = Number(args[1] ?? 65536);
const large = new Uint8Array(Number(args[2] ?? 64 * 1024 * 1024));
const partWindow = Number(args[3] ?? 128 * 1024);
const te = new TextEncoder();

const server = new Cluster({
  ...raw(),
  transport: await defaultTransport(),
  partSize,
  partWindow,
  maxMessageSize: 2 ** 30,
  hardLimit: 2 ** 30,
  call: (_peer, cmd, body) =>
    cmd === 2 ? large : cmd === 3 ? te.encode(String((body as Uint8Array).length)) : body,
});
const listener = await server.listen(address);
console.log(`listening 127.0.0.1:${listener.address.port}`);
