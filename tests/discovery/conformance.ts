/**
 * The discovery conformance suite, written once and run against every
 * Registry implementation: memory_test.ts (in process) and etcd_test.ts (a
 * real etcd). Each case gets fresh registries that share one store, as
 * separate processes on one etcd would, and closes them.
 */

import assert from "node:assert/strict";
import { suspendKeepalives } from "../../src/discovery/_kv_registry.ts";
import type { Master, Member, Registry, WatchEvent } from "../../src/discovery/types.ts";
import { waitLimit } from "../_wait.ts";

/** What a case runs against. */
export interface DiscoveryContext {
  /** Three registries on one store (like three processes), closed by the suite. */
  registries(): Promise<[Registry, Registry, Registry]>;
  /** A lease TTL (ms) the implementation honours exactly enough for expiry cases. */
  ttl: number;
  /** How long past the TTL an expiry may take to show (keepalive period, clock granularity). */
  slack: number;
}

/** One conformance case. */
export interface DiscoveryCase {
  name: string;
  run(ctx: DiscoveryContext, rs: [Registry, Registry, Registry]): Promise<void>;
}

/** Stops or resumes a registry's keepalives, as SIGSTOP / SIGCONT would. */
export function suspend(registry: Registry, suspended: boolean): void {
  suspendKeepalives(registry, suspended);
}

/**
 * How long a stop or close may take before the suite fails naming it instead
 * of hanging: generous (a loaded machine), and far below any test runner
 * timeout. The library bounds each of these by its request deadline.
 */
export const HANG_LIMIT = 30_000;

/**
 * `work`, or a rejection naming `what` when it has not settled within `ms`:
 * a hang guard, so that a wait the library should bound fails the test with
 * a message rather than hanging the run.
 */
export async function bounded<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Hang guard: ${what} did not finish within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, guard]);
  } finally {
    clearTimeout(timer);
  }
}

/** Consumes an async iterable in the background, keeping what it yields. */
export class Collector<T> {
  readonly items: T[] = [];
  readonly #ctl = new AbortController();
  readonly #wake = new Set<() => void>();
  readonly #what: string;
  readonly done: Promise<void>;
  /** @param what Names the iteration in a hang guard's message. */
  constructor(source: (signal: AbortSignal) => AsyncIterable<T>, what = "an iteration") {
    this.#what = what;
    this.done = (async () => {
      for await (const item of source(this.#ctl.signal)) {
        this.items.push(item);
        for (const w of this.#wake) w();
      }
    })();
  }
  /** Waits until `check(items)` holds, at most `waitLimit(ms)` (tests/_wait.ts). */
  until(check: (items: T[]) => boolean, ms: number, what: string): Promise<void> {
    ms = waitLimit(ms);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake.delete(poll);
      };
      const poll = () => {
        if (check(this.items)) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`Timed out after ${ms} ms waiting for ${what}: ${show(this.items)}`));
      }, ms);
      this.#wake.add(poll);
      poll();
    });
  }
  /** Ends the iteration and waits for it, at most `ms` (then it throws, naming the iteration). */
  async stop(ms = HANG_LIMIT): Promise<void> {
    this.#ctl.abort();
    await bounded(this.done, ms, `${this.#what} after its abort`);
  }
}

function show(items: unknown): string {
  return JSON.stringify(items, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)).slice(0, 2000);
}

/** The members a sequence of watch events leaves, by id. */
export function table(events: readonly WatchEvent[]): Map<string, Member> {
  const t = new Map<string, Member>();
  for (const e of events) {
    if (e.type === "snapshot") {
      t.clear();
      for (const m of e.members) t.set(m.id, m);
    } else if (e.type === "put") t.set(e.member.id, e.member);
    else t.delete(e.id);
  }
  return t;
}

/** Watches `prefix` on `registry` in the background. */
export function watcher(registry: Registry, prefix: string): Collector<WatchEvent> {
  return new Collector(
    (signal) => registry.watch(prefix, { signal }),
    `watch(${JSON.stringify(prefix)})`,
  );
}

/** Observes `group` on `registry` in the background. */
export function observer(registry: Registry, group: string): Collector<Master | null> {
  return new Collector(
    (signal) => registry.observe(group, { signal }),
    `observe(${JSON.stringify(group)})`,
  );
}

function revisions(events: readonly WatchEvent[]): bigint[] {
  return events.map((e) => e.revision);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const LIMIT = 5000;

/** Every case. */
export const cases: DiscoveryCase[] = [
  {
    name: "register() is seen by watch() as a snapshot, then put and delete in revision order",
    async run(_ctx, [a, b]) {
      const first = await a.register({ id: "nodes/a", address: "127.0.0.1:7001" });
      const w = watcher(b, "nodes/");
      try {
        await w.until((e) => e.length >= 1, LIMIT, "snapshot");
        const snap = w.items[0]!;
        assert.equal(snap.type, "snapshot");
        assert.deepEqual(
          snap.type === "snapshot" ? snap.members.map((m) => [m.id, m.address]) : [],
          [["nodes/a", "127.0.0.1:7001"]],
        );
        const second = await b.register({
          id: "nodes/b",
          address: "127.0.0.1:7002",
          metadata: { role: "worker" },
        });
        await w.until((e) => table(e).has("nodes/b"), LIMIT, "put of nodes/b");
        assert.deepEqual(table(w.items).get("nodes/b")?.metadata, { role: "worker" });
        await first.close();
        await w.until((e) => !table(e).has("nodes/a"), LIMIT, "delete of nodes/a");
        await second.close();
        await w.until((e) => table(e).size === 0, LIMIT, "delete of nodes/b");
        const revs = revisions(w.items);
        for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! > revs[i - 1]!, show(w.items));
        assert.deepEqual(w.items.slice(1).map((e) => e.type), ["put", "delete", "delete"]);
      } finally {
        await w.stop();
      }
    },
  },
  {
    name: "watch() sees only its prefix",
    async run(_ctx, [a, b]) {
      const w = watcher(b, "svc/1/");
      try {
        await w.until((e) => e.length >= 1, LIMIT, "snapshot");
        await a.register({ id: "svc/2/1", address: "127.0.0.1:7001" });
        await a.register({ id: "svc/1/1", address: "127.0.0.1:7002" });
        await w.until((e) => table(e).has("svc/1/1"), LIMIT, "svc/1/1");
        assert.deepEqual([...table(w.items).keys()], ["svc/1/1"]);
        assert.ok(w.items.every((e) => e.type !== "put" || e.member.id.startsWith("svc/1/")));
      } finally {
        await w.stop();
      }
    },
  },
  {
    name: "every watcher sees the same changes in the same order",
    async run(_ctx, [a, b, c]) {
      const w1 = watcher(b, "");
      const w2 = watcher(c, "");
      try {
        await w1.until((e) => e.length >= 1, LIMIT, "snapshot 1");
        await w2.until((e) => e.length >= 1, LIMIT, "snapshot 2");
        const regs = await Promise.all([
          ...[1, 2, 3, 4].map((i) =>
            a.register({ id: `n/a${i}`, address: `127.0.0.1:${7000 + i}` })
          ),
          ...[1, 2, 3, 4].map((i) =>
            b.register({ id: `n/b${i}`, address: `127.0.0.1:${7100 + i}` })
          ),
        ]);
        await Promise.all(regs.slice(0, 3).map((r) => r.close()));
        const changes = (c: Collector<WatchEvent>) =>
          c.items.filter((e) => e.type !== "snapshot" && e.revision > c.items[0]!.revision)
            .map((e) =>
              `${e.revision}:${e.type}:${
                e.type === "put" ? e.member.id : e.type === "delete" ? e.id : ""
              }`
            );
        await w1.until(() => changes(w1).length >= 11, LIMIT, "11 changes (1)");
        await w2.until(() => changes(w2).length >= 11, LIMIT, "11 changes (2)");
        assert.equal(table(w1.items).size, 5);
        assert.deepEqual(changes(w1), changes(w2));
        assert.equal(changes(w1).length, 11);
      } finally {
        await w1.stop();
        await w2.stop();
      }
    },
  },
  {
    name: "register() of an id already registered replaces it; closing the replaced one leaves it",
    async run(_ctx, [a, b, c]) {
      const old = await a.register({ id: "nodes/x", address: "127.0.0.1:7001" });
      await b.register({ id: "nodes/x", address: "127.0.0.1:7002" });
      await old.close();
      const w = watcher(c, "nodes/");
      try {
        await w.until((e) => e.length >= 1, LIMIT, "snapshot");
        assert.equal(table(w.items).get("nodes/x")?.address, "127.0.0.1:7002");
      } finally {
        await w.stop();
      }
    },
  },
  {
    name:
      "a registration whose keepalives stop disappears at lease expiry and comes back with a new lease",
    async run(ctx, [a, b]) {
      await a.register({ id: "nodes/s", address: "127.0.0.1:7001" }, { ttl: ctx.ttl });
      const w = watcher(b, "nodes/");
      try {
        await w.until((e) => table(e).has("nodes/s"), LIMIT, "nodes/s");
        suspend(a, true);
        const stopped = Date.now();
        await w.until((e) => !table(e).has("nodes/s"), ctx.ttl + ctx.slack + LIMIT, "expiry");
        const took = Date.now() - stopped;
        assert.ok(took >= ctx.ttl * 0.5, `gone after ${took} ms with a TTL of ${ctx.ttl} ms`);
        suspend(a, false);
        await w.until((e) => table(e).has("nodes/s"), ctx.ttl + LIMIT, "re-registration");
      } finally {
        suspend(a, false);
        await w.stop();
      }
    },
  },
  {
    name: "campaign() elects one master at a time; resign() hands over with a higher fence",
    async run(ctx, [a, b, c]) {
      const o = observer(c, "g1");
      try {
        await o.until((m) => m.length >= 1, LIMIT, "initial observation");
        assert.equal(o.items[0], null);
        const la = await a.campaign("g1", { id: "svc/1/1", address: "127.0.0.1:7001" }, {
          ttl: ctx.ttl,
        });
        assert.equal(la.master.id, "svc/1/1");
        assert.equal(la.master.group, "g1");
        let bElected = false;
        const pb = b.campaign("g1", { id: "svc/1/2", address: "127.0.0.1:7002" }, { ttl: ctx.ttl })
          .then((l) => {
            bElected = true;
            return l;
          });
        await o.until((m) => m.at(-1)?.id === "svc/1/1", LIMIT, "a observed as master");
        await sleep(ctx.ttl);
        assert.equal(bElected, false, "b must wait while a holds the leadership");
        assert.equal(la.signal.aborted, false, "a keeps the leadership past its TTL");
        await la.resign();
        assert.equal(la.signal.aborted, true);
        const lb = await pb;
        assert.ok(lb.master.fence > la.master.fence, `${lb.master.fence} > ${la.master.fence}`);
        await o.until((m) => m.at(-1)?.id === "svc/1/2", LIMIT, "b observed as master");
        assert.equal(o.items.at(-1)?.fence, lb.master.fence);
        await lb.resign();
        await o.until((m) => m.at(-1) === null, LIMIT, "no master");
        const fences = o.items.filter((m) => m !== null).map((m) => m!.fence);
        for (let i = 1; i < fences.length; i++) assert.ok(fences[i]! > fences[i - 1]!);
      } finally {
        await o.stop();
      }
    },
  },
  {
    name: "a master whose keepalives stop loses the leadership at expiry; the next is elected",
    async run(ctx, [a, b, c]) {
      const o = observer(c, "g2");
      try {
        const la = await a.campaign("g2", { id: "m/a", address: "127.0.0.1:7001" }, {
          ttl: ctx.ttl,
        });
        const pb = b.campaign("g2", { id: "m/b", address: "127.0.0.1:7002" }, { ttl: ctx.ttl });
        suspend(a, true);
        const stopped = Date.now();
        const lb = await pb;
        const took = Date.now() - stopped;
        assert.ok(took <= ctx.ttl + ctx.slack + LIMIT, `took ${took} ms`);
        assert.ok(lb.master.fence > la.master.fence);
        suspend(a, false);
        await new Promise<void>((resolve) => {
          if (la.signal.aborted) resolve();
          la.signal.addEventListener("abort", () => resolve(), { once: true });
        });
        await o.until((m) => m.at(-1)?.id === "m/b", LIMIT, "b observed");
        await lb.resign();
      } finally {
        suspend(a, false);
        await o.stop();
      }
    },
  },
  {
    name: "campaign() aborted by its signal withdraws the candidacy",
    async run(ctx, [a, b, c]) {
      const la = await a.campaign("g3", { id: "m/a", address: "127.0.0.1:7001" }, { ttl: ctx.ttl });
      const ctl = new AbortController();
      const pb = b.campaign("g3", { id: "m/b", address: "127.0.0.1:7002" }, {
        ttl: ctx.ttl,
        signal: ctl.signal,
      });
      const pc = c.campaign("g3", { id: "m/c", address: "127.0.0.1:7003" }, { ttl: ctx.ttl });
      await sleep(100);
      const reason = new Error("no longer interested");
      ctl.abort(reason);
      await assert.rejects(pb, (err) => err === reason);
      await la.resign();
      const lc = await pc;
      assert.equal(lc.master.id, "m/c");
      await lc.resign();
    },
  },
  {
    name: "close() revokes the registry's registrations and ends its watches",
    async run(_ctx, [a, b]) {
      await a.register({ id: "nodes/c", address: "127.0.0.1:7001" });
      const mine = watcher(a, "nodes/");
      const theirs = watcher(b, "nodes/");
      await theirs.until((e) => table(e).has("nodes/c"), LIMIT, "nodes/c");
      await a.close();
      await bounded(mine.done, HANG_LIMIT, "a watch of a closed registry"); // ends by itself
      await theirs.until((e) => !table(e).has("nodes/c"), LIMIT, "delete after close");
      await theirs.stop();
      await assert.rejects(a.register({ id: "x", address: "127.0.0.1:1" }), TypeError);
    },
  },
  {
    name: "bad arguments throw TypeError or RangeError naming what is wrong",
    async run(_ctx, [a]) {
      await assert.rejects(a.register({ id: "", address: "127.0.0.1:1" }), /instance id/);
      await assert.rejects(a.register({ id: "x", address: "nowhere" }), /address of instance x/);
      await assert.rejects(
        a.register({ id: "x", address: "127.0.0.1:1", metadata: { blob: "z".repeat(5000) } }),
        /maxInstanceBytes/,
      );
      await assert.rejects(
        a.register({ id: "x", address: "127.0.0.1:1" }, { ttl: -1 }),
        (err) => err instanceof RangeError && /ttl/.test(err.message),
      );
      await assert.rejects(
        a.campaign("bad/group", { id: "x", address: "127.0.0.1:1" }),
        (err) => err instanceof TypeError && /group/.test(err.message),
      );
    },
  },
];

/** Runs every case as its own Deno test step under `t`. */
export async function runConformance(t: Deno.TestContext, ctx: DiscoveryContext): Promise<void> {
  for (const c of cases) {
    await t.step(c.name, async () => {
      const rs = await ctx.registries();
      try {
        await c.run(ctx, rs);
      } finally {
        await Promise.all(
          rs.map((r, i) => bounded(r.close(), HANG_LIMIT, `close() of registry ${"abc"[i]}`)),
        );
      }
    });
  }
}
