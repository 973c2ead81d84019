/**
 * Things that are not weft nodes, for tests/protocol/peer_recognition_test.ts
 * to point weft at, in a process of their own (any runtime): an HTTP server
 * (`node:http`), and two TLS listeners of weft's own transport (one that
 * requires a client certificate, one that does not). Prints one line,
 * `ready {"http":PORT,"tls":PORT,"mtls":PORT}`, then serves until killed
 * (the test stops it by pid) or for 120 s at most.
 *
 * ```sh
 * node tests/protocol/_other_ends.ts CERTDIR
 * ```
 */

import * as http from "node:http";
import { defaultTransport } from "../../src/transport/detect.ts";
import type { Listener } from "../../src/transport/types.ts";
import { readCerts } from "../security/_certs.ts";

declare const process: { argv: string[]; exit(code: number): never };

const certs = readCerts(process.argv[2]!);
const transport = await defaultTransport();
const server = http.createServer((_request, response) => response.end("not weft\n"));
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const tlsListener = (requireClientCert: boolean): Promise<Listener> =>
  transport.listen("127.0.0.1:0", (conn) => {
    conn.start({ data: () => {}, close: () => {} });
  }, {
    tls: {
      cert: certs.serverCert,
      key: certs.serverKey,
      ca: certs.ca,
      requireClientCert,
      handshakeTimeout: 10_000,
    },
    onRefused: () => {},
  });
const tls = await tlsListener(false);
const mtls = await tlsListener(true);
const ports = {
  http: (server.address() as { port: number }).port,
  tls: tls.address.port,
  mtls: mtls.address.port,
};
console.log(`ready ${JSON.stringify(ports)}`);
setTimeout(() => process.exit(0), 120_000);
