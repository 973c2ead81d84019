/**
 * An attacker of a registry node, on Deno, Bun or Node:
 * `_registry_attacker.ts MODE KEY ADDRESS`, speaking the registry's own
 * commands over a weft connection. KEY is `none` or `intruder` (a valid
 * key, another identity than the good clients'). It attacks until killed
 * (bounded: 5,000 rounds or 120 s), printing `progress {json}` (outcomes by
 * code) every 100 ms. Modes:
 *
 * - `write`: overwrites and deletes the good registration `svc/2/1`;
 * - `revoke`: reads the lease ids in the election keys (anyone may read
 *   them) and revokes them and keeps them alive;
 * - `usurp`: deletes the leader's election key, and campaigns itself;
 * - `exhaust`: grants leases, writes keys and opens watches until refused,
 *   holds them, and keeps asking for more.
 */

import { Cluster } from "../../src/cluster/cluster.ts";
import { json } from "../../src/codec/json.ts";
import { RemoteRegistry } from "../../src/discovery/remote.ts";
import { authAs } from "./_keys.ts";

declare const process: { argv: string[]; exit(code: number): never };

/** The registry node's commands (its wire contract). */
const COMMANDS = { grant: 1, keepAlive: 2, revoke: 3, put: 4, delete: 5, range: 6, watch: 7 };
const NS = "weft/";
const [mode, key, address] = process.argv.slice(2);
const counts: Record<string, number> = {};
const count = (code: string) => (counts[code] = (counts[code] ?? 0) + 1);
setInterval(() => console.log(`progress ${JSON.stringify(counts)}`), 100);
const end = Date.now() + 120_000;
const quiet = { error() {}, warn() {} };
const cluster = new Cluster({
  ...json({ commands: COMMANDS }),
  ...authAs(key!),
  timeout: 10_000,
  logger: quiet,
});
const peer = cluster.connect(address!);

/** One command: its answer, or undefined after counting its error's code. */
async function call(
  cmd: keyof typeof COMMANDS,
  body: object,
  label: string,
): Promise<Record<string, unknown> | undefined> {
  try {
    const answer = (await cluster.call(peer, cmd, body)) as Record<string, unknown>;
    count(`${label} ok`);
    return answer;
  } catch (error) {
    const e = error as { code?: string; remote?: { code?: string } };
    count(`${label} ${e.remote?.code ?? e.code}`);
    return undefined;
  }
}

const rounds = (n = 5000) => Array.from({ length: n }).map((_, i) => i);
switch (mode) {
  case "write": {
    const lease = (await call("grant", { ttl: 60_000 }, "grant"))?.id;
    for (const _ of rounds()) {
      if (Date.now() > end) break;
      await call("put", {
        key: `${NS}m/svc/2/1`,
        value: '{"id":"svc/2/1","address":"6.6.6.6:6"}',
        lease: lease ?? "1",
      }, "put");
      await call("delete", { key: `${NS}m/svc/2/1` }, "delete");
    }
    break;
  }
  case "revoke": {
    for (const _ of rounds()) {
      if (Date.now() > end) break;
      const r = await call("range", { prefix: `${NS}e/` }, "range");
      const kvs = (r?.kvs ?? []) as { key: string }[];
      for (const kv of kvs) {
        const id = kv.key.slice(kv.key.lastIndexOf("/") + 1);
        await call("revoke", { id }, "revoke");
        await call("keepAlive", { id }, "keepAlive");
      }
      if (kvs.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    break;
  }
  case "usurp": {
    const registry = key === "none"
      ? undefined
      : new RemoteRegistry({ address: address!, ...authAs(key!), logger: quiet });
    // Stands for master too, in the background: it must never be elected.
    const campaign = registry?.campaign("svc-2", { id: "svc/2/99", address: "6.6.6.6:6" }, {
      ttl: 2000,
    })
      .then(() => count("elected"), () => count("campaign ended"));
    for (const _ of rounds()) {
      if (Date.now() > end) break;
      const r = await call("range", { prefix: `${NS}e/svc-2/` }, "range");
      const kvs = (r?.kvs ?? []) as { key: string; create: string }[];
      const leader = kvs.sort((a, b) => Number(BigInt(a.create) - BigInt(b.create)))[0];
      if (leader !== undefined && !JSON.stringify(leader).includes("svc/2/99")) {
        await call("delete", { key: leader.key }, "delete");
      } else {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    void campaign;
    break;
  }
  case "exhaust": {
    const leases: string[] = [];
    const now = await call("range", { prefix: `${NS}none/` }, "range");
    // The next revision, under a prefix nothing writes: the call waits (up to its wait).
    const from = String(BigInt((now?.revision as string | undefined) ?? "0") + 1n);
    for (const i of rounds()) {
      if (Date.now() > end) break;
      const lease = await call("grant", { ttl: 60_000 }, "grant");
      if (lease !== undefined) leases.push(lease.id as string);
      if (leases.length > 0) {
        await call(
          "put",
          { key: `${NS}x/${i}`, value: "x", lease: leases[i % leases.length] },
          "put",
        );
      }
      // Each watch held counts against the connection's and the identity's share.
      void call("watch", { prefix: `${NS}none/`, from, wait: 60_000 }, "watch");
      if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    break;
  }
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
console.log(`progress ${JSON.stringify(counts)}`);
console.log("finished");
process.exit(0);
