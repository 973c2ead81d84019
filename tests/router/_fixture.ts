/** In-process routers and services for the router tests (Deno, real loopback sockets). */

import { json } from "../../src/codec/json.ts";
import { Router, type RouterOptions } from "../../src/router/router.ts";
import { Service, type ServiceOptions } from "../../src/router/service.ts";
import { COMMANDS } from "./_commands.ts";
import { type Received, serviceHandler } from "./_handler.ts";

/** A logger that keeps quiet (the tests check outcomes, not logs). */
export const QUIET = { error: () => {}, warn: () => {} };

/** A router listening on a free loopback port. */
export async function startRouter(
  options: RouterOptions = {},
): Promise<{ router: Router; address: string }> {
  const router = new Router({ heartbeatInterval: 500, logger: QUIET, ...options });
  const listener = await router.listen("127.0.0.1:0");
  return { router, address: `127.0.0.1:${listener.address.port}` };
}

/** A test service (not started) answering COMMANDS, and what it received. */
export function makeService(
  id: number,
  routers: string[],
  options: Partial<ServiceOptions> = {},
): { service: Service; received: Received } {
  const received: Received = {
    count: 0,
    bytes: 0,
    lastBySource: new Map(),
    ordered: true,
    last: undefined,
  };
  const service: Service = new Service({
    id,
    routers,
    ...json({ commands: COMMANDS }),
    heartbeatInterval: 500,
    retryInterval: 100,
    logger: QUIET,
    call: serviceHandler(id, "deno", () => service, received),
    ...options,
  });
  return { service, received };
}

/** Started test services. */
export async function startServices(
  ids: number[],
  routers: string[],
  options: Partial<ServiceOptions> = {},
): Promise<{ service: Service; received: Received }[]> {
  const made = ids.map((id) => makeService(id, routers, options));
  for (const { service } of made) await service.start();
  return made;
}

/** Closes everything given, in order, ignoring nothing (every close must resolve). */
export async function closeAll(
  ...things: ({ close(): Promise<void> } | undefined)[]
): Promise<void> {
  for (const thing of things) await thing?.close();
}

/** The error a promise rejects with (fails if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected a rejection");
}

export { until } from "../_wait.ts";
