/**
 * `deno task bench:compare <git ref>...`: the working tree against one or
 * more git refs, in one run, over the `bench:rpc` weft cases (same-runtime
 * client and server, one core), `bench:router`, and what a flood leaves a
 * good client; prints same-run ratios (new ÷ old: above 1, the working tree
 * is faster) with their spread, one table per ref.
 *
 * ```sh
 * deno task bench:compare main                    # everything (bounded: see below)
 * deno task bench:compare 6a03149 main --quick    # two refs, one run: 100 and 256 in flight, 32 B
 * deno task bench:compare --self --quick          # the working tree against itself: the noise
 * deno task bench:compare main --runtimes=node --depths=256 --payloads=1024 --pairs=5 --router=false
 * ```
 *
 * How a ref is built: `git worktree add --detach` of the ref into a
 * temporary directory outside the repository (removed at the end, on a
 * failure and on Ctrl-C or SIGTERM), then `deno install` there (its
 * `node_modules/`, which Bun and Node read, from its own deno.json). Every
 * side runs the SAME driver scripts: the working tree's bench scripts and
 * their helpers (every module they import outside `src/` and `mod.ts`,
 * found with `deno info`) are copied over the ref's, so an old side is the
 * working tree's benchmark run against the ref's library (`src/`), and a
 * change to a bench script cannot pass for a change in speed. A ref whose
 * `src/` lacks a module the call scripts import, or whose API they cannot
 * drive, fails before anything is measured, with the child's own error; a
 * ref without a router (6a03149) is compared on calls and fairness only.
 *
 * Each call case runs `--pairs` pairs: each pair starts a fresh server and
 * client for every side (the working tree and each ref; which first rotates
 * from pair to pair), warms them up, then gives them `--slices` turns each
 * (the order rotating and reversing from slice to slice: ABBA with two
 * sides), `--duration` ms of calls while the others idle, so that a swing
 * in the machine's load (a busy shared machine swings within a second)
 * meets every side. A pair's ratio is new ÷ old of its slices' calls; the
 * report gives the median ratio with the min and max over pairs, each
 * side's calls/s and CPU per call, and the same code's spread (how far one
 * side's own pairs differ: the noise). The router and fairness parts run a
 * whole benchmark per side and pair, the order alternating. `--self` adds
 * the working tree as a ref of its own: its ratios are noise, which shows
 * what a real difference must beat on this machine.
 *
 * Options (`--name=value`):
 *
 * - `--runtimes=deno,bun,node`; `--depths=1,100,256`; `--payloads=32,1024`;
 * - `--placements=one` (`one`: client and server on cpu 0 with taskset;
 *   `split`: the server on cpu 1);
 * - `--pairs=3`: pairs per case (fresh processes each);
 * - `--slices=8`: turns per side per pair; `--duration=250`: ms per slice;
 *   `--warmup=500`: ms of warm-up per process;
 * - `--codec=raw` (or `pass`, see rpc_server.ts);
 * - `--router=true`: also compare `bench:router` (router_loopback.ts at 1
 *   and 256 in flight), with `--router-runtimes` (default: `--runtimes`),
 *   `--router-pairs` (default `--pairs`), `--router-warmup=300` and
 *   `--router-duration=1500` per way and depth;
 * - `--fairness=true`: also compare what a flood leaves a good client: its
 *   calls/s (one in flight, `--fairness-duration=1000` ms) alone and beside
 *   a flood of valid echoes from another process on the other cpu
 *   (bench/_flood.ts, `--flood-depth=1024` in flight), the share being
 *   beside ÷ alone; `--fairness-runtimes`, `--fairness-pairs` as above;
 * - `--quick`: depths 100,256, payload 32, 2 pairs of 6 slices of 200 ms,
 *   no router, no fairness (about 2 minutes per ref on all three runtimes);
 * - `--limit=3600`: seconds after which no new pair starts (the report says
 *   which cases did not run);
 * - `--self`: the working tree as a ref too (alone: no worktree at all);
 * - `--out=FILE`: also write the report there.
 *
 * Bounds, with one ref: 18 call cases × 3 pairs of about 8 s (four starts,
 * two warm-ups, 16 slices), plus 3 router runtimes × 3 pairs × 2 runs of
 * about 25 s, plus 3 fairness runtimes × 3 pairs × 2 runs of about 6 s:
 * about 17 minutes on a quiet machine (each more ref adds about half that),
 * never more than `--limit` plus one pair. Every child runs under a time
 * limit and is killed by its own handle.
 *
 * @module
 */

import { type RuntimeName, runtimePath } from "../tests/_runtimes.ts";
import { type LoadResult, median } from "./_common.ts";
import {
  argv,
  Child,
  client,
  hasTaskset,
  run,
  server,
  START_LIMIT,
  stopAll,
  weftRun,
  WeftSlices,
} from "./_children.ts";

const ROOT = new URL("../", import.meta.url).pathname;

// ---- options ---------------------------------------------------------------

const flags = new Map<string, string>();
const positional: string[] = [];
for (const arg of Deno.args) {
  const match = arg.match(/^--([^=]+)(?:=(.*))?$/);
  if (match) flags.set(match[1]!, match[2] ?? "true");
  else positional.push(arg);
}
const known = new Set([
  "runtimes",
  "depths",
  "payloads",
  "placements",
  "pairs",
  "slices",
  "warmup",
  "duration",
  "codec",
  "router",
  "router-runtimes",
  "router-pairs",
  "router-warmup",
  "router-duration",
  "fairness",
  "fairness-runtimes",
  "fairness-pairs",
  "fairness-duration",
  "flood-depth",
  "quick",
  "limit",
  "self",
  "out",
  "help",
]);
for (const name of flags.keys()) {
  if (!known.has(name)) usage(`Unknown option --${name}`);
}
if (flags.has("help")) usage();
const self = flags.get("self") === "true";
const refs = positional;
if (refs.length === 0 && !self) usage("Give one or more git refs, or --self");

function usage(problem?: string): never {
  const text = "usage: deno task bench:compare <git ref>... [--quick] [--runtimes=deno,bun,node] " +
    "[--depths=1,100,256] [--payloads=32,1024] [--placements=one] [--pairs=3] [--slices=8] " +
    "[--warmup=500] [--duration=250] [--router=true] [--fairness=true] [--limit=3600] " +
    "[--out=FILE]\n" +
    "       deno task bench:compare --self [options]   (the working tree against itself: noise)\n" +
    "See bench/compare.ts for every option; a default run with one ref takes about 17 minutes, " +
    "--quick about 2.";
  if (problem === undefined) {
    console.log(text);
    Deno.exit(0);
  }
  console.error(`${problem}\n${text}`);
  Deno.exit(2);
}

const quick = flags.get("quick") === "true";
const list = (name: string, fallback: string) =>
  (flags.get(name) ?? fallback).split(",").map((s) => s.trim()).filter((s) => s !== "");
const num = (name: string, fallback: number, min = 0) => {
  const value = Number(flags.get(name) ?? fallback);
  if (!Number.isFinite(value) || value < min) usage(`Invalid --${name}`);
  return value;
};
const runtimeList = (name: string, fallback: string) => {
  const names = list(name, fallback);
  for (const r of names) if (!["deno", "bun", "node"].includes(r)) usage(`Unknown runtime ${r}`);
  return names as RuntimeName[];
};
const ints = (name: string, fallback: string) => {
  const values = list(name, fallback).map(Number);
  if (values.some((v) => !Number.isInteger(v) || v < 1)) usage(`Invalid --${name}`);
  return values;
};

const runtimes = runtimeList("runtimes", "deno,bun,node");
const depths = ints("depths", quick ? "100,256" : "1,100,256");
const payloads = ints("payloads", quick ? "32" : "32,1024");
const placements = list("placements", "one") as ("one" | "split")[];
for (const p of placements) if (p !== "one" && p !== "split") usage(`Unknown placement ${p}`);
const pairs = Math.round(num("pairs", quick ? 2 : 3, 1));
const slices = Math.round(num("slices", quick ? 6 : 8, 1));
const warmup = num("warmup", quick ? 300 : 500);
const duration = num("duration", quick ? 200 : 250, 1);
const codec = flags.get("codec") ?? "raw";
if (codec !== "raw" && codec !== "pass") usage(`Unknown codec ${codec}`);
const withRouter = (flags.get("router") ?? (quick ? "false" : "true")) !== "false";
const routerRuntimes = runtimeList("router-runtimes", runtimes.join(","));
const routerPairs = Math.round(num("router-pairs", pairs, 1));
const routerWarmup = num("router-warmup", 300);
const routerDuration = num("router-duration", 1500, 1);
const withFairness = (flags.get("fairness") ?? (quick ? "false" : "true")) !== "false";
const fairRuntimes = runtimeList("fairness-runtimes", runtimes.join(","));
const fairPairs = Math.round(num("fairness-pairs", pairs, 1));
const fairDuration = num("fairness-duration", 1000, 1);
const floodDepth = Math.round(num("flood-depth", 1024, 1));
const limitMs = num("limit", 3600) * 1000;
const outFile = flags.get("out");
const started = performance.now();

// ---- the trees -------------------------------------------------------------

/** A tree a side runs from. */
interface Tree {
  /** Its root, ending in `/`. */
  root: string;
  /** What the report calls it. */
  label: string;
  /** Why its router is not compared (it has none), if so. */
  noRouter?: string;
}

async function git(args: string[], cwd = ROOT): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")} failed: ${dec.decode(out.stderr).trim()}`);
  }
  return dec.decode(out.stdout).trim();
}

/** Runs `cmd` in `cwd`, killed after `ms`; whether it succeeded, and what it printed. */
async function bounded(
  cmd: string[],
  cwd: string,
  ms: number,
): Promise<{ ok: boolean; out: string }> {
  const child = new Child(cmd, { cwd });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const status = await Promise.race([
    child.process.status,
    new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms)),
  ]);
  clearTimeout(timer);
  await child.stop();
  return { ok: status?.success ?? false, out: `${child.stdout}${child.stderr}`.trim() };
}

/** The bench scripts a comparison runs (the entry points of the driver code), per benchmark. */
const ENTRIES = {
  calls: ["bench/rpc_server.ts", "bench/rpc_client.ts", "bench/_flood.ts"],
  router: [
    "bench/router_loopback.ts",
    "bench/router_target.ts",
    "bench/router_caller.ts",
    "bench/router_relay.ts",
  ],
};

/** The library: what a ref contributes. Everything else the scripts import is the working tree's. */
const isLibrary = (path: string) => path.startsWith("src/") || path === "mod.ts";

interface ModuleInfo {
  specifier: string;
  dependencies?: { code?: { specifier: string } }[];
}

/**
 * Copies the working tree's driver code (the entries and every module they
 * import outside the library) over a ref's tree; returns what it copied,
 * and the library modules the drivers of `group` import that the ref lacks.
 */
async function overlay(
  tree: string,
  group: keyof typeof ENTRIES,
): Promise<{ copied: string[]; missing: string[] }> {
  const modules = new Map<string, ModuleInfo>();
  for (const entry of ENTRIES[group]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", ROOT + entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`deno info ${entry} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: ModuleInfo[] };
    for (const module of graph.modules) modules.set(module.specifier, module);
  }
  const prefix = new URL(ROOT, "file://").href;
  const local = (specifier: string) =>
    specifier.startsWith(prefix) ? decodeURIComponent(specifier.slice(prefix.length)) : null;
  const copied: string[] = [];
  const missing = new Set<string>();
  for (const module of modules.values()) {
    const path = local(module.specifier);
    if (path === null || isLibrary(path)) continue;
    const target = tree + path;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(ROOT + path, target);
    copied.push(path);
    for (const dep of module.dependencies ?? []) {
      const used = dep.code === undefined ? null : local(dep.code.specifier);
      if (used === null || !isLibrary(used)) continue;
      const found = await Deno.stat(tree + used).then(() => true, () => false);
      if (!found) missing.add(used);
    }
  }
  // router_loopback.ts starts the ref's router.
  const main = "src/router/main.ts";
  if (group === "router" && !await Deno.stat(tree + main).then(() => true, () => false)) {
    missing.add(main);
  }
  return { copied, missing: [...missing] };
}

/** Worktrees made (to remove), and their temporary directories. */
const made: { worktree?: string; dir: string }[] = [];
let cleaned: Promise<void> | undefined;

/** Removes every ref's worktree and temporary directory (once, whatever happened). */
function cleanup(): Promise<void> {
  return cleaned ??= (async () => {
    for (const { worktree, dir } of made) {
      if (worktree !== undefined) {
        await git(["worktree", "remove", "--force", worktree]).catch((error) =>
          console.error(
            `${error.message}\n(remove it by hand: git worktree remove --force ${worktree})`,
          )
        );
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  })();
}

let interrupted = false;
/**
 * Ctrl-C or SIGTERM: stop the children (the run in progress fails, nothing
 * new starts), report what ran, remove the worktrees. A second signal, or
 * ten seconds without getting there, removes the worktrees and exits at once.
 */
const onSignal = () => {
  const now = () => cleanup().finally(() => Deno.exit(130));
  if (interrupted) return void now();
  interrupted = true;
  console.error("interrupted: stopping the children, then removing the worktrees");
  stopAll();
  setTimeout(now, 10_000);
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

/** An old side: the ref's tree with the working tree's scripts, built and installed. */
async function prepare(ref: string): Promise<Tree> {
  let sha: string;
  try {
    sha = await git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  } catch {
    throw new Error(`${ref} is not a commit of this repository`);
  }
  const subject = await git(["log", "-1", "--format=%h %s", sha]);
  const dir = await Deno.makeTempDir({ prefix: "weft-compare-" });
  const entry: { worktree?: string; dir: string } = { dir };
  made.push(entry);
  const path = `${dir}/tree`;
  await git(["worktree", "add", "--detach", path, sha]);
  entry.worktree = path;
  const calls = await overlay(`${path}/`, "calls");
  if (calls.missing.length > 0) {
    throw new Error(
      `The working tree's bench scripts cannot run against ${ref}: its tree lacks\n  ${
        calls.missing.join("\n  ")
      }\n(the ref predates them; compare it by hand with its own bench:rpc)`,
    );
  }
  const tree: Tree = {
    root: `${path}/`,
    label: subject.length > 72 ? `${subject.slice(0, 71)}…` : subject,
  };
  const copied = new Set(calls.copied);
  if (withRouter) {
    const router = await overlay(`${path}/`, "router");
    for (const file of router.copied) copied.add(file);
    if (router.missing.length > 0) {
      tree.noRouter = `The router was not compared with ${sha.slice(0, 7)}: it lacks ${
        router.missing.join(", ")
      }.`;
      console.error(tree.noRouter);
    }
  }
  console.error(
    `ref ${subject}: worktree at ${path}, with the working tree's ${[...copied].join(", ")}`,
  );
  // node_modules (Bun and Node find the npm dependencies there), from the ref's own deno.json.
  const installed = await bounded([Deno.execPath(), "install"], path, 120_000);
  if (!installed.ok) {
    console.error(`deno install in ${ref}'s tree failed (continuing):\n${installed.out}`);
  }
  return tree;
}

// ---- runs ------------------------------------------------------------------

/** One call case. */
interface Case {
  runtime: RuntimeName;
  placement: "one" | "split";
  payload: number;
  depth: number;
}

/** One run: calls/s, and CPU µs per call of server and client together (NaN if unknown). */
interface Run {
  rate: number;
  cpu: number;
}

const FAILED: Run = { rate: NaN, cpu: NaN };

/** A case's results: each side's runs, pair by pair (NaN where a pair failed). */
interface CaseResult {
  c: Case;
  runs: Run[][];
  /** Why pairs failed, if any did. */
  errors: string[];
}

function weftCase(c: Case, warm: number, ms: number) {
  return {
    client: c.runtime,
    server: c.runtime,
    placement: c.placement,
    payload: c.payload,
    depth: c.depth,
    warmup: warm,
    duration: ms,
    codec,
  };
}

/** The order of `n` sides for round `k`: rotated by k, reversed every other round. */
function order(n: number, k: number): number[] {
  const rotated = Array.from({ length: n }, (_, i) => (i + k) % n);
  return k % 2 === 0 ? rotated : rotated.reverse();
}

/**
 * One pair of a call case: every side started and warmed up, then
 * `slices` slices each, in rotating order; each side's calls/s and CPU per
 * call over its slices.
 */
async function callPair(sides: Tree[], c: Case, k: number): Promise<Run[]> {
  const running: (WeftSlices | undefined)[] = sides.map(() => undefined);
  const sum = sides.map(() => ({ calls: 0, seconds: 0, cpu: 0 }));
  try {
    // A side started early waits (warm) while the others warm up: the
    // order rotates from pair to pair, as the slices do.
    for (const i of order(sides.length, k)) {
      running[i] = await WeftSlices.start(sides[i]!.root, weftCase(c, warmup, duration));
    }
    for (let j = 0; j < slices; j++) {
      for (const i of order(sides.length, j)) {
        if (interrupted) throw new Error("interrupted");
        const r = await running[i]!.slice(duration);
        sum[i]!.calls += r.calls;
        sum[i]!.seconds += r.seconds;
        sum[i]!.cpu += ((r.serverCpuUs ?? NaN) + (r.clientCpuUs ?? NaN)) * r.calls;
      }
    }
  } finally {
    for (const r of running) await r?.stop();
  }
  return sum.map((x) => ({ rate: x.calls / x.seconds, cpu: x.cpu / x.calls }));
}

interface RouterRow {
  way: string;
  depth: number;
  callsPerSec: number;
  meanMs: number;
}

async function routerRun(tree: Tree, runtime: RuntimeName): Promise<RouterRow[]> {
  const child = new Child([
    Deno.execPath(),
    "run",
    "-A",
    `${tree.root}bench/router_loopback.ts`,
    `--runtime=${runtime}`,
    `--warmup=${routerWarmup}`,
    `--duration=${routerDuration}`,
    "--json=true",
    // The plain router only: the trusted routers have their own benchmark
    // (router_trust_cpu.ts) and would triple the time.
    "--trust=",
  ]);
  try {
    // router_loopback: 2 depths × 6 runs of (warm-up + duration), and four starts.
    const limit = 12 * (routerWarmup + routerDuration) + 4 * START_LIMIT;
    const match = await child.line(/^ROUTER (.+)$/m, limit);
    if (match === null) {
      throw new Error(
        `router_loopback.ts on ${runtime} gave no result:\n${child.stdout}\n${
          child.stderr.slice(-4000)
        }`,
      );
    }
    return JSON.parse(match[1]!) as RouterRow[];
  } finally {
    await child.stop(3000);
  }
}

/** What a flood left a good client: its calls/s alone, and beside the flood. */
interface Share {
  alone: number;
  beside: number;
}

/**
 * A good client (one call in flight) against the tree's rpc_server.ts,
 * alone, then beside bench/_flood.ts (valid echoes, `floodDepth` in flight,
 * on cpu 1); server and good client on cpu 0.
 */
async function fairnessRun(tree: Tree, runtime: RuntimeName): Promise<Share> {
  const srv = await server(runtime, `${tree.root}bench/rpc_server.ts`, [
    "127.0.0.1:0",
    "--codec=raw",
  ], 0);
  try {
    const good = async () =>
      (await client<LoadResult>(
        runtime,
        `${tree.root}bench/rpc_client.ts`,
        [srv.address, "--payload=32", "--depth=1", "--warmup=300", `--duration=${fairDuration}`],
        0,
        "RESULT",
        300 + fairDuration + START_LIMIT,
      )).callsPerSec;
    const alone = await good();
    const flood = new Child(
      await argv(runtime, `${tree.root}bench/_flood.ts`, [
        srv.address,
        `--duration=${300 + fairDuration + START_LIMIT}`,
        `--depth=${floodDepth}`,
        "--good",
        "--lean",
      ], 1),
    );
    try {
      if (await flood.next("flooding", START_LIMIT) === null) {
        throw new Error(`${runtime} _flood.ts did not start:\n${flood.stderr.slice(-2000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      return { alone, beside: await good() };
    } finally {
      await flood.stop();
    }
  } finally {
    await srv.child.stop();
  }
}

const overTime = () => interrupted || performance.now() - started > limitMs;

/**
 * Runs `n` rounds of `once` over the sides (skipping `skip`), the order
 * rotating from round to round; each side's results in round order.
 */
async function alternate<T>(
  n: number,
  sides: Tree[],
  once: (tree: Tree) => Promise<T>,
  failed: (error: unknown) => T,
  skip: (tree: Tree) => boolean = () => false,
): Promise<{ results: T[][]; stopped: boolean }> {
  const results: T[][] = sides.map(() => []);
  for (let k = 0; k < n; k++) {
    for (const i of order(sides.length, k)) {
      if (skip(sides[i]!)) continue;
      if (overTime()) return { results, stopped: true };
      results[i]!.push(await once(sides[i]!).catch(failed));
    }
  }
  return { results, stopped: false };
}

// ---- statistics ------------------------------------------------------------

/** Per-pair ratios new ÷ old (pairs where both ran). */
function ratios(old: number[], neu: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(old.length, neu.length); i++) {
    const r = neu[i]! / old[i]!;
    if (Number.isFinite(r) && r > 0) out.push(r);
  }
  return out;
}

/** How far one side's own runs differ: max ÷ min - 1. */
function spreadOf(xs: number[]): number {
  const ok = xs.filter((x) => Number.isFinite(x) && x > 0);
  return ok.length < 2 ? NaN : Math.max(...ok) / Math.min(...ok) - 1;
}

function fmtRate(x: number): string {
  if (!Number.isFinite(x)) return "failed";
  return x >= 1e6
    ? `${(x / 1e6).toFixed(2)} M`
    : x >= 1e3
    ? `${(x / 1e3).toFixed(1)} k`
    : x.toFixed(0);
}

function fmtCpu(us: number): string {
  return Number.isFinite(us) ? us.toFixed(2) : "–";
}

function fmtRatio(rs: number[]): string {
  if (rs.length === 0) return "–";
  return `**${median(rs).toFixed(2)}** (${Math.min(...rs).toFixed(2)}–${
    Math.max(...rs).toFixed(2)
  })`;
}

/** Every pair agrees on the direction, or not. */
function verdict(rs: number[]): string {
  if (rs.length === 0) return "–";
  if (Math.min(...rs) > 1) return "faster";
  if (Math.max(...rs) < 1) return "slower";
  return "within spread";
}

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : "–");
const size = (n: number) => (n >= 1024 ? `${n / 1024} KiB` : `${n} B`);
const elapsed = () => `[${((performance.now() - started) / 1000).toFixed(0)} s]`;

// ---- main ------------------------------------------------------------------

const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(", ");
const loadBefore = load();
const head = await git(["log", "-1", "--format=%h %s"]);
const dirty = (await git(["status", "--porcelain", "--", "src", "mod.ts", "bench"])) !== "";
const newTree: Tree = {
  root: ROOT,
  label: `working tree (${head.split(" ")[0]}${dirty ? "+changes" : ""})`,
};
const callCases: Case[] = [];
for (const placement of placements) {
  for (const runtime of runtimes) {
    for (const payload of payloads) {
      for (const depth of depths) callCases.push({ runtime, placement, payload, depth });
    }
  }
}
const olds = refs.length + (self ? 1 : 0);
const estimate = (1 + olds) / 2 *
  (callCases.length * pairs * (2 * (warmup + 1500) + 2 * slices * duration) +
    (withFairness ? fairRuntimes.length * fairPairs * 2 * (2 * fairDuration + 6000) : 0) +
    (withRouter
      ? routerRuntimes.length * routerPairs * 2 * (12 * (routerWarmup + routerDuration) + 4000)
      : 0));
console.error(
  `bench:compare: ${callCases.length} call cases × ${pairs} pairs, ${olds} ref(s)${
    withRouter ? `, router on ${routerRuntimes.join(",")}` : ""
  }${withFairness ? `, fairness on ${fairRuntimes.join(",")}` : ""}: about ${
    Math.ceil(estimate / 60_000)
  } min (limit ${limitMs / 1000} s); load ${loadBefore}`,
);

const report: string[] = [];
let code = 0;
try {
  const sides: Tree[] = [newTree];
  for (const ref of refs) sides.push(await prepare(ref));
  if (self) {
    sides.push({ root: ROOT, label: "the working tree again (--self: its ratios are noise)" });
  }

  // Preflight: one short run per runtime and side, so that a ref the
  // scripts cannot drive fails now, with its error, not after minutes.
  const everyRuntime = new Set([
    ...runtimes,
    ...(withRouter ? routerRuntimes : []),
    ...(withFairness ? fairRuntimes : []),
  ]);
  for (const runtime of everyRuntime) {
    for (const side of new Set(sides)) {
      try {
        await weftRun(
          side.root,
          weftCase({ runtime, placement: "one", payload: 32, depth: 1 }, 0, 100),
        );
      } catch (error) {
        throw new Error(
          `${side.label} does not run on ${runtime}: ${
            error instanceof Error ? error.message : error
          }`,
        );
      }
    }
  }

  const results: CaseResult[] = [];
  let stopped = false;
  for (const c of callCases) {
    if (overTime()) {
      stopped = true;
      break;
    }
    const result: CaseResult = { c, runs: sides.map(() => []), errors: [] };
    for (let k = 0; k < pairs; k++) {
      if (overTime()) {
        stopped = true;
        break;
      }
      let got: Run[];
      try {
        got = await callPair(sides, c, k);
      } catch (error) {
        result.errors.push(error instanceof Error ? error.message.split("\n")[0]! : String(error));
        got = sides.map(() => FAILED);
      }
      got.forEach((r, i) => result.runs[i]!.push(r));
    }
    results.push(result);
    const rates = result.runs.map((runs) => fmtRate(median(runs.map((r) => r.rate))));
    console.error(
      `${elapsed()} ${c.runtime} ${c.placement} ${size(c.payload)} ${c.depth}: calls/s ${
        rates.join(" | ")
      }${result.errors.length > 0 ? ` (${result.errors.length} failed: ${result.errors[0]})` : ""}`,
    );
  }

  const routerResults: { runtime: RuntimeName; rows: RouterRow[][][] }[] = [];
  if (withRouter && sides.some((s, i) => i > 0 && s.noRouter === undefined)) {
    for (const runtime of routerRuntimes) {
      if (overTime()) {
        stopped = true;
        break;
      }
      const got = await alternate(
        routerPairs,
        sides,
        (tree) => routerRun(tree, runtime),
        (error) => {
          console.error(
            `router ${runtime} failed: ${error instanceof Error ? error.message : error}`,
          );
          return [] as RouterRow[];
        },
        (tree) => tree.noRouter !== undefined,
      );
      stopped ||= got.stopped;
      routerResults.push({ runtime, rows: got.results });
      console.error(`${elapsed()} router ${runtime} done`);
    }
  }

  const fairResults: { runtime: RuntimeName; shares: Share[][] }[] = [];
  if (withFairness) {
    for (const runtime of fairRuntimes) {
      if (overTime()) {
        stopped = true;
        break;
      }
      const got = await alternate(
        fairPairs,
        sides,
        (tree) => fairnessRun(tree, runtime),
        (error) => {
          console.error(
            `fairness ${runtime} failed: ${error instanceof Error ? error.message : error}`,
          );
          return { alone: NaN, beside: NaN };
        },
      );
      stopped ||= got.stopped;
      fairResults.push({ runtime, shares: got.results });
      console.error(
        `${elapsed()} fairness ${runtime}: share ${
          got.results.map((xs) => median(xs.map((x) => x.beside / x.alone)).toFixed(2)).join(" | ")
        }`,
      );
    }
  }

  // ---- report --------------------------------------------------------------
  const taskset = await hasTaskset();
  const versions = await Promise.all(
    [...everyRuntime].map(async (rt) => {
      const out = await run([await runtimePath(rt), "--version"]);
      return `${rt} ${out.out.split("\n")[0]!.replace(/^deno /, "").trim()}`;
    }),
  );
  const cpuModel = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown";
  report.push(
    `bench:compare — new: ${newTree.label}; old: ${sides.slice(1).map((s) => s.label).join("; ")}.`,
    `Machine: ${navigator.hardwareConcurrency} CPUs (${cpuModel}); ${versions.join(", ")}. ` +
      `Load average ${loadBefore} before, ${load()} after.`,
    `Every side runs the working tree's bench scripts against its own src/. ${
      taskset
        ? "Pinned with taskset (one core: client and server on cpu 0)."
        : "**No taskset: unpinned.**"
    } Per case ${pairs} pairs; per pair every side started fresh, ${warmup} ms warm-up each, ` +
      `then ${slices} slices of ${duration} ms each, in rotating order; one connection, codec ${codec}.`,
    "",
    "Ratio = new ÷ old calls/s of each pair (over its slices): median (min–max over pairs). " +
      "Noise = the same code's spread, max ÷ min - 1 of one side's own pairs (the larger side's). " +
      "CPU = µs of CPU per call, server and client together, over the measured slices (medians); " +
      "calls per CPU s new ÷ old is old ÷ new CPU per call of each pair (above 1: the new code " +
      "costs less), steadier than calls/s on a busy machine.",
  );
  const noises: number[] = [];
  for (let o = 1; o < sides.length; o++) {
    const old = sides[o]!;
    report.push(
      "",
      `### new ÷ ${old.label}`,
      "",
      "| runtime | placement | payload | in flight | old calls/s | new calls/s | ratio new ÷ old | noise | verdict | CPU µs/call old → new | calls per CPU s new ÷ old |",
      "| --- | --- | --: | --: | --: | --: | --: | --: | --- | --: | --: |",
    );
    for (const r of results) {
      const rate = (i: number) => r.runs[i]!.map((x) => x.rate);
      const cpu = (i: number) => r.runs[i]!.map((x) => x.cpu);
      const rs = ratios(rate(o), rate(0));
      const noise = Math.max(spreadOf(rate(o)), spreadOf(rate(0)));
      if (Number.isFinite(noise)) noises.push(noise);
      report.push(
        `| ${r.c.runtime} | ${r.c.placement === "one" ? "one core" : "split"} | ${
          size(r.c.payload)
        } | ${r.c.depth} | ${fmtRate(median(rate(o)))} | ${fmtRate(median(rate(0)))} | ${
          fmtRatio(rs)
        } | ${pct(noise)} | ${verdict(rs)}${
          r.errors.length > 0 ? ` (${r.errors.length} pairs failed: ${r.errors[0]})` : ""
        } | ${fmtCpu(median(cpu(o)))} → ${fmtCpu(median(cpu(0)))} | ${
          fmtRatio(ratios(cpu(0), cpu(o)))
        } |`,
      );
    }
    if (old.noRouter !== undefined) report.push("", old.noRouter);
    else if (routerResults.length > 0) {
      report.push(
        "",
        `Router (bench/router_loopback.ts: router, target, relay and caller processes, unpinned; ` +
          `${routerWarmup} + ${routerDuration} ms per way, the better of two; 32 B echo): calls/s ` +
          "through the router, and the router's share of the byte relay's throughput in the same run.",
        "",
        "| runtime | in flight | old router calls/s | new router calls/s | ratio new ÷ old | noise | old ÷ relay | new ÷ relay | verdict |",
        "| --- | --: | --: | --: | --: | --: | --: | --: | --- |",
      );
      for (const r of routerResults) {
        for (const depth of [1, 256]) {
          const pick = (i: number, way: string) =>
            r.rows[i]!.map((rows) =>
              rows.find((x) => x.way === way && x.depth === depth)?.callsPerSec ?? NaN
            );
          const share = (i: number) => {
            const relay = pick(i, "relay");
            return median(pick(i, "router").map((x, j) => x / relay[j]!));
          };
          const rs = ratios(pick(o, "router"), pick(0, "router"));
          const noise = Math.max(spreadOf(pick(o, "router")), spreadOf(pick(0, "router")));
          if (Number.isFinite(noise)) noises.push(noise);
          report.push(
            `| ${r.runtime} | ${depth} | ${fmtRate(median(pick(o, "router")))} | ${
              fmtRate(median(pick(0, "router")))
            } | ${fmtRatio(rs)} | ${pct(noise)} | ${share(o).toFixed(2)} | ${
              share(0).toFixed(2)
            } | ${verdict(rs)} |`,
          );
        }
      }
    }
    if (fairResults.length > 0) {
      report.push(
        "",
        `Fairness: a good client's calls/s (one call in flight, ${fairDuration} ms), alone and ` +
          `beside a flood of valid 32 B echoes (bench/_flood.ts, ${floodDepth} in flight, another ` +
          "process on cpu 1; server and good client on cpu 0); share = beside ÷ alone (medians " +
          "over pairs).",
        "",
        "| runtime | old alone | old beside | old share | new alone | new beside | new share | share new ÷ old |",
        "| --- | --: | --: | --: | --: | --: | --: | --: |",
      );
      for (const r of fairResults) {
        const of = (i: number, key: keyof Share) => median(r.shares[i]!.map((x) => x[key]));
        const share = (i: number) => r.shares[i]!.map((x) => x.beside / x.alone);
        report.push(
          `| ${r.runtime} | ${fmtRate(of(o, "alone"))} | ${fmtRate(of(o, "beside"))} | ${
            median(share(o)).toFixed(2)
          } | ${fmtRate(of(0, "alone"))} | ${fmtRate(of(0, "beside"))} | ${
            median(share(0)).toFixed(2)
          } | ${fmtRatio(ratios(share(o), share(0)))} |`,
        );
      }
    }
  }
  report.push(
    "",
    `Noise: the same code's runs differed by ${pct(median(noises))} (median over cases), up to ${
      pct(noises.length === 0 ? NaN : Math.max(...noises))
    }. A ratio whose min–max range holds 1 is within noise ("within spread"); ` +
      "`--self` shows the ratios this machine gives two identical trees.",
  );
  if (stopped) {
    report.push(
      "",
      `**Stopped early** (${
        interrupted ? "interrupted" : `limit ${limitMs / 1000} s`
      }): later cases did not run.`,
    );
  }
  const text = report.join("\n") + "\n";
  console.log(text);
  if (outFile !== undefined) await Deno.writeTextFile(outFile, text);
} catch (error) {
  console.error(`bench:compare: ${error instanceof Error ? error.message : error}`);
  code = 1;
} finally {
  await stopAll();
  await cleanup();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
}
Deno.exit(interrupted ? 130 : code);
