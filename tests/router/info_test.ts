// What the layers above the cluster answer to INFO requests: a router's
// groups, members, masters and per-group stats; a service's describe and
// INFO carried through a router; a named node's services; a registry node.
// Real loopback sockets, all in this process.

import assert from "node:assert/strict";
import { Cluster, isWeftError, RemoteError } from "../../mod.ts";
import { json } from "../../src/codec/json.ts";
import {
  broadcast,
  type BroadcastOutcome,
  type GroupStats,
  master,
  random,
  Router,
  type RouterDescription,
  Service,
  serviceId,
  target,
} from "../../src/router/mod.ts";
import { Nodes } from "../../src/nodes/nodes.ts";
import { serveRegistry } from "../../src/discovery/remote.ts";

const quiet = { error() {}, warn() {} };

Deno.test("router INFO: describe lists groups, members and masters; stats count per group", async () => {
  await using router = new Router({ stats: { remote: true, timeEvery: 1 }, logger: quiet });
  const { address } = await router.listen("127.0.0.1:0");
  const at = `127.0.0.1:${address.port}`;
  const codec = json({ commands: { hi: 1 } });
  await using a = new Service({
    id: serviceId(1, 1),
    routers: [at],
    ...codec,
    logger: quiet,
    call: () => "a",
  });
  await using b = new Service({
    id: serviceId(1, 2),
    routers: [at],
    ...codec,
    logger: quiet,
    call: () => {
      throw new Error("no");
    },
  });
  await using c = new Service({ id: serviceId(2, 1), routers: [at], ...codec, logger: quiet });
  for (const s of [a, b, c]) await s.start();
  router.setMaster(1, serviceId(1, 1), 7);
  for (let i = 0; i < 5; i++) assert.equal(await c.call(master(1), "hi", null), "a");
  await assert.rejects(c.call(target(serviceId(1, 2)), "hi", null), RemoteError);
  await assert.rejects(c.call(random(3), "hi", null), (e: Error) => isWeftError(e, "unreachable"));
  await c.send(random(4), "hi", null);

  await using client = new Cluster({ ...json(), logger: quiet });
  const peer = client.connect(at);
  const described = await client.info(peer, "describe") as RouterDescription & {
    runtime: string;
  };
  assert.equal(described.kind, "router");
  assert.equal(described.runtime, "deno");
  assert.deepEqual(described.services, [serviceId(1, 1), serviceId(1, 2), serviceId(2, 1)]);
  const g1 = described.groups.find((g) => g.group === 1)!;
  assert.deepEqual(g1.members, [serviceId(1, 1), serviceId(1, 2)]);
  assert.deepEqual(g1.master, { id: serviceId(1, 1), fence: 7 });

  const stats = await client.info(peer, "stats") as {
    router: { forwarded: number; refused: number; dropped: number; groups: GroupStats[] };
    in: unknown[];
  };
  assert.equal(stats.router.forwarded, 6);
  const one = stats.router.groups.find((g) => g.group === 1)!;
  assert.equal(one.forwarded, 6);
  assert.equal(one.failed, 1, "the remote error");
  assert.equal(one.latency.counts.reduce((x, y) => x + y, 0), 6, "timeEvery 1: all timed");
  assert.equal(stats.router.groups.find((g) => g.group === 3)!.refused, 1);
  const four = stats.router.groups.find((g) => g.group === 4)!;
  assert.deepEqual([four.refused, four.dropped], [1, 1]);
  assert.ok(Array.isArray(stats.in), "the router's cluster stats are there too");
  assert.deepEqual(
    (stats.router as unknown as { members: { group: number; members: number[] }[] }).members,
    [
      { group: 1, members: [serviceId(1, 1), serviceId(1, 2)] },
      { group: 2, members: [serviceId(2, 1)] },
    ],
  );
});

Deno.test("router INFO: stats off by default; introspect: false refuses describe", async () => {
  await using plain = new Router({ logger: quiet });
  const at = `127.0.0.1:${(await plain.listen("127.0.0.1:0")).address.port}`;
  await using shut = new Router({ introspect: false, logger: quiet });
  const shutAt = `127.0.0.1:${(await shut.listen("127.0.0.1:0")).address.port}`;
  await using client = new Cluster({ ...json(), logger: quiet });
  await assert.rejects(
    client.info(client.connect(at), "stats"),
    (e: Error) => e instanceof RemoteError && e.remote.code === "forbidden",
  );
  assert.equal(
    (await client.info(client.connect(at), "describe") as { kind: string }).kind,
    "router",
  );
  await assert.rejects(
    client.info(client.connect(shutAt), "describe"),
    (e: Error) => e instanceof RemoteError && e.remote.code === "forbidden",
  );
});

Deno.test("service INFO: describe directly, and through a router by target and broadcast", async () => {
  await using router = new Router({ logger: quiet });
  const at = `127.0.0.1:${(await router.listen("127.0.0.1:0")).address.port}`;
  const codec = json({ commands: { hi: 1 } });
  await using one = new Service({
    id: serviceId(3, 1),
    routers: [at],
    ...codec,
    stats: { remote: true },
    logger: quiet,
    call: () => "one",
  });
  await using two = new Service({
    id: serviceId(3, 2),
    routers: [at],
    ...codec,
    logger: quiet,
    call: () => "two",
  });
  await using ops = new Service({ id: serviceId(255, 9), routers: [at], ...codec, logger: quiet });
  for (const s of [one, two, ops]) await s.start();
  await ops.call(target(serviceId(3, 1)), "hi", null);
  const described = await ops.info(target(serviceId(3, 1)), "describe") as Record<string, unknown>;
  assert.equal(described.kind, "service");
  assert.equal(described.id, serviceId(3, 1));
  assert.equal(described.router, at);
  assert.deepEqual(described.routers, [{ address: at, alive: true }]);
  const stats = await ops.info(target(serviceId(3, 1)), "stats") as {
    in: { cmd: number; count: number }[];
  };
  assert.equal(stats.in.find((c) => c.cmd === 1)?.count, 1);
  await assert.rejects(
    ops.info(target(serviceId(3, 2)), "stats"),
    (e: Error) => e instanceof RemoteError && e.remote.code === "forbidden",
  );
  const all = await ops.info(broadcast(3), "describe") as BroadcastOutcome[];
  assert.deepEqual(
    all.map((o) => o.ok && (o.value as { id: number }).id),
    [serviceId(3, 1), serviceId(3, 2)],
  );
  await assert.rejects(ops.info(target(serviceId(3, 1)), ""), TypeError);
  // The service still answers its own commands.
  assert.equal(await ops.call(target(serviceId(3, 2)), "hi", null), "two");
});

Deno.test("named node INFO: its services and commands, its node table, who it is connected to", async () => {
  await using db = new Nodes({ name: "db", logger: quiet });
  const listener = await db.open("db", { address: "127.0.0.1:0" });
  const at = `127.0.0.1:${listener.address.port}`;
  db.register("sdb", { get: () => 1, set: () => 2 });
  await using web = new Nodes({ name: "web", config: { db: at }, logger: quiet });
  assert.equal(await web.call("db", "sdb", "get", null), 1);
  await using client = new Cluster({ ...json(), logger: quiet });
  const described = await client.info(client.connect(at), "describe") as Record<string, unknown>;
  assert.equal(described.kind, "node");
  assert.equal(described.name, "db");
  assert.equal(described.nodeName, "db");
  assert.deepEqual(described.services, { sdb: ["get", "set"] });
  assert.deepEqual(described.listening, [at]);
  const webInfo = web.cluster.localInfo("describe") as Record<string, unknown>;
  assert.deepEqual(webInfo.nodes, { db: at });
  assert.deepEqual(webInfo.connected, ["db"]);
});

Deno.test("registry node INFO: kind registry, keys and leases", async () => {
  await using server = await serveRegistry("127.0.0.1:0");
  await using client = new Cluster({ ...json(), logger: quiet });
  const described = await client.info(client.connect(server.address), "describe") as Record<
    string,
    unknown
  >;
  assert.equal(described.kind, "registry");
  assert.equal(described.keys, 0);
  assert.equal(typeof described.revision, "string");
});
