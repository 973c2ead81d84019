// The hostile process of bench/attack_body.ts: floods a node with bad
// requests (undecodable JSON) over one weft connection, `--depth` in
// flight, for `--duration` ms, then prints `flood BAD OTHER` (requests
// answered with a remote error, and otherwise) and exits. With `--good` it
// sends valid JSON echoes instead (the control: the same flood, no faults).
// Runs under Deno, Bun and Node.
//
//   deno run -A bench/_flood.ts HOST:PORT --duration=3000 --depth=64 [--good] [--lean]

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { args, exit, options } from "./_common.ts";

const { flags, positional } = options(args);
const address = positional[0]!;
const duration = Number(flags.get("duration") ?? 3000);
const depth = Number(flags.get("depth") ?? 64);
// --lean: the attacker builds no stack for the rejections it gets back (its
// own CPU, on a machine it shares with the node and the good client, is
// then not what slows the good client).
if (flags.has("lean")) (Error as { stackTraceLimit?: number }).stackTraceLimit = 0;
const BAD = new TextEncoder().encode(flags.has("good") ? '"x"' : "{not json");

const cluster = new Cluster({ codec: raw(), logger: { error() {}, warn() {} } });
const peer = cluster.connect(address);
const end = Date.now() + duration;
let answered = 0;
let other = 0;
console.log("flooding");
await Promise.all(Array.from({ length: depth }, async () => {
  for (let i = 0; i < 10_000_000 && Date.now() < end; i++) {
    try {
      await cluster.call(peer, 1, BAD, { timeout: 5000 });
      other++;
    } catch (error) {
      if ((error as { code?: string }).code === "remote") answered++;
      else other++;
    }
  }
}));
await cluster.close();
console.log(`flood ${answered} ${other}`);
exit(0);
