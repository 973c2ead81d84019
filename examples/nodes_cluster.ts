// Ports skynet's cluster example (cloudwu/skynet examples/cluster1.lua,
// cluster2.lua and clustername.lua) to weft's named nodes: node "db"
// runs a simple key-value service and opens itself as "db" and "db2";
// the other node reads the cluster config (skynet's Lua form), queries
// the service, calls it through a proxy with a 128 KiB key and a 100 KiB
// value, and calls and sends by node and service name. skynet listens on
// fixed ports 2528/2529; this port uses loopback port 0 and writes the
// bound ports into the config. Both nodes are in one process.
//
//   deno run -A examples/nodes_cluster.ts
//   bun examples/nodes_cluster.ts
//   node24 examples/nodes_cluster.ts
//
// Exits 0 only if every check passed; closes everything.

import { Nodes } from "../src/nodes/mod.ts";
import { check, codeOf, finish, until } from "./_check.ts";

// cluster1.lua: the simpledb service, SET/GET/PING.
const db = new Nodes({ name: "db" });
const store = new Map<string, string>();
const pings: string[] = [];
db.register("sdb", {
  SET: ([key, value]: [string, string]) => {
    const last = store.get(key) ?? null;
    store.set(key, value);
    return last;
  },
  GET: (key: string) => store.get(key) ?? null,
  PING: (text: string) => void pings.push(text),
} as never);
const node2 = new Nodes({ name: "node2" });
try {
  const l1 = await db.open("db", { address: "127.0.0.1:0" });
  const l2 = await db.open("db2", { address: "127.0.0.1:0" });
  store.set("a", "foobar");
  store.set("b", "foobar2");

  // clustername.lua, with the bound ports.
  const clustername = `
db = "127.0.0.1:${l1.address.port}"
db2 = "127.0.0.1:${l2.address.port}"
__nowaiting = true -- If you turn this flag off, cluster.call would block when node name is absent
`;
  const outcomes = await node2.reload(clustername);
  check(
    outcomes.every((o) => o.outcome === "added" && o.reachable),
    "reload: db and db2 added and reachable",
  );

  // cluster2.lua
  const sdb = await node2.query("db", "sdb");
  console.log("db.sdb=", sdb);
  check(sdb?.commands.includes("GET") === true, "query finds sdb on db");
  const proxy = node2.proxy("db", "sdb");
  const largekey = "X".repeat(128 * 1024);
  const largevalue = "R".repeat(100 * 1024);
  console.log(await proxy.SET!([largekey, largevalue]));
  const v = await proxy.GET!(largekey);
  check(v === largevalue, "a 100 KiB value set under a 128 KiB key comes back");
  await node2.send("db", "sdb", "PING", "proxy");

  const a = await node2.call("db", "sdb", "GET", "a");
  console.log(a);
  check(a === "foobar", "call db sdb GET a");
  const b = await node2.call("db2", "sdb", "GET", "b");
  console.log(b);
  check(b === "foobar2", "call db2 sdb GET b");
  await node2.send("db2", "sdb", "PING", "db2:longstring" + largevalue);
  await until(() => pings.length >= 2);
  check(
    pings[0] === "proxy" && pings[1]?.length === 14 + largevalue.length,
    "both PINGs arrived, in order",
  );

  // What skynet cannot tell apart, weft codes.
  check(
    await codeOf(node2.call("db3", "sdb", "GET", "a")) === "unknown node",
    "absent node: unknown node",
  );
  check(
    await codeOf(node2.call("db", "nosuch", "GET", "a")) === "unknown service",
    "unknown service",
  );

  // cluster2.lua, later: `cluster.reload { __nowaiting = false }` merges,
  // as skynet's clusterd does: db and db2 stay.
  await node2.reload({ __nowaiting: false });
  check(node2.has("db") && node2.has("db2"), "reload { __nowaiting = false } keeps db and db2");
  // `cluster.reload { db = false, db3 = "127.0.0.1:2529" }`: db is down, db3 is db2's address.
  await node2.reload({ db: false, db3: `127.0.0.1:${l2.address.port}` });
  const down = await node2.call("db", "sdb", "GET", "a").then(
    () => undefined,
    (error) => error as { code?: string; mayHaveRun?: boolean },
  );
  check(
    down?.code === "node down" && down.mayHaveRun === false,
    "db is down: node down, and the call never ran",
  );
  check(await node2.call("db3", "sdb", "GET", "b") === "foobar2", "call db3 sdb GET b");
} finally {
  await node2.close();
  await db.close();
}

finish();
