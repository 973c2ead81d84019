// INFO requests (src/cluster/info.ts): what a node says about itself, who
// may ask, what it costs; over real loopback sockets (and the memory
// transport where a test only counts).

import assert from "node:assert/strict";
import { allowList, Cluster, isWeftError, RemoteError } from "../../mod.ts";
import { json } from "../../src/codec/json.ts";
import { INFO_CACHE_MS, INFO_SERVICE } from "../../src/cluster/info.ts";
import { spawnScript } from "../_runtimes.ts";
import { VERSION } from "../../src/version.ts";

const quiet = { error() {}, warn() {} };
const FLOOD = new URL("./_info_flood.ts", import.meta.url).pathname;
const KEYS = { ops: "the operator's key, 32 bytes long", node: "the node's own key, 32 bytes lng" };

async function remoteCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "no error";
  } catch (error) {
    if (error instanceof RemoteError) return `remote ${error.remote.code}`;
    return isWeftError(error) ? error.code : String(error);
  }
}

Deno.test("cluster.info(): describe of a plain node; stats only with stats.remote", async () => {
  await using server = new Cluster({
    ...json({ commands: { ping: 1, add: 7 } }),
    nodeName: "alpha",
    stats: true,
    logger: quiet,
    call: (_p, _c, body) => body,
  });
  const listener = await server.listen("127.0.0.1:0");
  const address = `127.0.0.1:${listener.address.port}`;
  await using client = new Cluster({ ...json(), logger: quiet });
  const peer = client.connect(address);
  const described = await client.info(peer, "describe") as Record<string, unknown>;
  assert.equal(described.kind, "cluster");
  assert.equal(described.runtime, "deno");
  assert.equal(described.version, VERSION);
  assert.equal(described.protocol, "weft");
  assert.equal(described.nodeName, "alpha");
  assert.deepEqual(described.listening, [address]);
  assert.deepEqual(described.commands, { ping: 1, add: 7 });
  assert.equal(typeof described.uptimeMs, "number");
  assert.equal(described.connections, 1);
  assert.equal(
    await remoteCode(client.info(peer, "stats")),
    "remote forbidden",
    "stats: true without remote refuses",
  );
  assert.equal(await remoteCode(client.info(peer, "nothing")), "remote unknown command");
  await assert.rejects(client.info(peer, "x".repeat(65)), TypeError);
  // The connection stays up after refusals: a call still works.
  assert.equal(await client.call(peer, 1, "still here"), "still here");
});

Deno.test("cluster.info(): stats with stats.remote; a layer's provider merges over the cluster's own", async () => {
  await using server = new Cluster({
    ...json(),
    stats: { remote: true },
    logger: quiet,
    call: (_p, _c, body) => body,
  });
  let asked = 0;
  server.provideInfo("describe", () => ({ kind: "router", groups: { 1: [65537] } }));
  server.provideInfo("stats", () => ({ router: { forwarded: ++asked } }));
  server.provideInfo("custom", () => ({ hello: "world" }));
  const listener = await server.listen("127.0.0.1:0");
  await using client = new Cluster({ ...json(), logger: quiet });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  await client.call(peer, 5, "x");
  const stats = await client.info(peer, "stats") as Record<string, unknown>;
  assert.equal((stats.in as { cmd: number; count: number }[]).find((c) => c.cmd === 5)?.count, 1);
  assert.deepEqual(stats.router, { forwarded: 1 });
  // Cached: asked again at once, the provider is not called again.
  await client.info(peer, "stats");
  assert.equal(asked, 1, `one encoding per ${INFO_CACHE_MS} ms`);
  const described = await client.info(peer, "describe") as Record<string, unknown>;
  assert.equal(described.kind, "router");
  assert.deepEqual(described.groups, { 1: [65537] });
  assert.equal(described.runtime, "deno", "the cluster's own fields stay");
  assert.deepEqual(await client.info(peer, "custom"), { hello: "world" });
  assert.deepEqual(server.localInfo("custom"), { hello: "world" });
  server.provideInfo("custom", undefined);
  assert.equal(await remoteCode(client.info(peer, "custom")), "remote unknown command");
});

Deno.test("cluster.info(): introspect: false and authorize refuse; key authentication carries it", async () => {
  await using off = new Cluster({ ...json(), introspect: false, logger: quiet, call: () => 1 });
  const offAt = await off.listen("127.0.0.1:0");
  await using client = new Cluster({ ...json(), logger: quiet });
  assert.equal(
    await remoteCode(client.info(client.connect(`127.0.0.1:${offAt.address.port}`), "describe")),
    "remote forbidden",
  );
  assert.throws(() => off.localInfo("describe"), (e: Error) => isWeftError(e, "forbidden"));
  assert.throws(() => new Cluster({ ...json(), introspect: 1 as never }), /option introspect/);

  const lines: string[] = [];
  await using guarded = new Cluster({
    ...json(),
    auth: { keys: KEYS, keyId: "node" },
    stats: { remote: true },
    authorize: allowList({ ops: [INFO_SERVICE], node: [1] }),
    logger: { error: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) },
    call: () => 1,
  });
  const at = `127.0.0.1:${(await guarded.listen("127.0.0.1:0")).address.port}`;
  await using ops = new Cluster({ ...json(), auth: { keys: KEYS, keyId: "ops" }, logger: quiet });
  const stats = await ops.info(ops.connect(at), "stats") as { uptimeMs: number };
  assert.equal(typeof stats.uptimeMs, "number");
  await using other = new Cluster({
    ...json(),
    auth: { keys: KEYS, keyId: "node" },
    logger: quiet,
  });
  const peer = other.connect(at);
  assert.equal(await remoteCode(other.info(peer, "describe")), "remote forbidden");
  assert.equal(await other.call(peer, 1, null), 1, "its calls still go through");
  assert.ok(lines.some((l) => /\$info/.test(l)), lines.join("\n"));
  // Without a key, the handshake fails before any INFO is read.
  await using stranger = new Cluster({ ...json(), logger: quiet });
  assert.equal(
    await remoteCode(stranger.info(stranger.connect(at), "describe", { timeout: 2000 })),
    "authentication failed",
  );
});

Deno.test("cluster.info(): a silly-mode asker is refused at once; a lost connection rejects", async () => {
  await using silly = new Cluster({ ...json(), protocol: "silly", logger: quiet });
  await assert.rejects(
    silly.info(silly.connect("127.0.0.1:1"), "describe"),
    (e: Error) => isWeftError(e, "protocol"),
  );
  await using client = new Cluster({ ...json(), logger: quiet, connectTimeout: 2000 });
  assert.equal(
    await remoteCode(client.info(client.connect("127.0.0.1:1"), "describe")),
    "connect failed",
  );
});

Deno.test("INFO flood: a peer process that asks without reading is bounded; a well-behaved client is answered", async () => {
  const lines: string[] = [];
  await using server = new Cluster({
    ...json(),
    stats: { remote: true },
    logger: { error: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) },
    call: (_p, _c, body) => body,
  });
  const listener = await server.listen("127.0.0.1:0");
  const address = `127.0.0.1:${listener.address.port}`;
  // A large answer: the stats of 200 commands.
  await using warm = new Cluster({ ...json(), logger: quiet });
  const warmPeer = warm.connect(address);
  await Promise.all(Array.from({ length: 200 }, (_, i) => warm.call(warmPeer, i, i)));
  const one = new TextEncoder().encode(JSON.stringify(server.stats())).length;
  const before = server.stats()!.bytes.out;

  // The attacker, a Bun process: HELLO, then 20,000 INFO requests in one write, never read.
  const attacker = await spawnScript("bun", FLOOD, [address, "20000"]);
  try {
    await attacker.waitFor(/^sent$/m, 30_000);
    // Meanwhile a well-behaved client is answered, again and again.
    await using good = new Cluster({ ...json(), logger: quiet });
    const peer = good.connect(address);
    for (let i = 0; i < 10; i++) {
      const answer = await good.info(peer, "stats", { timeout: 5000 });
      assert.ok(answer !== null && typeof answer === "object");
      assert.equal(await good.call(peer, 1, i), i);
      await new Promise((r) => setTimeout(r, 50));
    }
    // What the node wrote for the attacker is bounded by its high-water
    // mark and a few answers, not 20,000 answers of `one` bytes.
    const wrote = server.stats()!.bytes.out - before;
    assert.ok(
      wrote < 8 * 1024 * 1024,
      `bytes out ${wrote}, one answer ${one} B (20,000 would be ${20_000 * one})`,
    );
    assert.ok(lines.length <= 25, `rate-limited log: ${lines.length} lines`);
  } finally {
    await attacker.stop();
  }
});
