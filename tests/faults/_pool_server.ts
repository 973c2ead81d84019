/**
 * The node the connection-pool tests attack (issue 22), on Deno, Bun or
 * Node: `_pool_server.ts [--tls=CERT_DIR] [--handshake=MS]
 * [--max-connections=N] [--max-per-address=N]`. Key authentication (key id
 * `router` of the test ring), heartbeats every 5 s (an attacker niced on a loaded machine still answers them), stats on, the
 * listener's defaults unless given. Echoes every request. Prints
 * `listening HOST:PORT`, then `stats {json}` every 100 ms: the listener's
 * `connections`, `refused`, `evicted`, and `stats().limits.refused`; and
 * every log line as `log LEVEL [KIND] MESSAGE`.
 */

import { Cluster } from "../../src/cluster/cluster.ts";
import { raw } from "../../src/codec/raw.ts";
import { formatAddress } from "../../src/transport/address.ts";
import { readCerts } from "../security/_certs.ts";
import { authAs } from "../trust/_keys.ts";

declare const Deno: { args: string[] } | undefined;
declare const process: { argv: string[] };

const argv = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const flags = new Map<string, string>();
for (const arg of argv) {
  const m = arg.match(/^--([^=]+)=(.*)$/);
  if (m) flags.set(m[1]!, m[2]!);
}
const num = (name: string) => (flags.has(name) ? Number(flags.get(name)) : undefined);
const line = (level: string) => (message: string, detail?: unknown) => {
  const code = (detail as { code?: unknown } | undefined)?.code;
  console.log(
    `log ${level}${typeof code === "string" ? ` [${code}]` : ""} ${message.replaceAll("\n", " ")}`,
  );
};
const certDir = flags.get("tls");
const certs = certDir === undefined ? undefined : readCerts(certDir);
const handshake = num("handshake");
const cluster = new Cluster({
  ...raw(),
  ...authAs("router"),
  ...(certs === undefined ? {} : {
    tls: {
      cert: certs.serverCert,
      key: certs.serverKey,
      ca: certs.ca,
      ...(handshake === undefined ? {} : { handshakeTimeout: handshake }),
    },
  }),
  ...(handshake === undefined ? {} : { handshakeTimeout: handshake }),
  heartbeatInterval: 5000,
  stats: true,
  logger: { error: line("error"), warn: line("warn"), info: () => {} },
  call: (_peer, _cmd, body) => body ?? new Uint8Array(0),
});
const maxConnections = num("max-connections");
const maxConnectionsPerAddress = num("max-per-address");
const listener = await cluster.listen("127.0.0.1:0", {
  ...(maxConnections === undefined ? {} : { maxConnections }),
  ...(maxConnectionsPerAddress === undefined ? {} : { maxConnectionsPerAddress }),
});
console.log(`listening ${formatAddress(listener.address)}`);
setInterval(() => {
  console.log(`stats ${
    JSON.stringify({
      connections: listener.connections,
      refused: listener.refused,
      evicted: listener.evicted,
      limits: cluster.stats()?.limits?.refused ?? {},
    })
  }`);
}, 100);
