/**
 * Child processes for the fault tests: a fault server under one runtime,
 * its stdout read as it comes, signals sent through the child handle (this
 * child only), and a kill in `stop()` that is always called in `finally`.
 */

import { type RuntimeName, runtimePath, scriptArgs } from "../_runtimes.ts";

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
  const bin = await runtimePath(runtime);
  const child = new Deno.Command(bin, {
    args: scriptArgs(runtime, SERVER, [address, ...options]),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let code: number | undefined;
  const wake = new Set<() => void>();
  const notify = () => {
    for (const fn of wake) fn();
  };
  const reading = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stdout) {
      out += dec.decode(chunk, { stream: true });
      notify();
    }
  })().catch(() => {});
  const stderr = child.stderr.text().catch((error) => `(stderr unreadable: ${error})`);
  const status = child.status.then((s) => {
    code = s.code;
    notify();
  });
  let stopped: Promise<string> | undefined;

  const until = (check: (out: string) => boolean, limitMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const poll = () => {
        if (check(out)) {
          done();
          resolve();
        } else if (code !== undefined) {
          done();
          reject(new Error(`${runtime} server exited (${code}) before ${what}:\n${out}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${runtime} server: no ${what} in ${limitMs} ms:\n${out.slice(-2000)}`));
      }, limitMs);
      const done = () => {
        clearTimeout(timer);
        wake.delete(poll);
      };
      wake.add(poll);
      poll();
    });

  const stop = () => {
    stopped ??= (async () => {
      if (code === undefined) {
        try {
          child.kill("SIGCONT");
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      await status;
      await reading;
      return await stderr;
    })();
    return stopped;
  };

  try {
    await until((o) => /^listening \S+$/m.test(o), 20_000, "listening line");
  } catch (error) {
    const err = await stop();
    throw new Error(`${error instanceof Error ? error.message : error}\nstderr:\n${err}`);
  }
  const address_ = out.match(/^listening (\S+)$/m)![1]!;
  return {
    runtime,
    pid: child.pid,
    address: address_,
    stdout: () => out,
    lines: (pattern) => out.split("\n").filter((l) => pattern.test(l)),
    until,
    signal(signal) {
      child.kill(signal);
    },
    exited(limitMs) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), limitMs);
        status.then(() => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
    stop,
  };
}

/** Resident set size of process `pid` in bytes, from /proc (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = status.match(/^VmRSS:\s+(\d+) kB$/m);
  if (kb === null) throw new Error(`No VmRSS for ${pid}`);
  return Number(kb[1]) * 1024;
}

/** Resolves after `ms` (its timer is cleared by the time it resolves). */
export const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
