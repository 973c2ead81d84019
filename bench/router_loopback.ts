/**
 * Calls through one router against direct calls between the same two
 * services, in one run: a router process (src/router/main.ts), a target
 * process answering both ways (router_target.ts) and a caller
 * (router_caller.ts), all on loopback. Raw codec, 32-byte echo; calls/s at
 * 1 and 256 in flight, latency mean and p99; each case runs twice,
 * alternating direct, relay and router, and the better run of each is
 * reported.
 *
 * The relay (router_relay.ts) is the floor: a process in the middle that
 * copies bytes over the same transport without reading them. Whatever a
 * process in the middle costs on this machine (two more socket hops, a
 * third process to schedule), the relay pays too; the router's figures
 * are also given as a share of the relay's.
 *
 * With `--trust=keys,tls` (the default; `--trust=` for none) the same
 * calls also go through a router with key authentication and one with
 * mutual TLS (each its own process; the target and caller connect to every
 * router), in the same alternation: the cost of trust per routed call.
 *
 * ```sh
 * deno run -A bench/router_loopback.ts [--runtime=deno] [--warmup=1000] [--duration=4000]
 *   [--trust=keys,tls] [--depths=1,256] [--json=true]
 * ```
 *
 * `--json=true` also prints one `ROUTER {json}` line: the better run of
 * each way at each depth (what bench/compare.ts reads). SIGINT or SIGTERM
 * stops the four children before it exits.
 *
 * @module
 */

import { type RuntimeName, spawnScript } from "../tests/_runtimes.ts";
import { makeCerts } from "../tests/security/_certs.ts";

const flags = new Map<string, string>();
for (const arg of Deno.args) {
  const match = arg.match(/^--([^=]+)=(.*)$/);
  if (!match) throw new TypeError(`Unknown argument ${arg}`);
  flags.set(match[1]!, match[2]!);
}
const runtime = (flags.get("runtime") ?? "deno") as RuntimeName;
const warmup = flags.get("warmup") ?? "1000";
const duration = flags.get("duration") ?? "4000";
const trust = (flags.get("trust") ?? "keys,tls").split(",").filter((m) => m !== "");
const depths = (flags.get("depths") ?? "1,256").split(",").map(Number);
if (depths.some((d) => !Number.isInteger(d) || d < 1)) throw new RangeError("Invalid --depths");
const json = flags.get("json") === "true";
const here = (file: string) => new URL(file, import.meta.url).pathname;

const router = await spawnScript(runtime, here("../src/router/main.ts"), [
  "--listen",
  "127.0.0.1:0",
]);
const children = [router];
// Interrupted (Ctrl-C, or a driver's SIGTERM): no child outlives this process.
const interrupted = async () => {
  for (const child of children) await child.stop();
  Deno.exit(130);
};
Deno.addSignalListener("SIGINT", interrupted);
Deno.addSignalListener("SIGTERM", interrupted);
try {
  const routerAddress = (await router.waitFor(/^listening (\S+)$/m, 30_000))[1]!;
  const certDir = trust.includes("tls") ? (await makeCerts()).dir : undefined;
  const trusted: string[] = [];
  for (const mode of trust) {
    const child = await spawnScript(runtime, here("router_trusted.ts"), [mode, certDir ?? ""]);
    children.push(child);
    const at = (await child.waitFor(/^listening (\S+)$/m, 30_000))[1]!;
    trusted.push(`--${mode}=${at}`);
  }
  if (certDir !== undefined) trusted.push(`--certs=${certDir}`);
  const targetChild = await spawnScript(runtime, here("router_target.ts"), [
    routerAddress,
    ...trusted,
  ]);
  children.push(targetChild);
  const direct = (await targetChild.waitFor(/^ready (\S+)$/m, 30_000))[1]!;
  const relayChild = await spawnScript(runtime, here("router_relay.ts"), [
    "127.0.0.1:0",
    direct,
  ]);
  children.push(relayChild);
  const relay = (await relayChild.waitFor(/^relay (\S+)$/m, 30_000))[1]!;
  const caller = await spawnScript(runtime, here("router_caller.ts"), [
    routerAddress,
    direct,
    warmup,
    duration,
    depths.join(","),
    "all",
    relay,
    ...trusted,
  ]);
  children.push(caller);
  const limit = (3 + 2 * trust.length) * 2 * depths.length * (Number(warmup) + Number(duration)) +
    30_000;
  const code = await caller.exited(limit);
  if (code !== 0) {
    throw new Error(`caller exited ${code}:\n${caller.stdout()}\n${await caller.stop()}`);
  }
  type Row = { way: string; depth: number; callsPerSec: number; meanMs: number; p99Ms: number };
  const rows = caller.stdout().split("\n").filter((l) => l.startsWith("result "))
    .map((l) => JSON.parse(l.slice(7)) as Row);
  const best = (way: string, depth: number) =>
    rows.filter((r) => r.way === way && r.depth === depth)
      .reduce((a, b) => (b.callsPerSec > a.callsPerSec ? b : a));
  const lines = [
    `runtime ${runtime} (router, relay, target and caller each a process), raw codec, 32-byte echo`,
    "",
    "| in flight | way | calls/s | mean ms | p99 ms |",
    "| --: | --- | --: | --: | --: |",
  ];
  const ways = ["direct", "relay", "router", ...trust.map((m) => `router+${m}`)];
  for (const depth of depths) {
    for (const way of ways) {
      const r = best(way, depth);
      lines.push(
        `| ${depth} | ${way} | ${Math.round(r.callsPerSec)} | ${r.meanMs.toFixed(3)} | ${
          r.p99Ms.toFixed(3)
        } |`,
      );
    }
  }
  if (json) {
    const each = depths.flatMap((depth) => ways.map((way) => best(way, depth)));
    console.log(`ROUTER ${JSON.stringify(each)}`);
  }
  // The targets read 1 and 256 in flight.
  if (depths.includes(1) && depths.includes(256)) {
    const t256 = best("router", 256).callsPerSec / best("direct", 256).callsPerSec;
    const l1 = best("router", 1).meanMs / best("direct", 1).meanMs;
    const f256 = best("relay", 256).callsPerSec / best("direct", 256).callsPerSec;
    const f1 = best("relay", 1).meanMs / best("direct", 1).meanMs;
    lines.push("");
    lines.push(
      `through the router: ${
        (t256 * 100).toFixed(0)
      }% of direct throughput at 256 in flight (target >= 50%: ${
        t256 >= 0.5 ? "met" : "NOT met"
      }); ${l1.toFixed(2)}x direct mean latency at 1 in flight (target <= 2x: ${
        l1 <= 2 ? "met" : "NOT met"
      })`,
    );
    lines.push(
      `through the byte relay (the floor): ${
        (f256 * 100).toFixed(0)
      }% of direct throughput at 256, ${f1.toFixed(2)}x direct latency at 1; the router is ${
        (t256 / f256 * 100).toFixed(0)
      }% of the relay's ` +
        `throughput at 256 and ${(l1 / f1).toFixed(2)}x its latency at 1`,
    );
    for (const mode of trust) {
      const t = best(`router+${mode}`, 256).callsPerSec / best("router", 256).callsPerSec;
      const l = best(`router+${mode}`, 1).meanMs / best("router", 1).meanMs;
      lines.push(
        `with ${mode === "keys" ? "key authentication" : "mutual TLS"}: ${
          (t * 100).toFixed(0)
        }% of the plain router's throughput at 256 in flight, ${
          l.toFixed(2)
        }x its mean latency at 1 in flight`,
      );
    }
  }
  console.log(lines.join("\n"));
} finally {
  for (const child of children) await child.stop();
  Deno.removeSignalListener("SIGINT", interrupted);
  Deno.removeSignalListener("SIGTERM", interrupted);
}
