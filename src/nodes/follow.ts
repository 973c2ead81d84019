/**
 * Named nodes whose config comes from a discovery registry: each watch
 * event (a snapshot, a node put, a node deleted) becomes a `reload()` of
 * the whole table, awaited in the registry's revision order.
 *
 * @module
 */

import { isWeftError, WeftError } from "../errors.ts";
import type { Registry } from "../discovery/types.ts";
import type { NodesConfig } from "./config.ts";
import type { Nodes, ReloadOutcome } from "./nodes.ts";

/** Options of {@linkcode follow}. */
export interface FollowOptions {
  /**
   * The id prefix of node instances; a member `nodes/db` is node `db`.
   *
   * @default {"nodes/"}
   */
  prefix?: string;
  /** Ends the following (the promise resolves). */
  signal?: AbortSignal;
  /** The table's `__nowaiting`. @default {false} */
  nowaiting?: boolean;
  /** Probe added and moved nodes in each reload (see `ReloadOptions.probe`). @default {false} */
  probe?: boolean;
  /** Called after each reload with its outcomes. */
  onReload?: (outcomes: ReloadOutcome[]) => void;
  /** Called when a reload fails (a member whose id or address is not valid config): the table in force stays. */
  onError?: (error: WeftError) => void;
}

/**
 * Keeps `nodes`' config equal to the members of `registry` under `prefix`,
 * reloading on every change, in order. Resolves when `signal` aborts or the
 * registry closes.
 *
 * @param nodes The named node to feed.
 * @param registry Anything with the registry's `watch` (see `@weft/cluster/discovery`).
 * @param options Prefix, signal, callbacks.
 */
export async function follow(
  nodes: Nodes,
  registry: Pick<Registry, "watch">,
  options: FollowOptions = {},
): Promise<void> {
  const prefix = options.prefix ?? "nodes/";
  const table = new Map<string, string>();
  const watchOptions = options.signal === undefined ? {} : { signal: options.signal };
  for await (const event of registry.watch(prefix, watchOptions)) {
    if (event.type === "snapshot") {
      table.clear();
      for (const member of event.members) table.set(member.id.slice(prefix.length), member.address);
    } else if (event.type === "put") {
      table.set(event.member.id.slice(prefix.length), event.member.address);
    } else {
      table.delete(event.id.slice(prefix.length));
    }
    const config: NodesConfig = {
      ...Object.fromEntries(table),
      ...(options.nowaiting === true ? { __nowaiting: true } : {}),
    };
    await reloadInOrder(nodes, config, options);
  }
}

async function reloadInOrder(nodes: Nodes, config: NodesConfig, options: FollowOptions) {
  // A reload made by hand may be running: wait for it (bounded), then apply ours.
  for (let attempt = 0; attempt < 1000; attempt++) {
    try {
      // The registry's members are the whole table: replace, not merge.
      const outcomes = await nodes.reload(config, { probe: options.probe ?? false, replace: true });
      options.onReload?.(outcomes);
      return;
    } catch (error) {
      if (isWeftError(error, "reload in progress")) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      if (error instanceof WeftError) {
        options.onError?.(error);
        return;
      }
      throw error;
    }
  }
  options.onError?.(
    new WeftError("reload in progress", "Cannot follow the registry: reloads kept running"),
  );
}
