/**
 * `AcceptGate`: the per-address share by default, the pool, eviction for
 * an address holding fewer, releases counted once, refusals counted and
 * logged through the fault log only; a cluster's `stats().limits.refused`.
 */

import assert from "node:assert/strict";
import {
  AcceptGate,
  addressKey,
  checkConnectionCaps,
  connectionRefusals,
} from "../../src/cluster/accept_gate.ts";
import { Cluster } from "../../src/cluster/cluster.ts";
import { FaultLog } from "../../src/cluster/fault_log.ts";
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
} from "../../src/cluster/listener.ts";
import { raw } from "../../src/codec/raw.ts";
import { transport as memory } from "../../src/transport/memory.ts";
import type { CloseInfo, Connection } from "../../src/transport/types.ts";
import { until } from "../_wait.ts";

function gate(options: { maxConnections?: number; maxConnectionsPerAddress?: number } = {}) {
  const lines: string[] = [];
  const counts = connectionRefusals();
  const faults = new FaultLog({ error: (message) => lines.push(message) }, 10, () => 0);
  return { gate: new AcceptGate(options, "127.0.0.1:7000", faults, counts), lines, counts };
}

/** Admits a socket from `hostname` through the transport hook: its release and whether it was closed. */
function socket(g: AcceptGate, hostname: string) {
  const s = { closed: false, release: undefined as (() => void) | undefined };
  s.release = g.admit({ hostname, port: 40000 }, () => (s.closed = true));
  return s;
}

Deno.test("`checkConnectionCaps` gives every listener a per-address share by default", () => {
  assert.deepEqual(checkConnectionCaps({}), {
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    maxConnectionsPerAddress: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  });
  assert.ok(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS < DEFAULT_MAX_CONNECTIONS);
  assert.equal(
    checkConnectionCaps({ maxConnectionsPerAddress: Infinity }).maxConnectionsPerAddress,
    Infinity,
  );
  assert.throws(() => checkConnectionCaps({ maxConnectionsPerAddress: 0 }), RangeError);
});

Deno.test("`addressKey` counts IPv4 (mapped too) by address and IPv6 by its /64", () => {
  assert.equal(addressKey("127.0.0.2"), "127.0.0.2");
  assert.equal(addressKey("::FFFF:10.0.0.1"), "10.0.0.1");
  assert.equal(addressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(addressKey("64:ff9b::192.0.2.1"), "64:ff9b:0:0::/64");
});

Deno.test("`AcceptGate` by default: 1,000 connections from one address hold its share only; another address is admitted at once", () => {
  const { gate: g, counts, lines } = gate();
  const held = Array.from({ length: 1000 }, () => socket(g, "127.0.0.1"));
  const admitted = held.filter((s) => s.release !== undefined).length;
  assert.equal(admitted, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS);
  assert.equal(g.open, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS);
  assert.equal(counts["per address"], 1000 - DEFAULT_MAX_CONNECTIONS_PER_ADDRESS);
  assert.equal(g.refused, 1000 - DEFAULT_MAX_CONNECTIONS_PER_ADDRESS);
  // Logged through the fault log: 10 lines in the window, whatever the count.
  assert.equal(lines.length, 10);
  assert.match(
    lines[0]!,
    /refused a connection from 127\.0\.0\.1: it holds maxConnectionsPerAddress 256/,
  );
  const fresh = socket(g, "127.0.0.2");
  assert.notEqual(fresh.release, undefined);
  // A release counts once, however often the transport calls it.
  held[0]!.release!();
  held[0]!.release!();
  assert.equal(g.open, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS);
  assert.notEqual(socket(g, "127.0.0.1").release, undefined);
});

Deno.test("`AcceptGate` with the pool full: an address holding at least two fewer takes the newest connection of the address holding the most", () => {
  const { gate: g, counts } = gate({ maxConnections: 8, maxConnectionsPerAddress: 4 });
  const a = Array.from({ length: 4 }, () => socket(g, "10.0.0.1"));
  const b = Array.from({ length: 4 }, () => socket(g, "10.0.0.2"));
  assert.equal(g.open, 8);
  // 10.0.0.3 holds none: the newest of one of the holders of 4 is closed.
  const c1 = socket(g, "10.0.0.3");
  assert.notEqual(c1.release, undefined);
  assert.equal(g.open, 8);
  assert.equal(g.evicted, 1);
  assert.equal(counts.evicted, 1);
  const closed = [...a, ...b].filter((s) => s.closed);
  assert.equal(closed.length, 1);
  assert.ok(closed[0] === a[3] || closed[0] === b[3], "the newest of its address");
  // Its transport's release later changes nothing: it was released at once.
  closed[0]!.release!();
  assert.equal(g.open, 8);
  // 10.0.0.3 holds 1, the most is 4: a second one takes another.
  assert.notEqual(socket(g, "10.0.0.3").release, undefined);
  assert.equal(g.evicted, 2);
  // Now 3, 3... or 4, 2: the holders are within one of each other or not.
  let evictions = g.evicted;
  for (let i = 0; i < 10; i++) {
    const s = socket(g, "10.0.0.3");
    if (s.release === undefined) break;
    evictions++;
  }
  assert.equal(g.evicted, evictions);
  assert.equal(g.open, 8);
  // No address lost everything, and 10.0.0.3 does not hold more than the others plus one.
  assert.ok(counts.connections >= 1, "refused once the shares are even");
  // An address that already holds as many as the top holder less one is refused.
  const before = counts.connections;
  assert.equal(socket(g, "10.0.0.3").release, undefined);
  assert.equal(counts.connections, before + 1);
});

Deno.test("`AcceptGate` never evicts for an address at the top itself", () => {
  const { gate: g, counts } = gate({ maxConnections: 3, maxConnectionsPerAddress: 10 });
  const held = Array.from({ length: 3 }, () => socket(g, "10.0.0.1"));
  assert.equal(socket(g, "10.0.0.1").release, undefined);
  assert.ok(held.every((s) => !s.closed));
  assert.equal(counts.connections, 1);
  assert.equal(counts.evicted, 0);
});

Deno.test("`AcceptGate.accept` counts connections itself for a transport that does not call admit", async () => {
  const { gate: g, counts } = gate({ maxConnectionsPerAddress: 1 });
  const fake = (hostname: string) => {
    const done = Promise.withResolvers<CloseInfo>();
    let closes = 0;
    const conn = {
      remoteAddress: { hostname, port: 1 },
      closed: done.promise,
      close: () => {
        closes++;
        done.resolve({ reason: "local" });
        return done.promise;
      },
    } as unknown as Connection;
    return { conn, closes: () => closes };
  };
  const accepted: Connection[] = [];
  const one = fake("10.0.0.1");
  g.accept(one.conn, (c) => accepted.push(c));
  const two = fake("10.0.0.1");
  g.accept(two.conn, (c) => accepted.push(c));
  assert.deepEqual(accepted, [one.conn]);
  assert.equal(two.closes(), 1);
  assert.equal(counts["per address"], 1);
  await one.conn.close();
  await until(() => g.open === 0, 1000, "the release");
});

Deno.test("`Cluster.listen` gates at accept: refusals in `stats().limits.refused` and `listener.refused`", async () => {
  const server = new Cluster({
    transport: memory,
    ...raw(),
    stats: true,
    call: () => new Uint8Array(0),
    logger: { error() {}, warn() {} },
  });
  const conns: Connection[] = [];
  try {
    const listener = await server.listen("127.0.0.1:0", { maxConnectionsPerAddress: 2 });
    const address = `127.0.0.1:${listener.address.port}`;
    for (let i = 0; i < 4; i++) conns.push(await memory.connect(address));
    await until(() => listener.refused === 2, 2000, "2 refusals");
    assert.equal(listener.connections, 2);
    const refused = server.stats()!.limits!.refused;
    assert.equal(refused["per address"], 2);
    assert.equal(refused.connections, 0);
    assert.equal(refused.evicted, 0);
  } finally {
    for (const c of conns) await c.close();
    await server.close();
  }
});
