/**
 * One pool of connections for everyone (issue 22): the node runs under
 * Deno, Bun and Node in turn, the attacker in another process, a good
 * client in this one, from another local address. 1,000 idle connections
 * that completed HELLO with a valid key, from one address (then from four:
 * the whole pool), and 1,500 stalled TLS handshakes: the node holds what
 * its caps allow, refuses the rest at once (counted in stats), and the good
 * client is served beside them. No timing is asserted: every wait is on an
 * event, under a hang guard.
 */

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { DEFAULT_MAX_CONNECTIONS_PER_ADDRESS } from "../../src/cluster/listener.ts";
import { raw } from "../../src/codec/raw.ts";
import tls from "node:tls";
import { parseAddress } from "../../src/transport/address.ts";
import { wrap } from "../../src/transport/_node_socket.ts";
import type { Connection, Transport } from "../../src/transport/types.ts";
import { type RuntimeName, type ScriptChild, spawnScript } from "../_runtimes.ts";
import { makeCerts } from "../security/_certs.ts";
import { authAs } from "../trust/_keys.ts";
import { HANG_GUARD } from "../trust/_measure.ts";
import { lowerPriority } from "../trust/_nice.ts";
import { sourcedTransport } from "../trust/_sourced.ts";

const HERE = (file: string) => new URL(file, import.meta.url).pathname;
const RUNTIMES: RuntimeName[] = ["deno", "bun", "node"];
const quiet = { error() {}, warn() {} };

interface PoolStats {
  connections: number;
  refused: number;
  evicted: number;
  limits: Record<string, number>;
}

function lastOf<T>(child: ScriptChild, prefix: string): T | undefined {
  const lines = child.stdout().split("\n").filter((l) => l.startsWith(`${prefix} `));
  return lines.length === 0 ? undefined : JSON.parse(lines.at(-1)!.slice(prefix.length + 1));
}

async function untilStats(
  server: ScriptChild,
  check: (s: PoolStats) => boolean,
  what: string,
): Promise<PoolStats> {
  await server.until(
    () => {
      const s = lastOf<PoolStats>(server, "stats");
      return s !== undefined && check(s);
    },
    HANG_GUARD,
    what,
  );
  return lastOf<PoolStats>(server, "stats")!;
}

async function untilProgress(
  attacker: ScriptChild,
  check: (p: Record<string, number>) => boolean,
  what: string,
): Promise<Record<string, number>> {
  await attacker.until(() => check(lastOf(attacker, "progress") ?? {}), HANG_GUARD, what);
  return lastOf(attacker, "progress")!;
}

/** A TLS client transport whose connections leave from `from` (the node's CA trusted). */
function sourcedTls(from: string, ca: string): Transport {
  return {
    name: `node tls from ${from}`,
    listen: () => Promise.reject(new Error("connect only")),
    connect: (address) =>
      new Promise<Connection>((resolve, reject) => {
        const { hostname, port } = parseAddress(address);
        const socket = tls.connect({
          host: hostname,
          port,
          localAddress: from,
          ca,
          servername: "localhost",
          // A net.Socket connect option, honoured by tls.connect too.
        } as tls.ConnectionOptions);
        socket.once("error", reject);
        socket.once("secureConnect", () => {
          socket.off("error", reject);
          resolve(wrap(socket, true, 64 * 1024));
        });
      }),
  };
}

/** The good client's one call from `from`, under a hang guard: its answer. */
async function goodCall(
  address: string,
  transport: Transport,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const good = new Cluster({
    ...raw(),
    ...authAs("good"),
    transport,
    logger: quiet,
    timeout: HANG_GUARD,
    call: () => new Uint8Array(0),
    ...extra,
  });
  try {
    const answer = await good.call(good.connect(address), 1, new TextEncoder().encode("fresh"));
    return new TextDecoder().decode(answer as Uint8Array);
  } finally {
    await good.close();
  }
}

/** The most connections the node's stats lines ever showed open. */
function mostHeld(server: ScriptChild): number {
  let most = 0;
  for (const line of server.stdout().split("\n")) {
    if (line.startsWith("stats ")) most = Math.max(most, JSON.parse(line.slice(6)).connections);
  }
  return most;
}

/** Peer-triggered log lines in all: bounded by the fault log, not one per refusal. */
function logLines(server: ScriptChild): number {
  return server.stdout().split("\n").filter((l) => l.startsWith("log ")).length;
}

for (const runtime of RUNTIMES) {
  // The attackers run on Deno (a Node process of 1,000 weft clients loses
  // every connection before HELLO_ACK on this machine: see the handover).
  const attackerRuntime: RuntimeName = "deno";

  Deno.test(`pool (node on ${runtime}): 1,000 idle authenticated connections from one address hold its share only; a fresh client from another address is served at once`, async () => {
    const children: ScriptChild[] = [];
    try {
      // A long handshake deadline: 1,000 niced clients on a loaded machine
      // may take seconds to send their HELLO (that deadline is not tested here).
      const server = await spawnScript(runtime, HERE("./_pool_server.ts"), ["--handshake=60000"]);
      children.push(server);
      const address = (await server.waitFor(/^listening (\S+)$/m, HANG_GUARD))[1]!;
      const attacker = await spawnScript(attackerRuntime, HERE("./_pool_attacker.ts"), [
        "idle",
        address,
        "1000",
        "127.0.0.1",
      ]);
      children.push(attacker);
      // At normal priority: what is tested is who is held and who is served,
      // not a share of the CPU, and a reniced attacker beside CPU burners got
      // too little of it to answer the node's heartbeats (its connections
      // were closed as dead, and the counts went off).
      const p = await untilProgress(
        attacker,
        (p) => Object.values(p).reduce((a, b) => a + b, 0) >= 1000,
        "every attacking client's outcome",
      );
      assert.equal(p.served, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, JSON.stringify(p));
      const held = await untilStats(
        server,
        (s) => s.limits["per address"]! >= 1000 - DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        "the refusals counted",
      );
      assert.equal(held.connections, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, JSON.stringify(held));
      assert.equal(held.refused, 1000 - DEFAULT_MAX_CONNECTIONS_PER_ADDRESS);
      // The fresh client, from 127.0.0.2, while the 256 stay connected and idle.
      assert.equal(await goodCall(address, sourcedTransport("127.0.0.2")), "fresh");
      const after = lastOf<PoolStats>(server, "stats")!;
      assert.ok(after.connections >= DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, JSON.stringify(after));
      // 744 refusals, at most 10 lines a second per kind: far fewer lines.
      assert.ok(logLines(server) < 744 / 2, `${logLines(server)} log lines`);
    } finally {
      for (const child of children.reverse()) await child.stop();
    }
  });

  Deno.test(`pool (node on ${runtime}): idle authenticated connections from four addresses fill the pool; a fresh client from a fifth is served at once, in place of the newest of the address holding the most`, async () => {
    const children: ScriptChild[] = [];
    try {
      const server = await spawnScript(runtime, HERE("./_pool_server.ts"), [
        "--max-connections=400",
        "--max-per-address=100",
        "--handshake=60000",
      ]);
      children.push(server);
      const address = (await server.waitFor(/^listening (\S+)$/m, HANG_GUARD))[1]!;
      const attacker = await spawnScript(attackerRuntime, HERE("./_pool_attacker.ts"), [
        "idle",
        address,
        "100",
        "127.0.0.1,127.0.0.3,127.0.0.4,127.0.0.5",
      ]);
      children.push(attacker);
      // At normal priority: what is tested is who is held and who is served,
      // not a share of the CPU, and a reniced attacker beside CPU burners got
      // too little of it to answer the node's heartbeats (its connections
      // were closed as dead, and the counts went off).
      const p = await untilProgress(
        attacker,
        (p) => Object.values(p).reduce((a, b) => a + b, 0) >= 400,
        "every attacking client's outcome",
      );
      assert.equal(p.served, 400, JSON.stringify(p));
      await untilStats(server, (s) => s.connections === 400, "the pool full");
      assert.equal(await goodCall(address, sourcedTransport("127.0.0.2")), "fresh");
      const after = await untilStats(server, (s) => s.evicted >= 1, "an eviction");
      assert.equal(after.limits.evicted, after.evicted);
      assert.ok(after.connections <= 400, JSON.stringify(after));
    } finally {
      for (const child of children.reverse()) await child.stop();
    }
  });

  Deno.test(`pool (node on ${runtime}): 1,500 stalled TLS handshakes are bounded by the per-address share and released at the handshake deadline; a good TLS client from another address is served beside them`, async () => {
    const certs = await makeCerts();
    const children: ScriptChild[] = [];
    try {
      const server = await spawnScript(runtime, HERE("./_pool_server.ts"), [
        `--tls=${certs.dir}`,
        "--handshake=3000",
      ]);
      children.push(server);
      const address = (await server.waitFor(/^listening (\S+)$/m, HANG_GUARD))[1]!;
      const attacker = await spawnScript(attackerRuntime, HERE("./_pool_attacker.ts"), [
        "stall",
        address,
        "1500",
        "127.0.0.1",
      ]);
      children.push(attacker);
      await lowerPriority(attacker.pid);
      // Every stalled connection opened (held, or refused at once).
      await untilProgress(
        attacker,
        (p) => (p.opened ?? 0) + (p.failed ?? 0) >= 1500,
        "every stalled connection opened",
      );
      // A good TLS client from 127.0.0.2, beside the stalled ones.
      assert.equal(await goodCall(address, sourcedTls("127.0.0.2", certs.ca)), "fresh");
      // The handshake deadline closes the stalled ones the node held (some
      // of the 1,500 may never be accepted at all: past the listen backlog
      // the kernel drops them, and those that send nothing stay open on the
      // attacker's side only).
      await untilProgress(
        attacker,
        (p) => (p["closed later"] ?? 0) >= 1,
        "a stalled handshake closed at its deadline",
      );
      const end = await untilStats(server, (s) => s.connections === 0, "no connection left");
      assert.ok(end.limits["per address"]! >= 1, JSON.stringify(end));
      // Handshakes in progress counted from accept: never over the share
      // (the good client from its own address beside them).
      const most = mostHeld(server);
      assert.ok(most <= DEFAULT_MAX_CONNECTIONS_PER_ADDRESS + 1, `${most} held at once`);
      // And the good client again, from the address that stalled.
      assert.equal(await goodCall(address, sourcedTls("127.0.0.1", certs.ca)), "fresh");
    } finally {
      for (const child of children.reverse()) await child.stop();
    }
  });
}
