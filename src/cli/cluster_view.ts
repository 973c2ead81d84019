/**
 * The live picture of a cluster that `weft dashboard` and `weft top` show:
 * who is there (from the registry: named nodes `nodes/`, routers
 * `routers/`, services `svc/`, each group's master election; and any
 * address given), what each is (INFO `describe`: runtime, uptime, groups,
 * members, masters), and its numbers (INFO `stats`, where the node allows
 * it), polled every interval and turned into rates: calls/s, errors/s and
 * latency percentiles per node and per route (a router's group), with a
 * short history for charts, and the connections between them.
 *
 * Services do not listen (they connect to their routers), so they are
 * asked through a router: the watch is itself a service (group 255, a
 * random index) connected to every router it knows.
 *
 * @module
 */

import { Cluster } from "../cluster/cluster.ts";
import { json } from "../codec/json.ts";
import type { ClusterOptions } from "../cluster/options.ts";
import type { Peer } from "../connection/peer.ts";
import type { StatsSnapshot } from "../cluster/stats.ts";
import type { Registry } from "../discovery/types.ts";
import { SYSTEM_CMD } from "../nodes/nodes.ts";
import { masterElection, parseServiceInstanceId } from "../router/registry_masters.ts";
import { target } from "../router/route.ts";
import type { GroupStats } from "../router/router_stats.ts";
import { ROUTED_INFO_CMD, Service } from "../router/service.ts";
import { formatServiceId, serviceId } from "../router/service_id.ts";
import { quantileBound } from "./stats.ts";
import { openRegistry } from "./registry_client.ts";

/** Rates over the last interval (null: no sample in it). */
export interface Rate {
  /** Requests served per second (a router: forwards). */
  calls: number;
  /** Of those, failed per second. */
  errors: number;
  /** Calls this node made per second. */
  out: number;
  /** Latency percentiles of the requests served, ms (upper bounds of the stats buckets). */
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** One point of a node's or a route's history. */
export interface Point {
  /** Epoch ms. */
  t: number;
  calls: number;
  errors: number;
  p50: number | null;
  p99: number | null;
}

/** A process of the cluster as the picture shows it. */
export interface NodeView {
  /** `node:NAME`, `router:HOST:PORT`, `svc:G.I`, `peer:HOST:PORT` or `registry`. */
  id: string;
  /** `node`, `router`, `service`, `peer` (a plain node given by address) or `registry`. */
  kind: string;
  /** What to call it: the node name, the router's address, the service id. */
  label: string;
  /** Where it listens (a service: the router it is reached through). */
  address: string;
  runtime: string | null;
  version: string | null;
  uptimeMs: number | null;
  connections: number | null;
  /** Its last INFO request was answered. */
  up: boolean;
  /** Why not (a coded error), when it is not. */
  error?: string;
  /** Its stats could be read (stats: { remote: true } and authorize). */
  stats: boolean;
  rate: Rate | null;
  history: Point[];
  /** A service's group. */
  group?: number;
}

/** A router's traffic to one group. */
export interface RouteView {
  /** `route:ROUTER:GROUP`. */
  id: string;
  router: string;
  group: number;
  /** Forwards per second; errors: failed, refused and dropped per second. */
  rate: { calls: number; errors: number; p50: number | null; p99: number | null } | null;
  history: Point[];
}

/** A group of services: its members and its master. */
export interface GroupView {
  group: number;
  /** Its members (`G.I`), registered or connected to a router. */
  members: string[];
  /** The master and its fence (from the registry's election, else the routers'). */
  master: { id: string | null; fence: string; source: "registry" | "router" } | null;
  /** Each router's own view of the master. */
  routers: { router: string; master: string | null; fence: number | null }[];
}

/** A connection in the picture. */
export interface Edge {
  from: string;
  to: string;
  /** `route` (a service connected to a router), `node` (named node to node), `registry`. */
  kind: "route" | "node" | "registry";
}

/** The whole picture at one moment. */
export interface View {
  /** Epoch ms of the last poll. */
  at: number;
  /** The poll interval, ms. */
  interval: number;
  registry: { endpoint: string | null; kind: string | null; up: boolean; error?: string };
  nodes: NodeView[];
  groups: GroupView[];
  routes: RouteView[];
  edges: Edge[];
}

/** Options of {@linkcode ClusterWatch}. */
export interface ClusterWatchOptions {
  /** A registry node (`host:port`) or etcd (`http://...`). */
  registry?: string;
  /** The registry's key prefix. */
  namespace?: string;
  /** Plain nodes to show (not in a registry), `host:port`. */
  peers?: string[];
  /** Routers to show (not in a registry), `host:port`. */
  routers?: string[];
  /** The cluster options to connect with (TLS, keys). */
  cluster: ClusterOptions;
  /** Milliseconds between polls. @default {1000} */
  interval?: number;
  /** Points of history kept per node and route. @default {120} */
  history?: number;
}

interface Tracked {
  id: string;
  kind: string;
  label: string;
  address: string;
  group?: number;
  described?: Record<string, unknown>;
  stats?: StatsSnapshot & { router?: { groups?: GroupStats[] } };
  prev?: { at: number; stats: StatsSnapshot & { router?: { groups?: GroupStats[] } } };
  up: boolean;
  error?: string;
  statsAllowed: boolean;
  /** Polls to skip before asking for stats again (after a refusal). */
  statsSkip: number;
  rate: Rate | null;
  history: Point[];
  seen: boolean;
}

/** Polls between two stats requests to a node that refused them. */
const STATS_RETRY_POLLS = 10;

const QUIET = { error() {}, warn() {} };
/** Commands of the machinery (named nodes' `$node`, INFO through a router): not traffic. */
const MACHINERY = new Set([SYSTEM_CMD, ROUTED_INFO_CMD]);

function message(error: unknown): string {
  const e = error as { code?: string; message?: string; remote?: { code?: string } };
  const code = e?.remote?.code ?? e?.code;
  return code === undefined ? String(e?.message ?? error) : `${code}`;
}

interface Totals {
  count: number;
  failed: number;
  out: number;
  counts: number[];
}

function totals(s: StatsSnapshot): Totals {
  const t: Totals = { count: 0, failed: 0, out: 0, counts: [] };
  for (const c of s.in) {
    if (MACHINERY.has(c.cmd)) continue;
    t.count += c.count;
    t.failed += c.count - (c.outcomes.ok ?? 0) - (c.outcomes.sent ?? 0);
    c.latency.counts.forEach((n, i) => t.counts[i] = (t.counts[i] ?? 0) + n);
  }
  for (const c of s.out) if (!MACHINERY.has(c.cmd)) t.out += c.count;
  return t;
}

function diffCounts(a: number[], b: number[]): number[] {
  return a.map((n, i) => Math.max(0, n - (b[i] ?? 0)));
}

const fin = (v: number | undefined) => v === undefined || v === Infinity ? null : v;

/** The rate between two stats snapshots `dt` ms apart. */
export function rateOf(now: StatsSnapshot, before: StatsSnapshot, dt: number): Rate {
  const a = totals(now);
  const b = totals(before);
  const per = (x: number) => Math.max(0, x) * 1000 / dt;
  const d = diffCounts(a.counts, b.counts);
  return {
    calls: per(a.count - b.count),
    errors: per(a.failed - b.failed),
    out: per(a.out - b.out),
    p50: fin(quantileBound(d, 0.5)),
    p90: fin(quantileBound(d, 0.9)),
    p99: fin(quantileBound(d, 0.99)),
  };
}

/**
 * Watches a cluster and keeps its picture ({@linkcode ClusterWatch.view}),
 * polling every interval until closed.
 */
export class ClusterWatch {
  readonly #o: Required<Omit<ClusterWatchOptions, "registry" | "namespace">> & {
    registry?: string;
    namespace?: string;
  };
  readonly #cluster: Cluster;
  readonly #peers = new Map<string, Peer>();
  readonly #tracked = new Map<string, Tracked>();
  readonly #routes = new Map<string, RouteView & { prev?: { at: number; g: GroupStats } }>();
  #registry: Registry | undefined;
  readonly #members = {
    nodes: new Map<string, string>(),
    routers: new Map<string, string>(),
    svc: new Map<number, string>(),
  };
  readonly #masters = new Map<number, { id: number | null; fence: string }>();
  readonly #observed = new Set<number>();
  #registryState: View["registry"];
  readonly #stop = new AbortController();
  #service: Service | undefined;
  #serviceRouters = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #view: View;
  #closed = false;
  #polling: Promise<void> | undefined;
  /** Called after each poll with the new picture. */
  onUpdate: ((view: View) => void) | undefined;

  /** @param options Where to look and how to connect. */
  constructor(options: ClusterWatchOptions) {
    // INFO answers are JSON whatever the codec; a codec is needed only to make a cluster.
    const cluster: ClusterOptions = { ...json(), ...options.cluster };
    this.#o = {
      peers: [],
      routers: [],
      interval: 1000,
      history: 120,
      ...options,
      cluster,
    };
    this.#cluster = new Cluster({ ...cluster, logger: QUIET });
    const endpoint = options.registry;
    this.#registryState = {
      endpoint: endpoint ?? null,
      kind: endpoint === undefined ? null : /^https?:/.test(endpoint) ? "etcd" : "registry node",
      up: endpoint === undefined,
    };
    this.#view = this.#build();
  }

  /** The picture as of the last poll. */
  get view(): View {
    return this.#view;
  }

  /** Starts watching the registry and polling. Resolves after the first poll. */
  async start(): Promise<void> {
    const endpoint = this.#o.registry;
    if (endpoint !== undefined) {
      this.#registry = openRegistry(endpoint, this.#o.namespace, this.#o.cluster);
      this.#follow("nodes/", (id, address) => {
        const name = id.slice("nodes/".length);
        if (address === undefined) this.#members.nodes.delete(name);
        else this.#members.nodes.set(name, address);
      });
      this.#follow("routers/", (id, address) => {
        const at = id.slice("routers/".length);
        if (address === undefined) this.#members.routers.delete(at);
        else this.#members.routers.set(at, address);
      });
      this.#follow("svc/", (id, address) => {
        const sid = parseServiceInstanceId(id);
        if (sid === undefined) return;
        if (address === undefined) this.#members.svc.delete(sid);
        else {
          this.#members.svc.set(sid, address);
          this.#observe(sid >>> 16);
        }
      });
    }
    await this.#poll();
    this.#schedule();
  }

  /** Stops polling and watching; closes every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#stop.abort();
    await this.#polling?.catch(() => {});
    await this.#service?.close();
    await this.#registry?.close();
    await this.#cluster.close();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#polling = this.#poll().finally(() => this.#schedule());
    }, this.#o.interval);
  }

  /** Follows one registry prefix: `apply(id, address)` per change (address undefined: gone). */
  #follow(prefix: string, apply: (id: string, address: string | undefined) => void): void {
    const registry = this.#registry!;
    (async () => {
      for await (const event of registry.watch(prefix, { signal: this.#stop.signal })) {
        this.#registryState = { ...this.#registryState, up: true };
        if (event.type === "snapshot") {
          const ids = new Set(event.members.map((m) => m.id));
          for (const [id] of this.#currentIds(prefix)) if (!ids.has(id)) apply(id, undefined);
          for (const m of event.members) apply(m.id, m.address);
        } else if (event.type === "put") apply(event.member.id, event.member.address);
        else apply(event.id, undefined);
      }
    })().catch((error) => {
      this.#registryState = { ...this.#registryState, up: false, error: message(error) };
    });
  }

  #currentIds(prefix: string): [string, string][] {
    if (prefix === "nodes/") return [...this.#members.nodes].map(([n, a]) => [`nodes/${n}`, a]);
    if (prefix === "routers/") {
      return [...this.#members.routers].map(([n, a]) => [`routers/${n}`, a]);
    }
    return [...this.#members.svc].map(([id, a]) => [`svc/${id >>> 16}/${id & 0xffff}`, a]);
  }

  /** Observes the master election of `group` (once per group). */
  #observe(group: number): void {
    if (this.#observed.has(group) || this.#registry === undefined) return;
    this.#observed.add(group);
    const registry = this.#registry;
    (async () => {
      for await (
        const master of registry.observe(masterElection(group), { signal: this.#stop.signal })
      ) {
        if (master === null) {
          // No master now: the last one's fence stays (as a router keeps it); none yet: nothing.
          const was = this.#masters.get(group);
          if (was !== undefined) this.#masters.set(group, { id: null, fence: was.fence });
        } else {
          this.#masters.set(group, {
            id: parseServiceInstanceId(master.id) ?? null,
            fence: String(master.fence),
          });
        }
      }
    })().catch(() => this.#observed.delete(group));
  }

  #peer(address: string): Peer {
    let peer = this.#peers.get(address);
    if (peer === undefined) {
      peer = this.#cluster.connect(address);
      this.#peers.set(address, peer);
    }
    return peer;
  }

  #track(id: string, kind: string, label: string, address: string): Tracked {
    let t = this.#tracked.get(id);
    if (t === undefined) {
      t = {
        id,
        kind,
        label,
        address,
        up: false,
        statsAllowed: false,
        statsSkip: 0,
        rate: null,
        history: [],
        seen: true,
      };
      this.#tracked.set(id, t);
    }
    t.address = address;
    t.seen = true;
    return t;
  }

  /** Asks every target once; updates rates, history and the picture. */
  async #poll(): Promise<void> {
    const timeout = Math.max(500, Math.min(this.#o.interval * 2, 3000));
    for (const t of this.#tracked.values()) t.seen = false;
    const direct: Tracked[] = [];
    const endpoint = this.#o.registry;
    if (endpoint !== undefined && !/^https?:/.test(endpoint)) {
      direct.push(this.#track("registry", "registry", "registry", endpoint));
    }
    for (const [name, address] of this.#members.nodes) {
      direct.push(this.#track(`node:${name}`, "node", name, address));
    }
    const routers = new Set([...this.#o.routers, ...this.#members.routers.values()]);
    for (const address of routers) {
      direct.push(this.#track(`router:${address}`, "router", address, address));
    }
    for (const address of this.#o.peers) {
      direct.push(this.#track(`peer:${address}`, "peer", address, address));
    }
    await Promise.all(
      direct.map((t) =>
        this.#ask(t, (kind) => this.#cluster.info(this.#peer(t.address), kind, { timeout }))
      ),
    );

    // Services: registered ones, and those the routers have.
    const services = new Set(this.#members.svc.keys());
    for (const address of routers) {
      const r = this.#tracked.get(`router:${address}`);
      for (const id of (r?.described?.services ?? []) as number[]) {
        if (id >>> 16 !== 255) services.add(id); // group 255: operators' tools, as this one
      }
    }
    const service = await this.#serviceVia(
      [...routers].filter((a) => this.#tracked.get(`router:${a}`)?.up),
    );
    await Promise.all([...services].map((id) => {
      const t = this.#track(`svc:${formatServiceId(id)}`, "service", formatServiceId(id), "");
      t.group = id >>> 16;
      if (service === undefined) {
        t.up = false;
        t.error = "unreachable";
        return undefined;
      }
      return this.#ask(t, (kind) => service.info(target(id), kind, { timeout }), () => {
        t.address = String(t.described?.router ?? service.router ?? "");
      });
    }));
    for (const [id, t] of this.#tracked) {
      if (!t.seen) this.#tracked.delete(id);
    }
    for (const [address, peer] of this.#peers) {
      const still = [...this.#tracked.values()].some((t) =>
        t.address === address && t.kind !== "service"
      );
      if (!still) {
        this.#peers.delete(address);
        this.#cluster.close(peer).catch(() => {});
      }
    }
    this.#routesFrom();
    this.#view = this.#build();
    this.onUpdate?.(this.#view);
  }

  /** The watch's own service at `routers` (made again when the set changes), or undefined. */
  async #serviceVia(routers: string[]): Promise<Service | undefined> {
    const key = [...routers].sort().join(",");
    if (key === this.#serviceRouters && this.#service !== undefined) return this.#service;
    await this.#service?.close();
    this.#service = undefined;
    this.#serviceRouters = key;
    if (routers.length === 0) return undefined;
    const { call: _c, accept: _a, close: _cl, ...options } = this.#o.cluster;
    const service = new Service({
      ...options,
      id: serviceId(255, 1 + Math.floor(Math.random() * 65535)),
      routers,
      logger: QUIET,
      retryInterval: 1000,
    });
    try {
      await service.start();
    } catch {
      await service.close();
      this.#serviceRouters = "";
      return undefined;
    }
    this.#service = service;
    return service;
  }

  async #ask(
    t: Tracked,
    info: (kind: string) => Promise<unknown>,
    after?: () => void,
  ): Promise<void> {
    try {
      t.described = await info("describe") as Record<string, unknown>;
      t.up = true;
      delete t.error;
    } catch (error) {
      t.up = false;
      t.error = message(error);
      t.rate = null;
      return;
    }
    after?.();
    if (t.statsSkip > 0) {
      t.statsSkip--;
      return;
    }
    try {
      const stats = await info("stats") as Tracked["stats"] & object;
      const at = Date.now();
      t.statsAllowed = true;
      t.stats = stats;
      if (t.prev !== undefined && at > t.prev.at) {
        t.rate = rateOf(stats, t.prev.stats, at - t.prev.at);
        this.#push(t.history, {
          t: at,
          calls: t.rate.calls,
          errors: t.rate.errors,
          p50: t.rate.p50,
          p99: t.rate.p99,
        });
      }
      t.prev = { at, stats };
    } catch {
      t.statsAllowed = false;
      t.statsSkip = STATS_RETRY_POLLS;
      t.rate = null;
    }
  }

  #push(history: Point[], point: Point): void {
    history.push(point);
    if (history.length > this.#o.history) history.splice(0, history.length - this.#o.history);
  }

  /** Per router and group: forwards/s, errors/s, latency, from the routers' stats. */
  #routesFrom(): void {
    const seen = new Set<string>();
    for (const t of this.#tracked.values()) {
      if (t.kind !== "router" || t.stats?.router?.groups === undefined || t.prev === undefined) {
        continue;
      }
      const at = t.prev.at;
      for (const g of t.stats.router.groups) {
        if (g.group === 255) continue;
        const id = `route:${t.address}:${g.group}`;
        seen.add(id);
        let r = this.#routes.get(id);
        if (r === undefined) {
          r = { id, router: t.address, group: g.group, rate: null, history: [] };
          this.#routes.set(id, r);
        }
        if (r.prev !== undefined && at > r.prev.at) {
          const dt = at - r.prev.at;
          const p = r.prev.g;
          const per = (x: number) => Math.max(0, x) * 1000 / dt;
          const d = diffCounts(g.latency.counts, p.latency.counts);
          r.rate = {
            calls: per(g.forwarded - p.forwarded),
            errors: per(g.failed + g.refused + g.dropped - p.failed - p.refused - p.dropped),
            p50: fin(quantileBound(d, 0.5)),
            p99: fin(quantileBound(d, 0.99)),
          };
          this.#push(r.history, {
            t: at,
            calls: r.rate.calls,
            errors: r.rate.errors,
            p50: r.rate.p50,
            p99: r.rate.p99,
          });
        }
        r.prev = { at, g };
      }
    }
    for (const id of this.#routes.keys()) if (!seen.has(id)) this.#routes.delete(id);
  }

  #build(): View {
    const nodes: NodeView[] = [];
    for (const t of this.#tracked.values()) {
      const d = t.described ?? {};
      nodes.push({
        id: t.id,
        kind: t.kind,
        label: t.label,
        address: t.address,
        runtime: typeof d.runtime === "string" ? d.runtime : null,
        version: typeof d.version === "string" ? d.version : null,
        uptimeMs: t.up && typeof d.uptimeMs === "number" ? d.uptimeMs : null,
        connections: typeof d.connections === "number" ? d.connections : null,
        up: t.up,
        ...(t.error === undefined ? {} : { error: t.error }),
        stats: t.statsAllowed,
        rate: t.rate,
        history: t.history,
        ...(t.group === undefined ? {} : { group: t.group }),
      });
    }
    const order: Record<string, number> = { registry: 0, router: 1, node: 2, peer: 3, service: 4 };
    nodes.sort((a, b) =>
      (order[a.kind]! - order[b.kind]!) || a.label.localeCompare(b.label, "en", { numeric: true })
    );

    // Groups: from the registry's services and elections, and each router's view.
    const groups = new Map<number, GroupView>();
    const group = (g: number) => {
      let v = groups.get(g);
      if (v === undefined) {
        v = { group: g, members: [], master: null, routers: [] };
        groups.set(g, v);
      }
      return v;
    };
    const edges: Edge[] = [];
    for (const id of this.#members.svc.keys()) group(id >>> 16).members.push(formatServiceId(id));
    for (const t of this.#tracked.values()) {
      if (t.kind === "router" && t.up) {
        for (
          const g of (t.described?.groups ?? []) as {
            group: number;
            members: number[];
            master: { id: number; fence: number } | null;
          }[]
        ) {
          if (g.group === 255) continue;
          // The group's election in the registry says who the master is.
          this.#observe(g.group);
          const v = group(g.group);
          for (const m of g.members) {
            const text = formatServiceId(m);
            if (!v.members.includes(text)) v.members.push(text);
            edges.push({ from: t.id, to: `svc:${text}`, kind: "route" });
          }
          v.routers.push({
            router: t.address,
            master: g.master === null || g.master.id < 0 ? null : formatServiceId(g.master.id),
            fence: g.master?.fence ?? null,
          });
        }
      }
      if (t.kind === "node" && t.up) {
        for (const other of (t.described?.connected ?? []) as string[]) {
          edges.push({ from: t.id, to: `node:${other}`, kind: "node" });
        }
      }
    }
    for (const [g, m] of this.#masters) {
      group(g).master = {
        id: m.id === null ? null : formatServiceId(m.id),
        fence: m.fence,
        source: "registry",
      };
    }
    for (const v of groups.values()) {
      v.members.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
      if (v.master === null) {
        const best = v.routers.filter((r) =>
          r.fence !== null
        ).sort((a, b) => b.fence! - a.fence!)[0];
        if (best !== undefined) {
          v.master = { id: best.master, fence: String(best.fence), source: "router" };
        }
      }
    }
    if (this.#o.registry !== undefined) {
      const from = this.#tracked.has("registry") ? "registry" : undefined;
      if (from !== undefined) {
        for (const n of nodes) {
          if (
            n.kind === "node" || n.kind === "router" ||
            (n.kind === "service" && this.#members.svc.has(serviceIdOf(n.label)))
          ) {
            edges.push({ from, to: n.id, kind: "registry" });
          }
        }
      }
    }
    const present = new Set(nodes.map((n) => n.id));
    return {
      at: Date.now(),
      interval: this.#o.interval,
      registry: this.#registryState,
      nodes,
      groups: [...groups.values()].sort((a, b) => a.group - b.group),
      routes: [...this.#routes.values()].map(({ prev: _p, ...r }) => r),
      edges: edges.filter((e) => present.has(e.from) && present.has(e.to)),
    };
  }
}

function serviceIdOf(text: string): number {
  const [g, i] = text.split(".").map(Number);
  return ((g ?? 0) << 16) | (i ?? 0);
}
