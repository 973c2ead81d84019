/**
 * The `weft` command as a user runs it: src/cli/weft.ts as a process under
 * Deno, Bun and Node. An echo node (`weft serve`) on each runtime is called
 * (`weft call`) from each runtime; bad arguments exit 2 naming the argument;
 * failures exit 1 with the error's code; `weft bench` reports and shows
 * progress; `weft serve` leaves by itself on SIGTERM.
 */

import assert from "node:assert/strict";
import { runScript, type RuntimeName, spawnScript } from "../_runtimes.ts";

const WEFT = new URL("../../src/cli/weft.ts", import.meta.url).pathname;
const RUNTIMES: RuntimeName[] = ["deno", "bun", "node"];

function weft(args: string[], runtime: RuntimeName = "deno") {
  return runScript(runtime, WEFT, args, 30_000);
}

/** Starts `weft serve` on a free port; its address and the child. */
async function serve(runtime: RuntimeName, args: string[] = []) {
  const child = await spawnScript(runtime, WEFT, ["serve", "--listen", "127.0.0.1:0", ...args]);
  try {
    const match = await child.waitFor(/^listening (127\.0\.0\.1:\d+)$/m, 20_000);
    return { child, address: match[1]! };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

Deno.test("weft: --help for the command and every subcommand", async () => {
  const top = await weft(["--help"]);
  assert.equal(top.code, 0, top.stderr);
  for (
    const name of [
      "call",
      "ls",
      "describe",
      "stats",
      "top",
      "dashboard",
      "bench",
      "serve",
      "node",
      "router",
      "registry",
      "context",
    ]
  ) {
    assert.match(top.stdout, new RegExp(`^  ${name} `, "m"));
    const sub = await weft([name, "--help"]);
    assert.equal(sub.code, 0, sub.stderr);
    assert.match(sub.stdout, new RegExp(`^weft ${name} `));
  }
  const none = await weft([]);
  assert.equal(none.code, 2);
});

Deno.test("weft: bad arguments exit 2 with a message naming the argument", async () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /unknown command frobnicate/],
    [["call"], /missing <host:port>/],
    [["call", "127.0.0.1"], /<host:port> must look like/],
    [["call", "127.0.0.1:1"], /missing <target>/],
    [["call", "127.0.0.1:1", "1", "{not json"], /\[body\] is not JSON/],
    [["call", "127.0.0.1:1", "1", "--codec", "xml"], /--codec must be one of json, msgpack, raw/],
    [["call", "127.0.0.1:1", "1", "--protocol=grpc"], /--protocol must be one of weft, silly/],
    [["call", "127.0.0.1:1", "1", "--framing", "v3"], /--framing must be one of v2, v1/],
    [["call", "127.0.0.1:1", "1", "--timeout", "-5"], /--timeout must be an integer/],
    [["call", "127.0.0.1:1", "1", "--timeout"], /--timeout needs a value/],
    [["call", "127.0.0.1:1", "1", "--bogus"], /unknown option --bogus/],
    [["serve", "--listen", "nowhere"], /--listen must look like/],
    [["bench", "127.0.0.1:1", "--depth", "0"], /--depth must be an integer from 1/],
    [["stats", "127.0.0.1:1", "extra"], /unexpected argument extra/],
    [
      ["stats", "127.0.0.1:1", "--format", "xml"],
      /--format must be one of table, json, prometheus/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const result = await weft(args);
    assert.equal(result.code, 2, `${args.join(" ")}: exit ${result.code}\n${result.stderr}`);
    assert.match(result.stderr, pattern, args.join(" "));
  }
});

Deno.test("weft serve + weft call: each runtime's echo node from each runtime", async () => {
  for (const server of RUNTIMES) {
    const { child, address } = await serve(server, ["--quiet"]);
    try {
      for (const client of RUNTIMES) {
        const body = JSON.stringify({ from: client, to: server, n: [1, 2] });
        const result = await weft(["call", address, "7", body], client);
        assert.equal(result.code, 0, `${client} -> ${server}: ${result.stderr}`);
        assert.deepEqual(JSON.parse(result.stdout), JSON.parse(body));
      }
      const packed = await weft(["call", address, "0x10", '{"b":true}', "--codec", "msgpack"]);
      // The server decodes msgpack bytes as JSON and fails: its coded error, exit 1.
      assert.equal(packed.code, 1);
      assert.match(packed.stderr, /^weft call: unmarshal failed: /m);
    } finally {
      await child.stop();
    }
  }
});

Deno.test("weft call: codecs, silly mode, failures with codes", async () => {
  const mp = await serve("deno", ["--codec", "msgpack", "--quiet"]);
  const silly = await serve("node", ["--protocol", "silly", "--framing", "v1", "--quiet"]);
  try {
    const ok = await weft(["call", mp.address, "1", '{"x":[1,"a"]}', "--codec=msgpack"], "bun");
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { x: [1, "a"] });

    const echoed = await weft(
      ["call", silly.address, "2", '"hi"', "--protocol", "silly", "--framing", "v1"],
    );
    assert.equal(echoed.code, 0, echoed.stderr);
    assert.equal(echoed.stdout.trim(), '"hi"');
    // silly mode: no body, no answer: the call times out.
    const late = await weft(
      ["call", silly.address, "2", "--protocol", "silly", "--framing", "v1", "--timeout", "300"],
    );
    assert.equal(late.code, 1);
    assert.match(late.stderr, /^weft call: timeout: /m);
    // A weft-mode caller against a silly-mode node: both ends fail at once.
    const mismatch = await weft(["call", silly.address, "2", '"hi"', "--framing", "v1"]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /^weft call: (protocol|closed)/m);
  } finally {
    await mp.child.stop();
    await silly.child.stop();
  }
  const refused = await weft(["call", "127.0.0.1:1", "1"], "node");
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^weft call: connect failed \(connection refused\)/m);
});

Deno.test("weft bench: figures and a progress line; weft serve exits on SIGTERM", async () => {
  const { child, address } = await serve("bun", ["--quiet"]);
  try {
    const result = await weft(
      ["bench", address, "--duration", "600", "--progress", "150", "--depth", "8"],
      "node",
    );
    assert.equal(result.code, 0, result.stderr);
    const rate = Number(/^calls\/s\s+(\d+)$/m.exec(result.stdout)?.[1]);
    assert.ok(rate > 0, result.stdout);
    assert.match(result.stdout, /^latency ms p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+/m);
    assert.match(result.stdout, /^errors\s+0$/m);
    assert.match(result.stderr, /^bench 127\.0\.0\.1:\d+: [\d.]+ s, \d+ calls, \d+ calls\/s/m);
    child.signal("SIGTERM");
    assert.equal(await child.exited(10_000), 0, "serve exits 0 after SIGTERM");
  } finally {
    await child.stop();
  }
  const down = await weft(["bench", "127.0.0.1:1", "--duration", "100"]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /connect failed/);
});

Deno.test("weft stats: a node's table, JSON and Prometheus text; refused without --stats", async () => {
  const open = await serve("node", ["--stats", "--quiet"]);
  const shut = await serve("deno", ["--quiet"]);
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal((await weft(["call", open.address, "42", `${i}`])).code, 0);
    }
    const table = await weft(["stats", open.address], "bun");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^node 127\.0\.0\.1:\d+: up [\d.]+ s, connections \d+ open/m);
    assert.match(table.stdout, /^dir +cmd +count +ok +failed +in flight +mean ms +p50 ms +p99 ms/m);
    assert.match(table.stdout, /^in +42 +3 +3 +0 +0 /m);
    const asJson = await weft(["stats", open.address, "--format", "json"]);
    assert.equal(asJson.code, 0, asJson.stderr);
    const snapshot = JSON.parse(asJson.stdout);
    assert.equal(snapshot.in.find((c: { cmd: number }) => c.cmd === 42).count, 3);
    const prom = await weft(["stats", open.address, "--format=prometheus"], "node");
    assert.equal(prom.code, 0, prom.stderr);
    assert.match(prom.stdout, /^weft_requests_total\{direction="in",cmd="42",outcome="ok"\} 3$/m);

    const refused = await weft(["stats", shut.address]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^weft stats: forbidden: stats not allowed/m);
  } finally {
    await open.child.stop();
    await shut.child.stop();
  }
});

Deno.test("weft router: services call each other through it; bad options exit 2", async () => {
  const { Service } = await import("../../src/router/service.ts");
  const { serviceId } = await import("../../src/router/service_id.ts");
  const { target } = await import("../../src/router/route.ts");
  const { json } = await import("../../src/codec/json.ts");
  for (const runtime of ["node", "bun"] as RuntimeName[]) {
    const child = await spawnScript(runtime, WEFT, ["router", "--listen", "127.0.0.1:0"]);
    try {
      const address = (await child.waitFor(/^listening (127\.0\.0\.1:\d+)$/m, 20_000))[1]!;
      const echo = new Service({
        id: serviceId(1, 1),
        routers: [address],
        ...json(),
        call: (_source, _cmd, body) => ({ echoed: body, by: runtime }),
      });
      const caller = new Service({ id: serviceId(2, 1), routers: [address], ...json() });
      try {
        await echo.start();
        await caller.start();
        assert.deepEqual(await caller.call(target(serviceId(1, 1)), 5, "hi"), {
          echoed: "hi",
          by: runtime,
        });
      } finally {
        await caller.close();
        await echo.close();
      }
      child.signal("SIGTERM");
      assert.equal(await child.exited(10_000), 0, "router exits 0 after SIGTERM");
    } finally {
      await child.stop();
    }
  }
  const bad = await weft(["router", "--master", "1=2"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--master must be GROUP=ID@FENCE, got 1=2/);
});

Deno.test("weft node: a named node from a Lua or JSON config on each runtime, called by name; bad options exit 2", async () => {
  const { Nodes } = await import("../../src/nodes/nodes.ts");
  const dir = await Deno.makeTempDir({ prefix: "weft-node-" });
  try {
    const lua = `${dir}/cluster.lua`;
    await Deno.writeTextFile(lua, '-- skynet form\nalpha = "127.0.0.1:0"\nbeta = false\n');
    const jsonConfig = `${dir}/cluster.json`;
    await Deno.writeTextFile(jsonConfig, JSON.stringify({ alpha: "127.0.0.1:0" }));
    const runs: [RuntimeName, string, string[]][] = [
      ["deno", lua, []],
      ["bun", jsonConfig, ["--service", "mirror"]],
      ["node", lua, []],
    ];
    for (const [runtime, config, extra] of runs) {
      const child = await spawnScript(runtime, WEFT, [
        "node",
        "--config",
        config,
        "--name",
        "alpha",
        ...extra,
      ]);
      try {
        const address = (await child.waitFor(/^listening (127\.0\.0\.1:\d+)$/m, 20_000))[1]!;
        const service = extra.length === 0 ? "echo" : "mirror";
        await using web = new Nodes({ name: "web", config: { alpha: address }, timeout: 10_000 });
        assert.deepEqual(await web.call("alpha", service, "echo", { n: [1, 2] }), { n: [1, 2] });
        assert.deepEqual(await web.call("alpha", service, "whoami", null), {
          node: "alpha",
          caller: "web",
        });
        await assert.rejects(web.call("alpha", "nothing", "echo", null), (
          e: Error & {
            code?: string;
            remote?: { code?: string };
          },
        ) => (e.code === "unknown service" || e.remote?.code === "unknown service"));
        child.signal("SIGTERM");
        assert.equal(await child.exited(10_000), 0, `${runtime}: node exits 0 after SIGTERM`);
      } finally {
        await child.stop();
      }
    }
    const cases: [string[], RegExp][] = [
      [["node", "--name", "alpha"], /missing --config FILE/],
      [["node", "--config", lua], /missing --name NAME/],
      [["node", "--config", `${dir}/absent.lua`, "--name", "alpha"], /Cannot load config/],
      [["node", "--config", lua, "--name", "beta"], /--name beta: .*marks it down/],
      [["node", "--config", lua, "--name", "gamma"], /--name gamma: .*not in the config/],
      [["node", "--config", lua, "--name", "alpha", "--listen", "x"], /--listen must look like/],
    ];
    for (const [args, pattern] of cases) {
      const result = await weft(args);
      assert.equal(result.code, 2, `${args.join(" ")}: exit ${result.code}\n${result.stderr}`);
      assert.match(result.stderr, pattern, args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
