/**
 * The demo's named-nodes part (examples/demo.ts), shared by the Deno node
 * in the demo's own process and the Bun and Node ones
 * (examples/_demo_part.ts `node`): a named node, named after its runtime,
 * with a `demo` service, that registers in the registry as `nodes/<name>`,
 * takes its node table from it (`follow`), and once every other node is in
 * the table calls each one's `demo.whoami` by name.
 */

import { EtcdRegistry } from "../src/discovery/etcd.ts";
import { RemoteRegistry } from "../src/discovery/remote.ts";
import type { Registry } from "../src/discovery/types.ts";
import { isWeftError } from "../src/errors.ts";
import { follow, Nodes } from "../src/nodes/mod.ts";
import { detectRuntime } from "../src/transport/detect.ts";

/** The names of the demo's named nodes (one per runtime). */
export const NAMED = ["deno", "bun", "node"] as const;
/** Calls each named node makes to each other one. */
export const NAMED_CALLS = 3;

/** What one named node saw calling another by name. */
export interface NamedReport {
  caller: string;
  callee: string;
  answeredBy: string[];
  errors: string[];
}

/** A running named node of the demo. */
export interface NamedNode {
  name: string;
  /** Waits until every other named node is in the table (from the registry), then calls each. */
  run(limitMs: number): Promise<NamedReport[]>;
  close(): Promise<void>;
}

const logger = {
  error: (message: string, detail?: unknown) => console.error(message, String(detail ?? "")),
  warn: (message: string, detail?: unknown) => console.error(message, String(detail ?? "")),
};

/** The demo's registry client: a registry node at `host:port`, or etcd at an http(s) URL. */
export function openRegistry(endpoint: string, namespace: string): Registry {
  const common = { namespace, retryMin: 50, retryMax: 500, logger };
  return /^https?:/.test(endpoint)
    ? new EtcdRegistry({ endpoints: endpoint, ...common })
    : new RemoteRegistry({ address: endpoint, requestTimeout: 1000, pollWait: 2000, ...common });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens this runtime's named node on 127.0.0.1:0, registers it and follows the registry. */
export async function startNamedNode(registry: Registry): Promise<NamedNode> {
  const name = detectRuntime() ?? "unknown";
  const nodes = new Nodes({ name, timeout: 2000, stats: { remote: true } });
  nodes.register("demo", { whoami: () => ({ node: name, runtime: detectRuntime() }) });
  const listener = await nodes.open(name, { address: "127.0.0.1:0" });
  await registry.register(
    { id: `nodes/${name}`, address: `127.0.0.1:${listener.address.port}` },
    { ttl: 2000 },
  );
  const following = new AbortController();
  const followed = follow(nodes, registry, { signal: following.signal });
  const others = NAMED.filter((n) => n !== name);
  return {
    name,
    async run(limitMs) {
      const deadline = Date.now() + limitMs;
      while (!others.every((n) => nodes.has(n)) && Date.now() < deadline) await sleep(50);
      return await Promise.all(others.map(async (callee) => {
        const report: NamedReport = { caller: name, callee, answeredBy: [], errors: [] };
        for (let i = 0; i < NAMED_CALLS; i++) {
          try {
            const who = await nodes.call(callee, "demo", "whoami", {}) as { runtime: string };
            report.answeredBy.push(who.runtime);
          } catch (error) {
            report.errors.push(isWeftError(error) ? error.code : String(error));
          }
        }
        return report;
      }));
    },
    async close() {
      following.abort();
      await followed.catch(() => {});
      await nodes.close();
    },
  };
}
