/**
 * Child processes for the fault tests: a fault server under one runtime,
 * its stdout read as it comes, signals sent through the child handle (this
 * child only), and a kill in `stop()` that is always called in `finally`.
 */

import { type RuntimeName, spawnScript } from "../_runtimes.ts";
import { waitLimit } from "../_wait.ts";

const SERVER = new URL("./fault_server.ts", import.meta.url).pathname;

/** A running fault server. */
export interface ServerChild {
  readonly runtime: RuntimeName;
  readonly pid: number;
  /** `HOST:PORT` it listens on. */
  readonly address: string;
  /** Everything it printed on stdout so far. */
  stdout(): string;
  /** Stdout lines matching `pattern`. */
  lines(pattern: RegExp): string[];
  /** Waits until `check(stdout)` is true; throws after `limitMs` or if the child exits. */
  until(check: (out: string) => boolean, limitMs: number, what: string): Promise<void>;
  /** Sends `signal` to this child. */
  signal(signal: "SIGSTOP" | "SIGCONT" | "SIGKILL"): void;
  /** Resolves with the exit code once it exited (undefined after `limitMs`). */
  exited(limitMs: number): Promise<number | undefined>;
  /** SIGCONT, SIGKILL, wait; returns stderr. Harmless twice. */
  stop(): Promise<string>;
}

/**
 * Starts tests/faults/fault_server.ts under `runtime` on `address` and waits
 * for its `listening` line (up to 20 s: a first start may compile).
 */
export async function startServer(
  runtime: RuntimeName,
  address = "127.0.0.1:0",
  options: string[] = [],
): Promise<ServerChild> {
  const child = await spawnScript(runtime, SERVER, [address, ...options]);
  let listening: RegExpMatchArray;
  try {
    listening = await child.waitFor(/^listening (\S+)$/m, 20_000);
  } catch (error) {
    const stderr = await child.stop();
    throw new Error(`${error instanceof Error ? error.message : error}\nstderr:\n${stderr}`);
  }
  return {
    runtime,
    pid: child.pid,
    address: listening[1]!,
    stdout: () => child.stdout(),
    lines: (pattern) => child.stdout().split("\n").filter((line) => pattern.test(line)),
    until: (check, limitMs, what) => child.until(check, waitLimit(limitMs), what),
    signal: (signal) => child.signal(signal),
    exited: (limitMs) => child.exited(limitMs),
    stop: () => child.stop(),
  };
}

/** Resident set size of process `pid` in bytes, from /proc (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = status.match(/^VmRSS:\s+(\d+) kB$/m);
  if (kb === null) throw new Error(`No VmRSS for ${pid}`);
  return Number(kb[1]) * 1024;
}

/** Virtual memory size of process `pid` in bytes (VmSize, from /proc; Linux). */
export async function vmSizeOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = status.match(/^VmSize:\s+(\d+) kB$/m);
  if (kb === null) throw new Error(`No VmSize for ${pid}`);
  return Number(kb[1]) * 1024;
}

/** Resolves after `ms` (its timer is cleared by the time it resolves). */
export const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
