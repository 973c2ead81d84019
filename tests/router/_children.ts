/** Routers and services as child processes under Deno, Bun or Node, for the router tests. */

import { type RuntimeName, type ScriptChild, spawnScript } from "../_runtimes.ts";

const ROUTER = new URL("../../src/router/main.ts", import.meta.url).pathname;
const SERVICE = new URL("./_service.ts", import.meta.url).pathname;

/** A child process with the address it printed (routers) or its id (services). */
export interface Child {
  readonly child: ScriptChild;
  readonly address: string;
}

/** Starts src/router/main.ts under `runtime` on a free port. */
export async function spawnRouter(runtime: RuntimeName, args: string[] = []): Promise<Child> {
  const child = await spawnScript(runtime, ROUTER, ["--listen", "127.0.0.1:0", ...args]);
  try {
    const match = await child.waitFor(/^listening (\S+)$/m, 30_000);
    return { child, address: match[1]! };
  } catch (error) {
    const stderr = await child.stop();
    throw new Error(`${error instanceof Error ? error.message : error}\nstderr:\n${stderr}`);
  }
}

/** Starts tests/router/_service.ts under `runtime` and waits until it registered. */
export async function spawnService(
  runtime: RuntimeName,
  id: number,
  routers: string[],
): Promise<Child> {
  const child = await spawnScript(runtime, SERVICE, [String(id), routers.join(",")]);
  try {
    await child.waitFor(new RegExp(`^ready ${id}$`, "m"), 30_000);
    return { child, address: "" };
  } catch (error) {
    const stderr = await child.stop();
    throw new Error(`${error instanceof Error ? error.message : error}\nstderr:\n${stderr}`);
  }
}

/** Stops every child (SIGKILL, by pid through its handle), ignoring ones that already exited. */
export async function stopAll(children: (Child | undefined)[]): Promise<void> {
  for (const c of children) await c?.child.stop();
}
