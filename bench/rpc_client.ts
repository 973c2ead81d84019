/**
 * The weft side of the loopback benchmark: one cluster peer, `depth` calls
 * in flight, for a warm-up then a measured window. Prints one
 * `RESULT {json}` line (calls/s; mean, p50, p99 in µs with depth 1).
 * `--tls=DIR` connects over TLS, trusting the test CA in DIR.
 * Runs unchanged under Deno, Bun and Node 24.
 *
 * ```sh
 * deno run -A bench/rpc_client.ts 127.0.0.1:PORT --payload=32 --depth=1 --warmup=1000 --duration=5000
 * ```
 *
 * @module
 */

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { args, drive, exit, loadCase, options, report } from "./_common.ts";
import { readCerts } from "../tests/security/_certs.ts";

const CMD_ECHO = 1;
const c = loadCase(args);
const flags = options(args).flags;
const pass = flags.get("codec") === "pass";
const tlsDir = flags.get("tls");
const cluster = new Cluster({
  ...(pass
    ? {
      marshal: (_type, cmd, body) => [cmd as number, body as Uint8Array],
      unmarshal: (_type, _cmd, bytes) => bytes,
    }
    : { codec: raw() }),
  ...(tlsDir === undefined ? {} : { tls: { ca: readCerts(tlsDir).ca } }),
});
const peer = cluster.connect(c.address);
const payload = new Uint8Array(c.payload).fill(0x61);
const first = await cluster.call(peer, CMD_ECHO, payload) as Uint8Array;
if (first.length !== c.payload) throw new Error(`echo returned ${first.length} bytes`);
report(await drive(() => cluster.call(peer, CMD_ECHO, payload), c));
await cluster.close();
exit(0);
