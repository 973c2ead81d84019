// The weft side of tests/skynet/interop.ts, run under Deno, Bun or Node:
//
// - `cluster1 PORT_DB PORT_DB2`: plays skynet's examples/cluster1.lua with
//   Nodes: the service "sdb" of examples/simpledb.lua (SET, GET, PING),
//   a = "foobar" and b = "foobar2" set first, listening in skynet mode as
//   "db" and "db2". Prints "READY", then "PING <text>" per push (cut as
//   simpledb cuts it), until killed.
// - `cluster2 PORT_DB PORT_DB2`: plays skynet's examples/cluster2.lua with
//   Nodes against skynet's own cluster1: the large SET/GET, the pings, the
//   traced calls, query and a call by handle, the reload marking db down.
//   Prints "STEP <name> ok|FAIL <detail>" per step and "DONE".

import process from "node:process";
import { Nodes } from "../../src/nodes/nodes.ts";
import { type LuaValues, luaValues } from "../../src/codec/skynet.ts";
import { WeftError } from "../../src/errors.ts";

const [role, portDb, portDb2] = process.argv.slice(2);
const quiet = { error() {}, warn() {} };

if (role === "cluster1") {
  const store = new Map<unknown, unknown>();
  const db = new Nodes({
    name: "db",
    config: { db: `127.0.0.1:${portDb}`, db2: `127.0.0.1:${portDb2}` },
    logger: quiet,
  });
  // examples/simpledb.lua's commands.
  db.register("sdb", {
    GET: (key) => store.get(key),
    SET: (body) => {
      const [key, value] = body as LuaValues;
      const last = store.get(key);
      store.set(key, value);
      return last;
    },
    PING: (text, context) => {
      if (!context.oneWay) throw new Error("PING is a send");
      let str = String(text);
      if (str.length > 20) str = `${str.slice(0, 20)}...(${str.length})`;
      console.log(`PING ${str}`);
    },
  });
  // cluster1.lua: SET a, SET b (locally), then open "db" and "db2".
  store.set("a", "foobar");
  store.set("b", "foobar2");
  await db.open("db", { protocol: "skynet" });
  await db.open("db2", { protocol: "skynet" });
  console.log("READY");
  // Serves until the script stops it by its pid.
} else if (role === "cluster2") {
  const web = new Nodes({
    config: {
      db: `127.0.0.1:${portDb}`,
      db2: `127.0.0.1:${portDb2}`,
      __nowaiting: true,
    },
    skynet: () => true,
    logger: quiet,
  });
  const step = async (name: string, fn: () => Promise<unknown>) => {
    try {
      const detail = await fn();
      console.log(`STEP ${name} ok${detail === undefined ? "" : ` ${String(detail)}`}`);
    } catch (error) {
      console.log(`STEP ${name} FAIL ${String(error).replaceAll("\n", " ")}`);
    }
  };
  const check = (got: unknown, want: unknown) => {
    if (got !== want) {
      throw new Error(`got ${String(got).slice(0, 40)}, want ${String(want).slice(0, 40)}`);
    }
    return got;
  };
  const largekey = "X".repeat(128 * 1024);
  const largevalue = "R".repeat(100 * 1024);
  await step(
    "proxy SET large (multipart request)",
    () => web.call("db", "@sdb", "SET", luaValues(largekey, largevalue)),
  );
  await step("proxy GET large (multipart both ways)", async () => {
    check(await web.call("db", "@sdb", "GET", largekey), largevalue);
  });
  await step("send PING proxy", () => web.send("db", "@sdb", "PING", "proxy"));
  await step(
    "call db @sdb GET a",
    async () => check(await web.call("db", "@sdb", "GET", "a"), "foobar"),
  );
  await step(
    "call db2 @sdb GET b (traced)",
    async () => check(await web.call("db2", "@sdb", "GET", "b", { traceId: 0x1234n }), "foobar2"),
  );
  await step(
    "send db2 PING longstring (multipart push)",
    () => web.send("db2", "@sdb", "PING", `db2:longstring${largevalue}`),
  );
  await step("query db sdb, call by handle", async () => {
    const info = await web.query("db", "sdb");
    if (typeof info?.address !== "number") throw new Error(`no handle: ${JSON.stringify(info)}`);
    return check(await web.call("db", info.address, "GET", "a"), "foobar");
  });
  await step("query unknown name", async () => check(await web.query("db", "nosuch"), undefined));
  await step("unknown service is Invalid name", async () => {
    const error = await web.call("db", "@nosuch", "GET", "a").then(() => undefined, (e) => e);
    if (!(error instanceof WeftError) || error.code !== "unknown service") throw error;
    return error.message;
  });
  await step("handler error (Unknown command)", async () => {
    const error = await web.call("db", "@sdb", "NOPE").then(() => undefined, (e) => e);
    if (!(error instanceof WeftError) || error.code !== "remote") {
      throw error ?? new Error("resolved");
    }
    return `mayHaveRun=${error.mayHaveRun}`;
  });
  await step("reload db = false, db3; call db is node down", async () => {
    await web.reload({ db: false, db3: `127.0.0.1:${portDb2}` });
    const error = await web.call("db", "@sdb", "GET", "a").then(() => undefined, (e) => e);
    if (!(error instanceof WeftError) || error.code !== "node down") throw error;
    return `mayHaveRun=${error.mayHaveRun}`;
  });
  console.log("STEP cluster.snax db3 pingserver unsupported (weft has no snax)");
  await web.close();
  console.log("DONE");
} else {
  console.error("usage: _interop_node.ts cluster1|cluster2 PORT_DB PORT_DB2");
  process.exit(2);
}
