// The router benchmark's trust settings: `plain`, `keys` (key
// authentication, one bench key ring) or `tls` (mutual TLS with the test
// certificates of tests/security/_certs.ts, read from CERTDIR). Runs under
// Deno, Bun and Node.

import type { ClusterTlsOptions } from "../src/cluster/security.ts";
import type { AuthOptions } from "../src/protocol/weft/handshake_auth.ts";
import { readCerts } from "../tests/security/_certs.ts";

/** A trust mode of the router benchmark. */
export type TrustMode = "plain" | "keys" | "tls";

const RING = {
  router: "bench router key, 32 bytes long..",
  service: "bench service key, 32 bytes lon.",
};

/** The options of a router (`server`) or a service (`client`) under `mode`. */
export function trustOptions(
  mode: TrustMode,
  role: "server" | "client",
  certDir?: string,
): { auth?: AuthOptions; tls?: ClusterTlsOptions } {
  if (mode === "keys") {
    return { auth: { keys: RING, keyId: role === "server" ? "router" : "service" } };
  }
  if (mode === "tls") {
    const certs = readCerts(certDir!);
    return role === "server"
      ? {
        tls: {
          cert: certs.serverCert,
          key: certs.serverKey,
          ca: certs.ca,
          requireClientCert: true,
        },
      }
      : { tls: { cert: certs.clientCert, key: certs.clientKey, ca: certs.ca } };
  }
  return {};
}
