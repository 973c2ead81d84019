// `deno task bench:compare` (bench/compare.ts) runs end to end, as briefly
// as it can, only to prove that it works: the working tree against itself
// (calls and the router), against a ref built in a temporary git worktree
// that is gone afterwards, and interrupted, which removes the worktree too.
// A benchmark is never a timed test: no figure is asserted, only that the
// report has its rows.

import assert from "node:assert/strict";
import { describeResult, runScript } from "./_runtimes.ts";

const COMPARE = new URL("../bench/compare.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
const BRIEF = [
  "--runtimes=deno",
  "--depths=1",
  "--payloads=32",
  "--pairs=1",
  "--warmup=20",
  "--duration=100",
];
/** A table row of the call cases: runtime, one core, 32 B, 1 in flight, two rates, a ratio. */
const CALL_ROW =
  /^\| deno \| one core \| 32 B \| 1 \| [\d.]+( [kM])? \| [\d.]+( [kM])? \| \*\*\d+\.\d\d\*\* \(\d+\.\d\d–\d+\.\d\d\) \|/m;

async function worktrees(): Promise<string> {
  const out = await new Deno.Command("git", { args: ["worktree", "list"], cwd: ROOT }).output();
  return new TextDecoder().decode(out.stdout);
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** Processes whose command line names `path` (children left running from that tree). */
async function processesUsing(path: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.includes(path)) found.push(`${entry.name}: ${cmdline.replaceAll("\0", " ")}`);
  }
  return found;
}

Deno.test("bench:compare --self runs the call cases, the router and a good client beside a flood, and prints ratios with their spread and a noise line", async () => {
  const result = await runScript("deno", COMPARE, [
    "--self",
    ...BRIEF,
    "--router-warmup=20",
    "--router-duration=100",
    "--fairness-duration=100",
    "--flood-depth=64",
  ], 180_000);
  const context = describeResult(result);
  assert.equal(result.code, 0, context);
  assert.match(result.stdout, /the working tree again/, context);
  assert.match(result.stdout, CALL_ROW, context);
  // CPU per call of both sides (server and client), and its ratio.
  assert.match(
    result.stdout,
    /^\| deno \| one core \| 32 B \| 1 \| .* \| \d+\.\d\d → \d+\.\d\d \| \*\*\d+\.\d\d\*\* /m,
    context,
  );
  for (const depth of [1, 256]) {
    assert.match(
      result.stdout,
      new RegExp(`^\\| deno \\| ${depth} \\| [\\d.]+( [kM])? \\| [\\d.]+( [kM])? \\| \\*\\*`, "m"),
      context,
    );
  }
  // A good client alone and beside a flood: each side's share, and their ratio.
  assert.match(
    result.stdout,
    /^\| deno \| [\d.]+( [kM])? \| [\d.]+( [kM])? \| \d+\.\d\d \| [\d.]+( [kM])? \| [\d.]+( [kM])? \| \d+\.\d\d \| \*\*/m,
    context,
  );
  assert.match(result.stdout, /^Noise: the same code's runs differed by /m, context);
});

Deno.test("bench:compare <ref>... builds each ref in a temporary worktree, runs the working tree's scripts against them in one run, and removes the worktrees", async () => {
  const result = await runScript("deno", COMPARE, [
    "HEAD",
    "HEAD~1",
    ...BRIEF,
    "--router=false",
    "--fairness=false",
  ], 180_000);
  const context = describeResult(result);
  assert.equal(result.code, 0, context);
  const trees = [...result.stderr.matchAll(/worktree at (\S+),/g)].map((m) => m[1]!);
  assert.equal(trees.length, 2, context);
  for (const tree of trees) {
    assert.ok(!tree.startsWith(ROOT), `the worktree ${tree} is inside the repository`);
  }
  assert.match(result.stderr, /with the working tree's [^\n]*bench\/rpc_client\.ts/, context);
  // One table per ref, each with the case's row.
  const sections = result.stdout.split(/^### new ÷ /m).slice(1);
  assert.equal(sections.length, 2, context);
  for (const section of sections) {
    assert.match(section, /^[0-9a-f]{7} /, context);
    assert.match(section, CALL_ROW, context);
  }
  for (const tree of trees) {
    assert.equal(await exists(tree), false, `${tree} is still there`);
    assert.ok(!(await worktrees()).includes(tree), `git still lists ${tree}`);
  }
});

Deno.test("bench:compare refuses a ref that is not a commit, naming it", async () => {
  const result = await runScript("deno", COMPARE, ["no-such-ref-xyz", ...BRIEF], 60_000);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /no-such-ref-xyz is not a commit of this repository/);
});

Deno.test("bench:compare interrupted (SIGINT) stops its children and removes the worktree", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      COMPARE,
      "HEAD",
      ...BRIEF,
      "--duration=60000",
      "--router=false",
      "--fairness=false",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reading = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) stderr += dec.decode(chunk, { stream: true });
  })();
  const stdout = child.stdout.text();
  const limit = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 120_000);
  try {
    // Wait (bounded) until the worktree exists and the first measured run began.
    let tree: string | undefined;
    for (let i = 0; i < 1000 && tree === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      tree = stderr.match(/worktree at (\S+),/)?.[1];
    }
    assert.ok(tree !== undefined, `no worktree line:\n${stderr}`);
    // The preflight runs take a few seconds; the 60 s run then starts.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    assert.ok(await exists(tree), `${tree} is not there while running`);
    child.kill("SIGINT");
    const status = await child.status;
    await reading;
    await stdout;
    assert.equal(status.code, 130, stderr);
    assert.deepEqual(await processesUsing(tree), [], "children of the worktree still run");
    assert.equal(await exists(tree), false, `${tree} is still there`);
    assert.ok(!(await worktrees()).includes(tree), `git still lists ${tree}`);
  } finally {
    clearTimeout(limit);
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await reading;
    await stdout;
  }
});
