/**
 * The loopback RPC benchmark's driver: runs weft's call benchmark
 * (rpc_server.ts, rpc_client.ts) beside the raw-socket ceiling
 * (ceiling_<runtime>.ts) and the promise floor (the same raw echo, its
 * client resolving one promise per response: `ceiling_<runtime>.ts floor`)
 * for every client/server runtime pair, pinned with
 * `taskset` on one core and on two, then the memory measurements
 * (memory_client.ts), and prints one markdown report.
 *
 * ```sh
 * deno run -A bench/rpc_loopback.ts                       # everything (~20 min)
 * deno run -A bench/rpc_loopback.ts --pairs=same --repeat=2
 * deno run -A bench/rpc_loopback.ts --quick --runtimes=deno --memory=false
 * ```
 *
 * Options (`--name=value`):
 *
 * - `--runtimes=deno,bun,node`: the runtimes to use;
 * - `--pairs=all|same`: every client/server pair, or same-runtime pairs only;
 * - `--placements=one,split`: both on cpu 0, or client on cpu 0 and server on cpu 1;
 * - `--payloads=32,1024`, `--depths=1,256`;
 * - `--sides=weft,floor,ceiling`: which of the three to run per case;
 * - `--bursts=1024`: burst sizes (0 for none): rounds of N 1 KiB calls the
 *   server holds and answers in one turn, so that it encodes N responses as
 *   one batch (weft only; the case that caught the encoder's quadratic
 *   growth, on every runtime);
 * - `--warmup=1000`, `--duration=5000`: per case, in ms;
 * - `--repeat=1`: runs of every case (one table row each);
 * - `--rounds=1`: rounds per case, alternating weft, floor and ceiling; the
 *   row shows each side's median round (steadier on a busy machine);
 * - `--memory=true`, `--conns=10000`, `--sample=1000`, `--pending=10000`;
 * - `--codec=raw|pass`: the raw codec (copies received payloads) or pass-through hooks;
 * - `--limit=3600`: seconds after which no new case starts;
 * - `--out=FILE`: also write the report there;
 * - `--tls=true`: also run every case's weft side over TLS (test certificates
 *   made with `openssl`), and report TLS against plain TCP, same run;
 * - `--quick`: warm-up 50 ms, 200 ms per case, 200 connections, 1000 pending calls.
 *
 * Every child runs under a time limit and is killed by its own handle;
 * the driver starts nothing it does not reap. (Not named `*_bench.ts`: it
 * is a script, not a `deno bench` file.)
 *
 * @module
 */

import { type RuntimeName, runtimePath } from "../tests/_runtimes.ts";
import type { LoadResult } from "./_common.ts";
import { makeCerts } from "../tests/security/_certs.ts";
import { client, hasTaskset, run, server, START_LIMIT, weftRun } from "./_children.ts";

const HERE = new URL(".", import.meta.url).pathname;

// ---- options ---------------------------------------------------------------

const flags = new Map<string, string>();
for (const arg of Deno.args) {
  const match = arg.match(/^--([^=]+)(?:=(.*))?$/);
  if (!match) throw new TypeError(`Unknown argument ${arg}`);
  flags.set(match[1]!, match[2] ?? "true");
}
const quick = flags.get("quick") === "true";
const list = (name: string, fallback: string) =>
  (flags.get(name) ?? fallback).split(",").map((s) => s.trim()).filter((s) => s !== "");
const num = (name: string, fallback: number) => {
  const value = Number(flags.get(name) ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`Invalid option --${name}`);
  return value;
};

const runtimes = list("runtimes", "deno,bun,node") as RuntimeName[];
for (const r of runtimes) {
  if (!["deno", "bun", "node"].includes(r)) throw new RangeError(`Unknown runtime ${r}`);
}
const samePairs = (flags.get("pairs") ?? "all") === "same";
const placements = list("placements", "one,split") as ("one" | "split")[];
const payloads = list("payloads", "32,1024").map(Number);
const depths = list("depths", "1,256").map(Number);
const sides = list("sides", "weft,floor,ceiling");
const burstSizes = list("bursts", "1024").map(Number).filter((n) => n > 0);
for (const s of sides) {
  if (!["weft", "floor", "ceiling"].includes(s)) throw new RangeError(`Unknown side ${s}`);
}
const warmup = num("warmup", quick ? 50 : 1000);
const duration = num("duration", quick ? 200 : 5000);
const repeat = Math.max(1, num("repeat", 1));
const rounds = Math.max(1, num("rounds", 1));
const withMemory = (flags.get("memory") ?? "true") !== "false";
const conns = num("conns", quick ? 200 : 10_000);
const sample = num("sample", quick ? 100 : 1000);
const pending = num("pending", quick ? 1000 : 10_000);
const codec = flags.get("codec") ?? "raw";
const limitMs = num("limit", 3600) * 1000;
const outFile = flags.get("out");
const tlsDir = flags.get("tls") === "true" ? (await makeCerts()).dir : undefined;
const started = performance.now();

// ---- children (bench/_children.ts) -----------------------------------------

const ROOT = new URL("../", import.meta.url).pathname;
const taskset = await hasTaskset();

// ---- the call benchmark ----------------------------------------------------

interface Row {
  client: RuntimeName;
  server: RuntimeName;
  placement: "one" | "split";
  payload: number;
  depth: number;
  weft: LoadResult | string;
  floor: LoadResult | string;
  ceiling: LoadResult | string;
  /** The weft side over TLS (with `--tls`). */
  tls?: LoadResult | string;
}

/** One side (weft, floor or ceiling) of a case; a failure or a skipped side becomes a message. */
async function side(
  kind: "weft" | "floor" | "ceiling" | "tls",
  clientRt: RuntimeName,
  serverRt: RuntimeName,
  placement: "one" | "split",
  payload: number,
  depth: number,
): Promise<LoadResult | string> {
  if (kind !== "tls" && !sides.includes(kind)) return "not run";
  let srv: Awaited<ReturnType<typeof server>> | undefined;
  try {
    if (kind === "weft" || kind === "tls") {
      return await weftRun(ROOT, {
        client: clientRt,
        server: serverRt,
        placement,
        payload,
        depth,
        warmup,
        duration,
        codec,
        extra: kind === "tls" ? [`--tls=${tlsDir}`] : [],
      });
    }
    srv = await server(
      serverRt,
      `${HERE}ceiling_${serverRt}.ts`,
      ["server", "127.0.0.1:0"],
      placement === "one" ? 0 : 1,
    );
    return await client<LoadResult>(
      clientRt,
      `${HERE}ceiling_${clientRt}.ts`,
      [
        kind === "floor" ? "floor" : "client",
        srv.address,
        `--payload=${payload}`,
        depth < 0 ? `--burst=${-depth}` : `--depth=${depth}`,
        `--warmup=${warmup}`,
        `--duration=${duration}`,
        `--codec=${codec}`,
      ],
      0,
      "RESULT",
      warmup + duration + START_LIMIT,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`${kind} ${clientRt}->${serverRt} failed: ${message}`);
    return `failed: ${message.split("\n")[0]}`;
  } finally {
    await srv?.child.stop();
  }
}

/** The result with the median rate (the first failure if every round failed). */
function medianResult(results: (LoadResult | string)[]): LoadResult | string {
  const ok = results.filter((r): r is LoadResult => typeof r !== "string");
  if (ok.length === 0) return results[0]!;
  return ok.toSorted((a, b) => a.callsPerSec - b.callsPerSec)[(ok.length - 1) >> 1]!;
}

const pairs: [RuntimeName, RuntimeName][] = [];
for (const s of runtimes) {
  for (const c of runtimes) if (!samePairs || c === s) pairs.push([c, s]);
}
// Same-runtime pairs first: they are the targets' cases.
pairs.sort((a, b) => Number(a[0] !== a[1]) - Number(b[0] !== b[1]));

const rows: Row[] = [];
let stoppedEarly = false;
outer: for (let r = 0; r < repeat; r++) {
  for (const placement of placements) {
    for (const [c, s] of pairs) {
      for (const payload of payloads) {
        for (const depth of depths) {
          if (performance.now() - started > limitMs) {
            stoppedEarly = true;
            break outer;
          }
          // Rounds alternate the three sides, so that a load swing on a
          // shared machine hits all three alike; each keeps its median.
          const got: Record<"weft" | "floor" | "ceiling", (LoadResult | string)[]> = {
            weft: [],
            floor: [],
            ceiling: [],
          };
          for (let k = 0; k < rounds; k++) {
            for (const kind of ["weft", "floor", "ceiling"] as const) {
              got[kind].push(await side(kind, c, s, placement, payload, depth));
            }
          }
          const weft = medianResult(got.weft);
          const floor = medianResult(got.floor);
          const ceiling = medianResult(got.ceiling);
          const row: Row = {
            client: c,
            server: s,
            placement,
            payload,
            depth,
            weft,
            floor,
            ceiling,
          };
          if (tlsDir !== undefined) row.tls = await side("tls", c, s, placement, payload, depth);
          rows.push(row);
          console.error(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${line(row)}`);
        }
      }
    }
  }
}

// Bursts: weft only, 1 KiB, every pair and placement (depth -N = a burst of N).
interface BurstRow {
  client: RuntimeName;
  server: RuntimeName;
  placement: "one" | "split";
  size: number;
  weft: LoadResult | string;
}
const burstRows: BurstRow[] = [];
burst: for (let r = 0; r < repeat; r++) {
  for (const placement of placements) {
    for (const [c, s] of pairs) {
      for (const size of burstSizes) {
        if (performance.now() - started > limitMs) {
          stoppedEarly = true;
          break burst;
        }
        const weft = await side("weft", c, s, placement, 1024, -size);
        const row = { client: c, server: s, placement, size, weft };
        burstRows.push(row);
        console.error(
          `[${
            ((performance.now() - started) / 1000).toFixed(0)
          } s] burst ${c} → ${s} ${placement} ${size}: ${rate(weft)}`,
        );
      }
    }
  }
}

// ---- memory ----------------------------------------------------------------

interface Memory {
  runtime: string;
  gc: boolean;
  serverGc: boolean;
  idleSample: number;
  idleHeapPerConn: number;
  idleRssPerConn: number;
  connsWanted: number;
  connsReached: number;
  connsError?: string;
  rssBase: number;
  rssAtConns: number;
  heapAtConns: number;
  rssAfterClose: number;
  pending: number;
  pendingHeld: number;
  pendingFailed: number;
  clientHeapPerPendingCall: number;
  serverHeapPerHeldCall: number;
}

const memoryRows: (Memory | { runtime: string; error: string })[] = [];
if (withMemory) {
  for (const rt of runtimes) {
    if (performance.now() - started > limitMs) {
      stoppedEarly = true;
      break;
    }
    let srv: Awaited<ReturnType<typeof server>> | undefined;
    try {
      srv = await server(rt, `${HERE}rpc_server.ts`, ["127.0.0.1:0"], 1);
      const m = await client<Memory>(
        rt,
        `${HERE}memory_client.ts`,
        [srv.address, `--conns=${conns}`, `--sample=${sample}`, `--pending=${pending}`],
        0,
        "MEMORY",
        180_000,
      );
      memoryRows.push(m);
      console.error(`memory ${rt}: ${JSON.stringify(m)}`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      console.error(`memory ${rt} failed: ${message}`);
      memoryRows.push({ runtime: rt, error: message.split("\n")[0]! });
    } finally {
      await srv?.child.stop();
    }
  }
}

// ---- report ----------------------------------------------------------------

function fmtRate(x: number): string {
  return x >= 1e6
    ? `${(x / 1e6).toFixed(2)} M`
    : x >= 1e3
    ? `${(x / 1e3).toFixed(1)} k`
    : x.toFixed(0);
}
function lat(r: LoadResult): string {
  return r.meanUs === undefined
    ? "–"
    : `${r.meanUs.toFixed(1)} / ${r.p50Us!.toFixed(1)} / ${r.p99Us!.toFixed(1)}`;
}
function rate(r: LoadResult | string): string {
  return typeof r === "string" ? r : fmtRate(r.callsPerSec);
}
function ratioOf(a: LoadResult | string, b: LoadResult | string): string {
  return typeof a === "string" || typeof b === "string"
    ? "–"
    : (a.callsPerSec / b.callsPerSec).toFixed(2);
}
function cells(row: Row): string[] {
  const { weft, floor, ceiling } = row;
  const ok = typeof weft !== "string" && typeof ceiling !== "string";
  const p99 = ok && weft.p99Us !== undefined && ceiling.p99Us
    ? (weft.p99Us / ceiling.p99Us).toFixed(2)
    : "–";
  return [
    `${row.client} → ${row.server}`,
    row.placement === "one" ? "one core" : "split",
    row.payload >= 1024 ? `${row.payload / 1024} KiB` : `${row.payload} B`,
    String(row.depth),
    rate(weft),
    rate(floor),
    rate(ceiling),
    ratioOf(weft, ceiling),
    ratioOf(weft, floor),
    ratioOf(floor, ceiling),
    typeof weft === "string" ? "–" : lat(weft),
    typeof ceiling === "string" ? "–" : lat(ceiling),
    p99,
  ];
}
function line(row: Row): string {
  return `| ${cells(row).join(" | ")} |`;
}
function bytes(n: number): string {
  const a = Math.abs(n);
  return a >= 1 << 20
    ? `${(n / (1 << 20)).toFixed(1)} MiB`
    : a >= 1024
    ? `${(n / 1024).toFixed(1)} KiB`
    : `${n.toFixed(0)} B`;
}

const cpuModel = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
  .match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown";
const nproc = (await run(["nproc"])).out.trim() || String(navigator.hardwareConcurrency);
const versions = await Promise.all(
  runtimes.map(async (rt) => {
    const bin = await runtimePath(rt);
    const out = await run(rt === "deno" ? [bin, "--version"] : [bin, "--version"]);
    return `${rt} ${out.out.split("\n")[0]!.replace(/^deno /, "").trim()}`;
  }),
);

const report: string[] = [];
report.push(
  `Machine: ${nproc} CPUs (${cpuModel}), Linux ${Deno.osRelease()}; ${versions.join(", ")}.`,
  taskset
    ? "Pinned with taskset: *one core* = client and server on cpu 0; *split* = client on cpu 0, server on cpu 1."
    : "**taskset is missing: processes ran unpinned** (placements are nominal; results are bimodal).",
  `Each case: ${warmup} ms warm-up, ${duration} ms measured` +
    (rounds > 1 ? `, ${rounds} rounds alternating the sides (median round shown)` : "") +
    `; one connection; codec: ${codec}. ` +
    "Latencies (mean / p50 / p99) in µs, one call in flight only. Floor = the raw echo with one promise per call.",
  "",
  "| client → server | placement | payload | depth | weft calls/s | floor calls/s | ceiling calls/s | weft ÷ ceiling | weft ÷ floor | floor ÷ ceiling | weft µs mean / p50 / p99 | ceiling µs mean / p50 / p99 | p99 ratio |",
  "| --- | --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |",
  ...rows.map(line),
);
if (tlsDir !== undefined) {
  report.push(
    "",
    "TLS against plain TCP (weft over each, same run; TLS 1.3, P-256 test certificates, no client certificate):",
    "",
    "| client → server | placement | payload | depth | TCP calls/s | TLS calls/s | TLS / TCP | TCP µs mean / p50 / p99 | TLS µs mean / p50 / p99 |",
    "| --- | --- | --- | --: | --: | --: | --: | --: | --: |",
    ...rows.map((row) => {
      const [pair, place, size, depth, tcp] = cells(row);
      const t = row.tls ?? "not run";
      const ok = typeof t !== "string" && typeof row.weft !== "string";
      return `| ${pair} | ${place} | ${size} | ${depth} | ${tcp} | ${
        typeof t === "string" ? t : fmtRate(t.callsPerSec)
      } | ${
        ok ? ((t as LoadResult).callsPerSec / (row.weft as LoadResult).callsPerSec).toFixed(2) : "–"
      } | ${typeof row.weft === "string" ? "–" : lat(row.weft)} | ${
        typeof t === "string" ? "–" : lat(t)
      } |`;
    }),
  );
}
if (repeat > 1) {
  // On a shared machine single runs swing; the median of each ratio over
  // the repeats (each ratio taken within its own run) is steadier.
  const median = (xs: number[]): string => {
    if (xs.length === 0) return "–";
    const sorted = xs.toSorted((x, y) => x - y);
    const mid = sorted.length >> 1;
    const m = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    return m.toFixed(2);
  };
  const ratios = (list: Row[], a: "weft" | "floor", b: "floor" | "ceiling"): number[] =>
    list.flatMap((r) => {
      const x = r[a];
      const y = r[b];
      return typeof x === "string" || typeof y === "string" ? [] : [x.callsPerSec / y.callsPerSec];
    });
  report.push(
    "",
    `Median over ${repeat} runs of each ratio (min-max in brackets):`,
    "",
    "| client → server | placement | payload | depth | weft ÷ ceiling | weft ÷ floor | floor ÷ ceiling | weft p99 ÷ ceiling p99 |",
    "| --- | --- | --- | --: | --: | --: | --: | --: |",
  );
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.client} ${row.server} ${row.placement} ${row.payload} ${row.depth}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const same = rows.filter((r) =>
      `${r.client} ${r.server} ${r.placement} ${r.payload} ${r.depth}` === key
    );
    const spread = (xs: number[]) =>
      xs.length === 0
        ? "–"
        : `${median(xs)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
    const p99 = same.flatMap((r) =>
      typeof r.weft === "string" || typeof r.ceiling === "string" || r.weft.p99Us === undefined ||
        !r.ceiling.p99Us
        ? []
        : [r.weft.p99Us / r.ceiling.p99Us]
    );
    report.push(
      `| ${cells(row).slice(0, 4).join(" | ")} | ${spread(ratios(same, "weft", "ceiling"))} | ${
        spread(ratios(same, "weft", "floor"))
      } | ${spread(ratios(same, "floor", "ceiling"))} | ${spread(p99)} |`,
    );
  }
}
if (burstRows.length > 0) {
  report.push(
    "",
    "Bursts: rounds of N 1 KiB calls the server holds, then answers in one turn (one batch of N responses). " +
      "Pipelined = the same pair's 256 × 1 KiB weft rate above.",
    "",
    "| client → server | placement | N | bytes per batch | weft calls/s | ÷ pipelined |",
    "| --- | --- | --: | --: | --: | --: |",
  );
  for (const b of burstRows) {
    const piped = rows.find((r) =>
      r.client === b.client && r.server === b.server && r.placement === b.placement &&
      r.payload === 1024 && r.depth === 256
    );
    report.push(
      `| ${b.client} → ${b.server} | ${
        b.placement === "one" ? "one core" : "split"
      } | ${b.size} | ${bytes(b.size * 1032)} | ${rate(b.weft)} | ${
        piped === undefined ? "–" : ratioOf(b.weft, piped.weft)
      } |`,
    );
  }
}
if (stoppedEarly) {
  report.push("", `Stopped at the time limit (${limitMs / 1000} s): later cases did not run.`);
}
if (withMemory) {
  report.push(
    "",
    "| server (and client) | bytes / idle connection (heap, RSS) | idle connections held | server RSS then (base) | bytes / pending call (client heap) | server heap / held call |",
    "| --- | --: | --: | --: | --: | --: |",
  );
  for (const m of memoryRows) {
    if ("error" in m) {
      report.push(`| ${m.runtime} | failed: ${m.error} | | | | |`);
      continue;
    }
    const reached = m.connsReached >= m.connsWanted
      ? String(m.connsReached)
      : `${m.connsReached} of ${m.connsWanted} (${m.connsError ?? "not all accepted in time"})`;
    report.push(
      `| ${m.runtime} | ${bytes(m.idleHeapPerConn)}, ${bytes(m.idleRssPerConn)} | ${reached} | ${
        bytes(m.rssAtConns)
      } (${bytes(m.rssBase)}) | ${bytes(m.clientHeapPerPendingCall)}${m.gc ? "" : " (no gc)"} | ${
        bytes(m.serverHeapPerHeldCall)
      } |`,
    );
  }
}
const text = report.join("\n") + "\n";
console.log(text);
if (outFile !== undefined) await Deno.writeTextFile(outFile, text);
