/**
 * Test certificates, made at test time with `openssl` in a fresh temporary
 * directory (never committed): a CA, a server certificate for
 * localhost/127.0.0.1/::1, a client certificate (CN node-a), an expired
 * client certificate (CN node-old), and a client certificate from another
 * CA (CN node-x). Deno only (it runs `openssl`); child processes read the
 * files with {@linkcode readCerts}.
 */

import { readFileSync } from "node:fs";
import type { Transport } from "../../src/transport/types.ts";

/** The PEM files in a certificate directory. */
export interface Certs {
  /** The directory holding the files (pass it to child processes). */
  dir: string;
  ca: string;
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  expiredCert: string;
  expiredKey: string;
  otherCert: string;
  otherKey: string;
}

/** Reads the PEM files of `dir` (any runtime). */
export function readCerts(dir: string): Certs {
  const r = (name: string) => readFileSync(`${dir}/${name}`, "utf8");
  return {
    dir,
    ca: r("ca.crt"),
    otherCa: r("other-ca.crt"),
    serverCert: r("server.crt"),
    serverKey: r("server.key"),
    clientCert: r("client.crt"),
    clientKey: r("client.key"),
    expiredCert: r("expired.crt"),
    expiredKey: r("expired.key"),
    otherCert: r("other.crt"),
    otherKey: r("other.key"),
  };
}

const CA_CONFIG = `[ca]
default_ca=d
[d]
database=db/index.txt
new_certs_dir=db
serial=db/serial
default_md=sha256
policy=p
copy_extensions=none
[p]
commonName=supplied
[expired]
subjectAltName=DNS:node-old
basicConstraints=CA:FALSE
extendedKeyUsage=clientAuth
`;

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
}

let made: Promise<Certs> | undefined;

/**
 * Makes the certificates once per process (a temporary directory removed at
 * exit is not needed: the files are a few KiB and carry no secret of value).
 */
export function makeCerts(): Promise<Certs> {
  made ??= generate();
  return made;
}

async function generate(): Promise<Certs> {
  const dir = await Deno.makeTempDir({ prefix: "weft-certs-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const selfSigned = (name: string, cn: string) =>
    openssl(dir, [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
    ]);
  const request = (name: string, cn: string) =>
    openssl(dir, [
      "req",
      "-new",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`,
    ]);
  const sign = (name: string, ca: string, ext: string) =>
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${ca}.crt`,
      "-CAkey",
      `${ca}.key`,
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      ext,
      "-out",
      `${name}.crt`,
    ]);
  await selfSigned("ca", "weft test CA");
  await selfSigned("other-ca", "other test CA");
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  await Deno.writeTextFile(
    `${dir}/client.ext`,
    "subjectAltName=DNS:node-a\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth,serverAuth\n",
  );
  await Deno.writeTextFile(
    `${dir}/other.ext`,
    "subjectAltName=DNS:node-x\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
  );
  await request("server", "localhost");
  await sign("server", "ca", "server.ext");
  await request("client", "node-a");
  await sign("client", "ca", "client.ext");
  await request("other", "node-x");
  await sign("other", "other-ca", "other.ext");
  // An expired certificate: `openssl ca` takes explicit start and end dates.
  await Deno.mkdir(`${dir}/db`);
  await Deno.writeTextFile(`${dir}/db/index.txt`, "");
  await Deno.writeTextFile(`${dir}/db/serial`, "01\n");
  await Deno.writeTextFile(`${dir}/ca.cnf`, CA_CONFIG);
  await request("expired", "node-old");
  await openssl(dir, [
    "ca",
    "-batch",
    "-config",
    "ca.cnf",
    "-cert",
    "ca.crt",
    "-keyfile",
    "ca.key",
    "-in",
    "expired.csr",
    "-out",
    "expired.crt",
    "-startdate",
    "20200101000000Z",
    "-enddate",
    "20200102000000Z",
    "-extensions",
    "expired",
    "-notext",
  ]);
  // Removed when the process ends (the files are a few KiB of test-only keys).
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  });
  return readCerts(dir);
}

/** {@linkcode withTls}'s handshake timeout, both ends: a hang guard. */
export const TLS_HANDSHAKE_GUARD = 60_000;

/**
 * `transport` with TLS on every listen and connect (the server certificate
 * of `certs`, trusted through its CA; clients present the node-a
 * certificate and listeners require one), named `<name>+tls`: the
 * conformance suite runs unchanged over it.
 */
export function withTls(transport: Transport, certs: Certs): Transport {
  return {
    name: `${transport.name}+tls`,
    connect: (address, options) =>
      transport.connect(address, {
        ...options,
        // A hang guard: hundreds of handshakes at once on a loaded machine
        // outlast the 10 s default (the transport conformance suite opens 500).
        tls: {
          ca: certs.ca,
          cert: certs.clientCert,
          key: certs.clientKey,
          handshakeTimeout: TLS_HANDSHAKE_GUARD,
        },
      }),
    listen: (address, onAccept, options) =>
      transport.listen(address, onAccept, {
        ...options,
        tls: {
          cert: certs.serverCert,
          key: certs.serverKey,
          ca: certs.ca,
          requireClientCert: true,
          handshakeTimeout: TLS_HANDSHAKE_GUARD,
        },
      }),
  };
}
