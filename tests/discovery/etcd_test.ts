import assert from "node:assert/strict";
import { EtcdRegistry } from "../../src/discovery/etcd.ts";
import { isWeftError } from "../../src/errors.ts";
import type { Registry } from "../../src/discovery/types.ts";
import { noEtcd, sayWhyIgnored, startEtcd, stopProcess, threadStates } from "./_etcd.ts";
import { bounded, HANG_LIMIT, runConformance, table, watcher } from "./conformance.ts";

sayWhyIgnored("tests/discovery/etcd_test.ts");

const quiet = { error() {}, warn() {} };
let namespaces = 0;

function namespace(): string {
  return `t${Date.now()}-${++namespaces}/`;
}

Deno.test({
  name: "EtcdRegistry passes the discovery conformance suite on a real etcd",
  ignore: noEtcd,
  async fn(t) {
    await using etcd = await startEtcd();
    await runConformance(t, {
      ttl: 1000,
      slack: 1500,
      registries() {
        const ns = namespace();
        const make = () =>
          new EtcdRegistry({
            endpoints: etcd.endpoint,
            namespace: ns,
            logger: quiet,
            retryMin: 20,
          });
        return Promise.resolve([make(), make(), make()] as [Registry, Registry, Registry]);
      },
    });
  },
});

Deno.test({
  name: "EtcdRegistry watch() resynchronises after a compaction and resumes after a restart",
  ignore: noEtcd,
  async fn() {
    await using etcd = await startEtcd();
    const ns = namespace();
    const opts = { endpoints: etcd.endpoint, namespace: ns, logger: quiet, retryMin: 20 };
    await using a = new EtcdRegistry(opts);
    await using b = new EtcdRegistry({ ...opts, requestTimeout: 500 });
    const w = watcher(b, "");
    try {
      await w.until((e) => e.length === 1, 5000, "snapshot");
      const r1 = await a.register({ id: "n/1", address: "127.0.0.1:1" }, { ttl: 1000 });
      await w.until((e) => table(e).has("n/1"), 5000, "n/1");
      // Stop etcd, change things while the watcher cannot see, compact, start again.
      await etcd.stop();
      await etcd.start();
      await r1.close();
      const r2 = await a.register({ id: "n/2", address: "127.0.0.1:2" }, { ttl: 1000 });
      await w.until((e) => table(e).has("n/2") && !table(e).has("n/1"), 10_000, "resumed");
      await r2.close();
      await w.until((e) => table(e).size === 0, 10_000, "n/2 revoked");
      const revs = w.items.map((e) => e.revision);
      for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! > revs[i - 1]!);
    } finally {
      await w.stop();
    }
    // A compaction past what a watcher has seen: it gets a fresh snapshot.
    const iterator = b.watch("")[Symbol.asyncIterator]();
    try {
      const first = await iterator.next();
      assert.equal(first.value?.type, "snapshot");
      const put = await fetch(`${etcd.endpoint}/v3/kv/put`, {
        method: "POST",
        body: JSON.stringify({ key: btoa(`${ns}m/n/x`), value: btoa("not json") }),
      });
      const rev = BigInt((await put.json()).header.revision);
      const r3 = await a.register({ id: "n/3", address: "127.0.0.1:3" }, { ttl: 1000 });
      const res = await fetch(`${etcd.endpoint}/v3/kv/compaction`, {
        method: "POST",
        body: JSON.stringify({ revision: String(rev + 1n) }),
      });
      await res.body?.cancel();
      const next = await iterator.next();
      assert.equal(next.value?.type, "snapshot", "a resync snapshot after the compaction");
      const seen = [first.value!, next.value!];
      assert.deepEqual([...table(seen).keys()], ["n/3"], "the malformed member is ignored");
      await r3.close();
    } finally {
      await iterator.return(undefined);
    }
  },
});

/** A loopback HTTP server answering every request with `status` and `body`. */
function fakeServer(status: number, body: string): Deno.HttpServer<Deno.NetAddr> & { url: string } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(body, { status }),
  );
  return Object.assign(server, { url: `http://127.0.0.1:${server.addr.port}` });
}

function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("EtcdRegistry errors name the endpoint: unreachable, wrong endpoint, malformed", async () => {
  const dead = `http://127.0.0.1:${closedPort()}`;
  await using unreachable = new EtcdRegistry({ endpoints: dead, logger: quiet });
  await assert.rejects(
    unreachable.register({ id: "n", address: "127.0.0.1:1" }),
    (err) => isWeftError(err, "registry unreachable") && err.message.includes(dead),
  );
  const notEtcd = fakeServer(404, "404 page not found");
  const garbage = fakeServer(200, "<html>hello</html>");
  const noToken = fakeServer(401, JSON.stringify({ error: "invalid auth token", code: 16 }));
  try {
    await using wrong = new EtcdRegistry({ endpoints: notEtcd.url, logger: quiet });
    await assert.rejects(
      wrong.register({ id: "n", address: "127.0.0.1:1" }),
      (err) => isWeftError(err, "registry rejected") && err.message.includes(notEtcd.url),
    );
    await using bad = new EtcdRegistry({ endpoints: garbage.url, logger: quiet });
    await assert.rejects(
      bad.register({ id: "n", address: "127.0.0.1:1" }),
      (err) => isWeftError(err, "registry malformed") && err.message.includes(garbage.url),
    );
    await using denied = new EtcdRegistry({ endpoints: noToken.url, token: "x", logger: quiet });
    await assert.rejects(
      denied.register({ id: "n", address: "127.0.0.1:1" }),
      (err) => isWeftError(err, "registry auth") && err.message.includes(noToken.url),
    );
  } finally {
    await notEtcd.shutdown();
    await garbage.shutdown();
    await noToken.shutdown();
  }
});

Deno.test("EtcdRegistry rejects bad options naming them", () => {
  assert.throws(() => new EtcdRegistry({ endpoints: [] }), /endpoints/);
  assert.throws(() => new EtcdRegistry({ endpoints: "127.0.0.1:2379" }), /endpoints/);
  assert.throws(() => new EtcdRegistry({ endpoints: "ftp://x" }), /endpoints/);
  assert.throws(() => new EtcdRegistry({ endpoints: "http://x", requestTimeout: 0 }), RangeError);
  assert.throws(() => new EtcdRegistry({ endpoints: "http://x", username: "u" }), /password/);
});

Deno.test({
  name: "EtcdRegistry fails over to the next endpoint and authenticates with a user",
  ignore: noEtcd,
  async fn() {
    await using etcd = await startEtcd();
    const dead = `http://127.0.0.1:${closedPort()}`;
    const post = async (path: string, body: unknown, token?: string) => {
      const res = await fetch(`${etcd.endpoint}${path}`, {
        method: "POST",
        headers: token ? { authorization: token } : {},
        body: JSON.stringify(body),
      });
      return await res.json();
    };
    await post("/v3/auth/user/add", { name: "root", password: "rootpw" });
    await post("/v3/auth/user/grant", { user: "root", role: "root" });
    await post("/v3/auth/enable", {});
    const ns = namespace();
    await using wrong = new EtcdRegistry({
      endpoints: [dead, etcd.endpoint],
      username: "root",
      password: "nope",
      namespace: ns,
      logger: quiet,
    });
    await assert.rejects(
      wrong.register({ id: "n", address: "127.0.0.1:1" }),
      (err) => isWeftError(err, "registry auth") && err.message.includes(etcd.endpoint),
    );
    await using anonymous = new EtcdRegistry({
      endpoints: etcd.endpoint,
      namespace: ns,
      logger: quiet,
    });
    await assert.rejects(
      anonymous.register({ id: "n", address: "127.0.0.1:1" }),
      (err) => isWeftError(err, "registry auth"),
    );
    await using right = new EtcdRegistry({
      endpoints: [dead, etcd.endpoint],
      username: "root",
      password: "rootpw",
      namespace: ns,
      logger: quiet,
    });
    const w = watcher(right, "");
    try {
      const reg = await right.register({ id: "n", address: "127.0.0.1:1" }, { ttl: 1000 });
      await w.until((e) => table(e).has("n"), 5000, "n via auth and failover");
      await reg.close();
      await w.until((e) => !table(e).has("n"), 5000, "n revoked");
    } finally {
      await w.stop();
    }
  },
});

Deno.test("EtcdRegistry restarts a watch that stays silent past watchIdleTimeout, from its last revision", async () => {
  let watches = 0;
  const starts: string[] = [];
  const enc = new TextEncoder();
  const header = { header: { revision: "7" } };
  const opened: ReadableStreamDefaultController<Uint8Array>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const body = await req.json();
    if (path === "/v3/kv/range") return Response.json(header);
    if (path !== "/v3/watch") return new Response("no", { status: 404 });
    watches++;
    starts.push(body.create_request.start_revision);
    // The created message, then silence: a stream that died without closing.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        opened.push(controller);
        controller.enqueue(
          enc.encode(JSON.stringify({ result: { ...header, created: true } }) + "\n\n"),
        );
      },
    });
    return new Response(stream);
  });
  try {
    await using r = new EtcdRegistry({
      endpoints: `http://127.0.0.1:${server.addr.port}`,
      watchIdleTimeout: 150,
      retryMin: 10,
      logger: quiet,
    });
    const w = watcher(r, "");
    for (let i = 0; i < 100 && watches < 3; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(watches >= 3, `${watches} watch streams, expected 3 restarts within 5 s`);
    await w.stop();
    assert.equal(w.items.length, 1, "one snapshot, no resync: the watch resumed");
    assert.deepEqual(new Set(starts), new Set(["8"]), "each restart resumes from revision 7 + 1");
  } finally {
    for (const c of opened) {
      try {
        c.close();
      } catch { /* closed by the client */ }
    }
    await server.shutdown();
  }
});

Deno.test({
  name: "EtcdRegistry keeps a quiet watch open on etcd's progress notifications",
  ignore: noEtcd,
  async fn() {
    await using etcd = await startEtcd();
    const warnings: string[] = [];
    await using r = new EtcdRegistry({
      endpoints: etcd.endpoint,
      namespace: namespace(),
      // etcd here notifies every 500 ms; without them this would restart the watch.
      watchIdleTimeout: 1200,
      logger: { error() {}, warn: (m: string) => warnings.push(m) },
    });
    const w = watcher(r, "");
    await w.until((e) => e.length === 1, 5000, "snapshot");
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await w.stop();
    assert.deepEqual(warnings, [], "no restart");
  },
});

Deno.test("EtcdRegistry refuses an answer over maxResponseBytes as malformed", async () => {
  const big = fakeServer(
    200,
    JSON.stringify({ header: { revision: "1" }, pad: "x".repeat(10_000) }),
  );
  try {
    await using r = new EtcdRegistry({ endpoints: big.url, maxResponseBytes: 1000, logger: quiet });
    await assert.rejects(
      r.register({ id: "n", address: "127.0.0.1:1" }),
      (err) => isWeftError(err, "registry malformed") && /maxResponseBytes/.test(err.message),
    );
  } finally {
    await big.shutdown();
  }
});

Deno.test({
  name: "EtcdRegistry watch() aborted while its consumer holds the snapshot ends at once",
  ignore: noEtcd,
  async fn() {
    // The hang behind the conformance suite's stalls: the abort came before
    // the watch stream was opened, its listener never ran, and etcd's
    // progress notifications kept the stream alive past every idle timeout.
    await using etcd = await startEtcd();
    await using r = new EtcdRegistry({
      endpoints: etcd.endpoint,
      namespace: namespace(),
      logger: quiet,
    });
    const ctl = new AbortController();
    const seen: string[] = [];
    await bounded(
      (async () => {
        for await (const event of r.watch("", { signal: ctl.signal })) {
          seen.push(event.type);
          ctl.abort();
        }
      })(),
      HANG_LIMIT,
      "a watch aborted while its snapshot was being handled",
    );
    assert.deepEqual(seen, ["snapshot"]);
  },
});

Deno.test({
  name:
    "EtcdRegistry with etcd stopped (SIGSTOP): watches end on abort, requests fail within requestTimeout",
  ignore: noEtcd,
  async fn() {
    await using etcd = await startEtcd();
    const requestTimeout = 1000;
    await using r = new EtcdRegistry({
      endpoints: etcd.endpoint,
      namespace: namespace(),
      logger: quiet,
      retryMin: 20,
      requestTimeout,
    });
    const streaming = watcher(r, "");
    await streaming.until((e) => e.length === 1, 10_000, "snapshot");
    const pid = etcd.pid!;
    await stopProcess(pid);
    try {
      // A watch whose stream is open and silent: its read is pending.
      await streaming.stop();
      // A watch whose first request (the snapshot's range) gets no answer.
      const connecting = watcher(r, "");
      await new Promise((resolve) => setTimeout(resolve, 200));
      await connecting.stop();
      assert.deepEqual(
        connecting.items,
        [],
        `no snapshot from a stopped etcd (its threads: ${
          threadStates(pid)?.join("") ?? "unknown"
        })`,
      );
      // A request: a coded error naming its deadline, not a hang.
      await bounded(
        assert.rejects(
          r.register({ id: "n/1", address: "127.0.0.1:1" }),
          (err) =>
            isWeftError(err, "registry unreachable") && err.message.includes(etcd.endpoint) &&
            err.message.includes(`within ${requestTimeout} ms`),
        ),
        HANG_LIMIT,
        "register() against a stopped etcd",
      );
    } finally {
      Deno.kill(pid, "SIGCONT");
    }
    // Resumed, the same registry works again.
    const again = watcher(r, "");
    try {
      const reg = await r.register({ id: "n/2", address: "127.0.0.1:2" }, { ttl: 1000 });
      await again.until((e) => table(e).has("n/2"), 10_000, "n/2 after SIGCONT");
      await reg.close();
    } finally {
      await again.stop();
    }
  },
});

Deno.test("EtcdRegistry keeps requestTimeout even when its fetch ignores the abort signal", async () => {
  // A user's `fetch` option that never settles and ignores its signal.
  let calls = 0;
  let secondCall = () => {};
  const second = new Promise<void>((resolve) => (secondCall = resolve));
  const stuck: typeof fetch = () => {
    if (++calls === 2) secondCall();
    return new Promise<Response>(() => {});
  };
  await using r = new EtcdRegistry({
    endpoints: "http://127.0.0.1:9",
    fetch: stuck,
    requestTimeout: 200,
    logger: quiet,
  });
  await bounded(
    assert.rejects(
      r.register({ id: "n", address: "127.0.0.1:1" }),
      (err) => isWeftError(err, "registry unreachable") && /within 200 ms/.test(err.message),
    ),
    HANG_LIMIT,
    "register() over a fetch that never settles",
  );
  // A watch whose first request is stuck the same way ends on its abort.
  const w = watcher(r, "");
  await bounded(second, HANG_LIMIT, "the watch's first request");
  await w.stop();
  assert.deepEqual(w.items, []);
});
