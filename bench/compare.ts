/**
 * `deno task bench:compare <git ref>`: the working tree against a git ref,
 * in one run, pair by pair, over the `bench:rpc` weft cases (same-runtime
 * client and server, one core) and `bench:router`; prints same-run ratios
 * (new ÷ old: above 1, the working tree is faster) with their spread.
 *
 * ```sh
 * deno task bench:compare main                    # everything (bounded: see below)
 * deno task bench:compare 6a03149 --quick         # 100 and 256 in flight, 32 B: ~2 min
 * deno task bench:compare --self --quick          # the working tree against itself: the noise
 * deno task bench:compare main --runtimes=node --depths=256 --payloads=1024 --pairs=5 --router=false
 * ```
 *
 * How the ref is built: `git worktree add --detach` of the ref into a
 * temporary directory outside the repository (removed at the end, on a
 * failure and on Ctrl-C or SIGTERM), then `deno install` there (its
 * `node_modules/`, which Bun and Node read, from its own deno.json). Both
 * sides run the SAME driver scripts: the working tree's bench scripts and
 * their helpers (every module they import outside `src/` and `mod.ts`,
 * found with `deno info`) are copied over the ref's, so the old side is the
 * working tree's benchmark run against the ref's library (`src/`), and a
 * change to a bench script cannot pass for a change in speed. A ref whose
 * `src/` lacks a module the scripts import, or whose API they cannot drive,
 * fails before anything is measured, with the child's own error.
 *
 * Each call case runs `--pairs` pairs: each pair starts a fresh server and
 * client for both sides (old and new; which first alternates from pair to
 * pair), warms both up, then alternates them
 * `--slices` times, ABBA (old, new, new, old, ...), each slice `--duration`
 * ms of calls while the other side idles, so that a swing in the machine's
 * load (a busy shared machine swings within a second) hits both sides
 * alike. A pair's ratio is new ÷ old of its slices' calls; the report
 * gives the median ratio with the min and max over pairs, each side's
 * calls/s and CPU per call, and the same code's spread (how far one side's
 * own pairs differ: the noise). The router is compared the same way, a
 * whole `router_loopback.ts` run per side and pair. `--self` runs the
 * working tree against itself: every ratio is then noise, which shows what
 * a real difference must beat on this machine.
 *
 * Options (`--name=value`):
 *
 * - `--runtimes=deno,bun,node`; `--depths=1,100,256`; `--payloads=32,1024`;
 * - `--placements=one` (`one`: client and server on cpu 0 with taskset;
 *   `split`: the server on cpu 1);
 * - `--pairs=3`: A/B pairs per case (fresh processes each);
 * - `--slices=8`: alternations per pair; `--duration=250`: ms per slice;
 *   `--warmup=500`: ms of warm-up per process;
 * - `--codec=raw` (or `pass`, see rpc_server.ts);
 * - `--router=true`: also compare `bench:router` (router_loopback.ts at 1
 *   and 256 in flight), with `--router-runtimes` (default: `--runtimes`),
 *   `--router-pairs` (default `--pairs`), `--router-warmup=300` and
 *   `--router-duration=1500` per way and depth;
 * - `--quick`: depths 100,256, payload 32, 2 pairs of 6 slices of 200 ms,
 *   no router (about 2 minutes on all three runtimes);
 * - `--limit=2400`: seconds after which no new run starts (the report says
 *   which cases did not run);
 * - `--self`: the working tree against itself (no ref; no worktree);
 * - `--out=FILE`: also write the report there.
 *
 * Bounds: a default run is 18 call cases × 3 pairs of about 8 s (four
 * starts, two warm-ups, 16 slices), plus 3 router runtimes × 3 pairs × 2
 * runs of about 25 s: about 15 minutes on a quiet machine, never more than
 * `--limit` plus one pair.
 * Every child runs under a time limit and is killed by its own handle.
 *
 * @module
 */

import { type RuntimeName, runtimePath } from "../tests/_runtimes.ts";
import type { LoadResult } from "./_common.ts";
import { Child, hasTaskset, run, START_LIMIT, stopAll, weftRun, WeftSlices } from "./_children.ts";

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
const ref = positional[0];
if (positional.length > 1) usage(`One ref only, got ${positional.join(" ")}`);
if (self === (ref !== undefined)) usage("Give a git ref, or --self (not both)");

function usage(problem?: string): never {
  const text = "usage: deno task bench:compare <git ref> [--quick] [--runtimes=deno,bun,node] " +
    "[--depths=1,100,256] [--payloads=32,1024] [--placements=one] [--pairs=3] [--slices=8] " +
    "[--warmup=500] [--duration=250] [--router=true] [--limit=2400] [--out=FILE]\n" +
    "       deno task bench:compare --self [options]   (the working tree against itself: noise)\n" +
    "See bench/compare.ts for every option; a default run takes about 15 minutes, --quick about 2.";
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
const limitMs = num("limit", 2400) * 1000;
const outFile = flags.get("out");
const started = performance.now();

// ---- the two trees ---------------------------------------------------------

/** A tree a side runs from: its root (ending in `/`) and what to call it. */
interface Tree {
  root: string;
  label: string;
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
  calls: ["bench/rpc_server.ts", "bench/rpc_client.ts"],
  router: [
    "bench/router_loopback.ts",
    "bench/router_target.ts",
    "bench/router_caller.ts",
    "bench/router_relay.ts",
  ],
};

/** The library: what the ref contributes. Everything else the scripts import is the working tree's. */
const isLibrary = (path: string) => path.startsWith("src/") || path === "mod.ts";

interface ModuleInfo {
  specifier: string;
  dependencies?: { code?: { specifier: string } }[];
}

/**
 * Copies the working tree's driver code (the entries and every module they
 * import outside the library) over the ref's tree; returns what it copied,
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
  const missing: string[] = [];
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
      if (!found) missing.push(`${used} (imported by ${path})`);
    }
  }
  // router_loopback.ts starts the ref's router.
  const main = "src/router/main.ts";
  if (group === "router" && !await Deno.stat(tree + main).then(() => true, () => false)) {
    missing.push(`${main} (started by bench/router_loopback.ts)`);
  }
  return { copied, missing: [...new Set(missing)] };
}

/** Why the router was not compared (the ref has none), if so. */
let routerSkipped: string | undefined;
let tmpDir: string | undefined;
let worktree: string | undefined;
let cleaned: Promise<void> | undefined;

/** Removes the ref's worktree and its temporary directory (once, whatever happened). */
function cleanup(): Promise<void> {
  return cleaned ??= (async () => {
    if (worktree !== undefined) {
      await git(["worktree", "remove", "--force", worktree]).catch((error) =>
        console.error(
          `${error.message}\n(remove it by hand: git worktree remove --force ${worktree})`,
        )
      );
    }
    if (tmpDir !== undefined) await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  })();
}

let interrupted = false;
/**
 * Ctrl-C or SIGTERM: stop the children (the run in progress fails, nothing
 * new starts), report what ran, remove the worktree. A second signal, or
 * ten seconds without getting there, removes the worktree and exits at once.
 */
const onSignal = () => {
  const now = () => cleanup().finally(() => Deno.exit(130));
  if (interrupted) return void now();
  interrupted = true;
  console.error("interrupted: stopping the children, then removing the ref's worktree");
  stopAll();
  setTimeout(now, 10_000);
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

/** The old side: the ref's tree with the working tree's scripts, built and installed. */
async function prepare(): Promise<{ tree: Tree; sha: string; subject: string }> {
  let sha: string;
  try {
    sha = await git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  } catch {
    throw new Error(`${ref} is not a commit of this repository`);
  }
  const subject = await git(["log", "-1", "--format=%h %s", sha]);
  tmpDir = await Deno.makeTempDir({ prefix: "weft-compare-" });
  const path = `${tmpDir}/tree`;
  await git(["worktree", "add", "--detach", path, sha]);
  worktree = path;
  const calls = await overlay(`${path}/`, "calls");
  if (calls.missing.length > 0) {
    throw new Error(
      `The working tree's bench scripts cannot run against ${ref}: its tree lacks\n  ${
        calls.missing.join("\n  ")
      }\n(the ref predates them; compare it by hand with its own bench:rpc)`,
    );
  }
  const copied = new Set(calls.copied);
  if (withRouter) {
    const router = await overlay(`${path}/`, "router");
    for (const file of router.copied) copied.add(file);
    if (router.missing.length > 0) {
      routerSkipped = `The router was not compared: ${ref} lacks ${router.missing.join(", ")}.`;
      console.error(routerSkipped);
    }
  }
  console.error(
    `ref ${subject}: worktree at ${path}, with the working tree's ${[...copied].join(", ")}`,
  );
  // node_modules (Bun and Node find the npm dependencies there), from the ref's own deno.json.
  const installed = await bounded([Deno.execPath(), "install"], path, 120_000);
  if (!installed.ok) {
    console.error(`deno install in the ref's tree failed (continuing):\n${installed.out}`);
  }
  return { tree: { root: `${path}/`, label: sha.slice(0, 7) }, sha, subject };
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

/** A case's runs: calls/s of each side, pair by pair (NaN where a run failed). */
interface CaseResult {
  c: Case;
  old: number[];
  new: number[];
  /** CPU µs per call (server + client), pair by pair. */
  oldCpu: number[];
  newCpu: number[];
  /** Why runs failed, if any did. */
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

/** One short run, start to end (the preflight). */
async function callRun(tree: Tree, c: Case, warm: number, ms: number): Promise<Run> {
  const result: LoadResult = await weftRun(tree.root, weftCase(c, warm, ms));
  return {
    rate: result.callsPerSec,
    cpu: (result.serverCpuUs ?? NaN) + (result.clientCpuUs ?? NaN),
  };
}

/**
 * One pair of a call case: both sides started and warmed up, then
 * `slices` slices each, alternated ABBA; each side's calls/s and CPU per
 * call over its slices.
 */
async function callPair(
  sides: { old: Tree; new: Tree },
  c: Case,
  k: number,
): Promise<{ old: Run; new: Run }> {
  const running: Partial<Record<"old" | "new", WeftSlices>> = {};
  const sum = {
    old: { calls: 0, seconds: 0, cpu: 0 },
    new: { calls: 0, seconds: 0, cpu: 0 },
  };
  try {
    // The side started first waits (warm) while the other warms up: the
    // order alternates from pair to pair, as the slices do.
    for (const side of k % 2 === 0 ? (["old", "new"] as const) : (["new", "old"] as const)) {
      running[side] = await WeftSlices.start(sides[side].root, weftCase(c, warmup, duration));
    }
    for (let k = 0; k < slices; k++) {
      const order = k % 2 === 0 ? (["old", "new"] as const) : (["new", "old"] as const);
      for (const side of order) {
        if (interrupted) throw new Error("interrupted");
        const r = await running[side]!.slice(duration);
        sum[side].calls += r.calls;
        sum[side].seconds += r.seconds;
        sum[side].cpu += ((r.serverCpuUs ?? NaN) + (r.clientCpuUs ?? NaN)) * r.calls;
      }
    }
  } finally {
    await running.old?.stop();
    await running.new?.stop();
  }
  const of = (x: { calls: number; seconds: number; cpu: number }): Run => ({
    rate: x.calls / x.seconds,
    cpu: x.cpu / x.calls,
  });
  return { old: of(sum.old), new: of(sum.new) };
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

const overTime = () => interrupted || performance.now() - started > limitMs;

/** Runs `pairs` A/B pairs, ABBA; each side's results in pair order. */
async function alternate<T>(
  n: number,
  sides: { old: Tree; new: Tree },
  once: (tree: Tree) => Promise<T>,
  failed: (error: unknown) => T,
): Promise<{ old: T[]; new: T[]; stopped: boolean }> {
  const out = { old: [] as T[], new: [] as T[], stopped: false };
  for (let k = 0; k < n; k++) {
    const order = k % 2 === 0 ? (["old", "new"] as const) : (["new", "old"] as const);
    for (const side of order) {
      if (overTime()) {
        out.stopped = true;
        return out;
      }
      out[side].push(await once(sides[side]).catch(failed));
    }
  }
  return out;
}

// ---- statistics ------------------------------------------------------------

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).toSorted((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

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
const estimate = callCases.length * pairs * (2 * (warmup + 1500) + 2 * slices * duration) +
  (withRouter
    ? routerRuntimes.length * routerPairs * 2 * (12 * (routerWarmup + routerDuration) + 4000)
    : 0);
console.error(
  `bench:compare: ${callCases.length} call cases × ${pairs} pairs${
    withRouter ? `, router on ${routerRuntimes.join(",")} × ${routerPairs} pairs` : ""
  }: about ${Math.ceil(estimate / 60_000)} min (limit ${limitMs / 1000} s); load ${loadBefore}`,
);

const report: string[] = [];
let code = 0;
try {
  const prepared = self ? undefined : await prepare();
  const oldTree: Tree = prepared?.tree ?? { root: ROOT, label: "working tree (again)" };
  const sides = { old: oldTree, new: newTree };

  // Preflight: one short run per runtime and side, so that a ref the
  // scripts cannot drive fails now, with its error, not after minutes.
  for (const runtime of new Set([...runtimes, ...(withRouter ? routerRuntimes : [])])) {
    for (const side of ["old", "new"] as const) {
      if (self && side === "old") continue;
      const c: Case = { runtime, placement: "one", payload: 32, depth: 1 };
      try {
        await callRun(sides[side], c, 0, 100);
      } catch (error) {
        throw new Error(
          `The ${side} side (${sides[side].label}) does not run on ${runtime}: ${
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
    const errors: string[] = [];
    const got = { old: [] as Run[], new: [] as Run[], stopped: false };
    for (let k = 0; k < pairs; k++) {
      if (overTime()) {
        got.stopped = true;
        break;
      }
      try {
        const pair = await callPair(sides, c, k);
        got.old.push(pair.old);
        got.new.push(pair.new);
      } catch (error) {
        errors.push(error instanceof Error ? error.message.split("\n")[0]! : String(error));
      }
    }
    stopped ||= got.stopped;
    const result: CaseResult = {
      c,
      old: got.old.map((r) => r.rate),
      new: got.new.map((r) => r.rate),
      oldCpu: got.old.map((r) => r.cpu),
      newCpu: got.new.map((r) => r.cpu),
      errors,
    };
    results.push(result);
    const rs = ratios(result.old, result.new);
    console.error(
      `[${((performance.now() - started) / 1000).toFixed(0)} s] ${c.runtime} ${c.placement} ${
        size(c.payload)
      } ${c.depth}: old ${fmtRate(median(result.old))}, new ${fmtRate(median(result.new))}, ratio ${
        fmtRatio(rs).replaceAll("*", "")
      }; CPU µs/call ${fmtCpu(median(result.oldCpu))} → ${fmtCpu(median(result.newCpu))}${
        errors.length > 0 ? ` (${errors.length} failed: ${errors[0]})` : ""
      }`,
    );
  }

  const routerResults: { runtime: RuntimeName; old: RouterRow[][]; new: RouterRow[][] }[] = [];
  if (withRouter && routerSkipped === undefined) {
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
      );
      stopped ||= got.stopped;
      routerResults.push({ runtime, old: got.old, new: got.new });
      console.error(
        `[${((performance.now() - started) / 1000).toFixed(0)} s] router ${runtime} done`,
      );
    }
  }

  // ---- report --------------------------------------------------------------
  const taskset = await hasTaskset();
  const versions = await Promise.all(
    runtimes.map(async (rt) => {
      const out = await run([await runtimePath(rt), "--version"]);
      return `${rt} ${out.out.split("\n")[0]!.replace(/^deno /, "").trim()}`;
    }),
  );
  const cpuModel = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown";
  report.push(
    `bench:compare — new: ${newTree.label}${
      self ? " against itself (--self: every ratio is noise)" : ""
    }; old: ${prepared === undefined ? "the same tree" : `${prepared.subject}`}.`,
    `Machine: ${navigator.hardwareConcurrency} CPUs (${cpuModel}); ${versions.join(", ")}. ` +
      `Load average ${loadBefore} before, ${load()} after.`,
    `Both sides run the working tree's bench scripts against their own src/. ${
      taskset
        ? "Pinned with taskset (one core: client and server on cpu 0)."
        : "**No taskset: unpinned.**"
    } Per case ${pairs} pairs; per pair both sides started fresh, ${warmup} ms warm-up each, ` +
      `then ${slices} slices of ${duration} ms each, alternated ABBA; one connection, codec ${codec}.`,
    "",
    "Ratio = new ÷ old calls/s of each pair (over its slices): median (min–max over pairs). " +
      "Noise = the same code's spread, max ÷ min - 1 of one side's own pairs (the larger side's). " +
      "CPU = µs of CPU per call, server and client together, over the measured window (medians); " +
      "calls per CPU second new ÷ old is old ÷ new CPU per call of each pair (above 1: the new code " +
      "costs less), steadier than calls/s on a busy machine.",
    "",
    "| runtime | placement | payload | in flight | old calls/s | new calls/s | ratio new ÷ old | noise | verdict | CPU µs/call old → new | calls per CPU s new ÷ old |",
    "| --- | --- | --: | --: | --: | --: | --: | --: | --- | --: | --: |",
  );
  const noises: number[] = [];
  for (const r of results) {
    const rs = ratios(r.old, r.new);
    const noise = Math.max(spreadOf(r.old), spreadOf(r.new));
    if (Number.isFinite(noise)) noises.push(noise);
    report.push(
      `| ${r.c.runtime} | ${r.c.placement === "one" ? "one core" : "split"} | ${
        size(r.c.payload)
      } | ${r.c.depth} | ${fmtRate(median(r.old))} | ${fmtRate(median(r.new))} | ${
        fmtRatio(rs)
      } | ${pct(noise)} | ${verdict(rs)}${
        r.errors.length > 0 ? ` (${r.errors.length} runs failed: ${r.errors[0]})` : ""
      } | ${fmtCpu(median(r.oldCpu))} → ${fmtCpu(median(r.newCpu))} | ${
        fmtRatio(ratios(r.newCpu, r.oldCpu))
      } |`,
    );
  }
  if (routerResults.length > 0) {
    report.push(
      "",
      `Router (bench/router_loopback.ts: router, target, relay and caller processes, unpinned; ` +
        `${routerWarmup} + ${routerDuration} ms per way, the better of two; 32 B echo): ` +
        "calls/s through the router, and the router's share of the byte relay's throughput in the same run.",
      "",
      "| runtime | in flight | old router calls/s | new router calls/s | ratio new ÷ old | noise | old ÷ relay | new ÷ relay | verdict |",
      "| --- | --: | --: | --: | --: | --: | --: | --: | --- |",
    );
    for (const r of routerResults) {
      for (const depth of [1, 256]) {
        const pick = (runs: RouterRow[][], way: string) =>
          runs.map((rows) =>
            rows.find((x) => x.way === way && x.depth === depth)?.callsPerSec ?? NaN
          );
        const old = pick(r.old, "router");
        const neu = pick(r.new, "router");
        const share = (runs: RouterRow[][]) => {
          const router = pick(runs, "router");
          const relay = pick(runs, "relay");
          return median(router.map((x, i) => x / relay[i]!));
        };
        const rs = ratios(old, neu);
        const noise = Math.max(spreadOf(old), spreadOf(neu));
        if (Number.isFinite(noise)) noises.push(noise);
        report.push(
          `| ${r.runtime} | ${depth} | ${fmtRate(median(old))} | ${fmtRate(median(neu))} | ${
            fmtRatio(rs)
          } | ${pct(noise)} | ${share(r.old).toFixed(2)} | ${share(r.new).toFixed(2)} | ${
            verdict(rs)
          } |`,
        );
      }
    }
  }
  if (routerSkipped !== undefined) report.push("", routerSkipped);
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
