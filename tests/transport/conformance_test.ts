// The transport conformance suite on every runtime: the Deno adapter (and
// the in-memory one) here, case by case under Deno's sanitizers; the Bun and
// Node adapters under their own runtimes, as child processes whose output is
// shown when they fail.

import assert from "node:assert/strict";
import { runScript } from "../_runtimes.ts";
import { applicable, cases, type ConformanceContext } from "./conformance.ts";
import { stalledListener } from "./_stalled.ts";
import { transport as denoTransport } from "../../src/transport/deno.ts";
import type { Transport } from "../../src/transport/types.ts";
import { makeCerts, withTls } from "../security/_certs.ts";

const sanitize = { sanitizeOps: true, sanitizeResources: true } as const;

async function memoryTransport(): Promise<Transport | undefined> {
  try {
    await Deno.stat(new URL("../../src/transport/memory.ts", import.meta.url));
  } catch {
    return undefined;
  }
  const mod = await import("../../src/transport/memory.ts");
  return mod.transport;
}

const certs = await makeCerts();
const adapters: { transport: Transport; network: boolean }[] = [
  { transport: denoTransport, network: true },
  // The same suite over TLS with client certificates.
  { transport: withTls(denoTransport, certs), network: true },
];
const memory = await memoryTransport();
if (memory !== undefined) adapters.push({ transport: memory, network: true });

for (const { transport, network } of adapters) {
  for (const c of cases) {
    const ctx: ConformanceContext = { transport, network };
    // Real sockets can reach a stalled listener; the in-memory network
    // connects at once, so its connect timeout never fires.
    const sockets = transport.name !== "memory";
    const ignore = !applicable(c, sockets ? { ...ctx, stalledAddress: "stalled" } : ctx);
    Deno.test({
      name: `${transport.name} transport: ${c.name}`,
      ignore,
      ...sanitize,
      async fn() {
        if (c.needs !== "stalled") return await c.run(ctx);
        const stalled = await stalledListener();
        try {
          await c.run({ ...ctx, stalledAddress: stalled.address });
        } finally {
          stalled.close();
        }
      },
    });
  }
}

for (
  const [name, tls] of [["bun", false], ["node", false], ["bun", true], ["node", true]] as const
) {
  Deno.test({
    name: `${name} transport: the conformance suite under ${name}${tls ? ", over TLS" : ""}`,
    ...sanitize,
    async fn() {
      const stalled = await stalledListener();
      try {
        const script = new URL("./run_conformance.ts", import.meta.url).pathname;
        const args = [name, stalled.address, ...(tls ? [certs.dir] : [])];
        const result = await runScript(name, script, args, 900_000);
        assert.equal(
          result.code,
          0,
          `${name} conformance run failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`,
        );
        const label = tls ? `${name}\\+tls` : name;
        assert.match(result.stdout, new RegExp(`all cases passed \\(${label}\\)`));
        assert.doesNotMatch(result.stdout, /^skip/m, "every case ran");
      } finally {
        stalled.close();
      }
    },
  });
}
