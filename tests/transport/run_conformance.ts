/**
 * Runs the conformance suite against one adapter on the runtime running
 * this script, one case at a time, printing `ok`, `skip` or `not ok` per
 * case. Exits non-zero if any case failed.
 *
 * ```sh
 * bun tests/transport/run_conformance.ts bun [stalled host:port]
 * node24 tests/transport/run_conformance.ts node [stalled host:port]
 * deno run -A tests/transport/run_conformance.ts deno [stalled host:port]
 * ```
 *
 * The optional second argument is a listener that never accepts (see
 * _stalled.ts); without it the connect timeout case is skipped. A third,
 * a directory of test certificates (tests/security/_certs.ts), runs the
 * suite over TLS with client certificates.
 */

import { applicable, cases, type ConformanceContext, within } from "./conformance.ts";
import type { Transport } from "../../src/transport/types.ts";
import { readCerts, withTls } from "../security/_certs.ts";

declare const process: {
  argv: string[];
  exit(code: number): never;
  getActiveResourcesInfo?(): string[];
};

const CASE_LIMIT = 120_000;

async function load(name: string | undefined): Promise<Transport> {
  // Static strings, so each runtime loads only its own adapter.
  switch (name) {
    case "deno":
      return (await import("../../src/transport/deno.ts")).transport;
    case "bun":
      return (await import("../../src/transport/bun.ts")).transport;
    case "node":
      return (await import("../../src/transport/node.ts")).transport;
    case "memory":
      return (await import("../../src/transport/memory.ts")).transport;
    default:
      throw new TypeError(`Unknown adapter ${name}: expected deno, bun, node or memory`);
  }
}

/** Socket and server handles still open (Node and Bun report these). */
function openSockets(): number {
  const info = process.getActiveResourcesInfo?.() ?? [];
  return info.filter((r) => /TCP|Socket|Server/i.test(r)).length;
}

const args = process.argv.slice(2);
const plain = await load(args[0]);
const transport = args[2] === undefined ? plain : withTls(plain, readCerts(args[2]));
const ctx: ConformanceContext = { transport, network: true };
if (args[1] !== undefined) ctx.stalledAddress = args[1];

let failed = 0;
const baseline = openSockets();
for (const c of cases) {
  if (!applicable(c, ctx)) {
    console.log(`skip - ${transport.name}: ${c.name} (needs ${c.needs})`);
    continue;
  }
  const started = performance.now();
  try {
    await within(c.run(ctx), CASE_LIMIT, c.name);
    // Let closes settle, then check that no socket outlived the case.
    let open = openSockets();
    for (let i = 0; i < 50 && open > baseline; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      open = openSockets();
    }
    if (open > baseline) throw new Error(`${open - baseline} socket handles left open`);
    console.log(
      `ok - ${transport.name}: ${c.name} (${Math.round(performance.now() - started)} ms)`,
    );
  } catch (error) {
    failed++;
    console.log(`not ok - ${transport.name}: ${c.name}`);
    console.log(String((error as Error)?.stack ?? error).replace(/^/gm, "    "));
  }
}
console.log(failed === 0 ? `all cases passed (${transport.name})` : `${failed} case(s) failed`);
// Exit explicitly: a Bun connect abandoned by the timeout case cannot be
// cancelled and would keep the process alive until the kernel gives up.
process.exit(failed === 0 ? 0 : 1);
