/**
 * A throwaway etcd for the discovery example and tests: a fresh server on
 * free loopback ports with a temporary data directory, stopped by its pid.
 * Deno only (it uses `Deno.Command`).
 *
 * The server runs with a 10 ms heartbeat and 50 ms election timeout, which
 * lowers etcd's minimum lease TTL from 2 s to 1 s (minTTL = 3/2 × election
 * ticks × heartbeat), and sends watch progress notifications every 500 ms.
 */

/** Where `etcd` is, or undefined. */
async function findEtcd(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("etcd", {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    return out.success ? "etcd" : undefined;
  } catch {
    return undefined;
  }
}

/** `etcd` if it is on PATH, else undefined. */
export const found: string | undefined = await findEtcd();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A running etcd started by {@linkcode startEtcd}. */
export interface EtcdServer extends AsyncDisposable {
  /** Its client URL, `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  /** Its pid while running. */
  readonly pid: number | undefined;
  /** Stops it (SIGTERM, then SIGKILL after 5 s), keeping its data. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data, and waits until it answers. */
  start(): Promise<void>;
  /** Stops it and removes its data directory. */
  close(): Promise<void>;
}

/**
 * Starts a fresh etcd and waits until its v3 gateway answers.
 *
 * @throws {Error} If etcd is not on PATH (under CI, where that is a failure) or does not come up.
 */
export async function startEtcd(): Promise<EtcdServer> {
  if (found === undefined) {
    throw new Error("etcd is not on PATH: install it (apt-get install etcd-server)");
  }
  const dir = await Deno.makeTempDir({ prefix: "weft-etcd-" });
  const client = freePort();
  const peer = freePort();
  const endpoint = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const args = [
    "--name=weft-test",
    `--data-dir=${dir}/data`,
    `--listen-client-urls=${endpoint}`,
    `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=weft-test=${peerUrl}`,
    "--heartbeat-interval=10",
    "--election-timeout=50",
    "--experimental-watch-progress-notify-interval=500ms",
    "--log-level=error",
    "--logger=zap",
  ];
  let child: Deno.ChildProcess | undefined;
  let log: Deno.FsFile | undefined;
  // etcd's stderr copied into its log file: stop() waits for the copy to
  // end, which closes the file, so that no write or open file outlives the
  // process (a loaded machine can still be writing etcd's last lines when
  // the process has exited).
  let logged: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    if (child) return;
    log = await Deno.open(`${dir}/log`, { append: true, create: true, write: true });
    child = new Deno.Command(found!, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    logged = child.stderr.pipeTo(log.writable).catch(() => {});
    const until = Date.now() + 15_000;
    for (;;) {
      try {
        const res = await fetch(`${endpoint}/v3/kv/range`, {
          method: "POST",
          body: JSON.stringify({ key: btoa("probe") }),
        });
        await res.body?.cancel();
        if (res.ok) return;
      } catch { /* not up yet */ }
      if (Date.now() > until) {
        const text = await Deno.readTextFile(`${dir}/log`).catch(() => "");
        await stop();
        throw new Error(`etcd did not come up at ${endpoint} in 15 s:\n${text.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function stop(): Promise<void> {
    const c = child;
    if (!c) return;
    child = undefined;
    try {
      c.kill("SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await c.status;
    clearTimeout(timer);
    await logged;
  }

  await start();
  let closed: Promise<void> | undefined;
  const server: EtcdServer = {
    endpoint,
    get pid() {
      return child?.pid;
    },
    stop,
    start,
    close: () =>
      closed ??= (async () => {
        await stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      })(),
    [Symbol.asyncDispose]: () => server.close(),
  };
  return server;
}
