/**
 * Finds the Bun and Node binaries that the demo and the cross-runtime tests
 * start: a matching one on PATH, else the pinned version fetched with
 * `npx -y` (npm caches it, so only the first run downloads). Deno is the
 * runtime running the caller, so its path is `Deno.execPath()`.
 *
 * Deno only (it uses `Deno.Command`); shared by examples/demo.ts and
 * tests/_runtimes.ts.
 */

/** Pinned runtime versions; the README and .ci/run name the same ones. */
export const PINNED = { deno: "2.9.6", bun: "1.4.5", node: "24.21.0" } as const;

/**
 * The oldest Node the npm package declares (its `engines`); tests/npm/ runs
 * the package there as well as on {@linkcode PINNED}'s Node.
 */
export const NODE_OLDEST = "22.0.0";

/** A runtime that can run weft's `.ts` files unchanged. */
export type RuntimeName = "deno" | "bun" | "node";

const found = new Map<RuntimeName, Promise<string>>();

/**
 * The path of a runtime binary matching the pinned major.minor (Node: major).
 *
 * @throws {Error} If neither PATH nor `npx -y` yields one, with their output.
 */
export function runtimePath(name: RuntimeName): Promise<string> {
  if (name === "deno") return Promise.resolve(Deno.execPath());
  let path = found.get(name);
  if (path === undefined) {
    path = locate(
      name,
      PINNED[name],
      (v) => wanted(name, v),
      "the tests' and demo's cross-runtime nodes",
    );
    found.set(name, path);
  }
  return path;
}

/** The arguments that make runtime `name` run `script` with `args`. */
export function scriptArgs(name: RuntimeName, script: string, args: string[] = []): string[] {
  return name === "deno" ? ["run", "-A", script, ...args] : [script, ...args];
}

const foundExact = new Map<string, Promise<string>>();

/**
 * The path of exactly `node@version` (or `bun@version`): the one on PATH if
 * it is that version, else fetched with `npx -y`. `why` completes the line
 * printed before a fetch ("fetching node@22.0.0 with npx -y for ...").
 */
export function runtimePathAt(name: "bun" | "node", version: string, why: string): Promise<string> {
  const key = `${name}@${version}`;
  let path = foundExact.get(key);
  if (path === undefined) {
    path = locate(name, version, (v) => v === version, why);
    foundExact.set(key, path);
  }
  return path;
}

function wanted(name: "bun" | "node", version: string): boolean {
  const v = version.split(".");
  const pin = PINNED[name].split(".");
  return name === "node" ? v[0] === pin[0] : v[0] === pin[0] && v[1] === pin[1];
}

async function run(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; out: string; err: string }> {
  try {
    const result = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" })
      .output();
    const dec = new TextDecoder();
    return { ok: result.success, out: dec.decode(result.stdout), err: dec.decode(result.stderr) };
  } catch (error) {
    return { ok: false, out: "", err: String(error) };
  }
}

async function locate(
  name: "bun" | "node",
  version: string,
  matches: (version: string) => boolean,
  why: string,
): Promise<string> {
  const onPath = await run(name, ["--version"]);
  const have = onPath.out.trim().replace(/^v/, "");
  if (onPath.ok && matches(have)) {
    const exec = await run(name, ["-e", "console.log(process.execPath)"]);
    if (exec.ok) return exec.out.trim();
  }
  const reason = onPath.ok ? `PATH has ${name} ${have}` : `no ${name} on PATH`;
  console.error(
    `fetching ${name}@${version} with npx -y (${reason}; npm caches it) for ${why}`,
  );
  const fetched = await run("npx", [
    "-y",
    `${name}@${version}`,
    "-e",
    "console.log(process.execPath)",
  ]);
  const path = fetched.out.trim().split("\n").pop() ?? "";
  if (!fetched.ok || path === "") {
    throw new Error(
      `Cannot find ${name} ${version}: npx said:\n${fetched.out}\n${fetched.err}`,
    );
  }
  return path;
}

/** A script running under a runtime, started by {@linkcode spawnScript}. */
export interface ScriptChild {
  /** The runtime running the script. */
  readonly runtime: RuntimeName;
  /** The child's process id. */
  readonly pid: number;
  /** Everything the child printed on stdout so far. */
  stdout(): string;
  /**
   * Waits until the child's stdout has a line matching `pattern` (checked
   * against the whole output, so use `m` for `^`/`$`) and returns the match.
   *
   * @throws {Error} If the child exits first or `limitMs` passes.
   */
  waitFor(pattern: RegExp, limitMs: number): Promise<RegExpMatchArray>;
  /**
   * Waits until `check(stdout)` is true.
   *
   * @throws {Error} If the child exits first or `limitMs` passes, naming `what`.
   */
  until(check: (stdout: string) => boolean, limitMs: number, what: string): Promise<void>;
  /** Waits for the child to exit by itself, up to `limitMs`; its exit code, or undefined. */
  exited(limitMs: number): Promise<number | undefined>;
  /** Sends `signal` to this child (and only this child). */
  signal(signal: "SIGSTOP" | "SIGCONT" | "SIGKILL" | "SIGTERM" | "SIGINT"): void;
  /**
   * Kills the child if it still runs (SIGCONT, in case it was stopped, then
   * SIGKILL: this child only), waits for it, and returns what it printed on
   * stderr. Harmless twice.
   */
  stop(): Promise<string>;
}

/**
 * Starts `script` under runtime `name`, with stdout and stderr piped and
 * read as they come, so the caller can wait for a line such as
 * `listening HOST:PORT`. Always `stop()` it, in a `finally`. `bin` runs
 * another binary of that runtime (e.g. {@linkcode runtimePathAt}'s).
 */
export async function spawnScript(
  name: RuntimeName,
  script: string,
  args: string[] = [],
  bin?: string,
): Promise<ScriptChild> {
  bin ??= await runtimePath(name);
  const child = new Deno.Command(bin, {
    args: scriptArgs(name, script, args),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let ended = false;
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
  })().catch(() => {}).finally(() => {
    ended = true;
    notify();
  });
  const stderr = child.stderr.text().catch((error) => `(stderr unreadable: ${error})`);
  let code: number | undefined;
  const status = child.status.then((s) => {
    code = s.code;
    notify();
    return s.code;
  });
  let stopped: Promise<string> | undefined;

  function bounded<T>(limitMs: number, poll: () => T | undefined, onLimit: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      const check = () => {
        const value = poll();
        if (value === undefined) return;
        done();
        resolve(value);
      };
      const timer = setTimeout(() => {
        done();
        resolve(onLimit());
      }, limitMs);
      const done = () => {
        clearTimeout(timer);
        wake.delete(check);
      };
      wake.add(check);
      check();
    });
  }

  async function until(
    check: (stdout: string) => boolean,
    limitMs: number,
    what: string,
  ): Promise<void> {
    const result = await bounded<true | Error>(
      limitMs,
      () => {
        if (check(out)) return true;
        if (ended || code !== undefined) {
          return new Error(`${name} ${script} exited before printing ${what}:\n${out}`);
        }
        return undefined;
      },
      () => new Error(`${name} ${script} printed no ${what} in ${limitMs} ms:\n${out}`),
    );
    if (result instanceof Error) throw result;
  }

  return {
    runtime: name,
    pid: child.pid,
    stdout: () => out,
    async waitFor(pattern, limitMs) {
      await until((text) => pattern.test(text), limitMs, String(pattern));
      return out.match(pattern)!;
    },
    until,
    async exited(limitMs) {
      const result = await bounded<{ code: number | undefined }>(
        limitMs,
        () => (code === undefined ? undefined : { code }),
        () => ({ code: undefined }),
      );
      return result.code;
    },
    signal(signal) {
      child.kill(signal);
    },
    stop() {
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
    },
  };
}
