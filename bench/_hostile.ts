/**
 * What the hostile-peer benchmarks share (bench/attack.ts and
 * bench/attack_body.ts, issue 22's attacks): a good client in its own
 * process whose calls are counted per window, raw attacker connections
 * that answer pings, the rows each attack reports, and the before/after
 * run against an older commit.
 *
 * Before/after (`--before=REF`): the script builds REF in a temporary git
 * worktree, copies the working tree's bench scripts and their helpers over
 * it (as bench/compare.ts does: every module they import outside `src/` and
 * `mod.ts`), so the old side is the same benchmark run against REF's
 * library; runs itself there as a child (`--json`), then here, and prints
 * one table with `before → after` in each cell. The worktree is removed at
 * the end, on a failure too.
 *
 * @module
 */

import net from "node:net";
import { type ScriptChild, spawnScript } from "../examples/_runtimes.ts";
import { delay } from "../tests/faults/_child.ts";
import { HELLO, requestFrame } from "../tests/faults/_helpers.ts";
import { FrameDecoder } from "../src/wire/frame_decoder.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const GOOD = new URL("./_good_client.ts", import.meta.url).pathname;
const PING = 0xffffff03;
const PONG = 0xffffff04;

/** A good client in another process (Deno), one echo in flight, counted per 100 ms. */
export interface GoodClient {
  /** Now, on the clock the client's lines use (Date.now()). */
  mark(): number;
  /** Calls/s completed between two marks (waits for a report past `to`). */
  rate(from: number, to: number): Promise<number>;
  /** Calls that failed between two marks. */
  failed(from: number, to: number): Promise<number>;
  /** Calls/s over the next `ms`. */
  window(ms: number): Promise<number>;
  stop(): Promise<void>;
}

/** Starts bench/_good_client.ts against `address`; returns once it has made calls. */
export async function goodClient(address: string, protocol = "weft"): Promise<GoodClient> {
  const child = await spawnScript("deno", GOOD, [address, `--protocol=${protocol}`]);
  const totals = (at: number): [number, number, number] => {
    let best: [number, number, number] = [0, 0, 0];
    for (const m of child.stdout().matchAll(/^at (\d+) (\d+) (\d+)$/gm)) {
      const t = Number(m[1]);
      if (t > at) break;
      best = [t, Number(m[2]), Number(m[3])];
    }
    return best;
  };
  const reported = (to: number) =>
    child.until(
      (out) => [...out.matchAll(/^at (\d+) /gm)].some((m) => Number(m[1]) >= to),
      30_000,
      `a report after ${to}`,
    );
  try {
    await child.until((out) => /^at \d+ [1-9]/m.test(out), 30_000, "its first calls");
  } catch (error) {
    await child.stop();
    throw error;
  }
  const good: GoodClient = {
    mark: () => Date.now(),
    async rate(from, to) {
      await reported(to);
      const [t0, n0] = totals(from);
      const [t1, n1] = totals(to);
      return t1 > t0 ? (n1 - n0) / ((t1 - t0) / 1000) : 0;
    },
    async failed(from, to) {
      await reported(to);
      return totals(to)[2] - totals(from)[2];
    },
    async window(ms) {
      const from = Date.now();
      await delay(ms);
      return await good.rate(from, Date.now());
    },
    stop: async () => void await child.stop(),
  };
  return good;
}

/** The good client's calls/s beside an attack ÷ alone, as a cell: "0.93 (9,100 / 9,800)". */
export function share(beside: number, alone: number): string {
  return `${alone > 0 ? (beside / alone).toFixed(2) : "–"} (${fmt(beside)} / ${fmt(alone)})`;
}

/** A number with thousands separators, no decimals. */
export const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
/** Bytes as MiB with one decimal. */
export const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** A raw weft connection that completed HELLO, answers pings, and does nothing else. */
export interface IdlePeer {
  /** True once the node answered HELLO. */
  readonly acked: boolean;
  /** True once the node closed it. */
  readonly ended: boolean;
  /** Pings answered. */
  readonly pongs: number;
  destroy(): void;
}

/** Connects from local address `from` to `127.0.0.1:port`, sends HELLO and `extra`, answers pings. */
export async function idlePeer(port: number, from: string, extra?: Uint8Array): Promise<IdlePeer> {
  const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
  const decoder = new FrameDecoder();
  let acked = false;
  let ended = false;
  let pongs = 0;
  socket.on("data", (chunk: Uint8Array) => {
    try {
      decoder.decode(chunk, (frame) => {
        if (frame.kind !== "request") return;
        if (frame.cmd === PING) {
          socket.write(requestFrame(frame.session, PONG, new Uint8Array(0)));
          pongs++;
        } else acked = true;
      });
    } catch {
      socket.destroy();
    }
  });
  socket.on("close", () => (ended = true));
  socket.on("error", () => (ended = true));
  await new Promise<void>((resolve) => {
    socket.once("connect", () => resolve());
    socket.once("close", () => resolve());
  });
  if (!ended) socket.write(extra === undefined ? HELLO : concatBytes(HELLO, extra));
  return {
    get acked() {
      return acked;
    },
    get ended() {
      return ended;
    },
    get pongs() {
      return pongs;
    },
    destroy: () => void socket.destroy(),
  };
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** One row of a table: the cells by column name. */
export type Row = Record<string, string>;

/** A markdown table of `rows` under `columns`. */
export function table(columns: string[], rows: Row[]): string[] {
  return [
    `| ${columns.join(" | ")} |`,
    `| ${columns.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${columns.map((c) => r[c] ?? "–").join(" | ")} |`),
  ];
}

/** Rows of each attack, by attack name: what a script reports (and prints with `--json`). */
export type Report = Record<string, Row[]>;

/** Before and after in one table: each cell `before → after` where they differ; rows matched by `keys`. */
export function merge(before: Row[], after: Row[], keys: string[]): Row[] {
  return after.map((row) => {
    const old = before.find((b) => keys.every((k) => b[k] === row[k]));
    const out: Row = {};
    for (const [column, value] of Object.entries(row)) {
      const was = old?.[column];
      out[column] = keys.includes(column) || was === undefined || was === value
        ? value
        : `${was} → ${value}`;
    }
    return out;
  });
}

async function git(args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

interface ModuleInfo {
  specifier: string;
}

/**
 * Runs `script` (a path under the repository) with `args` and `--json` in a
 * worktree of `ref` carrying the working tree's bench scripts and helpers;
 * returns its report. The worktree is removed whatever happens.
 */
export async function runAt(
  ref: string,
  script: string,
  args: string[],
  limitMs: number,
): Promise<{ report: Report; label: string }> {
  const sha = await git(["rev-parse", "--verify", `${ref}^{commit}`]);
  const label = await git(["log", "-1", "--format=%h", sha]);
  const dir = await Deno.makeTempDir({ prefix: "weft-attack-" });
  const tree = `${dir}/tree/`;
  let added = false;
  let child: ScriptChild | undefined;
  try {
    await git(["worktree", "add", "--detach", tree, sha]);
    added = true;
    const entries = [script, "bench/_good_client.ts", "tests/faults/fault_server.ts"];
    for (const entry of entries) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["info", "--json", ROOT + entry],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(`deno info ${entry}: ${new TextDecoder().decode(out.stderr)}`);
      }
      const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: ModuleInfo[] };
      const prefix = new URL(ROOT, "file://").href;
      for (const { specifier } of graph.modules) {
        if (!specifier.startsWith(prefix)) continue;
        const path = decodeURIComponent(specifier.slice(prefix.length));
        if (path.startsWith("src/") || path === "mod.ts") continue;
        const target = tree + path;
        await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
        await Deno.copyFile(ROOT + path, target);
      }
    }
    // node_modules for Bun and Node, from the ref's own deno.json.
    await new Deno.Command(Deno.execPath(), {
      args: ["install"],
      cwd: tree,
      stdout: "null",
      stderr: "null",
    }).output();
    console.error(`before: ${label}, worktree ${tree}`);
    child = await spawnScript("deno", tree + script, [...args, "--json"]);
    const code = await child.exited(limitMs);
    const stderr = await child.stop();
    const line = child.stdout().split("\n").find((l) => l.startsWith("report "));
    if (code !== 0 || line === undefined) {
      throw new Error(`${script} at ${label} failed (exit ${code}):\n${stderr}`);
    }
    return { report: JSON.parse(line.slice(7)), label };
  } finally {
    await child?.stop();
    if (added) {
      await git(["worktree", "remove", "--force", tree]).catch((error) =>
        console.error(`${error.message}\n(remove it by hand: git worktree remove --force ${tree})`)
      );
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The load average, for the report. */
export async function loadavg(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "? ? ?")).split(" ").slice(0, 3)
    .join(" ");
}
