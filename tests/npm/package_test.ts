/**
 * The npm package as a Node or Bun user gets it: `deno task build:npm`,
 * `npm pack`, the tarball installed into a fresh npm project in a temporary
 * folder, and the README's quick start (its `server.ts` and `client.ts`
 * blocks, verbatim but for the port) run there importing `@weft/cluster` by
 * name, on the oldest Node the package declares, on Node 24 and under Bun.
 * The quick start is also type-checked against the package's `.d.ts` with
 * the pinned `tsc`, whose output is what the oldest Node runs (it has no
 * type stripping).
 */

import assert from "node:assert/strict";
import { NODE_ENGINES, OUT_DIR } from "../../tools/npm/build.ts";
import {
  NODE_OLDEST,
  type RuntimeName,
  runtimePath,
  runtimePathAt,
  spawnScript,
} from "../_runtimes.ts";

const root = new URL("../../", import.meta.url).pathname;

async function sh(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}):\n${dec.decode(out.stdout)}\n${
        dec.decode(out.stderr)
      }`,
    );
  }
  return dec.decode(out.stdout);
}

/** The README's quick-start blocks, by the file name on their first line. */
function quickStart(): { server: string; client: string } {
  const readme = Deno.readTextFileSync(`${root}README.md`);
  const section = readme.split(/^## Quick start$/m)[1]?.split(/^## /m)[0] ?? "";
  const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const server = blocks.find((b) => b.startsWith("// server.ts"));
  const client = blocks.find((b) => b.startsWith("// client.ts"));
  assert.ok(server && client, "README's Quick start has a // server.ts and a // client.ts block");
  assert.match(server, /from "@weft\/cluster"/);
  assert.match(client, /from "@weft\/cluster"/);
  return { server, client };
}

Deno.test("npm package: pack, install, README quick start on Node oldest + 24 and Bun", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "weft_npm_" });
  try {
    await sh(Deno.execPath(), ["task", "build:npm"], root);
    const packed = await sh(
      "npm",
      ["pack", "--json", "--pack-destination", tmp],
      `${root}${OUT_DIR}`,
    );
    const info = JSON.parse(packed)[0] as { filename: string; files: { path: string }[] };
    const paths = info.files.map((f) => f.path);
    assert.ok(
      paths.includes("mod.js") && paths.includes("mod.d.ts"),
      "tarball has mod.js and .d.ts",
    );
    assert.ok(paths.includes("src/cli/weft.js"), "tarball has the weft bin");
    assert.ok(paths.includes("docs/PROTOCOL_EXTENSIONS.md"), "the doc the README links to");
    assert.ok(!paths.some((p) => p.endsWith(".ts") && !p.endsWith(".d.ts")), "no .ts sources");
    assert.ok(!paths.some((p) => p.includes("_test")), "no tests in the tarball");

    const app = `${tmp}/app`;
    await Deno.mkdir(app);
    await Deno.writeTextFile(
      `${app}/package.json`,
      JSON.stringify({ name: "quickstart", private: true, type: "module" }),
    );
    await sh("npm", [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      `${tmp}/${info.filename}`,
    ], app);
    const installed = JSON.parse(
      await Deno.readTextFile(`${app}/node_modules/@weft/cluster/package.json`),
    );
    assert.equal(installed.engines.node, NODE_ENGINES);
    assert.equal(
      installed.engines.node,
      `>=${NODE_OLDEST}`,
      "engines names the oldest Node tested",
    );
    const deno = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
    assert.equal(installed.version, deno.version);
    assert.deepEqual(
      Object.keys(installed.exports).sort(),
      Object.keys(deno.exports).sort(),
      "package exports mirror deno.json's",
    );
    await Deno.stat(`${app}/node_modules/@msgpack/msgpack/package.json`);

    const { server, client } = quickStart();
    await Deno.writeTextFile(`${app}/server.ts`, server.replace("127.0.0.1:8888", "127.0.0.1:0"));
    const clientAt = (port: string) => client.replace("127.0.0.1:8888", `127.0.0.1:${port}`);

    await t.step("the quick start type-checks against the package's .d.ts", async () => {
      await Deno.writeTextFile(`${app}/client.ts`, clientAt("8888"));
      await Deno.writeTextFile(
        `${app}/tsconfig.json`,
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            lib: ["ES2024", "ESNext.Disposable", "DOM"],
            module: "NodeNext",
            moduleResolution: "NodeNext",
            strict: true,
            types: [],
            outDir: "js",
          },
          files: ["server.ts", "client.ts"],
        }),
      );
      const dev = JSON.parse(await Deno.readTextFile(`${root}package.json`)).devDependencies;
      await sh(Deno.execPath(), [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        `npm:typescript@${dev.typescript}/tsc`,
        "-p",
        `${app}/tsconfig.json`,
      ], root);
    });

    const runs: { label: string; runtime: RuntimeName; bin: () => Promise<string>; ext: string }[] =
      [
        {
          label: `node ${NODE_OLDEST} (tsc's output)`,
          runtime: "node",
          bin: () => runtimePathAt("node", NODE_OLDEST, "the npm package test's oldest Node"),
          ext: "js",
        },
        { label: "node 24 (.ts)", runtime: "node", bin: () => runtimePath("node"), ext: "ts" },
        { label: "bun (.ts)", runtime: "bun", bin: () => runtimePath("bun"), ext: "ts" },
      ];
    for (const run of runs) {
      await t.step(`quick start on ${run.label}`, async () => {
        const bin = await run.bin();
        const dir = run.ext === "js" ? `${app}/js` : app;
        const srv = await spawnScript(run.runtime, `${dir}/server.${run.ext}`, [], bin);
        try {
          const port = (await srv.waitFor(/^listening 127\.0\.0\.1:(\d+)$/m, 20_000))[1]!;
          const file = `${dir}/client.${run.ext}`;
          let text = clientAt(port);
          if (run.ext === "js") {
            const js = await Deno.readTextFile(file);
            text = js.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`);
          }
          await Deno.writeTextFile(file, text);
          const cli = await spawnScript(run.runtime, file, [], bin);
          const code = await cli.exited(20_000);
          const err = await cli.stop();
          assert.equal(code, 0, `client exited ${code}:\n${cli.stdout()}\n${err}`);
          assert.match(cli.stdout(), /msg: ['"]pong to hi['"]/);
          assert.match(cli.stdout(), /sum: 3/);
          // The package's bin, installed, against the same node.
          const weft = await spawnScript(run.runtime, `${app}/node_modules/.bin/weft`, [
            "call",
            `127.0.0.1:${port}`,
            "3",
            '{"a":2,"b":5}',
          ], bin);
          const weftCode = await weft.exited(20_000);
          const weftErr = await weft.stop();
          assert.equal(weftCode, 0, `weft call exited ${weftCode}:\n${weft.stdout()}\n${weftErr}`);
          assert.deepEqual(JSON.parse(weft.stdout()), { sum: 7 });
          // The dashboard from the installed package: its page, uPlot, and the node in its view.
          const dash = await spawnScript(run.runtime, `${app}/node_modules/.bin/weft`, [
            "dashboard",
            "--peer",
            `127.0.0.1:${port}`,
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "200",
          ], bin);
          try {
            const url = (await dash.waitFor(/^dashboard (http:\S+)$/m, 20_000))[1]!;
            assert.match(await (await fetch(url)).text(), /<title>weft dashboard<\/title>/);
            assert.match(await (await fetch(`${url}uplot.js`)).text(), /uPlot/);
            let view: { nodes: { id: string; up: boolean }[] } = { nodes: [] };
            for (let i = 0; i < 50 && !view.nodes.some((n) => n.up); i++) {
              await new Promise((r) => setTimeout(r, 100));
              view = await (await fetch(`${url}api/view`)).json();
            }
            assert.ok(view.nodes.some((n) => n.id === `peer:127.0.0.1:${port}` && n.up));
          } finally {
            await dash.stop();
          }
        } finally {
          await srv.stop();
        }
      });
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
