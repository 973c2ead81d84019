/**
 * The child processes of the loopback benchmark drivers (rpc_loopback.ts,
 * compare.ts): a script started under Deno, Bun or Node, pinned to a cpu
 * with `taskset`, with a raised fd limit, its output collected as it
 * comes; a server that prints `listening HOST:PORT`; a client that prints
 * one `TAG {json}` line. Every child runs under a time limit and is killed
 * by its own handle. Deno only (the drivers run on Deno; the scripts they
 * start run on all three).
 *
 * @module
 */

import { type RuntimeName, runtimePath } from "../tests/_runtimes.ts";
import type { LoadResult } from "./_common.ts";

/** Open files a child may hold (the memory case opens 10,000 connections). */
const NOFILE = 20_000;
/** Milliseconds a child has to print its address (or its first line). */
export const START_LIMIT = 30_000;

const dec = new TextDecoder();

/** Runs a command to its end; its stdout, and whether it succeeded (false if it cannot start). */
export async function run(cmd: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const out = await new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      stdout: "piped",
      stderr: "null",
    }).output();
    return { ok: out.success, out: dec.decode(out.stdout) };
  } catch {
    return { ok: false, out: "" };
  }
}

let tasksetChecked: Promise<boolean> | undefined;

/** Whether `taskset` works here (without it children run unpinned). */
export function hasTaskset(): Promise<boolean> {
  return tasksetChecked ??= run(["taskset", "-c", "0", "true"]).then((r) => r.ok);
}

/** The argv that runs the script at `path` under `runtime`, pinned to `cpu`, with a raised fd limit. */
export async function argv(
  runtime: RuntimeName,
  path: string,
  args: string[],
  cpu: number | null,
): Promise<string[]> {
  const bin = await runtimePath(runtime);
  const base = runtime === "deno"
    ? [bin, "run", "-A", "--v8-flags=--expose-gc", path]
    : runtime === "node"
    ? [bin, "--no-warnings", "--expose-gc", path]
    : [bin, path];
  const pinned = cpu !== null && await hasTaskset()
    ? ["taskset", "-c", String(cpu), ...base]
    : base;
  // `exec` keeps the pid: killing the child kills the runtime itself.
  return ["sh", "-c", 'ulimit -n "$0" 2>/dev/null; exec "$@"', String(NOFILE), ...pinned, ...args];
}

/** Children started and not yet reaped (see {@linkcode stopAll}). */
const live = new Set<Child>();
/** Set by {@linkcode stopAll}: no child starts after it. */
let stopping = false;

/** A started child whose output is collected as it comes. */
export class Child {
  readonly process: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #done: Promise<unknown>;
  #exited = false;
  /** Where {@linkcode next} looks for the next line. */
  #cursor = 0;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;

  /**
   * @param options `cwd`; `stdin: true` to write to the child ({@linkcode send}).
   * @throws {Error} Once {@linkcode stopAll} was called (the driver is ending).
   */
  constructor(cmd: string[], options: { cwd?: string; stdin?: boolean } = {}) {
    if (stopping) throw new Error("Stopping: no new child starts");
    this.process = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    }).spawn();
    live.add(this);
    this.#stdin = options.stdin ? this.process.stdin.getWriter() : undefined;
    const collect = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
      for await (const chunk of stream) {
        this[key] += dec.decode(chunk, { stream: true });
        if (this[key].length > 1 << 20) this[key] = this[key].slice(-(1 << 19));
      }
    };
    this.process.status.then(() => this.#exited = true);
    this.#done = Promise.all([
      collect(this.process.stdout, "stdout"),
      collect(this.process.stderr, "stderr"),
      this.process.status,
    ]).finally(() => live.delete(this));
  }

  /** Waits until a stdout line matches, the child exits, or `ms` pass. */
  async line(pattern: RegExp, ms: number): Promise<RegExpMatchArray | null> {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const match = this.stdout.match(pattern);
      if (match) return match;
      if (this.#exited) {
        await this.#done;
        return this.stdout.match(pattern);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return null;
  }

  /**
   * Waits (up to `ms`) for the next line that is `tag`, or starts with
   * `tag `, after the last one this returned, and returns the rest of it;
   * null if the child exits or the time is up first.
   */
  async next(tag: string, ms: number): Promise<string | null> {
    const end = performance.now() + ms;
    const prefix = `${tag} `;
    for (;;) {
      const text = this.stdout;
      // stdout keeps its last 512 KiB at most: a cursor past the end restarts.
      if (this.#cursor > text.length) this.#cursor = 0;
      let at = this.#cursor;
      while (at < text.length) {
        const eol = text.indexOf("\n", at);
        if (eol < 0) break;
        const line = text.slice(at, eol);
        at = eol + 1;
        if (line === tag || line.startsWith(prefix)) {
          this.#cursor = at;
          return line.slice(prefix.length);
        }
      }
      this.#cursor = at;
      if (this.#exited || performance.now() >= end) return null;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Writes `line` and a newline to the child's stdin (started with `stdin: true`). */
  async send(line: string): Promise<void> {
    await this.#stdin!.write(new TextEncoder().encode(`${line}\n`));
  }

  /** Kills this child (TERM, then KILL after `grace` ms) and reaps it. */
  async stop(grace = 1000): Promise<void> {
    await this.#stdin?.close().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (!this.#exited) {
      try {
        this.process.kill("SIGTERM");
        timer = setTimeout(() => {
          try {
            this.process.kill("SIGKILL");
          } catch { /* gone */ }
        }, grace);
      } catch { /* already gone */ }
    }
    await this.#done;
    clearTimeout(timer);
  }
}

/** Stops every child still running, and starts none after (a driver ending, or interrupted). */
export async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all([...live].map((child) => child.stop()));
}

/** Starts a server script and returns it with the address it printed. */
export async function server(
  runtime: RuntimeName,
  path: string,
  args: string[],
  cpu: number | null,
): Promise<{ child: Child; address: string }> {
  const child = new Child(await argv(runtime, path, args, cpu));
  const match = await child.line(/^listening (\S+)$/m, START_LIMIT);
  if (match === null) {
    await child.stop();
    throw new Error(`${runtime} ${path} printed no address:\n${child.stdout}\n${child.stderr}`);
  }
  return { child, address: match[1]! };
}

/** Runs a client script to its `TAG {json}` line, within `ms`. */
export async function client<T>(
  runtime: RuntimeName,
  path: string,
  args: string[],
  cpu: number | null,
  tag: string,
  ms: number,
): Promise<T> {
  const child = new Child(await argv(runtime, path, args, cpu));
  try {
    const match = await child.line(new RegExp(`^${tag} (.+)$`, "m"), ms);
    if (match === null) {
      throw new Error(
        `${runtime} ${path} gave no ${tag} line:\n${child.stdout}\n${child.stderr}`,
      );
    }
    return JSON.parse(match[1]!) as T;
  } finally {
    await child.stop();
  }
}

/** One weft call case: who runs where, and its load. */
export interface WeftCase {
  client: RuntimeName;
  server: RuntimeName;
  /** One core: both on cpu 0; split: the server on cpu 1. */
  placement: "one" | "split";
  payload: number;
  /** Calls in flight; a negative depth -N runs bursts of N (see rpc_client.ts). */
  depth: number;
  warmup: number;
  duration: number;
  codec: string;
  /** `--tls=DIR` to run over TLS, else empty. */
  extra?: string[];
}

/**
 * Runs weft's call benchmark once: `bench/rpc_server.ts` and
 * `bench/rpc_client.ts` of the tree at `root` (a path ending in `/`), the
 * client on cpu 0. Throws if either child fails.
 */
export async function weftRun(root: string, c: WeftCase): Promise<LoadResult> {
  const extra = c.extra ?? [];
  const srv = await server(
    c.server,
    `${root}bench/rpc_server.ts`,
    ["127.0.0.1:0", `--codec=${c.codec}`, ...extra],
    c.placement === "one" ? 0 : 1,
  );
  try {
    return await client<LoadResult>(
      c.client,
      `${root}bench/rpc_client.ts`,
      [
        srv.address,
        `--payload=${c.payload}`,
        c.depth < 0 ? `--burst=${-c.depth}` : `--depth=${c.depth}`,
        `--warmup=${c.warmup}`,
        `--duration=${c.duration}`,
        `--codec=${c.codec}`,
        ...extra,
      ],
      0,
      "RESULT",
      c.warmup + c.duration + START_LIMIT,
    );
  } finally {
    await srv.child.stop();
  }
}

/**
 * Weft's call benchmark kept running between slices: a server and a
 * `rpc_client.ts --slices` client of the tree at `root`, warmed up once;
 * each {@linkcode slice} is one measured window. Two of these, old and new,
 * alternated slice by slice, meet the same load swings of a busy machine.
 */
export class WeftSlices {
  readonly #server: Child;
  readonly #client: Child;

  private constructor(server: Child, client: Child) {
    this.#server = server;
    this.#client = client;
  }

  /** Starts the server and the client, and waits for the client's warm-up. */
  static async start(root: string, c: WeftCase): Promise<WeftSlices> {
    const extra = c.extra ?? [];
    const srv = await server(
      c.server,
      `${root}bench/rpc_server.ts`,
      ["127.0.0.1:0", `--codec=${c.codec}`, ...extra],
      c.placement === "one" ? 0 : 1,
    );
    let child: Child | undefined;
    try {
      child = new Child(
        await argv(c.client, `${root}bench/rpc_client.ts`, [
          srv.address,
          `--payload=${c.payload}`,
          `--depth=${c.depth}`,
          `--warmup=${c.warmup}`,
          `--codec=${c.codec}`,
          "--slices",
          ...extra,
        ], 0),
        { stdin: true },
      );
      if (await child.next("READY", c.warmup + START_LIMIT) === null) {
        throw new Error(
          `${c.client} rpc_client.ts --slices did not get ready:\n${child.stdout}\n${child.stderr}`,
        );
      }
      return new WeftSlices(srv.child, child);
    } catch (error) {
      await child?.stop();
      await srv.child.stop();
      throw error;
    }
  }

  /** Runs one measured slice of `ms`. */
  async slice(ms: number): Promise<LoadResult> {
    await this.#client.send(`run ${Math.round(ms)}`);
    const line = await this.#client.next("SLICE", ms + START_LIMIT);
    if (line === null) {
      throw new Error(`rpc_client.ts gave no slice:\n${this.#client.stderr.slice(-2000)}`);
    }
    return JSON.parse(line) as LoadResult;
  }

  /** Stops the client and the server. */
  async stop(): Promise<void> {
    await this.#client.stop();
    await this.#server.stop();
  }
}
