/**
 * Security behaviour, written once as runtime-neutral cases over real
 * loopback sockets: TLS and mutual TLS refusals with their codes, plain
 * TCP against TLS both ways, key authentication, identity and
 * authorisation. security_test.ts runs them on Deno; run_cases.ts runs them
 * under Bun and Node (started by security_test.ts).
 */

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { ClusterOptions } from "../../src/cluster/options.ts";
import type { Peer } from "../../src/connection/peer.ts";
import { allowList, type AuthorizeRequest, type PeerIdentity } from "../../src/cluster/security.ts";
import { Nodes } from "../../src/nodes/nodes.ts";
import { json } from "../../src/codec/json.ts";
import { isWeftError, type RemoteError, type WeftError } from "../../src/errors.ts";
import type { Address, Connection, Transport } from "../../src/transport/types.ts";
import { MemoryLogger, rejectsWith, until } from "../cluster/cases.ts";
import { waitLimit } from "../_wait.ts";
import type { Certs } from "./_certs.ts";

/** Where a case runs. */
export interface SecurityEnv {
  transport: Transport;
  certs: Certs;
}

/** One behaviour. */
export interface SecurityCase {
  name: string;
  fn: (env: SecurityEnv) => Promise<void>;
}

const KEYS = {
  "node-a": "node-a test key, 32 bytes long..",
  "node-b": "node-b test key, 32 bytes long..",
  "server": "server test key, 32 bytes long..",
};
const commands = { echo: 1, secret: 2 };

/** A server and a client cluster; `fn` gets the client's peer; everything is closed after. */
async function pair(
  env: SecurityEnv,
  server: Partial<ClusterOptions>,
  client: Partial<ClusterOptions>,
  fn: (ctx: {
    server: Cluster;
    client: Cluster;
    peer: Peer;
    serverLog: MemoryLogger;
    clientLog: MemoryLogger;
    address: string;
  }) => Promise<void>,
): Promise<void> {
  const serverLog = new MemoryLogger();
  const clientLog = new MemoryLogger();
  const s = new Cluster({
    ...json({ commands }),
    transport: env.transport,
    logger: serverLog,
    ...server,
  });
  const c = new Cluster({
    ...json({ commands }),
    transport: env.transport,
    logger: clientLog,
    timeout: 10_000,
    ...client,
  });
  try {
    const listener = await s.listen("127.0.0.1:0");
    const address = `127.0.0.1:${listener.address.port}`;
    await fn({ server: s, client: c, peer: c.connect(address), serverLog, clientLog, address });
  } finally {
    await c.close();
    await s.close();
  }
}

function serverTls(certs: Certs, requireClientCert = true) {
  return { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requireClientCert };
}

/** A TLS listener that records accepted connections and refusals. */
async function tlsListener(
  env: SecurityEnv,
  requireClientCert: boolean,
): Promise<{
  address: string;
  accepted: Connection[];
  refused: WeftError[];
  close(): Promise<void>;
}> {
  const accepted: Connection[] = [];
  const refused: WeftError[] = [];
  const listener = await env.transport.listen("127.0.0.1:0", (conn) => {
    accepted.push(conn);
    conn.start({ data: (chunk) => conn.write(chunk.slice()), close: () => {} });
  }, {
    // A hang guard (refusals come from the certificates, not the clock).
    tls: { ...serverTls(env.certs, requireClientCert), handshakeTimeout: 30_000 },
    onRefused: (error: WeftError, _remote: Address | undefined) => refused.push(error),
  });
  return {
    address: `127.0.0.1:${listener.address.port}`,
    accepted,
    refused,
    async close() {
      await listener.close();
      await Promise.all(accepted.map((c) => c.close()));
    },
  };
}

/** Connects with `tls`, writes a byte, and waits for the connection to end (bounded). */
async function knock(
  env: SecurityEnv,
  address: string,
  tls: Parameters<Transport["connect"]>[1],
): Promise<"closed" | "echoed"> {
  const conn = await env.transport.connect(address, tls);
  const result = new Promise<"closed" | "echoed">((resolve) => {
    conn.start({ data: () => resolve("echoed"), close: () => resolve("closed") });
  });
  conn.write(Uint8Array.of(1));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<"echoed">((resolve) =>
    // A hang guard: a refusal or an echo comes first, however slow the machine.
    timer = setTimeout(() => resolve("echoed"), waitLimit(5000))
  );
  const outcome = await Promise.race([result, limit]);
  clearTimeout(timer);
  await conn.close();
  return outcome;
}

const echoHandler = {
  call: (peer: Peer, cmd: number) => ({ cmd, keyId: peer.identity.keyId ?? null }),
};

/** Every case, in run order. */
export const securityCases: SecurityCase[] = [
  {
    name: "TLS: a call over TLS; each side sees the other's certificate identity",
    async fn(env) {
      let seen: Peer | undefined;
      let subjectInHandler: string | undefined;
      await pair(env, {
        tls: serverTls(env.certs),
        accept: (peer) => seen = peer,
        call: (_peer, _cmd, body, context) => {
          subjectInHandler = context.peer.identity.certificate?.subject;
          return body;
        },
      }, {
        tls: { cert: env.certs.clientCert, key: env.certs.clientKey, ca: env.certs.ca },
      }, async ({ client, peer }) => {
        assert.deepEqual(await client.call(peer, "echo", { hi: 1 }), { hi: 1 });
        assert.equal(subjectInHandler, "node-a");
        // The accept hook already sees the identity.
        const cert = seen?.identity.certificate;
        assert.equal(cert?.subject, "node-a");
        assert.deepEqual(cert?.altNames, ["DNS:node-a"]);
        assert.equal(cert?.issuer, "weft test CA");
        assert.match(cert?.fingerprint256 ?? "", /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
        assert.equal(peer.identity.certificate?.subject, "localhost");
      });
    },
  },
  {
    name:
      "mutual TLS: missing, expired and other-CA client certificates are refused with their codes",
    async fn(env) {
      const l = await tlsListener(env, true);
      try {
        const ca = env.certs.ca;
        const tries: [string, Record<string, string>][] = [
          ["certificate required", {}],
          ["certificate expired", { cert: env.certs.expiredCert, key: env.certs.expiredKey }],
          ["certificate untrusted", { cert: env.certs.otherCert, key: env.certs.otherKey }],
        ];
        for (const [code, client] of tries) {
          const before = l.refused.length;
          assert.equal(await knock(env, l.address, { tls: { ca, ...client } }), "closed", code);
          await until(() => l.refused.length > before, 5000, `refusal ${code}`);
          assert.equal(l.refused[before]!.code, code, l.refused[before]!.message);
        }
        assert.equal(l.accepted.length, 0, "no refused client reached onAccept");
        assert.equal(
          await knock(env, l.address, {
            tls: { ca, cert: env.certs.clientCert, key: env.certs.clientKey },
          }),
          "echoed",
        );
        assert.equal(l.accepted.length, 1);
      } finally {
        await l.close();
      }
    },
  },
  {
    name:
      "mutual TLS at the cluster: a client without a certificate never reaches the accept hook or a handler",
    async fn(env) {
      let accepted = 0;
      let handled = 0;
      await pair(
        env,
        {
          tls: serverTls(env.certs),
          accept: () => void accepted++,
          call: () => void handled++,
        },
        { tls: { ca: env.certs.ca } },
        async ({ client, peer, serverLog }) => {
          // The client hears why: the server wants a certificate it did not give.
          await assert.rejects(
            client.call(peer, "echo", {}),
            (e) =>
              isWeftError(e, "closed") &&
              /before answering weft's HELLO: it most likely requires a client certificate \(mutual TLS\) and this node presented none: give this node tls\.cert and tls\.key/
                .test(e.message),
          );
          await until(
            () => serverLog.warnings.some((w) => w.includes("no client certificate")),
            5000,
            "refusal logged",
          );
          assert.equal(accepted, 0);
          assert.equal(handled, 0);
        },
      );
    },
  },
  {
    name: "TLS: the client refuses a server certificate from another CA or for another name (tls)",
    async fn(env) {
      const l = await tlsListener(env, false);
      try {
        await rejectsWith(
          env.transport.connect(l.address, { tls: { ca: env.certs.otherCa } }),
          "tls",
        );
        await rejectsWith(
          env.transport.connect(l.address, { tls: { ca: env.certs.ca, serverName: "node-b" } }),
          "tls",
        );
        assert.equal(l.accepted.length, 0);
      } finally {
        await l.close();
      }
    },
  },
  {
    name: "plain TCP to a TLS listener: refused with tls, the client's call fails at once",
    async fn(env) {
      let handled = 0;
      const guard = { timeout: 120_000, connectTimeout: 120_000 };
      await pair(
        env,
        { tls: serverTls(env.certs, false), call: () => void handled++ },
        guard,
        async (
          { client, peer, serverLog },
        ) => {
          const started = Date.now();
          await assert.rejects(client.call(peer, "echo", {}), (e) => isWeftError(e));
          assert.ok(Date.now() - started < 60_000, "no hang");
          await until(
            () => serverLog.warnings.some((w) => w.includes("TLS handshake")),
            5000,
            "tls refusal logged",
          );
          const refusal = serverLog.warnings.find((w) => w.includes("TLS handshake"))!;
          assert.match(refusal, /the client does not speak TLS/, "the refusal says why");
          assert.equal(handled, 0);
        },
      );
    },
  },
  {
    name:
      "a client that connects to a TLS listener and says nothing is dropped at the handshake timeout",
    async fn(env) {
      const refused: WeftError[] = [];
      const listener = await env.transport.listen("127.0.0.1:0", () => {
        throw new Error("a silent client must not be accepted");
      }, {
        tls: { cert: env.certs.serverCert, key: env.certs.serverKey, handshakeTimeout: 300 },
        onRefused: (error: WeftError) => refused.push(error),
      });
      try {
        const plain = await env.transport.connect(`127.0.0.1:${listener.address.port}`);
        const closed = new Promise((resolve) => plain.start({ data: () => {}, close: resolve }));
        let timer: ReturnType<typeof setTimeout> | undefined;
        const limit = new Promise((resolve) =>
          timer = setTimeout(() => resolve("hung"), waitLimit(5000))
        );
        const outcome = await Promise.race([closed, limit]);
        clearTimeout(timer);
        await plain.close();
        assert.notEqual(outcome, "hung", "the listener dropped the silent client");
        await until(() => refused.length > 0, 5000, "the refusal");
        assert.equal(refused[0]!.code, "tls");
        assert.match(refused[0]!.message, /timed out|timeout/i);
      } finally {
        await listener.close();
      }
    },
  },
  {
    name: "TLS to a plain listener: connect fails with tls within the handshake timeout",
    async fn(env) {
      await pair(env, { call: () => 1 }, {
        tls: { ca: env.certs.ca, handshakeTimeout: 1000 },
        // Far off, so that only the handshake timeout can end the attempt.
        timeout: 120_000,
        connectTimeout: 120_000,
      }, async ({ client, peer }) => {
        const started = Date.now();
        const error = await rejectsWith(client.call(peer, "echo", {}), "connect failed");
        assert.ok(isWeftError(error.cause, "tls"), `cause: ${String(error.cause)}`);
        assert.ok(Date.now() - started < 60_000, "bounded by the handshake timeout");
      });
    },
  },
  {
    name: "key auth: the right keys; each side learns the key id the other proved",
    async fn(env) {
      let inAccept: string | undefined = "unset";
      await pair(
        env,
        {
          auth: { keys: KEYS, keyId: "server" },
          accept: (peer) => inAccept = peer.identity.keyId,
          ...echoHandler,
        },
        { auth: { keys: KEYS, keyId: "node-a" } },
        async ({ client, peer }) => {
          assert.deepEqual(await client.call(peer, "echo", {}), { cmd: 1, keyId: "node-a" });
          assert.equal(peer.identity.keyId, "server");
          // The accept hook runs before the handshake: no identity yet.
          assert.equal(inAccept, undefined);
          // Many calls at once right after connecting all wait for the handshake.
          const peer2 = client.connect(peer.address!.replace("127.0.0.1", "localhost"));
          const replies = await Promise.all(
            Array.from({ length: 50 }, () => client.call(peer2, "echo", {})),
          );
          assert.equal(replies.length, 50);
        },
      );
    },
  },
  {
    name: "key auth: one shared key for the whole cluster",
    async fn(env) {
      const shared = { keys: { cluster: "one key for every node, 32 bytes" }, keyId: "cluster" };
      await pair(
        env,
        { auth: shared, ...echoHandler },
        { auth: shared },
        async ({ client, peer }) => {
          assert.deepEqual(await client.call(peer, "echo", {}), { cmd: 1, keyId: "cluster" });
        },
      );
    },
  },
  {
    name: "key auth: a wrong key, no key, and an unknown key id are refused; no handler runs",
    async fn(env) {
      const clients: [string, Partial<ClusterOptions>][] = [
        ["wrong key", {
          auth: { keys: { ...KEYS, "node-a": "not the key of node-a, 32 bytes" }, keyId: "node-a" },
        }],
        ["no key", {}],
        ["unknown key id", {
          auth: { keys: { ...KEYS, "node-z": "a key nobody else knows, 32 b" }, keyId: "node-z" },
        }],
      ];
      for (const [what, client] of clients) {
        let handled = 0;
        await pair(
          env,
          {
            auth: { keys: KEYS, keyId: "server" },
            call: () => void handled++,
          },
          client,
          async ({ client: c, peer, serverLog }) => {
            const error = await rejectsWith(c.call(peer, "echo", {}), "authentication failed");
            // The refused side learns only that authentication failed.
            assert.doesNotMatch(error.message, /node-z|key id|proof for/, what);
            await until(
              () => serverLog.errors.some((e) => e.includes("Authentication failed")),
              5000,
              `server logs the ${what}`,
            );
            assert.equal(handled, 0, `${what}: no handler ran`);
          },
        );
      }
    },
  },
  {
    name: "key auth: a client refuses a server that proves no key, or a key it does not know",
    async fn(env) {
      for (
        const server of [{}, {
          auth: { keys: { "node-q": "a key unknown to the client 32b" }, keyId: "node-q" },
        }]
      ) {
        let handled = 0;
        await pair(env, { ...server, call: () => void handled++ }, {
          auth: { keys: KEYS, keyId: "node-a" },
        }, async ({ client, peer }) => {
          await rejectsWith(client.call(peer, "echo", {}), "authentication failed");
          assert.equal(handled, 0);
        });
      }
    },
  },
  {
    name: "authorisation: a node allowed one command is refused another with forbidden",
    async fn(env) {
      const handled: number[] = [];
      await pair(
        env,
        {
          auth: { keys: KEYS, keyId: "server" },
          authorize: allowList({ "node-a": [commands.echo] }),
          call: (_peer, cmd) => {
            handled.push(cmd);
            return "ok";
          },
        },
        { auth: { keys: KEYS, keyId: "node-a" } },
        async ({ client, peer }) => {
          assert.equal(await client.call(peer, "echo", {}), "ok");
          const error = await rejectsWith(client.call(peer, "secret", {}), "remote");
          assert.equal((error as RemoteError).remote.code, "forbidden");
          assert.deepEqual(
            handled,
            [commands.echo],
            "the refused request never reached the handler",
          );
        },
      );
      // Another node (key id node-b) may call nothing.
      await pair(
        env,
        {
          auth: { keys: KEYS, keyId: "server" },
          authorize: allowList({ "node-a": [commands.echo] }),
          call: () => "ok",
        },
        { auth: { keys: KEYS, keyId: "node-b" } },
        async ({ client, peer }) => {
          const error = await rejectsWith(client.call(peer, "echo", {}), "remote");
          assert.equal((error as RemoteError).remote.code, "forbidden");
        },
      );
    },
  },
  {
    name:
      "named nodes: a node allowed one service is refused another; identity has node name and key id",
    async fn(env) {
      const seen: PeerIdentity[] = [];
      const asked: { service?: string | undefined; command?: string | undefined }[] = [];
      const allow = allowList({ "name:web": ["echo"] });
      const serve = async (
        server: ConstructorParameters<typeof Nodes>[0],
        client: ConstructorParameters<typeof Nodes>[0],
        fn: (web: Nodes) => Promise<void>,
      ) => {
        await using db = new Nodes({
          transport: env.transport,
          logger: new MemoryLogger(),
          ...server,
        });
        const listener = await db.open("db", { address: "127.0.0.1:0" });
        db.register("echo", { say: (body, context) => (seen.push(context.peer.identity), body) });
        db.register("secret", { read: () => "the secret" });
        await using web = new Nodes({
          transport: env.transport,
          logger: new MemoryLogger(),
          timeout: 10_000,
          config: { db: `127.0.0.1:${listener.address.port}` },
          ...client,
        });
        await fn(web);
      };
      const authorize = (request: AuthorizeRequest) => {
        asked.push({ service: request.service, command: request.command });
        return allow(request);
      };
      await serve(
        { auth: { keys: KEYS, keyId: "server" }, authorize },
        { name: "web", auth: { keys: KEYS, keyId: "node-a" } },
        async (web) => {
          assert.equal(await web.call("db", "echo", "say", "hi"), "hi");
          assert.deepEqual(seen.map((i) => [i.nodeName, i.keyId]), [["web", "node-a"]]);
          const error = await rejectsWith(web.call("db", "secret", "read", null), "remote");
          assert.equal((error as RemoteError).remote.code, "forbidden");
          assert.match((error as RemoteError).remote.message, /service secret.*node web/);
          assert.deepEqual(asked, [
            { service: "echo", command: "say" },
            { service: "secret", command: "read" },
          ]);
        },
      );
      // Another node name on the same key: refused echo too.
      await serve(
        { auth: { keys: KEYS, keyId: "server" }, authorize: allow },
        { name: "batch", auth: { keys: KEYS, keyId: "node-a" } },
        async (web) => {
          const error = await rejectsWith(web.call("db", "echo", "say", "hi"), "remote");
          assert.equal((error as RemoteError).remote.code, "forbidden");
        },
      );
      // The right name without authentication proves nothing: refused.
      await serve({ authorize: allow }, { name: "web" }, async (web) => {
        const error = await rejectsWith(web.call("db", "echo", "say", "hi"), "remote");
        assert.equal((error as RemoteError).remote.code, "forbidden");
        assert.match((error as RemoteError).remote.message, /unauthenticated peer \(node web\)/);
      });
      assert.equal(seen.length, 1, "refused requests never reached a handler");
    },
  },
  {
    name: "authorisation by certificate subject; a hook that throws refuses",
    async fn(env) {
      await pair(env, {
        tls: serverTls(env.certs),
        authorize: ({ identity, cmd }) => {
          if (cmd === commands.secret) throw new Error("hook failure");
          return identity.certificate?.subject === "node-a";
        },
        call: () => "ok",
      }, {
        tls: { cert: env.certs.clientCert, key: env.certs.clientKey, ca: env.certs.ca },
      }, async ({ client, peer, serverLog }) => {
        assert.equal(await client.call(peer, "echo", {}), "ok");
        const error = await rejectsWith(client.call(peer, "secret", {}), "remote");
        assert.equal((error as RemoteError).remote.code, "forbidden");
        assert.ok(serverLog.errors.some((e) => e.includes("authorize hook threw")));
      });
    },
  },
  {
    name: "options: bad TLS and auth settings throw at construction, naming the option",
    fn(env) {
      const base = { ...json(), transport: env.transport };
      assert.throws(
        () => new Cluster({ ...base, auth: { keys: { a: "short" }, keyId: "a" } }),
        RangeError,
      );
      assert.throws(
        () => new Cluster({ ...base, auth: { keys: KEYS, keyId: "nobody" } }),
        /auth\.keyId/,
      );
      assert.throws(
        () => new Cluster({ ...base, protocol: "silly", auth: { keys: KEYS, keyId: "server" } }),
        /auth/,
      );
      // deno-lint-ignore no-explicit-any
      assert.throws(() => new Cluster({ ...base, authorize: 1 as any }), /authorize/);
      return Promise.all([
        rejectsWithType(env.transport.connect("127.0.0.1:1", { tls: { cert: "x" } }), /tls\.cert/),
        rejectsWithType(
          env.transport.listen("127.0.0.1:0", () => {}, { tls: { ca: env.certs.ca } }),
          /tls\.cert/,
        ),
        rejectsWithType(
          env.transport.connect("127.0.0.1:1", {
            // deno-lint-ignore no-explicit-any
            tls: { minVersion: "SSLv3" as any },
          }),
          /tls\.minVersion/,
        ),
      ]).then(() => {});
    },
  },
  {
    name:
      "TLS option mistakes are TypeErrors naming the option: swapped cert and key, a key of another certificate, a file name, an encrypted key",
    async fn(env) {
      const c = env.certs;
      const both = async (tls: Record<string, string>, pattern: RegExp) => {
        // A listener and a client alike (the client refuses before connecting).
        await rejectsWithType(
          (async () => await env.transport.listen("127.0.0.1:0", () => {}, { tls }))(),
          pattern,
        );
        await rejectsWithType(
          (async () => await env.transport.connect("127.0.0.1:1", { tls: { ca: c.ca, ...tls } }))(),
          pattern,
        );
      };
      await both(
        { cert: c.serverKey, key: c.serverCert },
        /^Invalid option tls\.cert: expected a certificate .* got -----BEGIN PRIVATE KEY-----: are tls\.cert and tls\.key swapped\?/,
      );
      await both(
        { cert: c.serverCert, key: c.serverCert },
        /^Invalid option tls\.key: expected a private key .*got -----BEGIN CERTIFICATE-----: are tls\.key and tls\.cert swapped\?/,
      );
      await both(
        { cert: c.serverCert, key: c.clientKey },
        /^Invalid option tls\.key: it is not the private key of tls\.cert/,
      );
      await both(
        { cert: "server.crt", key: c.serverKey },
        /^Invalid option tls\.cert: .*a file name\?/,
      );
      await both(
        {
          cert: c.serverCert,
          key: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        },
        /^Invalid option tls\.key: an encrypted private key/,
      );
      await rejectsWithType(
        (async () => await env.transport.connect("127.0.0.1:1", { tls: { ca: c.serverKey } }))(),
        /^Invalid option tls\.ca: expected a certificate/,
      );
      const garbled = c.serverCert.replace(/\n[A-Za-z0-9+\/]{12}/, "\n!!!!!!!!!!!!");
      await both(
        { cert: garbled, key: c.serverKey },
        /^Invalid option tls\.(cert|cert or tls\.key):/,
      );
    },
  },
];

async function rejectsWithType(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (e) => e instanceof TypeError && pattern.test(e.message));
}
