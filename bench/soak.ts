// The soak: three cluster nodes, one each on Deno, Bun and Node, call each
// other in a ring (deno -> bun -> node -> deno) at a high rate for a while,
// then report calls, errors, what is left in flight, whether each process
// exits by itself once its cluster is closed (no socket or timer left), and
// its resident memory sampled every few seconds after warm-up.
//
//   deno run -A bench/soak.ts [--duration=60000] [--depth=16] [--sample=5000] [--warmup=10000]
//
// A script, not a test: it prints a markdown table for the README and exits
// 1 if anything was left behind or an unexpected error happened. Linux only
// (it reads /proc/<pid>/status for RSS). Deno only (the driver).

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { transport } from "../src/transport/deno.ts";
import { runtimePath, scriptArgs } from "../examples/_runtimes.ts";
import type { SoakReport } from "./_soak_node.ts";
import { options } from "./_common.ts";

/** The ring's commands (as bench/_soak_node.ts defines them). */
const SOAK = { start: 10, stop: 11, report: 12, close: 13 } as const;
const RING = ["deno", "bun", "node"] as const;
type Runtime = typeof RING[number];

const { flags } = options(Deno.args);
const num = (name: string, fallback: number) => {
  const value = Number(flags.get(name) ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`Invalid --${name}`);
  return value;
};
const durationMs = num("duration", 60_000);
const depth = Math.max(1, num("depth", 16));
const sampleMs = Math.max(200, num("sample", 5000));
const warmupMs = num("warmup", Math.round(Math.min(10_000, durationMs / 6)));
const NODE = new URL("./_soak_node.ts", import.meta.url).pathname;
const enc = new TextEncoder();
const dec = new TextDecoder();
const MiB = 1024 * 1024;

interface Member {
  runtime: Runtime;
  child: Deno.ChildProcess;
  address: string;
  out: () => string;
  reading: Promise<void>;
  stderr: Promise<string>;
  exit: Promise<Deno.CommandStatus>;
  exitedAt: number | undefined;
  rss: { t: number; rss: number }[];
}

async function spawn(runtime: Runtime): Promise<Member> {
  const child = new Deno.Command(await runtimePath(runtime), {
    args: scriptArgs(runtime, NODE, ["127.0.0.1:0"]),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const reading = (async () => {
    for await (const chunk of child.stdout) out += dec.decode(chunk, { stream: true });
  })().catch(() => {});
  const member: Member = {
    runtime,
    child,
    address: "",
    out: () => out,
    reading,
    stderr: child.stderr.text().catch(() => ""),
    exit: child.status,
    exitedAt: undefined,
    rss: [],
  };
  member.exit.then(() => member.exitedAt = performance.now());
  const end = Date.now() + 20_000;
  while (!/^listening (\S+)$/m.test(out)) {
    if (Date.now() > end || member.exitedAt !== undefined) {
      throw new Error(`${runtime} node did not start:\n${out}\n${await member.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  member.address = out.match(/^listening (\S+)$/m)![1]!;
  return member;
}

async function rssOf(pid: number): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = status.match(/^VmRSS:\s+(\d+) kB$/m);
    return kb === null ? undefined : Number(kb[1]) * 1024;
  } catch {
    return undefined;
  }
}

const members: Member[] = [];
const driver = new Cluster({ codec: raw(), transport, timeout: 30_000 });
let failed = false;
try {
  for (const runtime of RING) members.push(await spawn(runtime));
  const peers = members.map((m) => driver.connect(m.address));
  const t0 = performance.now();
  await Promise.all(members.map((_m, i) =>
    driver.call(
      peers[i]!,
      SOAK.start,
      enc.encode(JSON.stringify({
        next: members[(i + 1) % members.length]!.address,
        durationMs,
        depth,
      })),
    )
  ));
  console.error(
    `soak: ${durationMs / 1000} s, ring ${RING.join(" -> ")} -> ${RING[0]}, depth ${depth}`,
  );
  // Sample RSS every sampleMs (bounded by the duration).
  for (let i = 0; i < 100_000; i++) {
    const t = performance.now() - t0;
    if (t >= durationMs) break;
    await new Promise((r) => setTimeout(r, Math.min(sampleMs, durationMs - t)));
    const now = performance.now() - t0;
    for (const m of members) {
      const rss = await rssOf(m.child.pid);
      if (rss !== undefined) m.rss.push({ t: now, rss });
    }
    console.error(
      `  ${(now / 1000).toFixed(0)} s: ` +
        members.map((m) => `${m.runtime} ${((m.rss.at(-1)?.rss ?? 0) / MiB).toFixed(1)} MiB`)
          .join(", "),
    );
  }
  await Promise.all(peers.map((p) => driver.call(p, SOAK.stop)));
  const reports: SoakReport[] = [];
  for (const p of peers) {
    reports.push(JSON.parse(dec.decode(await driver.call(p, SOAK.report) as Uint8Array)));
  }
  const closedAt = performance.now();
  await Promise.all(peers.map((p) => driver.call(p, SOAK.close)));
  await driver.close();
  // Each node must now exit by itself: a socket or timer left keeps it alive.
  const exits = await Promise.all(members.map(async (m) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), 10_000));
    const status = await Promise.race([m.exit, limit]);
    clearTimeout(timer);
    return status === undefined ? undefined : { code: status.code, ms: m.exitedAt! - closedAt };
  }));

  const rows: string[] = [];
  let total = 0;
  for (const [i, r] of reports.entries()) {
    const m = members[i]!;
    const after = m.rss.filter((s) => s.t >= warmupMs);
    const first = after[0]?.rss ?? 0;
    const last = after.at(-1)?.rss ?? 0;
    const min = Math.min(...after.map((s) => s.rss));
    const max = Math.max(...after.map((s) => s.rss));
    const closed = m.out().match(/^closed (.*)$/m)?.[1];
    const exit = exits[i];
    const unexpected = Object.values(r.errors).reduce((a, b) => a + b, 0);
    const provoked = Object.entries(r.expected).map(([k, v]) => `${v} ${k}`).join(", ") ||
      "0";
    total += r.calls;
    if (unexpected > 0 || r.inFlight !== 0 || r.serving !== 0 || exit?.code !== 0) failed = true;
    rows.push(
      `| ${r.runtime} -> ${members[(i + 1) % members.length]!.runtime} | ${r.calls} | ${
        Math.round(r.calls / r.seconds)
      } | ${unexpected}${
        unexpected ? " " + JSON.stringify(r.errors) : ""
      } | ${provoked} | ${r.inFlight} / ${r.serving} | ${(first / MiB).toFixed(1)} -> ${
        (last / MiB).toFixed(1)
      } (${(min / MiB).toFixed(1)}-${(max / MiB).toFixed(1)}) | ${
        exit === undefined
          ? "**still running after 10 s**"
          : `${exit.ms.toFixed(0)} ms (code ${exit.code})`
      } |`,
    );
    console.error(`  ${m.runtime} after close: ${closed ?? "(no line)"}`);
    console.error(
      `  ${m.runtime} RSS samples (MiB): ${m.rss.map((s) => (s.rss / MiB).toFixed(1)).join(" ")}`,
    );
  }
  const seconds = reports[0]?.seconds ?? durationMs / 1000;
  console.log(
    `Soak: ${
      seconds.toFixed(0)
    } s, ring Deno -> Bun -> Node -> Deno, ${depth} calls in flight per node; ` +
      `${total} calls (${Math.round(total / seconds)}/s in all). ` +
      `Mix: 1% relays (a second hop inside the handler), 0.2% with a 10 ms timeout on a 50 ms handler, ` +
      `0.2% aborted after 5 ms; the rest 64-byte echoes. RSS sampled every ${
        sampleMs / 1000
      } s after a ${warmupMs / 1000} s warm-up.\n`,
  );
  console.log(
    "| caller -> callee | calls | calls/s | unexpected errors | provoked (expected) | in flight / handlers at end | RSS after warm-up -> end, MiB (min-max) | exit after close |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const row of rows) console.log(row);
} catch (error) {
  failed = true;
  console.error("soak failed:", error);
} finally {
  await driver.close();
  for (const m of members) {
    try {
      m.child.kill("SIGKILL");
    } catch { /* exited */ }
    await m.exit;
    await m.reading;
    const err = await m.stderr;
    if (err.trim() !== "") console.error(`--- ${m.runtime} stderr ---\n${err.slice(-3000)}`);
  }
}
Deno.exit(failed ? 1 : 0);
