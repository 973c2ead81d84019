/**
 * Records real skynet cluster bytes into test fixtures.
 *
 * Runs real skynet processes (a build given by the `SKYNET` environment
 * variable: the directory holding the `skynet` binary, `lualib/`,
 * `service/`, `luaclib/` and `cservice/`) on loopback, with our own Lua
 * services from `tests/skynet/lua/`:
 *
 * 1. `capture_values.lua` prints `skynet.pack` of a value of every type:
 *    written to `tests/skynet/fixtures/values.json`;
 * 2. `capture_db.lua` (node "db") and `capture_web.lua` (node "web", which
 *    calls "db" step by step), with a recording TCP relay between web's
 *    clustersender and db's listener: every frame in both directions,
 *    grouped into messages (the step, its request frames, its response
 *    frames), written to `tests/skynet/fixtures/cluster.json`.
 *
 * Every process it starts is stopped by its pid; every wait is bounded.
 *
 * 3. `capture_config.lua` runs skynet's own config loader (clusterd) on
 *    each case of `tests/nodes/_lua_config_cases.ts` and reads back what it
 *    kept: written to `tests/skynet/fixtures/configs.json`.
 *
 * ```sh
 * SKYNET=/path/to/skynet deno run -A tests/skynet/capture.ts [values|cluster|configs]
 * ```
 *
 * Nothing here builds skynet: build it from its own source (cloudwu/skynet)
 * as its README says, then point `SKYNET` at the build.
 *
 * @module
 */

import { configCases, type ConfigOutcome } from "../nodes/_lua_config_cases.ts";

const here = new URL(".", import.meta.url).pathname;
const luaDir = `${here}lua`;
const fixtureDir = `${here}fixtures`;

/** What the capture was made from, written into each fixture. */
export interface CaptureSource {
  skynet: string;
  capturedBy: string;
}

function usage(): never {
  console.error(
    [
      "capture.ts records real skynet cluster bytes; it needs a skynet build.",
      "Build skynet from its source (cloudwu/skynet), then run:",
      "  SKYNET=/path/to/skynet deno run -A tests/skynet/capture.ts",
      "where /path/to/skynet holds the skynet binary, lualib/, service/, luaclib/ and cservice/.",
    ].join("\n"),
  );
  Deno.exit(2);
}

/** The skynet build directory from `SKYNET`, checked; exits with usage when missing. */
export function skynetRoot(): string {
  const root = Deno.env.get("SKYNET");
  if (root === undefined || root === "") usage();
  for (const part of ["skynet", "lualib", "service", "luaclib", "cservice"]) {
    try {
      Deno.statSync(`${root}/${part}`);
    } catch {
      console.error(`SKYNET=${root}: no ${part} there`);
      usage();
    }
  }
  return root.replace(/\/$/, "");
}

/** Which skynet revision `root` is (a git work tree's HEAD, else unknown). */
export async function skynetRevision(root: string): Promise<string> {
  try {
    const out = await new Deno.Command("git", {
      args: ["-C", root, "rev-parse", "--short=8", "HEAD"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) return `cloudwu/skynet ${new TextDecoder().decode(out.stdout).trim()}`;
  } catch {
    // not a git tree
  }
  return Deno.env.get("SKYNET_REVISION") ?? "cloudwu/skynet (revision unknown)";
}

/** A free loopback port (listen on 0, read it, close). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Writes a skynet start config running service `start` with our Lua directory on the path. */
export function writeConfig(
  dir: string,
  root: string,
  name: string,
  start: string,
  cluster?: string,
  extraLuaDirs: string[] = [],
  settings: Record<string, string | number> = {},
): string {
  const path = `${dir}/${name}.config`;
  const luaservice = [
    `${root}/service/?.lua`,
    `${luaDir}/?.lua`,
    ...extraLuaDirs.map((d) => `${d}/?.lua`),
  ]
    .join(";");
  Deno.writeTextFileSync(
    path,
    [
      `thread = 2`,
      `logger = nil`,
      `harbor = 0`,
      `start = "${start}"`,
      `bootstrap = "snlua bootstrap"`,
      `luaservice = "${luaservice}"`,
      `lualoader = "${root}/lualib/loader.lua"`,
      `lua_path = "${root}/lualib/?.lua;${root}/lualib/?/init.lua"`,
      `lua_cpath = "${root}/luaclib/?.so"`,
      `cpath = "${root}/cservice/?.so"`,
      ...(cluster === undefined ? [] : [`cluster = "${cluster}"`]),
      ...Object.entries(settings).map(([k, v]) => `${k} = ${JSON.stringify(String(v))}`),
      "",
    ].join("\n"),
  );
  return path;
}

/** A running skynet process whose stdout lines are collected. */
export class SkynetProcess {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #waiters: { match: string; resolve: (line: string) => void }[] = [];
  readonly done: Promise<void>;

  constructor(root: string, config: string) {
    this.child = new Deno.Command(`${root}/skynet`, {
      args: [config],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    this.done = Promise.all([this.#read(this.child.stdout), this.#read(this.child.stderr)])
      .then(() => {});
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      let nl;
      while ((nl = rest.indexOf("\n")) !== -1) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        this.lines.push(line);
        for (const waiter of [...this.#waiters]) {
          if (line.includes(waiter.match)) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
    }
  }

  /** Resolves with the first line containing `match` (already seen or next), within `ms`. */
  waitFor(match: string, ms: number): Promise<string> {
    const seen = this.lines.find((line) => line.includes(match));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `skynet (pid ${this.child.pid}) did not print "${match}" within ${ms} ms:\n${
              this.lines.slice(-20).join("\n")
            }`,
          ),
        );
      }, ms);
      this.#waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  /** Stops the process by its pid (SIGTERM, then SIGKILL after 2 s) and waits for it. */
  async stop(): Promise<void> {
    const status = await Promise.race([
      this.child.status,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 50)),
    ]);
    if (status === null) {
      try {
        Deno.kill(this.child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          Deno.kill(this.child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }, 2000);
      await this.child.status;
      clearTimeout(timer);
    }
    await this.done;
  }
}

/** A TCP relay on loopback that records what passes each way. */
export class RecordingRelay {
  readonly port: number;
  readonly #listener: Deno.Listener;
  readonly #conns: Deno.Conn[] = [];
  readonly #pumps: Promise<void>[] = [];
  /** Bytes from the connecting side (requests), in order. */
  readonly forward: Uint8Array[] = [];
  /** Bytes from the target side (responses), in order. */
  readonly backward: Uint8Array[] = [];
  readonly #accepting: Promise<void>;

  constructor(targetPort: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accepting = this.#accept(targetPort);
  }

  async #accept(targetPort: number): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const target = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
        this.#conns.push(conn, target);
        this.#pumps.push(
          this.#pump(conn, target, this.forward),
          this.#pump(target, conn, this.backward),
        );
      }
    } catch {
      // listener closed
    }
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, record: Uint8Array[]): Promise<void> {
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        const chunk = buffer.slice(0, n);
        record.push(chunk);
        let written = 0;
        while (written < n) written += await to.write(chunk.subarray(written));
      }
    } catch {
      // closed
    }
    try {
      to.closeWrite();
    } catch {
      // closed
    }
  }

  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // closed
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // closed
      }
    }
    await this.#accepting;
    await Promise.all(this.#pumps);
  }
}

/** Concatenates chunks. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Splits a stream into its 2-byte big-endian length-prefixed frames (prefix included). */
export function splitFrames(stream: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let at = 0;
  while (at + 2 <= stream.length) {
    const len = (stream[at]! << 8) | stream[at + 1]!;
    if (at + 2 + len > stream.length) throw new Error(`stream cut inside a frame at ${at}`);
    frames.push(stream.subarray(at, at + 2 + len));
    at += 2 + len;
  }
  if (at !== stream.length) throw new Error(`stream cut inside a length prefix at ${at}`);
  return frames;
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

const u32 = (b: Uint8Array, at: number) =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** A request frame's type and session (a minimal reading, independent of src/wire). */
function requestHead(frame: Uint8Array): { type: number; session?: number; name?: string } {
  const body = frame.subarray(2);
  const type = body[0]!;
  switch (type) {
    case 0x00:
    case 0x01:
    case 0x41:
      return { type, session: u32(body, 5) };
    case 0x80:
    case 0x81:
    case 0xc1: {
      const n = body[1]!;
      return {
        type,
        session: u32(body, 2 + n),
        name: new TextDecoder().decode(body.subarray(2, 2 + n)),
      };
    }
    case 0x02:
    case 0x03:
      return { type, session: u32(body, 1) };
    default:
      return { type };
  }
}

interface Message {
  step: string;
  session: number;
  request: number[];
  response: number[];
}

function groupMessages(requests: Uint8Array[], responses: Uint8Array[]) {
  const messages: Message[] = [];
  const open = new Map<number, Message>();
  const requestFrames: { hex: string; step: string }[] = [];
  let step = "";
  let pendingTrace: number | undefined;
  for (const frame of requests) {
    const head = requestHead(frame);
    // A step marker: a small push to @mark; left out of the fixtures.
    if (head.type === 0x80 && head.name === "@mark" && head.session === 0) {
      // skynet.pack("STEP", label): 0x24 "STEP", then the label (short or u16 long string).
      const body = frame.subarray(2 + 2 + 5 + 4 + 5);
      const t = body[0]!;
      const [len, at] = (t & 7) === 4 ? [t >> 3, 1] : [body[1]! | (body[2]! << 8), 3];
      step = new TextDecoder().decode(body.subarray(at, at + len));
      continue;
    }
    const index = requestFrames.push({ hex: toHex(frame), step }) - 1;
    if (head.type === 0x04) {
      pendingTrace = index;
      continue;
    }
    if (head.type === 0x02 || head.type === 0x03) {
      const message = open.get(head.session!);
      if (message === undefined) throw new Error(`part of unknown session ${head.session}`);
      message.request.push(index);
      continue;
    }
    const message: Message = {
      step,
      session: head.session!,
      request: pendingTrace === undefined ? [index] : [pendingTrace, index],
      response: [],
    };
    pendingTrace = undefined;
    messages.push(message);
    if (head.session !== 0) open.set(head.session!, message);
  }
  const responseFrames: { hex: string; step: string }[] = [];
  for (const frame of responses) {
    const session = u32(frame, 2);
    const message = open.get(session);
    if (message === undefined) throw new Error(`response to unknown session ${session}`);
    message.response.push(responseFrames.push({ hex: toHex(frame), step: message.step }) - 1);
  }
  return { messages, requestFrames, responseFrames };
}

async function captureValues(root: string, dir: string, source: CaptureSource) {
  const config = writeConfig(dir, root, "values", "capture_values");
  const proc = new SkynetProcess(root, config);
  try {
    await proc.waitFor("VALUES DONE", 20_000);
  } finally {
    await proc.stop();
  }
  const values = proc.lines.filter((line) => line.startsWith("VALUE\t")).map((line) => {
    const [, label, hex] = line.split("\t");
    return { label: label!, hex: hex! };
  });
  Deno.writeTextFileSync(
    `${fixtureDir}/values.json`,
    JSON.stringify({ ...source, what: "skynet.pack(...) of each value, hex", values }, null, 2) +
      "\n",
  );
  console.log(`values.json: ${values.length} values`);
}

async function captureCluster(root: string, dir: string, source: CaptureSource) {
  const dbPort = freePort();
  const relay = new RecordingRelay(dbPort);
  Deno.writeTextFileSync(`${dir}/db.cluster.lua`, `db = "127.0.0.1:${dbPort}"\n`);
  Deno.writeTextFileSync(`${dir}/web.cluster.lua`, `db = "127.0.0.1:${relay.port}"\n`);
  const db = new SkynetProcess(
    root,
    writeConfig(dir, root, "db", "capture_db", `${dir}/db.cluster.lua`),
  );
  let web: SkynetProcess | undefined;
  try {
    await db.waitFor("CAPTURE READY", 20_000);
    web = new SkynetProcess(
      root,
      writeConfig(dir, root, "web", "capture_web", `${dir}/web.cluster.lua`),
    );
    await web.waitFor("CAPTURE DONE", 30_000);
  } finally {
    await web?.stop();
    await db.stop();
    await relay.close();
  }
  const requests = splitFrames(concat(relay.forward));
  const responses = splitFrames(concat(relay.backward));
  const grouped = groupMessages(requests, responses);
  Deno.writeTextFileSync(
    `${fixtureDir}/cluster.json`,
    JSON.stringify(
      {
        ...source,
        what:
          "frames (2-byte big-endian length prefix included, hex) from skynet node web's clustersender to node db's clusteragent (requests) and back (responses), in stream order; messages group them by step",
        requests: grouped.requestFrames,
        responses: grouped.responseFrames,
        messages: grouped.messages,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(
    `cluster.json: ${grouped.messages.length} messages, ${requests.length} request frames (markers included), ${responses.length} response frames`,
  );
}

/** What skynet's loader made of one config: its table, or a refusal (with the config line it named, 0 for none). */
async function skynetConfigOutcome(
  root: string,
  dir: string,
  index: number,
  text: string,
): Promise<{ outcome: ConfigOutcome; log: string }> {
  const file = `${dir}/case${index}.lua`;
  Deno.writeTextFileSync(file, text);
  const proc = new SkynetProcess(
    root,
    writeConfig(dir, root, `config${index}`, "capture_config", file),
  );
  let line: string;
  try {
    line = await Promise.race([
      proc.waitFor("CONFIG TABLE", 15_000),
      proc.waitFor("CONFIG REFUSED", 15_000),
    ]);
    if (line.includes("TABLE")) await proc.waitFor("CONFIG END", 5_000);
  } finally {
    await proc.stop();
  }
  const log = proc.lines.filter((l) => !l.startsWith("NODE ") && !l.startsWith("OPT ")).join(
    "\n",
  );
  if (line.includes("REFUSED")) {
    const at = proc.lines.map((l) => new RegExp(`case${index}\\.lua:(\\d+):`).exec(l))
      .find((m) => m !== null);
    return { outcome: { refusedAt: at ? Number(at[1]) : 0 }, log };
  }
  const text8 = (hex: string) => new TextDecoder().decode(fromHexString(hex));
  const nodes: [string, string | false][] = [];
  let nowaiting = false;
  for (const l of proc.lines) {
    const [kind, key, value] = l.split(" ");
    if (kind === "NODE") {
      nodes.push([text8(key!), value!.startsWith("s") ? text8(value!.slice(1)) : false]);
    }
    if (kind === "OPT" && text8(key!) === "nowaiting") {
      nowaiting = value !== "false" && value !== "nil";
    }
  }
  nodes.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return { outcome: { nodes, nowaiting }, log };
}

function fromHexString(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

async function captureConfigs(root: string, dir: string, source: CaptureSource) {
  const configs = [];
  for (let i = 0; i < configCases.length; i++) {
    const c = configCases[i]!;
    const { outcome, log } = await skynetConfigOutcome(root, dir, i, c.text);
    configs.push({ name: c.name, text: c.text, outcome, log: log.slice(0, 2000) });
  }
  Deno.writeTextFileSync(
    `${fixtureDir}/configs.json`,
    JSON.stringify(
      {
        ...source,
        what:
          "each case of tests/nodes/_lua_config_cases.ts run through skynet's clusterd loader: the node_address table it kept (sorted) and config.nowaiting, or that clusterd refused to start and the config line its error named (0: none)",
        configs,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`configs.json: ${configs.length} configs`);
}

if (import.meta.main) {
  const root = skynetRoot();
  const source: CaptureSource = {
    skynet: await skynetRevision(root),
    capturedBy: "tests/skynet/capture.ts",
  };
  const dir = Deno.makeTempDirSync({ prefix: "weft-skynet-capture-" });
  try {
    const only = Deno.args[0];
    if (only === undefined || only === "values") await captureValues(root, dir, source);
    if (only === undefined || only === "cluster") await captureCluster(root, dir, source);
    if (only === undefined || only === "configs") await captureConfigs(root, dir, source);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
