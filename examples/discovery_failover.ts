// A group master elected by lease in etcd is killed (kill -9) and another
// takes over. Three worker processes, on Deno, Bun and Node
// (examples/_discovery_worker.ts), campaign for master of group "orders";
// this script observes the group like a router would (keeping only a master
// with a higher fence than the last one it accepted), calls the master's
// `whoami` every 100 ms, kills the master's process, and prints each call's
// outcome and how long the switch took.
//
//   deno run -A examples/discovery_failover.ts                 # starts a throwaway etcd (etcd on PATH)
//   deno run -A examples/discovery_failover.ts --etcd http://127.0.0.1:2379
//
// Deno only (it starts processes). Exits 0 only if every check passed.

import { Cluster } from "../src/cluster/cluster.ts";
import type { Peer } from "../src/connection/peer.ts";
import { json } from "../src/codec/json.ts";
import { EtcdRegistry } from "../src/discovery/etcd.ts";
import type { Master } from "../src/discovery/types.ts";
import { check, codeOf, finish, sleep } from "./_check.ts";
import { type EtcdServer, startEtcd } from "./_etcd.ts";
import { type RuntimeName, type ScriptChild, spawnScript } from "./_runtimes.ts";

const TTL = 1000;
const at = Deno.args.indexOf("--etcd");
let etcd: EtcdServer | undefined;
const endpoint = at >= 0 ? Deno.args[at + 1]! : (etcd = await startEtcd()).endpoint;
const namespace = `failover-${Date.now()}/`;
const worker = new URL("./_discovery_worker.ts", import.meta.url).pathname;
const workers = new Map<RuntimeName, ScriptChild>();
const registry = new EtcdRegistry({ endpoints: endpoint, namespace, logger: console });
const client = new Cluster({ ...json({ commands: { whoami: 1 } }), timeout: 300, logger: console });
const observing = new AbortController();
const start = Date.now();
const ms = () => String(Date.now() - start).padStart(6);

try {
  console.log(`etcd at ${endpoint}; lease TTL ${TTL} ms`);
  for (const rt of ["deno", "bun", "node"] as const) {
    const child = await spawnScript(rt, worker, [
      endpoint,
      namespace,
      `orders/${rt}`,
      "--ttl",
      String(TTL),
      "--campaign",
      "orders",
    ]);
    workers.set(rt, child);
    await child.waitFor(/^listening /m, 30_000);
  }

  // The master as a router keeps it: a change is accepted only with a higher fence.
  let master: Master | undefined;
  let peer: Peer | undefined;
  let rejected = 0;
  const observed = (async () => {
    for await (const m of registry.observe("orders", { signal: observing.signal })) {
      if (m === null) continue;
      if (master !== undefined && m.fence <= master.fence) {
        rejected++;
        continue;
      }
      master = m;
      peer = client.connect(m.address);
      console.log(`${ms()} ms  master is ${m.id} (fence ${m.fence}) at ${m.address}`);
    }
  })();

  // While a master is up, a call may take long on a busy machine (the first
  // one connects); while it is switching, calls fail fast (300 ms) and count.
  const call = async (timeout = 300) => {
    if (peer === undefined) return "no master";
    const target = master!;
    const code = await codeOf(client.call(peer, "whoami", {}, { timeout }));
    const line = code === "no error" ? "answered" : `failed: ${code}`;
    console.log(`${ms()} ms  whoami -> ${target.id} (fence ${target.fence}): ${line}`);
    return code;
  };

  // Waits are bounded by time (generous: a busy machine is slow, not
  // failing) and, as a guard, by count.
  const electedBy = Date.now() + 60_000;
  for (let i = 0; i < 6000 && peer === undefined && Date.now() < electedBy; i++) await sleep(10);
  check(master !== undefined, "a master was elected");
  const first = master!;
  for (let i = 0; i < 3; i++) {
    check(await call(10_000) === "no error", `the master answers (call ${i + 1})`);
    await sleep(100);
  }

  const victim = workers.get(first.metadata!.runtime as RuntimeName)!;
  console.log(`${ms()} ms  kill -9 ${first.id} (pid ${victim.pid})`);
  const killed = Date.now();
  victim.signal("SIGKILL");
  let answered = false;
  const switchedBy = killed + 60_000;
  for (let i = 0; i < 6000 && !answered && Date.now() < switchedBy; i++) {
    const code = await call();
    answered = code === "no error" && master !== first;
    if (!answered) await sleep(100);
  }
  const took = Date.now() - killed;
  console.log(`${ms()} ms  switched to ${master!.id} in ${took} ms`);
  check(answered, `a new master (${master!.id}) answers after the kill`);
  check(master!.fence > first.fence, `its fence ${master!.fence} is above ${first.fence}`);
  check(rejected === 0, "no lower fence was ever offered after a higher one");
  // The switch takes about the TTL plus a keepalive (printed above); the
  // check only bounds it loosely, so a busy machine does not fail it while a
  // master that never expired still would.
  check(took < 30_000, `the switch took ${took} ms (TTL ${TTL} ms), within 30 s`);
  observing.abort();
  await observed;
} finally {
  observing.abort();
  await Promise.all([...workers.values()].map((w) => w.stop()));
  await client.close();
  await registry.close();
  await etcd?.close();
}
finish();
