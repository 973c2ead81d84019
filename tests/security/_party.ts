/**
 * One side of a security test between runtimes; runs unchanged under Deno,
 * Bun and Node (the transport is picked for the runtime).
 *
 * ```sh
 * deno run -A tests/security/_party.ts server CERTDIR FLAGS
 * node24 tests/security/_party.ts client CERTDIR FLAGS HOST:PORT SCENARIO
 * ```
 *
 * FLAGS is a comma list: `tls` (TLS with client certificates), `key=ID`
 * (key authentication with the test key of that id; `key=bad` proves a
 * wrong key), or `-` for none.
 *
 * The server allows cmd 1 (`echo`, answered with what the server knows of
 * the caller) to key id `node-a` / subject `node-a`, refuses cmd 2
 * (`secret`) to everyone, prints `listening HOST:PORT`, then one line
 * `handled CMD` per request that reached its handler.
 *
 * The client runs SCENARIO and prints `PASS` or `FAIL: why`:
 * - `ok`: echo answers (with the identity the server saw), secret is
 *   refused with `forbidden`, and the client saw the server's identity;
 * - `refused`: the first call fails with `authentication failed`;
 * - `closed`: the first call fails (the TLS listener refused the client),
 *   with the code printed.
 */

import { Cluster } from "../../src/cluster/cluster.ts";
import { allowList, type PeerIdentity } from "../../src/cluster/security.ts";
import { json } from "../../src/codec/json.ts";
import { formatAddress } from "../../src/transport/address.ts";
import { readCerts } from "./_certs.ts";

declare const process: { argv: string[]; exit(code: number): never };

/** The test keys, by id: node-a and server share the ring; `bad` is nobody's. */
export const TEST_KEYS: Record<string, string> = {
  "node-a": "node-a test key, 32 bytes long..",
  "server": "server test key, 32 bytes long..",
};

const [role, dir, flagList = "-", address, scenario] = process.argv.slice(2);
const certs = readCerts(dir!);
const flags = new Set(flagList.split(",").filter((f) => f !== "-"));
const keyFlag = [...flags].find((f) => f.startsWith("key="))?.slice(4);
const commands = { echo: 1, secret: 2 };

const options = {
  ...json({ commands }),
  timeout: 10_000,
  logger: { error: () => {}, warn: () => {} },
  ...(flags.has("tls")
    ? {
      tls: role === "server"
        ? { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requireClientCert: true }
        : { cert: certs.clientCert, key: certs.clientKey, ca: certs.ca },
    }
    : {}),
  ...(keyFlag === undefined ? {} : {
    auth: keyFlag === "bad"
      ? {
        keys: { "node-a": "a wrong key for node-a, 32 bytes", server: TEST_KEYS.server! },
        keyId: "node-a",
      }
      : { keys: TEST_KEYS, keyId: keyFlag },
  }),
};

function identityText(identity: PeerIdentity): string {
  return JSON.stringify({ keyId: identity.keyId, subject: identity.certificate?.subject });
}

if (role === "server") {
  const server = new Cluster({
    ...options,
    authorize: allowList({ "node-a": [1] }),
    call(peer, cmd) {
      console.log(`handled ${cmd}`);
      return { identity: identityText(peer.identity) };
    },
  });
  const listener = await server.listen("127.0.0.1:0");
  console.log(`listening ${formatAddress(listener.address)}`);
} else {
  const client = new Cluster(options);
  const peer = client.connect(address!);
  let verdict = "PASS";
  try {
    if (scenario === "ok") {
      const reply = await client.call(peer, "echo", {}) as { identity: string };
      const seen = JSON.parse(reply.identity);
      if (keyFlag !== undefined && seen.keyId !== keyFlag) {
        verdict = `FAIL: server saw key id ${seen.keyId}`;
      }
      if (flags.has("tls") && seen.subject !== "node-a") {
        verdict = `FAIL: server saw subject ${seen.subject}`;
      }
      if (flags.has("tls") && peer.identity.certificate?.subject !== "localhost") {
        verdict = `FAIL: client saw server subject ${peer.identity.certificate?.subject}`;
      }
      if (keyFlag !== undefined && peer.identity.keyId !== "server") {
        verdict = `FAIL: client saw server key id ${peer.identity.keyId}`;
      }
      try {
        await client.call(peer, "secret", {});
        verdict = "FAIL: secret was allowed";
      } catch (error) {
        const { code, remote } = error as { code?: string; remote?: { code?: string } };
        if (code !== "remote" || remote?.code !== "forbidden") {
          verdict = `FAIL: secret refused with ${code}/${remote?.code}: ${
            (error as Error).message
          }`;
        }
      }
    } else {
      try {
        await client.call(peer, "echo", {});
        verdict = "FAIL: the call succeeded";
      } catch (error) {
        const code = (error as { code?: string }).code;
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        console.log(`code ${code} ${cause ?? ""}`);
        if (scenario === "refused" && code !== "authentication failed") {
          verdict = `FAIL: expected authentication failed, got ${code}: ${
            (error as Error).message
          }`;
        }
      }
    }
  } catch (error) {
    verdict = `FAIL: ${(error as Error)?.stack ?? error}`;
  }
  console.log(verdict);
  await client.close();
  process.exit(verdict === "PASS" ? 0 : 1);
}
