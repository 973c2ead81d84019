// skynet's cluster protocol against a real skynet, both directions, with
// the sans-I/O ends of src/session/skynet_link.ts over plain Deno sockets
// (the skynet protocol mode will wrap the same ends in the connection).
// Needs a skynet build: SKYNET=/path/to/skynet (see tests/skynet/capture.ts);
// without it these tests are ignored (CI cannot build skynet; the captured
// fixtures cover the bytes there).

import assert from "node:assert/strict";
import { isWeftError, RemoteError } from "../../src/errors.ts";
import {
  luaValues,
  packBody,
  packValues,
  unpackValues,
  valuesToBody,
} from "../../src/codec/skynet.ts";
import { SkynetAgent, type SkynetAnswer, SkynetSender } from "../../src/session/skynet_link.ts";
import { freePort, SkynetProcess, writeConfig } from "./capture.ts";
import { pumpSocket, socketWriter } from "./_sockets.ts";

const root = Deno.env.get("SKYNET")?.replace(/\/$/, "");
const ignore = root === undefined || root === "";

Deno.test({
  name: "live: weft calls a real skynet node as its clustersender does",
  ignore,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "weft-skynet-live-" });
    const port = freePort();
    Deno.writeTextFileSync(`${dir}/db.lua`, `db = "127.0.0.1:${port}"\n`);
    const db = new SkynetProcess(
      root!,
      writeConfig(dir, root!, "db", "capture_db", `${dir}/db.lua`),
    );
    let conn: Deno.Conn | undefined;
    try {
      await db.waitFor("CAPTURE READY", 20_000);
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const sender = new SkynetSender({ write: socketWriter(conn) });
      const reading = pumpSocket(conn, (chunk) => sender.receive(chunk));
      const call = async (address: string | number, ...values: unknown[]) =>
        unpackValues(await sender.call(address, packValues(values)).response);

      assert.equal(sender.nextSession, 1);
      assert.deepEqual(await call("@sdb", "SET", "a", "foobar"), [null]);
      assert.deepEqual(await call("@sdb", "GET", "a"), ["foobar"]);
      const [handle] = await call(0, "sdb");
      assert.equal(typeof handle, "number");
      assert.deepEqual(await call(handle as number, "GET", "a"), ["foobar"]);
      sender.push("@sdb", packValues(["PING", "small"]));
      sender.push("@sdb", packValues(["PING", "p".repeat(40_000)])); // takes a session
      const big = "B".repeat(40 * 1024);
      assert.deepEqual(await call("@sdb", "SET", "big", big), [null]);
      assert.deepEqual(await call("@sdb", "GET", "big"), [big]); // a response in parts
      assert.equal(((await call("@sdb", "SIZED", 32769))[0] as string).length, 32769 - 3);
      assert.deepEqual(await call("@sdb", "MULTI"), [1, "two", null, true]);
      assert.deepEqual(await call("@sdb", "NOTHING"), []);
      const failed = await call("@sdb", "FAIL").catch((e) => e);
      assert.ok(failed instanceof RemoteError && failed.mayHaveRun, String(failed));
      const noName = await call("@nosuch", "GET", "a").catch((e) => e);
      assert.ok(isWeftError(noName, "unknown service") && !noName.mayHaveRun, String(noName));
      const noQuery = await call(0, "nosuch").catch((e) => e);
      assert.ok(isWeftError(noQuery, "unknown service"), String(noQuery));
      const traced = sender.call("@sdb", packValues(["GET", "a"]), "(weft-live)1");
      assert.deepEqual(unpackValues(await traced.response), ["foobar"]);
      // Sessions as skynet numbers them: 13 calls and one large push took 1..14.
      assert.equal(sender.nextSession, 15);
      conn.close();
      conn = undefined;
      await reading;
      sender.close(new (await import("../../src/errors.ts")).WeftError("closed", "test over"));
    } finally {
      conn?.close();
      await db.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "live: a real skynet node calls weft (its clusteragent's role), by @name and by handle",
  ignore,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "weft-skynet-live-" });
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    Deno.writeTextFileSync(`${dir}/web.lua`, `weft = "127.0.0.1:${port}"\n`);
    const CALC = 0x2a;
    const notes: string[] = [];
    let trace: string | undefined;
    const handlers: Record<string, (body: unknown, t?: string) => unknown> = {
      add: (body) => {
        const [a, b] = body as number[];
        return a! + b!;
      },
      echo: (body) => body,
      multi: () => luaValues(1, "two", true),
      fail: () => {
        throw new RangeError("weft handler says no");
      },
      note: (body) => void notes.push(body as string),
      notes: () => notes.map((n) => n.length).join(","),
      trace: (_body, t) => t ?? null,
    };
    const dispatch = (incoming: {
      address: string | number;
      message: Uint8Array;
      trace?: string;
    }): SkynetAnswer => {
      if (incoming.address === 0) {
        const [name] = unpackValues(incoming.message);
        return name === "calc"
          ? { ok: true, message: packValues([CALC]) }
          : { ok: false, text: "name not found" };
      }
      if (incoming.address !== "@calc" && incoming.address !== CALC) {
        return { ok: false, text: "Invalid name" };
      }
      const [cmd, ...args] = unpackValues(incoming.message);
      const handler = handlers[cmd as string];
      if (handler === undefined) return { ok: false, text: `Unknown command ${String(cmd)}` };
      if (incoming.trace !== undefined) trace = incoming.trace;
      return { ok: true, message: packBody(handler(valuesToBody(args), incoming.trace)) };
    };
    const serving: Promise<void>[] = [];
    const conns: Deno.Conn[] = [];
    const accepting = (async () => {
      try {
        for await (const conn of listener) {
          conns.push(conn);
          const agent = new SkynetAgent({ write: socketWriter(conn), dispatch });
          serving.push(pumpSocket(conn, (chunk) => agent.receive(chunk)));
        }
      } catch {
        // closed
      }
    })();
    const web = new SkynetProcess(
      root!,
      writeConfig(dir, root!, "web", "interop_client", `${dir}/web.lua`),
    );
    try {
      await web.waitFor("INTEROP DONE", 30_000);
    } finally {
      await web.stop();
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed
        }
      }
      await accepting;
      await Promise.all(serving);
      Deno.removeSync(dir, { recursive: true });
    }
    const results = new Map(
      web.lines.filter((l) => l.startsWith("RESULT\t")).map((l) => {
        const [, label, ...rest] = l.split("\t");
        return [label!, rest];
      }),
    );
    assert.deepEqual(results.get("add"), ["true", "3"]);
    assert.deepEqual(results.get("echo 100 KiB"), ["true", "true", String(100 * 1024)]);
    assert.deepEqual(results.get("several values"), ["true", "1", "two", "true"]);
    assert.equal(results.get("handler error")?.[0], "false");
    assert.ok(
      web.lines.some((l) => l.includes("weft handler says no")),
      "skynet logged our error text",
    );
    assert.equal(results.get("unknown service")?.[0], "false");
    assert.deepEqual(results.get("query"), ["true", String(CALC)]);
    assert.equal(results.get("query unknown")?.[0], "false");
    assert.deepEqual(results.get("by handle"), ["true", "42"]);
    assert.deepEqual(results.get("pushes arrived"), ["true", "6,50000"]);
    assert.equal(results.get("traced")?.[0], "true");
    // skynet's sender tags it "(its node name-our node name-session)...".
    assert.match(trace ?? "", /^\(.+-weft-\d+\)/);
  },
});
