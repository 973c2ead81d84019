/**
 * The trust flags every `weft` subcommand takes, in one place: TLS
 * (`--tls`, `--tls-ca`, `--tls-cert`, `--tls-key`, `--tls-server-name`),
 * key authentication (`--auth-keys`, `--auth-id`) and, for the subcommands
 * that serve, `--tls-require-client-cert`, an allow-list (`--allow`),
 * `--no-introspect`, the connection caps and protected mode's opt-out
 * (`--no-protected-mode`), turned into the layers' `tls`, `auth`,
 * `authorize`, `introspect`, `maxConnections`, `maxConnectionsPerAddress`
 * and `protectedMode` options (see the README's Security section).
 *
 * @module
 */

import { allowList, type AllowRule, type Authorize } from "../cluster/security.ts";
import type { ClusterTlsOptions } from "../cluster/security.ts";
import type { AuthOptions } from "../protocol/weft/handshake_auth.ts";
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
} from "../cluster/listener.ts";
import type { Parsed } from "./args.ts";
import { intArg, UsageError } from "./args.ts";

/** The trust flags that take a value, for every subcommand that connects or serves. */
export const TRUST_FLAGS: Record<string, string | undefined> = {
  "tls-ca": undefined,
  "tls-cert": undefined,
  "tls-key": undefined,
  "tls-server-name": undefined,
  "auth-keys": undefined,
  "auth-id": undefined,
};

/** The trust flags that take no value. */
export const TRUST_BOOLEANS: string[] = ["tls"];

/** The flags only a subcommand that serves takes. */
export const SERVE_TRUST_FLAGS: Record<string, string | undefined> = {
  allow: undefined,
  "max-connections": undefined,
  "max-connections-per-address": undefined,
};

/** The boolean flags only a subcommand that serves takes. */
export const SERVE_TRUST_BOOLEANS: string[] = [
  "tls-require-client-cert",
  "no-introspect",
  "no-protected-mode",
];

/** The help lines of the trust flags (clients). */
export const TRUST_HELP =
  `  --tls                      connect over TLS (the runtime's public roots unless --tls-ca)
  --tls-ca FILE              PEM CA that signs the other end's certificate (implies --tls)
  --tls-cert FILE            PEM certificate this side presents (mutual TLS; with --tls-key)
  --tls-key FILE             PEM private key of --tls-cert
  --tls-server-name NAME     the name the server's certificate must carry (default: its host)
  --auth-keys FILE           key authentication: a JSON object {"key id": "key", ...} or
                             ID=KEY lines (keys of 16 bytes or more)
  --auth-id ID               the key id this side proves (default: the only one in the file)`;

/** The help lines of the trust flags only a serving subcommand takes. */
export const SERVE_TRUST_HELP =
  `  --tls-cert FILE, --tls-key FILE  this node's certificate and key (TLS on every connection)
  --tls-require-client-cert  mutual TLS: refuse clients without a certificate --tls-ca signed
  --allow FILE               authorize: a JSON allow-list {"identity": [cmd numbers and
                             service names], ...}; identity: a key id, a certificate CN,
                             "name:NODE" or "*" (see allowList); "$info" allows INFO requests
  --no-introspect            refuse INFO requests (weft ls, describe, stats, the dashboard)
  --max-connections N        connections held at once, TLS handshakes included (default
                             ${DEFAULT_MAX_CONNECTIONS}); more are closed at once
  --max-connections-per-address N   of those, from one remote address (default
                             ${DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}; raise it for many
                             clients behind one proxy address)
  --no-protected-mode        listen beyond loopback without credentials (keys, or TLS with
                             client certificates): anyone who reaches the port is admitted.
                             Without it such a listen is refused (protected mode). Named
                             nodes, routers and registry nodes have protected mode.`;

/** The options the trust flags give (each layer takes those it has). */
export interface TrustOptions {
  tls?: ClusterTlsOptions;
  auth?: AuthOptions;
  authorize?: Authorize;
  introspect?: boolean;
  protectedMode?: false;
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
}

async function readFlagFile(flag: string, path: string): Promise<string> {
  try {
    const fs = await import("node:fs/promises");
    return await fs.readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(
      `--${flag} ${path}: cannot read it (${error instanceof Error ? error.message : error})`,
    );
  }
}

/** Parses an --auth-keys file: a JSON object of key id -> key, or ID=KEY lines. */
export function parseKeys(text: string, path: string): Record<string, string> {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw new UsageError(`--auth-keys ${path}: not JSON: ${(error as Error).message}`);
    }
    const keys: Record<string, string> = {};
    for (const [id, key] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof key !== "string") {
        throw new UsageError(`--auth-keys ${path}: the key of ${id} is not a string`);
      }
      keys[id] = key;
    }
    return keys;
  }
  const keys: Record<string, string> = {};
  for (const [n, line] of trimmed.split(/\r?\n/).entries()) {
    if (line.trim() === "" || line.trim().startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new UsageError(`--auth-keys ${path}: line ${n + 1} is not ID=KEY`);
    keys[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return keys;
}

/**
 * The `tls`, `auth`, `authorize` and `introspect` options from the trust
 * flags. `serving`: the subcommand listens (its certificate is required
 * for TLS; `--allow` and `--tls-require-client-cert` apply).
 *
 * @throws {UsageError} Naming the flag, for a file that cannot be read or parsed, or a
 *   combination that cannot work.
 */
export async function trustOptions(parsed: Parsed, serving = false): Promise<TrustOptions> {
  const v = parsed.values;
  const out: TrustOptions = {};
  const tlsWanted = parsed.booleans.has("tls") || v["tls-ca"] !== undefined ||
    v["tls-cert"] !== undefined || v["tls-key"] !== undefined ||
    v["tls-server-name"] !== undefined || parsed.booleans.has("tls-require-client-cert");
  if (tlsWanted) {
    const tls: ClusterTlsOptions = {};
    if ((v["tls-cert"] === undefined) !== (v["tls-key"] === undefined)) {
      throw new UsageError("--tls-cert and --tls-key go together");
    }
    if (serving && v["tls-cert"] === undefined) {
      throw new UsageError("--tls-cert FILE and --tls-key FILE are needed to serve over TLS");
    }
    if (parsed.booleans.has("tls-require-client-cert") && v["tls-ca"] === undefined) {
      throw new UsageError("--tls-require-client-cert needs --tls-ca (the clients' CA)");
    }
    if (v["tls-ca"] !== undefined) tls.ca = await readFlagFile("tls-ca", v["tls-ca"]);
    if (v["tls-cert"] !== undefined) tls.cert = await readFlagFile("tls-cert", v["tls-cert"]);
    if (v["tls-key"] !== undefined) tls.key = await readFlagFile("tls-key", v["tls-key"]);
    if (v["tls-server-name"] !== undefined) tls.serverName = v["tls-server-name"];
    if (parsed.booleans.has("tls-require-client-cert")) {
      if (tls.ca === undefined) {
        throw new UsageError("--tls-require-client-cert needs --tls-ca (the clients' CA)");
      }
      tls.requireClientCert = true;
    }
    out.tls = tls;
  }
  const keysPath = v["auth-keys"];
  if (keysPath !== undefined) {
    const keys = parseKeys(await readFlagFile("auth-keys", keysPath), keysPath);
    const ids = Object.keys(keys);
    if (ids.length === 0) throw new UsageError(`--auth-keys ${keysPath}: no keys in it`);
    const keyId = v["auth-id"] ?? (ids.length === 1 ? ids[0] : undefined);
    if (keyId === undefined) {
      throw new UsageError(`--auth-id is needed: ${keysPath} has ${ids.length} keys`);
    }
    if (!(keyId in keys)) throw new UsageError(`--auth-id ${keyId}: not a key id of ${keysPath}`);
    for (const [id, key] of Object.entries(keys)) {
      if (new TextEncoder().encode(key).length < 16) {
        throw new UsageError(`--auth-keys ${keysPath}: the key of ${id} is under 16 bytes`);
      }
    }
    out.auth = { keys, keyId };
  } else if (v["auth-id"] !== undefined) {
    throw new UsageError("--auth-id needs --auth-keys FILE");
  }
  if (serving && v.allow !== undefined) {
    const text = await readFlagFile("allow", v.allow);
    let list: Record<string, AllowRule>;
    try {
      list = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--allow ${v.allow}: not JSON: ${(error as Error).message}`);
    }
    try {
      out.authorize = allowList(list);
    } catch (error) {
      throw new UsageError(`--allow ${v.allow}: ${(error as Error).message}`);
    }
  }
  if (serving && parsed.booleans.has("no-introspect")) out.introspect = false;
  if (serving && parsed.booleans.has("no-protected-mode")) out.protectedMode = false;
  for (
    const [flag, key] of [
      ["max-connections", "maxConnections"],
      ["max-connections-per-address", "maxConnectionsPerAddress"],
    ] as const
  ) {
    const value = v[flag];
    if (serving && value !== undefined) out[key] = intArg(`--${flag}`, value, 1, 1_000_000);
  }
  return out;
}
