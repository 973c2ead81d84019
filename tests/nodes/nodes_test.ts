// Named nodes and services (src/nodes) over real loopback sockets (Deno's
// adapter), in one process: config forms, open/register/call/send/query/
// proxy, the error taxonomy, reload (move with 1,000 calls in flight, down,
// removed), absent nodes with and without nowaiting, a node that comes back,
// a remote node restarted.

import assert from "node:assert/strict";
import { MemoryLogger, rejectsWith, until } from "../cluster/cases.ts";
import {
  loadConfig,
  Nodes,
  type NodesOptions,
  parseConfig,
  readConfig,
} from "../../src/nodes/mod.ts";
import { transport } from "../../src/transport/deno.ts";
import type { CallContext } from "../../src/cluster/call_context.ts";
import { isWeftError, RemoteError, WeftError } from "../../src/errors.ts";

const HOST = "127.0.0.1";

function node(name: string | undefined, options: NodesOptions = {}): Nodes {
  return new Nodes({
    transport,
    logger: new MemoryLogger(),
    timeout: 2000,
    ...(name === undefined ? {} : { name }),
    ...options,
  });
}

/** `slow` handlers started so far, on every node `serve()` made (a test waits for them, not for a time). */
let slowStarted = 0;

async function serve(name: string): Promise<{ nodes: Nodes; address: string }> {
  const nodes = node(name);
  const listener = await nodes.open(name, { address: `${HOST}:0` });
  nodes.register("calc", {
    add: ({ a, b }: { a: number; b: number }) => a + b,
    where: (_body: unknown, context: CallContext) => ({
      node: name,
      caller: context.peer.nodeName ?? null,
    }),
    fail: () => {
      throw new RangeError("handler says no");
    },
    slow: (ms: number, context: CallContext) =>
      new Promise((resolve) => {
        slowStarted++;
        const timer = setTimeout(() => resolve(name), ms);
        context.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      }),
  } as never);
  return { nodes, address: `${HOST}:${listener.address.port}` };
}

type Calc = {
  add: { request: { a: number; b: number }; response: number };
  where: { request: null; response: { node: string; caller: string | null } };
  note: { request: string };
};

Deno.test("loadConfig() runs skynet's Lua form; parseConfig() reads JSON; both refuse malformed text whole with the line", async () => {
  const lua = await loadConfig(
    [
      "-- clustername.lua",
      'db = "127.0.0.1:2528"',
      "db2 = '127.0.0.1:2529'; -- second",
      "db3 = false",
      '_ENV["odd-name"] = "[::1]:7000"',
      "--[[ a block",
      'ignored = "nope"',
      "]]",
      "__nowaiting = true",
      "",
    ].join("\n"),
  );
  assert.deepEqual([...lua.nodes], [
    ["db", "127.0.0.1:2528"],
    ["db2", "127.0.0.1:2529"],
    ["db3", false],
    ["odd-name", "[::1]:7000"],
  ]);
  assert.equal(lua.nowaiting, true);
  const fromJson = parseConfig('{ "a": "127.0.0.1:1", "b": false }');
  assert.deepEqual([...fromJson.nodes], [["a", "127.0.0.1:1"], ["b", false]]);
  assert.equal(fromJson.nowaiting, false);
  assert.throws(() => parseConfig('db = "127.0.0.1:1"'), TypeError, "Lua text needs loadConfig");
  const bad: [string, RegExp][] = [
    ['db = "127.0.0.1:1"\nx = 12', /line 2: "x" = a number/],
    ['db = "no port"', /line 1: .*/],
    ["db = true", /line 1: "db" = true/],
    ['--[[ never closed\ndb = "127.0.0.1:1"', /line 2: unfinished long comment/],
    ['{ "a": "127.0.0.1:1", }', /bad|JSON/],
    ['{ "a": 12 }', /key "a": expected "host:port" or false/],
    ['{ "__other": true }', /unknown option/],
  ];
  for (const [text, reason] of bad) {
    let error: unknown;
    try {
      await loadConfig(text);
    } catch (e) {
      error = e;
    }
    assert.ok(isWeftError(error, "bad config"), `${text}: ${error}`);
    assert.match((error as Error).message, reason);
  }
});

Deno.test("readConfig() reads a file; a missing file is a bad config naming it", async () => {
  const path = await Deno.makeTempFile({ suffix: ".lua" });
  try {
    await Deno.writeTextFile(path, 'db = "127.0.0.1:2528"\n');
    assert.deepEqual([...(await readConfig(path)).nodes], [["db", "127.0.0.1:2528"]]);
    await Deno.writeTextFile(path, "db = \n");
    await assert.rejects(
      readConfig(path),
      // Lua finds the missing value at the end of the file, on line 2.
      (e) => isWeftError(e, "bad config") && e.message.includes(path) && /line 2/.test(e.message),
    );
  } finally {
    await Deno.remove(path);
  }
  await assert.rejects(readConfig(`${path}.missing`), (e) => isWeftError(e, "bad config"));
});

Deno.test("Nodes: call, send, query, proxy and typed proxy by name; the callee sees the caller's node name", async () => {
  const db = await serve("db");
  const notes: string[] = [];
  db.nodes.register<Calc>("typed", {
    add: ({ a, b }) => a + b,
    where: (_b, context) => ({ node: "db", caller: context.peer.nodeName ?? null }),
    note: (text) => void notes.push(text),
  });
  const web = node("web", { config: { db: db.address } });
  try {
    assert.equal(await web.call("db", "calc", "add", { a: 2, b: 3 }), 5);
    assert.deepEqual(await web.call("db", "calc", "where", null), { node: "db", caller: "web" });
    assert.deepEqual(await web.query("db", "calc"), {
      name: "calc",
      commands: ["add", "where", "fail", "slow"],
    });
    assert.equal(await web.query("db", "nothing"), undefined);
    const untyped = web.proxy("db", "calc");
    assert.equal(await untyped.add!({ a: 1, b: 1 }), 2);
    const typed = web.proxy<Calc>("db", "typed");
    const sum: number = await typed.add({ a: 40, b: 2 });
    assert.equal(sum, 42);
    assert.deepEqual(await typed.where(null), { node: "db", caller: "web" });
    await web.send("db", "typed", "note", "one");
    await web.send("db", "typed", "note", "two");
    await until(() => notes.length === 2, 2000, "both sends");
    assert.deepEqual(notes, ["one", "two"]);
    assert.equal(web.has("db"), true);
    assert.equal(web.has("nope"), false);
    assert.deepEqual([...web.nodes()], [["db", db.address]]);
  } finally {
    await web.close();
    await db.nodes.close();
  }
});

Deno.test("Nodes: unknown service, unknown command, handler error, node down, connect failed are told apart", async () => {
  const db = await serve("db");
  // A port nothing listens on: listen, note it, close.
  const probe = await transport.listen(`${HOST}:0`, (c) => c.close());
  const deadAddress = `${HOST}:${probe.address.port}`;
  await probe.close();
  const web = node("web", { config: { db: db.address, gone: deadAddress, off: false } });
  try {
    const unknown = await rejectsWith(web.call("db", "nosuch", "add", {}), "unknown service");
    assert.match(unknown.message, /db/);
    assert.match(unknown.message, /nosuch/);
    const noCmd = await rejectsWith(web.call("db", "calc", "mul", {}), "unknown command");
    assert.match(noCmd.message, /mul/);
    const remote = await rejectsWith(web.call("db", "calc", "fail", null), "remote");
    assert.ok(remote instanceof RemoteError);
    assert.equal((remote as RemoteError).remote.name, "RangeError");
    const down = await rejectsWith(web.call("off", "calc", "add", {}), "node down");
    assert.match(down.message, /off/);
    const refused = await rejectsWith(web.call("gone", "calc", "add", {}), "connect failed");
    assert.match(refused.message, /gone/);
    const absent = await rejectsWith(
      web.call("nowhere", "calc", "add", {}, { nowaiting: true }),
      "unknown node",
    );
    assert.match(absent.message, /nowhere/);
    await rejectsWith(web.call("db", "x".repeat(300), "add", {}), "name too long");
    await rejectsWith(web.call("db", "calc", "y".repeat(300), {}), "name too long");
    // Nothing a peer sends can register or remove a service.
    await rejectsWith(web.call("db", "$node", "register", { service: "evil" }), "unknown command");
    await rejectsWith(web.call("db", "calc", "constructor", {}), "unknown command");
    await rejectsWith(web.call("db", "calc", "__proto__", {}), "unknown command");
    assert.deepEqual(db.nodes.services(), ["calc"]);
  } finally {
    await web.close();
    await db.nodes.close();
  }
  await rejectsWith(web.call("db", "calc", "add", {}), "peer closed");
});

Deno.test("Nodes: register rejects a duplicate and reserved names; unregister makes calls fail as unknown service", async () => {
  const db = await serve("db");
  const web = node("web", { config: { db: db.address } });
  try {
    assert.throws(() => db.nodes.register("calc", { add: () => 0 }), TypeError);
    assert.throws(() => db.nodes.register("$node", { add: () => 0 }), TypeError);
    assert.throws(() => db.nodes.register("bad", { add: 1 } as never), TypeError);
    assert.throws(
      () => db.nodes.register("z".repeat(300), {}),
      (e) => isWeftError(e, "name too long"),
    );
    assert.equal(await web.call("db", "calc", "add", { a: 1, b: 2 }), 3);
    assert.equal(db.nodes.unregister("calc"), true);
    assert.equal(db.nodes.unregister("calc"), false);
    await rejectsWith(web.call("db", "calc", "add", { a: 1, b: 2 }), "unknown service");
  } finally {
    await web.close();
    await db.nodes.close();
  }
});

Deno.test("Nodes: a malformed reload is rejected whole and the table in force stays; a reload during a reload is refused", async () => {
  const db = await serve("db");
  const web = node("web", { config: { db: db.address } });
  try {
    await assert.rejects(
      web.reload('db = "127.0.0.1:1"\nbroken line'),
      (e) => isWeftError(e, "bad config") && /line 2/.test(e.message),
    );
    assert.deepEqual([...web.nodes()], [["db", db.address]]);
    const first = web.reload({ db: db.address, other: "127.0.0.1:9" }, { probe: true });
    await rejectsWith(web.reload({ db: db.address }), "reload in progress");
    const outcomes = await first;
    assert.deepEqual(outcomes.map((o) => [o.node, o.outcome]), [["db", "unchanged"], [
      "other",
      "added",
    ]]);
    assert.equal(outcomes[1]!.reachable, false);
    assert.ok(isWeftError(outcomes[1]!.error, "connect failed"));
  } finally {
    await web.close();
    await db.nodes.close();
  }
});

Deno.test("Nodes: reload moves a node while 1,000 calls are in flight: all settle, later calls reach the new address", async () => {
  const a = await serve("db");
  const b = await serve("db");
  const web = node("web", { config: { db: a.address }, timeout: 5000 });
  try {
    assert.equal(await web.call("db", "calc", "add", { a: 0, b: 0 }), 0);
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) calls.push(web.call("db", "calc", "slow", 20));
    const outcomes = await web.reload({ db: b.address });
    assert.deepEqual(outcomes.map((o) => [o.node, o.outcome, o.reachable]), [[
      "db",
      "moved",
      true,
    ]]);
    const settled = await Promise.allSettled(calls);
    let ok = 0;
    for (const result of settled) {
      if (result.status === "fulfilled") ok++;
      else {
        assert.ok(result.reason instanceof WeftError, String(result.reason));
        assert.match(result.reason.message, /db/);
      }
    }
    // The old server is up, so the calls already sent finish there.
    assert.equal(ok, 1000);
    assert.equal((await web.call("db", "calc", "where", null) as { node: string }).node, "db");
    // Which server answered: a (old) is told apart by closing it.
    await a.nodes.close();
    assert.equal(await web.call("db", "calc", "add", { a: 1, b: 1 }), 2);
  } finally {
    await web.close();
    await a.nodes.close();
    await b.nodes.close();
  }
});

Deno.test("Nodes: marking a node down, or removing it, fails the calls waiting on it at once with node down", async () => {
  const db = await serve("db");
  const web = node("web", { config: { db: db.address }, timeout: 10_000 });
  try {
    const before = slowStarted;
    const waiting = [web.call("db", "calc", "slow", 5000), web.call("db", "calc", "slow", 5000)];
    await until(() => slowStarted >= before + 2, 0, "both calls running at db");
    const outcomes = await web.reload({ db: false });
    assert.deepEqual(outcomes.map((o) => [o.node, o.outcome]), [["db", "down"]]);
    for (const call of waiting) {
      const error = await rejectsWith(call, "node down");
      assert.match(error.message, /db was marked down/);
      // Sent before the node went down: its handler may have run.
      assert.equal(error.mayHaveRun, true);
    }
    // Down by the config: never sent.
    const down = await rejectsWith(web.call("db", "calc", "add", { a: 1, b: 1 }), "node down");
    assert.equal(down.mayHaveRun, false);
    await web.reload({ db: db.address });
    assert.equal(await web.call("db", "calc", "add", { a: 1, b: 1 }), 2);
    const sent = slowStarted;
    const pending = web.call("db", "calc", "slow", 5000);
    await until(() => slowStarted > sent, 0, "the call running at db");
    // A merging reload of nothing changes nothing; replace removes.
    assert.deepEqual((await web.reload({})).map((o) => o.outcome), ["unchanged"]);
    assert.deepEqual((await web.reload({}, { replace: true })).map((o) => o.outcome), ["removed"]);
    const removed = await rejectsWith(pending, "node down");
    assert.match(removed.message, /db was removed/);
    assert.equal(removed.mayHaveRun, true);
  } finally {
    await web.close();
    await db.nodes.close();
  }
});

Deno.test("Nodes: an absent node waits until the deadline, fails at once with nowaiting, and a node that comes back is called", async () => {
  const db = await serve("db");
  const web = node("web", { config: {} });
  try {
    const started = performance.now();
    const late = await rejectsWith(
      web.call("db", "calc", "add", {}, { timeout: 50 }),
      "unknown node",
    );
    assert.ok(performance.now() - started >= 40, "waited for the deadline");
    assert.match(late.message, /db/);
    await rejectsWith(web.call("db", "calc", "add", {}, { nowaiting: true }), "unknown node");
    const waiting = web.call("db", "calc", "add", { a: 20, b: 22 }, { timeout: 5000 });
    const aborted = new AbortController();
    const abortable = web.call("db", "calc", "add", {}, { signal: aborted.signal, timeout: 5000 });
    aborted.abort();
    await rejectsWith(abortable, "aborted");
    await web.reload({ db: db.address });
    assert.equal(await waiting, 42);
    // __nowaiting in the config
    await web.reload({ db: db.address, __nowaiting: true });
    await rejectsWith(web.call("ghost", "calc", "add", {}), "unknown node");
    const closing = node("x", { config: {} });
    const stuck = closing.call("db", "calc", "add", {}, { timeout: 5000 });
    await closing.close();
    await rejectsWith(stuck, "peer closed");
  } finally {
    await web.close();
    await db.nodes.close();
  }
});

Deno.test("Nodes: a remote node restarted on the same address: calls by service name keep working", async () => {
  const first = await serve("db");
  const port = Number(first.address.split(":")[1]);
  const web = node("web", { config: { db: first.address } });
  try {
    assert.equal(await web.call("db", "calc", "add", { a: 1, b: 2 }), 3);
    await first.nodes.close();
    const again = node("db");
    await again.open("db", { address: `${HOST}:${port}` });
    again.register("calc", { add: ({ a, b }: { a: number; b: number }) => a * 100 + b } as never);
    try {
      // The first call may find the old connection gone; calls after it reconnect.
      let answer: unknown;
      for (let i = 0; i < 5 && answer === undefined; i++) {
        try {
          answer = await web.call("db", "calc", "add", { a: 1, b: 2 });
        } catch (error) {
          assert.ok(
            isWeftError(error, "closed") || isWeftError(error, "connect failed"),
            String(error),
          );
        }
      }
      assert.equal(answer, 102);
    } finally {
      await again.close();
    }
  } finally {
    await web.close();
  }
});

Deno.test("Nodes: open() checks the config; a second open listens under a second name", async () => {
  const a = node("db", { config: { db: `${HOST}:0`, db2: `${HOST}:0`, off: false } });
  try {
    await assert.rejects(a.open("nope"), (e) => isWeftError(e, "unknown node"));
    await assert.rejects(a.open("off"), (e) => isWeftError(e, "node down"));
    const l1 = await a.open("db");
    const l2 = await a.open("db2");
    a.register("svc", { hi: () => "hi" });
    const web = node("web", {
      config: { db: `${HOST}:${l1.address.port}`, db2: `${HOST}:${l2.address.port}` },
    });
    try {
      const outcomes = await web.reload({
        db: `${HOST}:${l1.address.port}`,
        db2: `${HOST}:${l2.address.port}`,
      });
      assert.deepEqual(outcomes.map((o) => o.outcome), ["unchanged", "unchanged"]);
      assert.equal(await web.call("db2", "svc", "hi"), "hi");
    } finally {
      await web.close();
    }
  } finally {
    await a.close();
  }
});

Deno.test("follow(): a registry's node members become the config, reloaded in revision order", async () => {
  const { MemoryRegistry } = await import("../../src/discovery/memory.ts");
  const { follow } = await import("../../src/nodes/follow.ts");
  const registry = new MemoryRegistry();
  const db = await serve("db");
  const web = node("web", { config: {} });
  const controller = new AbortController();
  const seen: string[][] = [];
  const following = follow(web, registry, {
    signal: controller.signal,
    onReload: (outcomes) => seen.push(outcomes.map((o) => `${o.node}:${o.outcome}`)),
  });
  try {
    // A call waiting for the absent node goes on once the registry has it.
    const waiting = web.call("db", "calc", "add", { a: 1, b: 2 }, { timeout: 5000 });
    const registration = await registry.register({ id: "nodes/db", address: db.address }, {
      ttl: 5000,
    });
    assert.equal(await waiting, 3);
    await registration.close();
    await until(() => !web.has("db"), 2000, "the node removed");
    assert.deepEqual(seen.at(-1), ["db:removed"]);
    assert.ok(seen.some((s) => s.includes("db:added")));
  } finally {
    controller.abort();
    await following;
    await web.close();
    await db.nodes.close();
    await registry.close();
  }
});

Deno.test("Nodes: reload merges the keys given as skynet's clusterd does; __nowaiting stays unless given; replace puts in the whole table", async () => {
  const db = await serve("db");
  const web = node("web", { config: { db: db.address, __nowaiting: true } });
  try {
    // cluster2.lua: `cluster.reload { __nowaiting = false }` keeps every node.
    const kept = await web.reload({ __nowaiting: false });
    assert.deepEqual(kept.map((o) => [o.node, o.outcome]), [["db", "unchanged"]]);
    assert.equal(web.has("db"), true);
    assert.equal(await web.call("db", "calc", "add", { a: 1, b: 2 }), 3);
    // __nowaiting is false now: an absent node waits (until the deadline).
    await rejectsWith(web.call("ghost", "calc", "add", {}, { timeout: 30 }), "unknown node");
    await web.reload({ __nowaiting: true });
    // A reload naming other keys keeps __nowaiting as it is.
    const outcomes = await web.reload({ db2: db.address }, { probe: false });
    assert.deepEqual(outcomes.map((o) => [o.node, o.outcome]), [["db", "unchanged"], [
      "db2",
      "added",
    ]]);
    const started = performance.now();
    await rejectsWith(web.call("ghost", "calc", "add", {}, { timeout: 120_000 }), "unknown node");
    // Far below the call's timeout (a loaded machine is slow, not waiting).
    assert.ok(performance.now() - started < 60_000, "nowaiting still on: failed at once");
    // cluster2.lua: `{ db = false, db3 = ... }` marks db down, keeps db2, adds db3.
    const later = await web.reload({ db: false, db3: db.address }, { probe: false });
    assert.deepEqual(later.map((o) => [o.node, o.outcome]), [
      ["db", "down"],
      ["db2", "unchanged"],
      ["db3", "added"],
    ]);
    assert.equal(await web.call("db3", "calc", "add", { a: 2, b: 2 }), 4);
    // Text configs merge too; replace: true makes the given table the whole table.
    await web.reload('db4 = "' + db.address + '"', { probe: false });
    assert.deepEqual([...web.nodes().keys()], ["db", "db2", "db3", "db4"]);
    const replaced = await web.reload({ db: db.address }, { replace: true, probe: false });
    assert.deepEqual(replaced.map((o) => [o.node, o.outcome]), [
      ["db", "added"],
      ["db2", "removed"],
      ["db3", "removed"],
      ["db4", "removed"],
    ]);
    // replace without __nowaiting: false.
    await rejectsWith(web.call("ghost", "calc", "add", {}, { timeout: 30 }), "unknown node");
  } finally {
    await web.close();
    await db.nodes.close();
  }
});

Deno.test("Nodes: reload before open(name), as skynet's cluster1.lua does, then open; callers see the name", async () => {
  const free = () => {
    const l = Deno.listen({ hostname: HOST, port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    return `${HOST}:${port}`;
  };
  const config = { db: free(), db2: free() };
  const db = node(undefined);
  const web = node("web", { config });
  try {
    // Probes of the node's own, not yet opened, addresses: unreachable, no harm.
    const outcomes = await db.reload(config);
    assert.deepEqual(outcomes.map((o) => [o.node, o.outcome, o.reachable]), [
      ["db", "added", false],
      ["db2", "added", false],
    ]);
    db.register(
      "sdb",
      { whoami: (_b: unknown, c: CallContext) => c.peer.nodeName ?? null } as never,
    );
    await db.open("db");
    await db.open("db2");
    assert.equal(db.name, "db");
    assert.equal(await web.call("db", "sdb", "whoami", null), "web");
    assert.equal(await web.call("db2", "sdb", "whoami", null), "web");
    // and db's own calls carry its name
    const back = node("back");
    const l = await back.open("back", { address: `${HOST}:0` });
    back.register(
      "who",
      { caller: (_b: unknown, c: CallContext) => c.peer.nodeName ?? null } as never,
    );
    await db.reload({ back: `${HOST}:${l.address.port}` });
    assert.equal(await db.call("back", "who", "caller", null), "db");
    await back.close();
  } finally {
    await web.close();
    await db.close();
  }
});

Deno.test("Nodes: errors name the node and say whether the request may have run", async () => {
  const db = await serve("db");
  // A port nothing listens on: one just freed (a fixed port may be in use).
  const freed = Deno.listen({ hostname: HOST, port: 0 });
  const deadPort = (freed.addr as Deno.NetAddr).port;
  freed.close();
  const web = node("web", { config: { db: db.address, off: false, dead: `${HOST}:${deadPort}` } });
  try {
    const remote = await rejectsWith(web.call("db", "calc", "fail", null), "remote");
    assert.ok(remote instanceof RemoteError);
    assert.match(remote.message, /Call to db\/calc failed remotely: RangeError: handler says no/);
    assert.equal(remote.mayHaveRun, true);
    const noService = await rejectsWith(web.call("db", "nosuch", "x", null), "unknown service");
    assert.equal(noService.mayHaveRun, false);
    const noCommand = await rejectsWith(web.call("db", "calc", "nosuch", null), "unknown command");
    assert.equal(noCommand.mayHaveRun, false);
    assert.equal(
      (await rejectsWith(web.call("off", "calc", "add", {}), "node down")).mayHaveRun,
      false,
    );
    const unknown = await rejectsWith(
      web.call("nope", "calc", "add", {}, { nowaiting: true }),
      "unknown node",
    );
    assert.equal(unknown.mayHaveRun, false);
    const refused = await rejectsWith(web.call("dead", "calc", "add", {}), "connect failed");
    assert.equal(refused.mayHaveRun, false);
    assert.match(refused.message, /dead/);
    // A call in flight when its connection is lost: it may have run.
    const running = slowStarted;
    const slow = web.call("db", "calc", "slow", 5000);
    await until(() => slowStarted > running, 0, "the call running at db");
    await db.nodes.close();
    const lost = await rejectsWith(slow, "closed");
    assert.equal(lost.mayHaveRun, true);
    assert.match(lost.message, /db\/calc/);
  } finally {
    await web.close();
    await db.nodes.close();
  }
});
