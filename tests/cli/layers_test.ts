/**
 * The `weft` command at every layer, as processes on Deno, Bun and Node:
 * plain nodes (commands by number and name, bodies from the argument, a
 * file and stdin, ls/describe/stats), named nodes (--node with --config
 * and --registry), routers (calls by route, the router's groups and
 * per-group stats, a service through it), TLS with client certificates,
 * key authentication with an allow-list, saved contexts, taken ports,
 * unreachable and refusing targets, `weft top --once` and the dashboard's
 * HTTP side. Each server runs on one runtime and is reached from the
 * others.
 */

import assert from "node:assert/strict";
import { json } from "../../src/codec/json.ts";
import { Service, serviceId } from "../../src/router/mod.ts";
import { makeCerts } from "../security/_certs.ts";
import { expectExit, RUNTIMES, start, weft } from "./_weft.ts";
import { waitLimit } from "../_wait.ts";

const quiet = { error() {}, warn() {} };

Deno.test("weft --version on each runtime; help and exit 2 name the argument", async () => {
  const version = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)))
    .version;
  for (const runtime of RUNTIMES) {
    expectExit(
      await weft(["--version"], { runtime }),
      0,
      new RegExp(`^weft ${version.replaceAll(".", "\\.")}$`, "m"),
      `${runtime} --version`,
    );
  }
  const cases: [string[], RegExp][] = [
    [["ls", "127.0.0.1:1", "extra"], /unexpected argument extra/],
    [["ls", "127.0.0.1:1", "--format", "xml"], /--format must be one of text, json/],
    [["describe"], /missing <host:port>/],
    [["call", "--router", "127.0.0.1:1", "--route", "sideways:1", "1"], /--route must be/],
    [["call", "--router", "127.0.0.1:1", "--route", "master:300", "1"], /--route must be/],
    [["call", "--route", "master:1", "127.0.0.1:1", "1"], /--route needs --router/],
    [["call", "--router", "127.0.0.1:1", "--route", "master:1", "--id", "x", "1"], /--id must/],
    [["call", "127.0.0.1:1", "1", "@/nonexistent/body.json"], /\[body\] @\/nonexistent/],
    [["call", "127.0.0.1:1", "1", "--commands", "ping"], /--commands must be NAME=N/],
    [["call", "127.0.0.1:1", "1", "--tls-cert", "x.pem"], /--tls-cert and --tls-key go together/],
    [["call", "127.0.0.1:1", "1", "--tls-ca", "/nonexistent.pem"], /--tls-ca \/nonexistent/],
    [["call", "127.0.0.1:1", "1", "--auth-id", "ops"], /--auth-id needs --auth-keys/],
    [["call", "--node", "db", "sdb.get"], /--node db needs its <host:port>/],
    [["stats", "127.0.0.1:1", "--context", "nope"], /--context nope: no such context/],
    [["top"], /nothing to watch/],
    [["top", "--peer", "nowhere"], /--peer must be HOST:PORT/],
    [["dashboard", "--router", "127.0.0.1:1", "--listen", "x"], /--listen must look like/],
    [["dashboard", "--router", "127.0.0.1:1", "--interval", "5"], /--interval must be/],
    [["registry", "--listen", "nowhere"], /--listen must look like/],
    [["serve", "--tls-cert", "a", "--tls-key", "b", "--tls-require-client-cert"], /needs --tls-ca/],
    [["serve", "--tls"], /--tls-cert FILE and --tls-key FILE are needed/],
    [["router", "--groups", "1"], /--groups and --members need --registry/],
    [
      ["router", "--allow", "/nonexistent/allow.json"],
      /--allow \/nonexistent\/allow\.json: cannot read/,
    ],
    [["node", "--name", "a", "--registry", "127.0.0.1:1"], /needs --listen/],
    [["context", "jump"], /unknown action jump/],
    [["context", "show", "nothing"], /no context nothing/],
  ];
  const env = { WEFT_CONTEXTS: `${await Deno.makeTempDir()}/contexts.json` };
  for (const [args, pattern] of cases) {
    expectExit(await weft(args, { env }), 2, pattern, args.join(" "));
  }
});

Deno.test("weft serve + call/ls/describe/stats: names, @file and stdin bodies, each runtime from another", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/body.json`, '{"from":"file"}');
    for (const [i, server] of RUNTIMES.entries()) {
      const client = RUNTIMES[(i + 1) % 3]!;
      const { child, address } = await start(server, [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--stats",
        "--quiet",
        "--commands",
        "ping=1,add=7",
      ]);
      try {
        const what = `${client} -> ${server}`;
        expectExit(
          await weft(["call", address, "ping", '{"n":1}'], { runtime: client }),
          0,
          /"n": 1/,
          what,
        );
        expectExit(
          await weft(["call", address, "add", `@${dir}/body.json`], { runtime: client }),
          0,
          /"from": "file"/,
          `${what} @file`,
        );
        expectExit(
          await weft(["call", address, "0x7", "-"], { runtime: client, stdin: '{"from":"stdin"}' }),
          0,
          /"from": "stdin"/,
          `${what} stdin`,
        );
        expectExit(
          await weft(["call", address, "nope"], { runtime: client }),
          1,
          /^weft call: unknown command: .* has no command "nope" \(it has ping, add\)/m,
          `${what} unknown name`,
        );
        const ls = await weft(["ls", address], { runtime: client });
        expectExit(ls, 0, new RegExp(`^cluster ${address}: ${server}, weft `, "m"), `${what} ls`);
        assert.match(ls.stdout, /^ {2}commands ping \(1\), add \(7\)$/m);
        const described = await weft(["describe", address], { runtime: client });
        expectExit(described, 0, /"kind": "cluster"/, `${what} describe`);
        assert.equal(JSON.parse(described.stdout).runtime, server);
        const stats = await weft(["stats", address], { runtime: client });
        expectExit(stats, 0, /^in +1 +1 +1 +0 /m, `${what} stats`);
      } finally {
        await child.stop();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("weft node: named nodes by --config and by --registry; call --node, ls, stats", async () => {
  const dir = await Deno.makeTempDir();
  const registry = await start("deno", ["registry", "--listen", "127.0.0.1:0"]);
  const nodes: Awaited<ReturnType<typeof start>>[] = [];
  try {
    // alpha on Bun from a config; beta on Node, registered in the registry.
    const config = `${dir}/cluster.lua`;
    await Deno.writeTextFile(config, 'alpha = "127.0.0.1:0"\n');
    const alpha = await start("bun", [
      "node",
      "--config",
      config,
      "--name",
      "alpha",
      "--service",
      "sdb",
      "--stats",
    ]);
    nodes.push(alpha);
    await Deno.writeTextFile(config, `alpha = "${alpha.address}"\n`);
    const beta = await start("node", [
      "node",
      "--name",
      "beta",
      "--registry",
      registry.address,
      "--listen",
      "127.0.0.1:0",
    ]);
    nodes.push(beta);
    expectExit(
      await weft(["call", "--node", "alpha", "--config", config, "sdb.echo", '"hi"']),
      0,
      /^"hi"$/m,
      "call --node --config",
    );
    expectExit(
      await weft(["call", "--node", "beta", "--registry", registry.address, "echo.whoami"], {
        runtime: "bun",
      }),
      0,
      /"node": "beta"/,
      "call --node --registry",
    );
    expectExit(
      await weft(["call", alpha.address, "--node", "alpha", "nothing.echo"], { runtime: "node" }),
      1,
      /^weft call: unknown service: /m,
      "unknown service",
    );
    expectExit(
      await weft(["call", "--node", "alpha", "--config", config, "echo"]),
      2,
      /<target> of --node alpha must be SERVICE.COMMAND/,
      "not service.command",
    );
    const ls = await weft(["ls", "--node", "beta", "--registry", registry.address]);
    expectExit(ls, 0, /^node node beta \(127\.0\.0\.1:\d+\): node, weft /m, "ls --node");
    assert.match(ls.stdout, /^ {4}echo {2}echo, whoami$/m);
    const stats = await weft(["stats", alpha.address], { runtime: "node" });
    expectExit(stats, 0, /^node 127\.0\.0\.1:\d+: up/m, "stats of a named node");
    expectExit(
      await weft(["stats", beta.address]),
      1,
      /^weft stats: forbidden: stats not allowed/m,
      "stats off by default",
    );
    const registryLs = await weft(["ls", registry.address]);
    expectExit(registryLs, 0, /^registry 127\.0\.0\.1:\d+: deno, /m, "ls of the registry");
    assert.match(registryLs.stdout, /keys [1-9]\d*, leases/);
  } finally {
    for (const n of nodes) await n.child.stop();
    await registry.child.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("weft router: calls by route, ls and stats of the router and of a service through it", async () => {
  for (const runtime of ["node", "bun"] as const) {
    const router = await start(runtime, ["router", "--listen", "127.0.0.1:0", "--stats"]);
    const codec = json({ commands: { hi: 1 } });
    const services = [1, 2].map((index) =>
      new Service({
        id: serviceId(1, index),
        routers: [router.address],
        ...codec,
        stats: { remote: true },
        logger: quiet,
        call: (source, _cmd, body) => ({ index, body, source }),
      })
    );
    try {
      for (const s of services) await s.start();
      await services[0]!.claimMaster(5);
      const client = runtime === "node" ? "deno" : "node";
      const at = ["--router", router.address];
      const call = (route: string, ...rest: string[]) =>
        weft(["call", ...at, "--route", route, ...rest], { runtime: client });
      expectExit(await call("target:1.2", "hi", '"x"'), 0, /"index": 2/, "target by name");
      expectExit(await call("master:1", "1", '"x"'), 0, /"index": 1/, "master");
      expectExit(await call("hash:1:alice", "hi"), 0, /"index": [12]/, "hash");
      expectExit(await call("random:1", "hi", "--id", "200.7"), 0, /"source": 13107207/, "own id");
      const all = await call("broadcast:1", "hi", '"b"');
      expectExit(all, 0, /"id": "1\.1"/, "broadcast");
      assert.equal(JSON.parse(all.stdout).length, 2);
      expectExit(await call("target:1.9", "1"), 1, /^weft call: unreachable: /m, "unreachable");
      const ls = await weft(["ls", ...at], { runtime: client });
      expectExit(
        ls,
        0,
        new RegExp(`^router ${router.address.replaceAll(".", "\\.")}: ${runtime}`, "m"),
        "ls router",
      );
      assert.match(ls.stdout, /^ {2}1 {6}1\.1 1\.2 +1\.1 \(5\)$/m);
      const lsService = await weft(["ls", ...at, "--route", "target:1.2"]);
      expectExit(lsService, 0, /^service target:1\.2 via .*: deno, weft /m, "ls service");
      assert.match(lsService.stdout, /commands hi \(1\)/);
      const stats = await weft(["stats", ...at], { runtime: client });
      expectExit(stats, 0, /^router: forwarded \d+, refused 1/m, "router stats");
      assert.match(stats.stdout, /^group +forwarded +failed +refused/m);
      assert.match(stats.stdout, /^1 +[5-9] +0 +1 +0 .* 1\.1 1\.2$/m, "group 1 and its members");
      const serviceStats = await weft([
        "stats",
        ...at,
        "--route",
        "target:1.1",
        "--format",
        "json",
      ]);
      expectExit(serviceStats, 0, /"in"/, "service stats through the router");
    } finally {
      for (const s of services) await s.close();
      await router.child.stop();
    }
  }
});

Deno.test("weft over TLS with client certificates, and with keys and an allow-list", async () => {
  const certs = await makeCerts();
  const c = certs.dir;
  const tlsServer = await start("bun", [
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--quiet",
    "--stats",
    "--tls-cert",
    `${c}/server.crt`,
    "--tls-key",
    `${c}/server.key`,
    "--tls-ca",
    `${c}/ca.crt`,
    "--tls-require-client-cert",
  ]);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/keys.json`,
    JSON.stringify({
      server: "the server's key, 32 bytes long!",
      ops: "the operator's key, 32 bytes lng",
    }),
  );
  // The operator's file: its own key, and the server's (each side proves its key to the other).
  await Deno.writeTextFile(
    `${dir}/ops.keys`,
    "ops=the operator's key, 32 bytes lng\nserver=the server's key, 32 bytes long!\n",
  );
  await Deno.writeTextFile(
    `${dir}/wrong.keys`,
    "ops=not the operator's key at all!!\nserver=the server's key, 32 bytes long!\n",
  );
  await Deno.writeTextFile(
    `${dir}/allow.json`,
    JSON.stringify({ ops: [1, "$info"], "*": [1] }),
  );
  const keyServer = await start("node", [
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--quiet",
    "--stats",
    "--auth-keys",
    `${dir}/keys.json`,
    "--auth-id",
    "server",
    "--allow",
    `${dir}/allow.json`,
  ]);
  try {
    const mtls = [
      "--tls-ca",
      `${c}/ca.crt`,
      "--tls-cert",
      `${c}/client.crt`,
      "--tls-key",
      `${c}/client.key`,
    ];
    for (const runtime of RUNTIMES) {
      expectExit(
        await weft(["call", tlsServer.address, "1", '"tls"', ...mtls], { runtime }),
        0,
        /^"tls"$/m,
        `${runtime} mutual TLS`,
      );
    }
    expectExit(
      await weft(["ls", tlsServer.address, ...mtls]),
      0,
      /^cluster .*: bun/m,
      "ls over TLS",
    );
    expectExit(await weft(["stats", tlsServer.address, ...mtls]), 0, /^in +1 /m, "stats over TLS");
    const noCert = await weft([
      "call",
      tlsServer.address,
      "1",
      "--tls-ca",
      `${c}/ca.crt`,
      "--timeout",
      "3000",
    ]);
    assert.equal(noCert.code, 1, noCert.stderr);
    assert.match(noCert.stderr, /^weft call: (closed|connect failed|tls)/m);
    expectExit(
      await weft(["call", tlsServer.address, "1", "--timeout", "3000"]),
      1,
      /^weft call: (closed|timeout|protocol|connect failed)/m,
      "plain TCP to a TLS node",
    );

    const keys = ["--auth-keys", `${dir}/ops.keys`, "--auth-id", "ops"];
    expectExit(
      await weft(["call", keyServer.address, "1", '"k"', ...keys], { runtime: "bun" }),
      0,
      /^"k"$/m,
      "keys",
    );
    expectExit(
      await weft(["stats", keyServer.address, ...keys]),
      0,
      /^in +1 /m,
      "$info allowed for ops",
    );
    expectExit(
      await weft(["call", keyServer.address, "2", ...keys]),
      1,
      /^weft call: forbidden: /m,
      "cmd 2 not allowed",
    );
    expectExit(
      await weft([
        "call",
        keyServer.address,
        "1",
        "--auth-keys",
        `${dir}/wrong.keys`,
        "--auth-id",
        "ops",
        "--timeout",
        "3000",
      ]),
      1,
      /^weft call: authentication failed/m,
      "wrong key",
    );
    expectExit(
      await weft(["ls", keyServer.address, "--timeout", "3000"], { runtime: "node" }),
      1,
      /^weft ls: authentication failed/m,
      "no key",
    );

    // A saved context holds the address and the key file: typed once.
    const env = { WEFT_CONTEXTS: `${dir}/contexts.json` };
    expectExit(
      await weft(["context", "save", "ops", "--address", keyServer.address, ...keys], { env }),
      0,
      /saved context ops/,
      "context save",
    );
    expectExit(await weft(["context", "use", "ops"], { env }), 0, /using ops/, "context use");
    expectExit(await weft(["context", "ls"], { env }), 0, /^\* ops +127\.0\.0\.1/m, "context ls");
    expectExit(
      await weft(["stats"], { env, runtime: "bun" }),
      0,
      /^in +1 /m,
      "stats from the context",
    );
    expectExit(
      await weft(["call", "1", '"ctx"'], { env, runtime: "node" }),
      0,
      /^"ctx"$/m,
      "call from the context",
    );
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/contexts.json`));
    assert.equal(saved.contexts.ops["auth-keys"], `${dir}/ops.keys`, "paths, not keys");
    assert.equal((await Deno.stat(`${dir}/contexts.json`)).mode! & 0o777, 0o600);
    expectExit(await weft(["context", "rm", "ops"], { env }), 0, /removed context ops/, "rm");
  } finally {
    await tlsServer.child.stop();
    await keyServer.child.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("weft: a taken port exits 1 with its code, no stack, for every server", async () => {
  const holder = await start("deno", ["serve", "--listen", "127.0.0.1:0", "--quiet"]);
  try {
    const taken = holder.address;
    const cases: [string[], string][] = [
      [["serve", "--listen", taken], "serve"],
      [["registry", "--listen", taken], "registry"],
      [["router", "--listen", taken], "router"],
      [["dashboard", "--listen", taken, "--peer", taken], "dashboard"],
    ];
    for (const [i, [args, name]] of cases.entries()) {
      const runtime = RUNTIMES[i % 3]!;
      expectExit(
        await weft(args, { runtime }),
        1,
        new RegExp(`^weft ${name}: address in use: `, "m"),
        `${runtime} ${name}`,
      );
    }
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/c.json`, JSON.stringify({ a: taken }));
    expectExit(
      await weft(["node", "--config", `${dir}/c.json`, "--name", "a"], { runtime: "bun" }),
      1,
      /^weft node: address in use: /m,
      "node",
    );
    await Deno.remove(dir, { recursive: true });
  } finally {
    await holder.child.stop();
  }
});

Deno.test("weft: unreachable targets exit 1 with connect failed; top --once and the dashboard's HTTP side", async () => {
  for (
    const [i, args] of [["call", "127.0.0.1:1", "1"], ["ls", "127.0.0.1:1"], [
      "stats",
      "127.0.0.1:1",
    ], ["call", "--router", "127.0.0.1:1", "--route", "master:1", "1"]].entries()
  ) {
    expectExit(
      await weft(args, { runtime: RUNTIMES[i % 3]! }),
      1,
      new RegExp(`^weft ${args[0]}: (connect failed|unreachable)`, "m"),
      args.join(" "),
    );
  }
  const router = await start("bun", ["router", "--listen", "127.0.0.1:0", "--stats"]);
  const peer = await start("node", ["serve", "--listen", "127.0.0.1:0", "--stats", "--quiet"]);
  const service = new Service({
    id: serviceId(3, 1),
    routers: [router.address],
    ...json(),
    stats: { remote: true },
    logger: quiet,
    call: () => "ok",
  });
  try {
    await service.start();
    for (const runtime of RUNTIMES) {
      const top = await weft([
        "top",
        "--router",
        router.address,
        "--peer",
        `${peer.address},127.0.0.1:1`,
        "--once",
        "--interval",
        "300",
      ], { runtime });
      expectExit(top, 0, /^router +127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ +bun /m, "top: the router");
      assert.match(top.stdout, /^peer +127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ +node .* up$/m);
      assert.match(top.stdout, /^peer +127\.0\.0\.1:1 .* down: connect failed$/m);
      assert.match(top.stdout, /^service +3\.1 +127\.0\.0\.1:\d+ +deno /m);
      assert.match(top.stdout, /^3 +3\.1 /m, "the group");
    }

    for (const runtime of RUNTIMES) {
      const dash = await start(runtime, [
        "dashboard",
        "--listen",
        "127.0.0.1:0",
        "--router",
        router.address,
        "--interval",
        "200",
      ], /^dashboard (http:\/\/127\.0\.0\.1:\d+\/)$/m);
      try {
        const page = await fetch(dash.address);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /<title>weft dashboard<\/title>/);
        for (const file of ["app.js", "app.css", "uplot.js", "uplot.css"]) {
          const res = await fetch(dash.address + file);
          assert.equal(res.status, 200, `${runtime} ${file}`);
          assert.ok((await res.text()).length > 100);
        }
        const missing = await fetch(dash.address + "nothing");
        assert.equal(missing.status, 404);
        await missing.body?.cancel();
        let view;
        const end = Date.now() + waitLimit(60_000);
        for (let i = 0; i < 1000 && Date.now() < end; i++) {
          view = await (await fetch(dash.address + "api/view")).json();
          if (view.nodes.some((n: { id: string; up: boolean }) => n.id === "svc:3.1" && n.up)) {
            break;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.ok(
          view.nodes.some((n: { id: string; runtime: string }) =>
            n.id === "svc:3.1" && n.runtime === "deno"
          ),
          `${runtime}: ${JSON.stringify(view.nodes)}`,
        );
      } finally {
        dash.child.signal("SIGTERM");
        assert.equal(await dash.child.exited(10_000), 0, `${runtime} dashboard exits 0 on SIGTERM`);
        await dash.child.stop();
      }
    }
  } finally {
    await service.close();
    await router.child.stop();
    await peer.child.stop();
  }
});

Deno.test("weft router, node and registry with keys, a policy, caps and protected mode", async () => {
  const dir = await Deno.makeTempDir();
  const keys = {
    router: "the router's own key, 32 bytes!!",
    svc: "the services' key, 32 bytes long!",
    ops: "the operator's key, 32 bytes lng",
  };
  await Deno.writeTextFile(`${dir}/router.json`, JSON.stringify(keys));
  await Deno.writeTextFile(`${dir}/ops.json`, JSON.stringify(keys));
  await Deno.writeTextFile(
    `${dir}/policy.json`,
    JSON.stringify({
      svc: { announce: [{ group: 1 }], master: [1] },
      ops: { announce: [{ group: 255 }] },
    }),
  );
  try {
    const router = await start("node", [
      "router",
      "--listen",
      "127.0.0.1:0",
      "--stats",
      "--auth-keys",
      `${dir}/router.json`,
      "--auth-id",
      "router",
      "--policy",
      `${dir}/policy.json`,
      "--max-connections",
      "50",
      "--max-connections-per-address",
      "40",
    ]);
    const service = new Service({
      id: serviceId(1, 1),
      routers: [router.address],
      ...json({ commands: { hi: 1 } }),
      auth: { keys, keyId: "svc" },
      stats: { remote: true },
      logger: quiet,
      call: () => "hello",
    });
    try {
      await service.start();
      const ops = [
        "--router",
        router.address,
        "--auth-keys",
        `${dir}/ops.json`,
        "--auth-id",
        "ops",
      ];
      expectExit(
        await weft(["call", ...ops, "--route", "target:1.1", "1", "{}"], { runtime: "bun" }),
        0,
        /^"hello"$/m,
        "a call through a keyed router",
      );
      expectExit(await weft(["stats", ...ops]), 0, /^router: forwarded/m, "the router's stats");
      expectExit(
        await weft(["call", ...ops, "--route", "target:1.1", "--id", "1.9", "1"]),
        1,
        /^weft call: forbidden: /m,
        "an id the policy does not give ops",
      );
      expectExit(
        await weft(["ls", "--router", router.address, "--timeout", "3000"], { runtime: "node" }),
        1,
        /^weft ls: authentication failed/m,
        "no key",
      );
    } finally {
      await service.close();
      await router.child.stop();
    }
    // Protected mode: beyond loopback without credentials, refused before listening.
    const cases: [string[], string][] = [
      [["router", "--listen", "0.0.0.0:0"], "router"],
      [["registry", "--listen", "0.0.0.0:0"], "registry"],
      [["node", "--name", "a", "--config", `${dir}/none.json`, "--listen", "0.0.0.0:0"], "node"],
    ];
    await Deno.writeTextFile(`${dir}/none.json`, JSON.stringify({ a: "127.0.0.1:1" }));
    for (const [i, [args, name]] of cases.entries()) {
      expectExit(
        await weft(args, { runtime: RUNTIMES[i]! }),
        1,
        new RegExp(`^weft ${name}: protected mode: `, "m"),
        `${name} protected mode`,
      );
    }
    for (
      const [args, pattern] of [
        [["router", "--max-connections", "0"], /--max-connections must be an integer from 1/],
        [["router", "--policy", `${dir}/absent.json`], /--policy .*absent\.json: cannot read it/],
        [["serve", "--no-protected-mode"], /an echo node has no protected mode/],
      ] as [string[], RegExp][]
    ) {
      expectExit(await weft(args), 2, pattern, args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
