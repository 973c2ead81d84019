/**
 * Protected mode as a process sees it, on Deno, Bun or Node:
 * `_protected_child.ts CERTDIR`. Starts a router, a registry node and a
 * named node on 0.0.0.0 (every interface), each without credentials, with
 * the opt-out, with keys, with TLS asking for client certificates, and with
 * TLS that does not; and on loopback without credentials. Prints one line
 * per case, `LAYER CASE listening` or `LAYER CASE refused CODE: MESSAGE`,
 * then `done`. Every listener it opens is closed before the next case.
 */

import { serveRegistry } from "../../src/discovery/remote.ts";
import { Nodes } from "../../src/nodes/nodes.ts";
import { Router } from "../../src/router/router.ts";
import { readCerts } from "../security/_certs.ts";
import { RING } from "./_keys.ts";

declare const process: { argv: string[]; exit(code: number): never };

const certs = readCerts(process.argv[2]!);
const quiet = { error() {}, warn() {} };
const cases: Record<string, Record<string, unknown>> = {
  bare: {},
  optout: { protectedMode: false },
  keys: { auth: { keys: RING, keyId: "router" } },
  mtls: {
    tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requireClientCert: true },
  },
  tls: { tls: { cert: certs.serverCert, key: certs.serverKey } },
};

const layers: Record<
  string,
  (options: Record<string, unknown>, address: string) => Promise<() => Promise<void>>
> = {
  router: async (options, address) => {
    const router = new Router({ logger: quiet, ...options });
    try {
      await router.listen(address);
    } catch (error) {
      await router.close();
      throw error;
    }
    return () => router.close();
  },
  registry: async (options, address) => {
    const server = await serveRegistry(address, { ...options, cluster: { logger: quiet } });
    return () => server.close();
  },
  node: async (options, address) => {
    const nodes = new Nodes({ name: "n", logger: quiet, ...options });
    try {
      await nodes.open("n", { address });
    } catch (error) {
      await nodes.close();
      throw error;
    }
    return () => nodes.close();
  },
};

for (const [layer, start] of Object.entries(layers)) {
  const all: [string, Record<string, unknown>, string][] = [
    ...Object.entries(cases).map(([name, o]) =>
      [name, o, "0.0.0.0:0"] as [string, Record<string, unknown>, string]
    ),
    ["loopback", {}, "127.0.0.1:0"],
  ];
  for (const [name, options, address] of all) {
    try {
      const stop = await start(options, address);
      console.log(`${layer} ${name} listening`);
      await stop();
    } catch (error) {
      const { code, message } = error as { code?: string; message: string };
      console.log(`${layer} ${name} refused ${code}: ${message.replaceAll("\n", " ")}`);
    }
  }
}
console.log("done");
process.exit(0);
