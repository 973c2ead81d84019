/** The handler of the router tests' services, in process or in a child process. */

import type { CallContext } from "../../src/cluster/call_context.ts";
import type { Service, ServiceHandler } from "../../src/router/service.ts";
import { COMMANDS } from "./_commands.ts";

/** What a test service keeps about what it received. */
export interface Received {
  count: number;
  bytes: number;
  /** Per source: the last note number, to check order. */
  lastBySource: Map<number, number>;
  ordered: boolean;
  last: { remaining: number; aborted: boolean } | undefined;
}

/** A handler answering COMMANDS for service `id`. */
export function serviceHandler(
  id: number,
  runtime: string,
  service: () => Service,
  received: Received = {
    count: 0,
    bytes: 0,
    lastBySource: new Map(),
    ordered: true,
    last: undefined,
  },
): ServiceHandler {
  return (source, cmd, body, context: CallContext) => {
    const b = body as Record<string, unknown>;
    switch (cmd) {
      case COMMANDS.who:
        return { id, runtime, source };
      case COMMANDS.echo:
        return body;
      case COMMANDS.sleep: {
        const info = { remaining: context.timeRemaining, aborted: false };
        received.last = info;
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            context.signal.removeEventListener("abort", onAbort);
            resolve({ id });
          }, b.ms as number);
          const onAbort = () => {
            info.aborted = true;
            clearTimeout(timer);
            reject(context.signal.reason);
          };
          context.signal.addEventListener("abort", onAbort, { once: true });
        });
      }
      case COMMANDS.fail:
        throw Object.assign(new Error(`failing as asked by ${source}`), { code: b.code });
      case COMMANDS.note: {
        received.count++;
        received.bytes += typeof b.pad === "string" ? b.pad.length : 0;
        const n = b.n as number;
        const previous = received.lastBySource.get(source);
        if (previous !== undefined && n !== previous + 1) received.ordered = false;
        received.lastBySource.set(source, n);
        return undefined;
      }
      case COMMANDS.notes:
        return { count: received.count, ordered: received.ordered, bytes: received.bytes };
      case COMMANDS.last:
        return received.last ?? null;
      case COMMANDS.chain:
        return service().call(b.to as number, "who", undefined, { context });
    }
    throw new Error(`unknown cmd ${cmd}`);
  };
}
