// The registry served over weft (src/discovery/remote.ts): the conformance
// suite with a registry node and its clients in process over real loopback
// sockets; an unreachable node; the server's bounds against a hostile
// client speaking the registry's commands directly; a restart of the node.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { json } from "../../src/codec/json.ts";
import { isWeftError, type WeftError } from "../../src/errors.ts";
import {
  type RegistryServer,
  RemoteRegistry,
  type RemoteRegistryOptions,
  serveRegistry,
} from "../../src/discovery/remote.ts";
import type { Registry } from "../../src/discovery/types.ts";
import { observer, runConformance, table, watcher } from "./conformance.ts";

const quiet = { error() {}, warn() {} };
const fast = { logger: quiet, retryMin: 20, retryMax: 200, requestTimeout: 1000 };

function client(server: RegistryServer, extra: Partial<RemoteRegistryOptions> = {}) {
  return new RemoteRegistry({ address: server.address, ...fast, ...extra });
}

Deno.test("RemoteRegistry passes the discovery conformance suite (registry node over loopback)", async (t) => {
  const servers: RegistryServer[] = [];
  try {
    await runConformance(t, {
      ttl: 400,
      slack: 400,
      async registries() {
        const server = await serveRegistry("127.0.0.1:0", { cluster: { logger: quiet } });
        servers.push(server);
        return [client(server), client(server), client(server)] as [Registry, Registry, Registry];
      },
    });
  } finally {
    for (const s of servers) await s.close();
  }
});

Deno.test("RemoteRegistry over IPv6 loopback: a watcher sees another client's registration", async () => {
  await using server = await serveRegistry("[::1]:0", { cluster: { logger: quiet } });
  assert.match(server.address, /^\[::1\]:\d+$/);
  await using a = client(server);
  await using b = client(server);
  const w = watcher(b, "");
  try {
    await w.until((e) => e.length === 1, 3000, "snapshot");
    await a.register({ id: "z", address: "[::1]:1" });
    await w.until((e) => table(e).has("z"), 3000, "z");
  } finally {
    await w.stop();
  }
});

Deno.test("RemoteRegistry: an unreachable registry node fails with registry unreachable naming the address", async () => {
  // A port that was free a moment ago: nothing listens there.
  const probe = await serveRegistry("127.0.0.1:0");
  const address = probe.address;
  await probe.close();
  await using r = new RemoteRegistry({ address, ...fast });
  await assert.rejects(
    r.register({ id: "a", address: "127.0.0.1:1" }),
    (err: WeftError) => {
      assert.ok(isWeftError(err, "registry unreachable"), String(err));
      assert.ok(err.message.includes(address), err.message);
      return true;
    },
  );
});

Deno.test("RemoteRegistry and serveRegistry reject bad options naming them", async () => {
  assert.throws(() => new RemoteRegistry({ address: "nope" }), /address/);
  assert.throws(
    () => new RemoteRegistry({ address: "127.0.0.1:1", requestTimeout: 0 }),
    /requestTimeout/,
  );
  assert.throws(() => new RemoteRegistry({ address: "127.0.0.1:1", pollWait: -1 }), /pollWait/);
  assert.throws(() => new RemoteRegistry({ address: "127.0.0.1:1", namespace: "" }), /namespace/);
  await assert.rejects(
    serveRegistry("127.0.0.1:0", { maxWatchesPerConnection: 0 }),
    /maxWatchesPerConnection/,
  );
  await assert.rejects(serveRegistry("127.0.0.1:0", { maxTtl: NaN }), /maxTtl/);
  await assert.rejects(
    serveRegistry("127.0.0.1:0", { maxEventsPerBatch: 1.5 }),
    /maxEventsPerBatch/,
  );
  await assert.rejects(serveRegistry("nope"), (err: WeftError) => isWeftError(err, "bad address"));
});

/** Resolves when `signal` has aborted (maybe already), rejects after `ms`. */
function abortedWithin(signal: AbortSignal, ms: number, what: string): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", done);
      reject(new Error(`Timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
  });
}

/** A hostile client: the registry's commands, called directly. */
const raw = json({
  commands: { grant: 1, keepAlive: 2, revoke: 3, put: 4, delete: 5, range: 6, watch: 7 },
});

function remoteCode(err: unknown): string | undefined {
  return (err as { remote?: { code?: string } }).remote?.code;
}

Deno.test("serveRegistry bounds what one client can make it hold: watch calls per connection, wait, leases, keys, sizes", async () => {
  await using server = await serveRegistry("127.0.0.1:0", {
    maxWatchesPerConnection: 3,
    maxWatches: 4,
    // Long enough that the watches waiting are still there when the calls
    // that must be refused for them arrive, however slow the machine.
    maxWatchWait: 2000,
    maxLeases: 2,
    maxKeys: 2,
    maxKeyBytes: 16,
    maxValueBytes: 32,
    maxTtl: 5000,
    cluster: { logger: quiet },
  });
  await using hostile = new Cluster({ ...raw, logger: quiet });
  await using other = new Cluster({ ...raw, logger: quiet });
  const peer = hostile.connect(server.address);
  const range = await hostile.call(peer, "range", { prefix: "" }) as { revision: string };
  const from = String(BigInt(range.revision) + 1n);
  // Three long polls wait; the fourth on the same connection is refused at once.
  const started = Date.now();
  const waiting = [1, 2, 3].map(() =>
    hostile.call(peer, "watch", { prefix: "", from, wait: 60_000 }) as Promise<{
      type: string;
      events: unknown[];
    }>
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  await assert.rejects(
    hostile.call(peer, "watch", { prefix: "", from, wait: 60_000 }),
    (err) => remoteCode(err) === "registry rejected" && /maxWatchesPerConnection/.test(String(err)),
  );
  // Another connection is not affected, up to the total bound (maxWatches 4).
  const otherPeer = other.connect(server.address);
  const progress = other.call(otherPeer, "watch", { prefix: "", from, wait: 2000 }) as Promise<{
    type: string;
    events: unknown[];
  }>;
  await new Promise((resolve) => setTimeout(resolve, 30));
  await assert.rejects(
    other.call(otherPeer, "watch", { prefix: "", from, wait: 100 }),
    (err) => remoteCode(err) === "registry rejected" && /maxWatches\)/.test(String(err)),
  );
  assert.equal((await progress).type, "events");
  assert.equal((await progress).events.length, 0, "an empty progress batch after the wait");
  // The 60 s wait asked for is capped by maxWatchWait (2 s; calls time out at 5 s): empty progress batches.
  for (const answer of await Promise.all(waiting)) {
    assert.equal(answer.type, "events");
    assert.equal(answer.events.length, 0);
  }
  assert.ok(Date.now() - started < 30_000, "answered at maxWatchWait, not at the asked 60 s");
  // Once answered, the connection may watch again.
  await hostile.call(peer, "watch", { prefix: "", from, wait: 1 });

  await assert.rejects(
    hostile.call(peer, "grant", { ttl: 60_000 }),
    (err) => remoteCode(err) === "registry rejected" && /maxTtl/.test(String(err)),
  );
  const l1 = await hostile.call(peer, "grant", { ttl: 1000 }) as { id: string };
  await hostile.call(peer, "grant", { ttl: 1000 });
  await assert.rejects(
    hostile.call(peer, "grant", { ttl: 1000 }),
    (err) => /maxLeases/.test(String(err)),
  );
  await assert.rejects(
    hostile.call(peer, "put", { key: "k".repeat(17), value: "", lease: l1.id }),
    (err) => /maxKeyBytes/.test(String(err)),
  );
  await assert.rejects(
    hostile.call(peer, "put", { key: "k", value: "v".repeat(33), lease: l1.id }),
    (err) => /maxValueBytes/.test(String(err)),
  );
  await hostile.call(peer, "put", { key: "k1", value: "v", lease: l1.id });
  await hostile.call(peer, "put", { key: "k2", value: "v", lease: l1.id });
  await hostile.call(peer, "put", { key: "k2", value: "v2", lease: l1.id }); // an update is fine
  await assert.rejects(
    hostile.call(peer, "put", { key: "k3", value: "v", lease: l1.id }),
    (err) => /maxKeys/.test(String(err)),
  );
  // Malformed requests are refused with a coded error naming the field.
  await assert.rejects(
    hostile.call(peer, "watch", { prefix: "", from: "x", wait: 1 }),
    (err) => remoteCode(err) === "registry rejected" && /from/.test(String(err)),
  );
  await assert.rejects(
    hostile.call(peer, "put", ["nope"]),
    (err) => remoteCode(err) === "registry rejected",
  );
  await using numeric = new Cluster({ ...json(), logger: quiet });
  await assert.rejects(
    numeric.call(numeric.connect(server.address), 99, {}),
    (err) => isWeftError(err, "remote") && /99/.test(String(err)),
  );
  // A watch from an old revision gets the history; from one too far ahead: compacted.
  const history = await hostile.call(peer, "watch", { prefix: "k", from, wait: 1 }) as {
    type: string;
    events: { type: string }[];
  };
  assert.deepEqual(history.events.map((e) => e.type), ["put", "put", "put"]);
  const ahead = await hostile.call(peer, "watch", {
    prefix: "",
    from: String(BigInt(range.revision) + 1000n),
    wait: 1,
  }) as { type: string };
  assert.equal(ahead.type, "compacted");
  // A revision from before this store began (another store's, e.g. before a restart): compacted.
  const before = await hostile.call(peer, "watch", { prefix: "", from: "1", wait: 1 }) as {
    type: string;
  };
  assert.equal(before.type, "compacted");
  await hostile.call(peer, "revoke", { id: l1.id });
});

Deno.test("serveRegistry: closing the server ends waiting watch calls and closing a client frees its waiters", async () => {
  const server = await serveRegistry("127.0.0.1:0", {
    maxWatchesPerConnection: 1,
    cluster: { logger: quiet },
  });
  try {
    const c1 = new Cluster({ ...raw, logger: quiet });
    const p1 = c1.connect(server.address);
    const { revision } = await c1.call(p1, "range", { prefix: "" }) as { revision: string };
    const from = String(BigInt(revision) + 1n);
    const pending = c1.call(p1, "watch", { prefix: "", from, wait: 20_000 }, { timeout: 30_000 });
    pending.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 50));
    await c1.close();
    await assert.rejects(pending);
    // A new connection's single slot is free at once, and a change wakes it.
    await using c2 = new Cluster({ ...raw, logger: quiet });
    const p2 = c2.connect(server.address);
    const waiting = c2.call(p2, "watch", { prefix: "x", from, wait: 20_000 }, {
      timeout: 30_000,
    }) as Promise<{ type: string; events: unknown[] }>;
    const lease = await c2.call(p2, "grant", { ttl: 1000 }) as { id: string };
    await c2.call(p2, "put", { key: "x1", value: "v", lease: lease.id });
    const woke = await waiting;
    assert.equal(woke.events.length, 1);
    await c2.call(p2, "revoke", { id: lease.id });
    const last = c2.call(p2, "watch", { prefix: "y", from: String(BigInt(from) + 10n), wait: 0 });
    assert.equal(((await last) as { type: string }).type, "compacted");
  } finally {
    await server.close();
  }
});

Deno.test("RemoteRegistry: the registry node restarts empty: instances re-register, watchers resynchronise, fences keep growing", async () => {
  let server = await serveRegistry("127.0.0.1:0", { cluster: { logger: quiet } });
  const address = server.address;
  await using a = new RemoteRegistry({ address, ...fast, pollWait: 200 });
  await using b = new RemoteRegistry({ address, ...fast, pollWait: 200 });
  const w = watcher(b, "");
  const o = observer(b, "g");
  try {
    await a.register({ id: "svc/a", address: "127.0.0.1:1" }, { ttl: 400 });
    const first = await a.campaign("g", { id: "m/a", address: "127.0.0.1:1" }, { ttl: 400 });
    await w.until((e) => table(e).has("svc/a"), 3000, "svc/a");
    await o.until((m) => m.at(-1)?.fence === first.master.fence, 3000, "the first master");
    await server.close();
    server = await serveRegistry(address, { cluster: { logger: quiet } });
    // The lease is unknown to the new store: the registration comes back under a new one.
    await w.until(
      (e) => e.filter((x) => x.type === "snapshot").length >= 2 && table(e).has("svc/a"),
      8000,
      "a second snapshot with svc/a again",
    );
    // The master's lease is lost with the old store: it steps down; a new campaign wins with a higher fence.
    await abortedWithin(first.signal, 5000, "the first leadership's end");
    const second = await a.campaign("g", { id: "m/a", address: "127.0.0.1:1" }, { ttl: 400 });
    assert.ok(second.master.fence > first.master.fence, "the fence grows across a restart");
    await o.until((m) => m.at(-1)?.fence === second.master.fence, 5000, "the second master");
    await second.resign();
  } finally {
    await w.stop();
    await o.stop();
    await a.close();
    await b.close();
    await server.close();
  }
});
