// Ports silly's "Load Balanced Calls" example from silly.net.cluster's
// reference (findstr/silly docs/src/en/reference/net/cluster.md). Three
// worker nodes (silly's ports 9001-9003; loopback port 0 here), each its
// own Cluster in this process; a client hands out tasks 1 to 10 round-robin,
// one call per task without waiting for the previous one, and collects the
// results.
//
// silly's workers share one handler and derive a worker id from the task
// id; here each worker answers with its own name, so the example can check
// that round-robin really spread the work. Sleeps are shortened (silly
// waits 50 ms between tasks and 100-300 ms per task; 5 ms and 10-30 ms
// here).
//
//   deno run -A examples/cluster_load_balance.ts
//   bun examples/cluster_load_balance.ts
//   node24 examples/cluster_load_balance.ts
//
// Exits 0 only if every check passed; closes everything, so the process
// ends by itself.

import { Cluster } from "../src/cluster/cluster.ts";
import { Commands } from "../src/codec/commands.ts";
import { json } from "../src/codec/json.ts";
import { check, finish } from "./_check.ts";

// work 0x30 is answered by result 0x31.
const commands = new Commands({ work: { id: 0x30, response: "result" }, result: 0x31 });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Work {
  task_id: number;
  data: string;
}
interface Result {
  task_id: number;
  output: string;
}

const workers: Cluster[] = [];
const client = new Cluster({ ...json({ commands }), timeout: 3000 });
try {
  // Start 3 worker nodes.
  const addresses: string[] = [];
  for (let w = 1; w <= 3; w++) {
    const worker = new Cluster({
      ...json({ commands }),
      timeout: 3000,
      call: async (_peer, _cmd, body) => {
        const { task_id, data } = body as Work;
        console.log(`[Worker ${w}] processing task #${task_id}: ${data}`);
        await sleep(10 + Math.floor(Math.random() * 20));
        return { task_id, output: `Worker ${w} completed` } satisfies Result;
      },
    });
    workers.push(worker);
    const listener = await worker.listen("127.0.0.1:0");
    addresses.push(`127.0.0.1:${listener.address.port}`);
  }
  console.log(`workers listening on ${addresses.join(", ")}`);

  // Connect to all worker nodes; hand out tasks round-robin.
  const workerPeers = addresses.map((address) => client.connect(address));
  const calls: Promise<{ task_id: number; worker: number; result: Result }>[] = [];
  let current = 0;
  for (let task_id = 1; task_id <= 10; task_id++) {
    const worker = current + 1;
    const call = client.call(workerPeers[current]!, "work", {
      task_id,
      data: `Task data ${task_id}`,
    }).then((result) => {
      const r = result as Result;
      console.log(`task #${r.task_id} result: ${r.output}`);
      return { task_id, worker, result: r };
    });
    calls.push(call);
    current = (current + 1) % workerPeers.length;
    await sleep(5);
  }
  const done = await Promise.all(calls);
  check(done.length === 10, "all 10 tasks completed");
  check(
    done.every(({ task_id, worker, result }) =>
      result.task_id === task_id && result.output === `Worker ${worker} completed`
    ),
    "each task was done by the worker round-robin picked",
  );
  const perWorker = [1, 2, 3].map((w) => done.filter((d) => d.worker === w).length);
  console.log(`tasks per worker: ${perWorker.join(", ")}`);
  check(perWorker.join(",") === "4,3,3", "round-robin spread the tasks 4, 3, 3");
} finally {
  await client.close();
  for (const worker of workers) await worker.close();
}

finish();
