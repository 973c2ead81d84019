// Helpers shared by the loopback bench scripts (rpc_*, ceiling_*, memory_*),
// which run unchanged under Deno, Bun and Node 24. Bench code, not library
// code: it may touch each runtime's globals directly.

declare const Deno: {
  args: string[];
  exit(code: number): never;
  memoryUsage(): { rss: number; heapUsed: number };
} | undefined;
declare const Bun: { gc(force: boolean): void } | undefined;
declare const process: {
  argv: string[];
  exit(code: number): never;
  memoryUsage(): { rss: number; heapUsed: number };
};

/** The runtime running this script. */
export const runtime: "deno" | "bun" | "node" = typeof Bun !== "undefined"
  ? "bun"
  : typeof Deno !== "undefined"
  ? "deno"
  : "node";

/** The script's arguments (after the script path). */
export const args: string[] = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);

/** Exits the process. */
export function exit(code: number): never {
  return typeof Deno !== "undefined" ? Deno.exit(code) : process.exit(code);
}

/** Collects garbage if the runtime lets us (Deno/Node need `--expose-gc`). */
export function collect(): boolean {
  if (typeof Bun !== "undefined") {
    Bun.gc(true);
    return true;
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return false;
  for (let i = 0; i < 3; i++) gc();
  return true;
}

/** This process's CPU time so far (user + system), µs; NaN where the runtime cannot tell. */
export function cpuMicros(): number {
  const usage = (globalThis as { process?: { cpuUsage?(): { user: number; system: number } } })
    .process?.cpuUsage?.();
  return usage === undefined ? NaN : usage.user + usage.system;
}

/** Resident set size and V8/JSC heap in use, in bytes. */
export function memory(): { rss: number; heap: number } {
  const m = typeof Deno !== "undefined" ? Deno.memoryUsage() : process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

/** Reads `--name=value` options; bare words are positional. */
export function options(argv: string[]): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (const arg of argv) {
    const match = arg.match(/^--([^=]+)(?:=(.*))?$/);
    if (match) flags.set(match[1]!, match[2] ?? "true");
    else positional.push(arg);
  }
  return { flags, positional };
}

/** One load case, as the driver passes it to a client. */
export interface LoadCase {
  address: string;
  payload: number;
  depth: number;
  warmupMs: number;
  durationMs: number;
}

/** Parses `ADDRESS --payload=N --depth=N --warmup=MS --duration=MS`. */
export function loadCase(argv: string[]): LoadCase {
  const { flags, positional } = options(argv);
  const num = (name: string, fallback: number): number => {
    const value = Number(flags.get(name) ?? fallback);
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`Invalid --${name}`);
    return value;
  };
  const address = positional[0];
  if (address === undefined) throw new TypeError("usage: client HOST:PORT [--payload=32] ...");
  return {
    address,
    payload: num("payload", 32),
    depth: Math.max(1, num("depth", 1)),
    warmupMs: num("warmup", 1000),
    durationMs: num("duration", 5000),
  };
}

/** What a client prints, after `RESULT `, as one JSON line. */
export interface LoadResult {
  runtime: string;
  calls: number;
  seconds: number;
  callsPerSec: number;
  /** Latency in microseconds; only with one call in flight. */
  meanUs?: number;
  p50Us?: number;
  p99Us?: number;
  /** CPU (user + system) per call in the measured window, µs, of the server and the client (rpc_client.ts). */
  serverCpuUs?: number;
  clientCpuUs?: number;
}

/** Records round-trip times (ms in, µs out) into a preallocated array. */
export class Latencies {
  #samples = new Float64Array(1 << 20);
  #n = 0;
  #sum = 0;

  record(ms: number): void {
    this.#sum += ms;
    if (this.#n === this.#samples.length) {
      const bigger = new Float64Array(this.#samples.length * 2);
      bigger.set(this.#samples);
      this.#samples = bigger;
    }
    this.#samples[this.#n++] = ms;
  }

  summary(): { meanUs: number; p50Us: number; p99Us: number } {
    const n = this.#n;
    if (n === 0) return { meanUs: 0, p50Us: 0, p99Us: 0 };
    const sorted = this.#samples.subarray(0, n).sort();
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))]! * 1000;
    return { meanUs: (this.#sum / n) * 1000, p50Us: at(0.5), p99Us: at(0.99) };
  }
}

/** Prints the result line the driver looks for. */
export function report(result: LoadResult): void {
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/**
 * Drives a promise-returning call: `depth` loops, each awaiting one call at
 * a time, for `warmupMs` then `durationMs`. With depth 1 every round trip
 * is timed. `mark`, if given, is called as the measured window opens and
 * as it closes (e.g. to read the server's CPU time); its results are
 * awaited after the window.
 */
export async function drive<M = never>(
  call: () => Promise<unknown>,
  c: LoadCase,
  mark?: () => Promise<M>,
): Promise<LoadResult & { marks?: [M, M] }> {
  const latencies = new Latencies();
  const timed = c.depth === 1;
  let measuring = false;
  let running = true;
  let calls = 0;
  // Only depth 1 reads the clock per call: at depth 256 it would cost more
  // than some of what is measured.
  const loop = timed
    ? async (): Promise<void> => {
      while (running) {
        const t = performance.now();
        await call();
        if (measuring) {
          calls++;
          latencies.record(performance.now() - t);
        }
      }
    }
    : async (): Promise<void> => {
      while (running) {
        await call();
        if (measuring) calls++;
      }
    };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < c.depth; i++) loops.push(loop());
  await sleep(c.warmupMs);
  const first = mark?.();
  measuring = true;
  const start = performance.now();
  await sleep(c.durationMs);
  measuring = false;
  const last = mark?.();
  const seconds = (performance.now() - start) / 1000;
  running = false;
  await Promise.all(loops);
  return {
    runtime,
    calls,
    seconds,
    callsPerSec: calls / seconds,
    ...(timed ? latencies.summary() : {}),
    ...(first === undefined ? {} : { marks: [await first, await last!] as [M, M] }),
  };
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The median of the finite values of `xs` (the mean of the middle two for an even count); NaN if none. */
export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).toSorted((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
