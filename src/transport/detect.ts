/**
 * Picks the transport adapter for the runtime this code runs on: Bun (when
 * `globalThis.Bun` exists; checked first, since Bun also emulates parts of
 * Node), then Deno (`globalThis.Deno`), then Node (`process.versions.node`).
 * Only the chosen adapter is loaded: each is a separate dynamic `import()`.
 *
 * A cluster uses this when no `transport` option is given. Pass one
 * explicitly (`@weft/cluster/deno`, `/bun`, `/node`, `/memory`) to skip it.
 *
 * @example
 * ```ts
 * import { defaultTransport } from "@weft/cluster";
 *
 * const transport = await defaultTransport();
 * if (!["deno", "bun", "node"].includes(transport.name)) throw new Error("unexpected result");
 * ```
 *
 * @module
 */

import { WeftError } from "../errors.ts";
import type { Transport } from "./types.ts";

/** The runtimes weft has an adapter for. */
export type RuntimeName = "deno" | "bun" | "node";

/** Names the runtime this code runs on, or undefined if it is none of the three. */
export function detectRuntime(): RuntimeName | undefined {
  const g = globalThis as {
    Bun?: unknown;
    Deno?: { version?: unknown };
    process?: { versions?: { node?: unknown } };
  };
  if (g.Bun !== undefined) return "bun";
  if (g.Deno?.version !== undefined) return "deno";
  if (typeof g.process?.versions?.node === "string") return "node";
  return undefined;
}

let chosen: Promise<Transport> | undefined;

/**
 * The transport for the current runtime, loaded once.
 *
 * @throws {WeftError} `transport` if the runtime is not Deno, Bun or Node.
 */
export function defaultTransport(): Promise<Transport> {
  chosen ??= load();
  return chosen;
}

async function load(): Promise<Transport> {
  switch (detectRuntime()) {
    case "bun":
      return (await import("./bun.ts")).transport;
    case "deno":
      return (await import("./deno.ts")).transport;
    case "node":
      return (await import("./node.ts")).transport;
    default:
      throw new WeftError(
        "transport",
        "No transport for this runtime: pass the transport option (e.g. @weft/cluster/memory)",
      );
  }
}
