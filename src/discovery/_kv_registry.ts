// The Registry contract implemented once over a KvStore (_kv.ts): leases kept
// alive every third of their TTL and re-granted when lost, watches that
// resume from the last revision and resynchronise after a compaction, and
// the election recipe of etcd's Go client (the candidate whose key was
// created first is master; its create revision is the fence).

import { now } from "../_platform.ts";
import { defaultLogger, type Logger } from "../cluster/options.ts";
import { WeftError } from "../errors.ts";
import { parseAddress } from "../transport/address.ts";
import type { KeyValue, KvStore } from "./_kv.ts";
import {
  DEFAULT_LEASE_TTL,
  type Instance,
  type Leadership,
  LEASE_RENEW_DEADLINE,
  type LeaseOptions,
  type Master,
  type Member,
  type Registration,
  type Registry,
  type WatchEvent,
  type WatchOptions,
} from "./types.ts";

/** Options every registry implementation takes. */
export interface RegistryOptions {
  /**
   * The key prefix all of this registry's keys live under, so that several
   * weft deployments (or other users) can share one store.
   * @default {"weft/"}
   */
  namespace?: string;
  /** Where background failures (keepalives, watch reconnections) are reported. @default {defaultLogger} */
  logger?: Logger;
  /** The first retry delay of background work, in ms; it doubles up to `retryMax`. @default {100} */
  retryMin?: number;
  /** The longest retry delay of background work, in ms. @default {5000} */
  retryMax?: number;
  /** The largest instance (id, address and metadata as JSON) accepted or read back, in bytes. @default {4096} */
  maxInstanceBytes?: number;
}

/** The default {@linkcode RegistryOptions.namespace}. */
export const DEFAULT_NAMESPACE = "weft/";
/** The default {@linkcode RegistryOptions.maxInstanceBytes}. */
export const DEFAULT_MAX_INSTANCE_BYTES = 4096;

/** The KvRegistry behind each public registry (for the tests' keepalive hook). */
export const inner: WeakMap<object, KvRegistry> = new WeakMap();

/** Test hook: stops (true) or resumes (false) every keepalive of a registry, as SIGSTOP would. */
export function suspendKeepalives(registry: object, suspended: boolean): void {
  const kv = inner.get(registry) ?? (registry instanceof KvRegistry ? registry : undefined);
  if (kv === undefined) throw new TypeError("Not a weft registry");
  kv.suspend(suspended);
}

type RawEvent =
  | { type: "snapshot"; revision: bigint; kvs: KeyValue[] }
  | { type: "put"; revision: bigint; kv: KeyValue }
  | { type: "delete"; revision: bigint; key: string };

const encoder = new TextEncoder();

/** `value`, or `fallback` if undefined; a RangeError naming option `name` unless a finite number > 0. */
export function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`Invalid option ${name}: ${value} is not a positive number`);
  }
  return value;
}

/** Sleeps `ms`, or less if `signal` aborts; never rejects. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Lease, keepalive and re-grant of one registration or candidacy, and the
 * watchdog that declares the lease lost on this process's own clock: at
 * `LEASE_RENEW_DEADLINE` × TTL after the sending of the last request the
 * store confirmed (the grant, or a keepalive), whether or not that
 * request's answer, or the next one's, ever comes. The store cannot expire
 * the lease before a whole TTL after it received that request, which is
 * after it was sent: so the holder learns first.
 */
class Held {
  readonly stop = new AbortController();
  lease = "";
  ttl = 0;
  #expired = new AbortController();
  #signal: AbortSignal = this.stop.signal;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #onExpired: (() => void) | undefined;

  /** @param onExpired Told (synchronously, from the watchdog) when the lease is taken as lost. */
  constructor(onExpired?: () => void) {
    this.#onExpired = onExpired;
    this.stop.signal.addEventListener("abort", () => clearTimeout(this.#timer), { once: true });
  }

  /** True once the watchdog fired for the current lease. */
  get expired(): boolean {
    return this.#expired.signal.aborted;
  }

  /** Aborts on stop, or when the current lease is taken as lost: for requests on it. */
  get signal(): AbortSignal {
    return this.#signal;
  }

  /** A new lease, granted by a request sent at `sentAt` (monotonic ms). */
  granted(id: string, ttl: number, sentAt: number): void {
    this.lease = id;
    this.ttl = ttl;
    this.#expired = new AbortController();
    this.#signal = AbortSignal.any([this.stop.signal, this.#expired.signal]);
    this.confirmed(sentAt, ttl);
  }

  /** The store confirmed the lease (with `ttl` left) for a request sent at `sentAt`. */
  confirmed(sentAt: number, ttl: number): void {
    if (this.stop.signal.aborted || this.expired) return;
    clearTimeout(this.#timer);
    const deadline = sentAt + Math.min(ttl, this.ttl) * LEASE_RENEW_DEADLINE;
    this.#timer = setTimeout(() => {
      this.#expired.abort(new WeftError("registry unreachable", "Lease taken as lost"));
      this.#onExpired?.();
    }, Math.max(0, deadline - now()));
  }
}

/**
 * A {@linkcode Registry} over any {@linkcode KvStore}. The memory and etcd
 * registries are this class with their store.
 */
export class KvRegistry implements Registry {
  readonly #store: KvStore;
  readonly #namespace: string;
  readonly #logger: Logger;
  readonly #retryMin: number;
  readonly #retryMax: number;
  readonly #maxInstanceBytes: number;
  readonly #closing = new AbortController();
  readonly #held = new Set<{ close(): Promise<void> }>();
  readonly #loops = new Set<Promise<void>>();
  #suspended = false;
  #closed: Promise<void> | undefined;

  constructor(store: KvStore, options: RegistryOptions = {}) {
    this.#store = store;
    const namespace = options.namespace ?? DEFAULT_NAMESPACE;
    if (typeof namespace !== "string" || namespace === "") {
      throw new TypeError("Invalid option namespace: expected a non-empty string");
    }
    this.#namespace = namespace;
    this.#logger = options.logger ?? defaultLogger;
    this.#retryMin = positive("retryMin", options.retryMin, 100);
    this.#retryMax = positive("retryMax", options.retryMax, 5000);
    this.#maxInstanceBytes = positive(
      "maxInstanceBytes",
      options.maxInstanceBytes,
      DEFAULT_MAX_INSTANCE_BYTES,
    );
  }

  /** Test hook, see {@linkcode suspendKeepalives}. */
  suspend(suspended: boolean): void {
    this.#suspended = suspended;
  }

  #backoff(attempt: number): number {
    const ms = Math.min(this.#retryMax, this.#retryMin * 2 ** Math.min(attempt, 20));
    return ms / 2 + Math.random() * ms / 2;
  }

  #check(): void {
    if (this.#closing.signal.aborted) throw new TypeError("Registry is closed");
  }

  #validate(instance: Instance): string {
    if (instance === null || typeof instance !== "object") {
      throw new TypeError("Invalid instance: expected an object");
    }
    const { id, address, metadata } = instance;
    // deno-lint-ignore no-control-regex
    if (typeof id !== "string" || id === "" || /[\u0000-\u001f\u007f]/.test(id)) {
      throw new TypeError(`Invalid instance id: ${JSON.stringify(id)}`);
    }
    if (typeof address !== "string") throw new TypeError("Invalid instance address: not a string");
    try {
      parseAddress(address);
    } catch (cause) {
      throw new TypeError(`Invalid address of instance ${id}: ${JSON.stringify(address)}`, {
        cause,
      });
    }
    if (metadata !== undefined) {
      if (metadata === null || typeof metadata !== "object") {
        throw new TypeError(`Invalid metadata of instance ${id}: expected an object`);
      }
      for (const [k, v] of Object.entries(metadata)) {
        if (typeof v !== "string") {
          throw new TypeError(`Invalid metadata of instance ${id}: ${k} is not a string`);
        }
      }
    }
    const json = JSON.stringify({ id, address, ...(metadata ? { metadata } : {}) });
    const size = encoder.encode(json).length;
    if (size > this.#maxInstanceBytes) {
      throw new TypeError(
        `Invalid instance ${id}: ${size} bytes exceed maxInstanceBytes ${this.#maxInstanceBytes}`,
      );
    }
    return json;
  }

  #parse(json: string, fallbackId?: string): Instance | undefined {
    if (encoder.encode(json).length > this.#maxInstanceBytes) return undefined;
    try {
      const value = JSON.parse(json) as Record<string, unknown>;
      const id = value.id ?? fallbackId;
      if (typeof id !== "string" || typeof value.address !== "string") return undefined;
      const metadata = value.metadata;
      if (metadata !== undefined) {
        if (metadata === null || typeof metadata !== "object") return undefined;
        for (const v of Object.values(metadata)) if (typeof v !== "string") return undefined;
      }
      return metadata === undefined
        ? { id, address: value.address }
        : { id, address: value.address, metadata: metadata as Record<string, string> };
    } catch {
      return undefined;
    }
  }

  #spawn(loop: Promise<void>): void {
    const tracked = loop.catch((err) => this.#logger.error("Discovery loop failed", err))
      .finally(() => this.#loops.delete(tracked));
    this.#loops.add(tracked);
  }

  /**
   * Keeps `held`'s lease alive until `held.stop` aborts; calls `lost` when the
   * lease is gone (expired, revoked elsewhere, or not confirmed by the store
   * within its renew deadline, see {@linkcode Held}).
   */
  async #keepAlive(held: Held, what: string, lost: () => Promise<boolean>): Promise<void> {
    const stop = held.stop.signal;
    let attempt = 0;
    while (!stop.aborted) {
      const wait = attempt === 0 ? held.ttl / 3 : Math.min(held.ttl / 6, this.#backoff(attempt));
      // Suspended (the test hook standing for SIGSTOP): nothing happens until resumed.
      await pause(wait, this.#suspended ? stop : held.signal);
      if (stop.aborted) return;
      if (this.#suspended) continue;
      let gone = held.expired;
      if (!gone) {
        const sentAt = now();
        try {
          const ttl = await this.#store.keepAlive(held.lease, held.signal);
          if (ttl > 0) {
            held.confirmed(sentAt, ttl);
            attempt = 0;
            continue;
          }
          gone = true;
        } catch (err) {
          if (stop.aborted) return;
          gone = held.expired;
          if (!gone) {
            this.#logger.warn(`Discovery keepalive of ${what} failed`, err);
            attempt++;
          }
        }
      }
      if (gone) {
        this.#logger.warn(`Discovery lease of ${what} lost`);
        if (!(await lost())) return;
        attempt = 0;
      }
    }
  }

  async #grant(held: Held, ttl: number, signal?: AbortSignal): Promise<void> {
    const sentAt = now();
    const lease = await this.#store.grant(ttl, signal);
    held.granted(lease.id, lease.ttl, sentAt);
  }

  /**
   * Watches `key` (exactly) while `held` lives and tells `onChange` when it
   * is deleted, or written at a revision `ours` does not hold (someone
   * else's write). Checked only between this holder's own writes (`busy`).
   */
  async #guard(
    held: Held,
    key: string,
    ours: Set<bigint>,
    busy: () => boolean,
    onChange: (change: "deleted" | "replaced") => void,
  ): Promise<void> {
    let last: "deleted" | bigint | undefined;
    for await (const event of this.#watchKeys(key, held.stop.signal)) {
      if (event.type === "snapshot") {
        const kv = event.kvs.find((kv) => kv.key === key);
        last = kv === undefined ? "deleted" : kv.modRevision;
      } else if (event.type === "put") {
        if (event.kv.key !== key) continue;
        last = event.kv.modRevision;
      } else {
        if (event.key !== key) continue;
        last = "deleted";
      }
      if (busy() || held.stop.signal.aborted || this.#suspended) continue;
      if (last === "deleted") onChange("deleted");
      else if (!ours.has(last)) onChange("replaced");
    }
  }

  /** {@inheritDoc Registry.register} */
  async register(instance: Instance, options: LeaseOptions = {}): Promise<Registration> {
    this.#check();
    const value = this.#validate(instance);
    const ttl = positive("ttl", options.ttl, DEFAULT_LEASE_TTL);
    const signal = options.signal;
    signal?.throwIfAborted();
    const key = this.#namespace + "m/" + instance.id;
    const held = new Held();
    const store = this.#store;
    /** The revisions of this registration's own writes (the latest few). */
    const ours = new Set<bigint>();
    let writing = 0;
    const put = async (signal?: AbortSignal) => {
      writing++;
      try {
        const revision = await store.put(key, value, held.lease, signal);
        ours.add(revision);
        if (ours.size > 8) ours.delete(ours.values().next().value!);
      } finally {
        writing--;
      }
    };
    const write = async (signal?: AbortSignal) => {
      writing++;
      try {
        await this.#grant(held, ttl, signal);
        await put(signal);
      } finally {
        writing--;
      }
    };
    try {
      await write(signal);
    } catch (err) {
      held.stop.abort();
      if (held.lease !== "") await store.revoke(held.lease).catch(() => {});
      throw err;
    }
    const frozen: Instance = Object.freeze({ ...instance });
    let closed: Promise<void> | undefined;
    const registration: Registration = {
      instance: frozen,
      close: () =>
        closed ??= (async () => {
          held.stop.abort();
          this.#held.delete(registration);
          try {
            await store.revoke(held.lease);
          } catch (err) {
            this.#logger.warn(`Discovery revoke of ${instance.id} failed (it will expire)`, err);
          }
        })(),
      [Symbol.asyncDispose]: () => registration.close(),
    };
    this.#held.add(registration);
    /** Writes the instance again (a new lease when `fresh`), retrying with backoff until it works or we close. */
    let restoring: Promise<boolean> | undefined;
    const restore = (fresh: boolean) =>
      restoring ??= (async () => {
        for (let attempt = 0; !held.stop.signal.aborted; attempt++) {
          try {
            if (fresh || held.expired) await write(held.stop.signal);
            else await put(held.signal);
            this.#logger.warn(`Discovery re-registered ${instance.id}`);
            return true;
          } catch (err) {
            if (held.stop.signal.aborted) break;
            // The lease may be gone too: grant a new one next time.
            fresh = true;
            this.#logger.warn(`Discovery re-registration of ${instance.id} failed`, err);
            await pause(this.#backoff(attempt), held.stop.signal);
          }
        }
        return false;
      })().finally(() => (restoring = undefined));
    this.#spawn(this.#keepAlive(held, instance.id, () => restore(true)));
    // Someone else deleted the key (a registry without ownership, an
    // operator): it is written again at once. A write by another
    // registration of the same id replaces this one (the last write wins),
    // and this one stops guarding it.
    let replaced = false;
    this.#spawn(this.#guard(held, key, ours, () => writing > 0 || replaced, (change) => {
      if (change === "replaced") {
        replaced = true;
        return;
      }
      this.#logger.warn(`Discovery registration of ${instance.id} was deleted: writing it again`);
      void restore(false);
    }));
    return registration;
  }

  async *#watchKeys(prefix: string, outer?: AbortSignal): AsyncGenerator<RawEvent> {
    const own = new AbortController();
    const signals = [own.signal, this.#closing.signal];
    if (outer) signals.push(outer);
    const signal = AbortSignal.any(signals);
    let last: bigint | undefined;
    let attempt = 0;
    try {
      while (!signal.aborted) {
        try {
          if (last === undefined) {
            const { revision, kvs } = await this.#store.range(prefix, signal);
            last = revision;
            yield { type: "snapshot", revision, kvs };
          }
          // Aborted while the caller held the snapshot: no watch to start.
          if (signal.aborted) break;
          for await (const batch of this.#store.watch(prefix, last + 1n, signal)) {
            attempt = 0;
            if (batch.type === "compacted") {
              this.#logger.warn(`Discovery watch of ${prefix} fell behind: resynchronising`);
              last = undefined;
              break;
            }
            for (const event of batch.events) {
              if (event.type === "put") {
                last = event.kv.modRevision;
                yield { type: "put", revision: last, kv: event.kv };
              } else {
                last = event.modRevision;
                yield { type: "delete", revision: last, key: event.key };
              }
            }
            if (batch.revision > last!) last = batch.revision;
          }
          if (last !== undefined && !signal.aborted) await pause(this.#backoff(attempt++), signal);
        } catch (err) {
          if (signal.aborted) break;
          this.#logger.warn(`Discovery watch of ${prefix} failed: retrying`, err);
          await pause(this.#backoff(attempt++), signal);
        }
      }
    } finally {
      own.abort();
    }
  }

  /** {@inheritDoc Registry.watch} */
  async *watch(prefix: string, options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
    if (typeof prefix !== "string") throw new TypeError("Invalid watch prefix: not a string");
    this.#check();
    const base = this.#namespace + "m/";
    const member = (kv: KeyValue): Member | undefined => {
      const id = kv.key.slice(base.length);
      const instance = this.#parse(kv.value, id);
      if (instance === undefined || instance.id !== id) {
        this.#logger.warn(`Discovery ignored a malformed member at ${JSON.stringify(kv.key)}`);
        return undefined;
      }
      return { ...instance, revision: kv.modRevision };
    };
    for await (const event of this.#watchKeys(base + prefix, options.signal)) {
      if (event.type === "snapshot") {
        const members: Member[] = [];
        for (const kv of event.kvs) {
          const m = member(kv);
          if (m) members.push(m);
        }
        yield { type: "snapshot", revision: event.revision, members };
      } else if (event.type === "put") {
        const m = member(event.kv);
        if (m) yield { type: "put", revision: event.revision, member: m };
      } else {
        yield { type: "delete", revision: event.revision, id: event.key.slice(base.length) };
      }
    }
  }

  #groupPrefix(group: string): string {
    // deno-lint-ignore no-control-regex
    if (typeof group !== "string" || group === "" || /[\u0000-\u001f\u007f/]/.test(group)) {
      throw new TypeError(`Invalid election group: ${JSON.stringify(group)}`);
    }
    return this.#namespace + "e/" + group + "/";
  }

  /** {@inheritDoc Registry.campaign} */
  async campaign(
    group: string,
    instance: Instance,
    options: LeaseOptions = {},
  ): Promise<Leadership> {
    this.#check();
    const prefix = this.#groupPrefix(group);
    const value = this.#validate(instance);
    const ttl = positive("ttl", options.ttl, DEFAULT_LEASE_TTL);
    options.signal?.throwIfAborted();
    const store = this.#store;
    let resigned: Promise<void> | undefined;
    // The watchdog ends the leadership from its own timer, before any
    // successor can be elected (see Held).
    const held = new Held(() => {
      // (Suspended, as SIGSTOP: the keepalive loop ends it once resumed.)
      if (this.#suspended) return;
      void resign(
        new WeftError(
          "registry unreachable",
          `Leadership of ${group} lost: the store confirmed no keepalive within ${LEASE_RENEW_DEADLINE} × the TTL`,
        ),
      );
    });
    await this.#grant(held, ttl, options.signal);
    const key = prefix + held.lease;
    const resign = (reason?: WeftError) =>
      resigned ??= (async () => {
        held.stop.abort(
          reason ?? new WeftError("registry rejected", `Leadership of ${group} ended`),
        );
        this.#held.delete(handle);
        try {
          await store.delete(key);
          await store.revoke(held.lease);
        } catch (err) {
          this.#logger.warn(`Discovery resign of ${instance.id} in ${group} failed`, err);
        }
      })();
    const handle = { close: resign };
    this.#held.add(handle);
    this.#spawn(this.#keepAlive(held, `${instance.id} in ${group}`, () => {
      void resign(
        new WeftError("registry rejected", `Leadership of ${group} lost: the lease is gone`),
      );
      return Promise.resolve(false);
    }));
    const waiting = options.signal
      ? AbortSignal.any([options.signal, held.stop.signal])
      : held.stop.signal;
    let lost: WeftError | undefined;
    try {
      const mine = await store.put(key, value, held.lease, waiting);
      // The candidacy's key deleted or written by someone else: the
      // leadership (or the candidacy) ends at once.
      this.#spawn(this.#guard(held, key, new Set([mine]), () => false, (change) =>
        void resign(
          new WeftError(
            "registry rejected",
            `Leadership of ${group} lost: its key was ${change} by someone else`,
          ),
        )));
      for (let attempt = 0;;) {
        let revision: bigint;
        try {
          const r = await store.range(prefix, waiting);
          revision = r.revision;
          const self = r.kvs.find((kv) => kv.key === key);
          if (self === undefined) {
            throw lost = new WeftError(
              "registry rejected",
              `Candidacy of ${instance.id} in ${group} lost its lease while waiting`,
            );
          }
          if (!r.kvs.some((kv) => kv.createRevision < self.createRevision)) break;
          for await (const batch of store.watch(prefix, revision + 1n, waiting)) {
            attempt = 0;
            if (batch.type === "compacted" || batch.events.some((e) => e.type === "delete")) break;
          }
        } catch (err) {
          if (waiting.aborted || err === lost) throw err;
          this.#logger.warn(`Discovery campaign of ${instance.id} in ${group}: retrying`, err);
          await pause(this.#backoff(attempt++), waiting);
        }
        waiting.throwIfAborted();
      }
      const master: Master = Object.freeze({
        ...(this.#parse(value) as Instance),
        group,
        fence: mine,
      });
      return {
        master,
        signal: held.stop.signal,
        resign: () => resign(),
        [Symbol.asyncDispose]: () => resign(),
      };
    } catch (err) {
      const reason = options.signal?.aborted ? options.signal.reason : err;
      await resign();
      throw reason;
    }
  }

  /** {@inheritDoc Registry.observe} */
  async *observe(group: string, options: WatchOptions = {}): AsyncGenerator<Master | null> {
    const prefix = this.#groupPrefix(group);
    this.#check();
    const candidates = new Map<string, KeyValue>();
    let yielded: { key: string | null; fence: bigint } | undefined;
    for await (const event of this.#watchKeys(prefix, options.signal)) {
      if (event.type === "snapshot") {
        candidates.clear();
        for (const kv of event.kvs) candidates.set(kv.key, kv);
      } else if (event.type === "put") {
        const known = candidates.get(event.kv.key);
        candidates.set(
          event.kv.key,
          known ? { ...event.kv, createRevision: known.createRevision } : event.kv,
        );
      } else {
        candidates.delete(event.key);
      }
      let first: KeyValue | undefined;
      for (const kv of candidates.values()) {
        if (first === undefined || kv.createRevision < first.createRevision) first = kv;
      }
      const key = first?.key ?? null;
      if (yielded !== undefined && yielded.key === key) continue;
      if (first === undefined) {
        yielded = { key: null, fence: yielded?.fence ?? 0n };
        yield null;
        continue;
      }
      if (yielded !== undefined && first.createRevision < yielded.fence) continue;
      const instance = this.#parse(first.value);
      if (instance === undefined) {
        this.#logger.warn(
          `Discovery ignored a malformed candidate at ${JSON.stringify(first.key)}`,
        );
        continue;
      }
      yielded = { key, fence: first.createRevision };
      yield Object.freeze({ ...instance, group, fence: first.createRevision });
    }
  }

  /** {@inheritDoc Registry.close} */
  close(): Promise<void> {
    return this.#closed ??= (async () => {
      this.#closing.abort();
      await Promise.all([...this.#held].map((h) => h.close()));
      await Promise.all([...this.#loops]);
      await this.#store.close();
    })();
  }

  /** Same as {@linkcode KvRegistry.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The base of weft's registries ({@linkcode MemoryRegistry},
 * {@linkcode EtcdRegistry}, {@linkcode RemoteRegistry}): each is one shared
 * implementation of the {@linkcode Registry} contract over its own store,
 * and differs from the others only in the store and the options it takes.
 * Not meant to be extended outside weft; implement {@linkcode Registry}
 * instead.
 */
export abstract class StoreRegistry implements Registry {
  readonly #kv: KvRegistry;

  /** Wraps the shared implementation built by the subclass over its store. */
  protected constructor(kv: KvRegistry) {
    this.#kv = kv;
    inner.set(this, kv);
  }

  /** {@inheritDoc Registry.register} */
  register(instance: Instance, options?: LeaseOptions): Promise<Registration> {
    return this.#kv.register(instance, options);
  }

  /** {@inheritDoc Registry.watch} */
  watch(prefix: string, options?: WatchOptions): AsyncGenerator<WatchEvent> {
    return this.#kv.watch(prefix, options);
  }

  /** {@inheritDoc Registry.campaign} */
  campaign(group: string, instance: Instance, options?: LeaseOptions): Promise<Leadership> {
    return this.#kv.campaign(group, instance, options);
  }

  /** {@inheritDoc Registry.observe} */
  observe(group: string, options?: WatchOptions): AsyncGenerator<Master | null> {
    return this.#kv.observe(group, options);
  }

  /** {@inheritDoc Registry.close} */
  close(): Promise<void> {
    return this.#kv.close();
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#kv.close();
  }
}
