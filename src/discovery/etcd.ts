/**
 * The etcd registry: discovery on an etcd cluster through its v3 JSON
 * gateway (`/v3/*`, etcd 3.4 and later) with the platform's `fetch`, so the
 * same file runs on Deno, Bun and Node with no dependency.
 *
 * How it talks to etcd: 64-bit lease ids and revisions stay decimal strings
 * or `bigint`s (lease ids exceed 2^53); keys and values are base64; each
 * keepalive is one POST (etcd #8237: several keepalives streamed in one
 * request are ignored); a watch is one long POST read as newline-separated
 * JSON (blank lines skipped) that asks for progress notifications, is
 * restarted from the last revision + 1 when it ends or stays silent past
 * `watchIdleTimeout`, and resynchronises from a fresh read after a
 * compaction. A request that fails on one endpoint is tried on the next.
 *
 * @example Point weft at an etcd cluster (runs only where one is reachable)
 * ```ts ignore
 * import { EtcdRegistry } from "@weft/cluster/discovery/etcd";
 *
 * await using registry = new EtcdRegistry({
 *   endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"],
 *   username: "weft",
 *   password: "secret",
 * });
 * await registry.register({ id: "nodes/alpha", address: "10.0.0.5:7001" }, { ttl: 5000 });
 * ```
 *
 * @example Options are checked when the registry is built
 * ```ts
 * import { EtcdRegistry } from "@weft/cluster/discovery/etcd";
 *
 * let message = "";
 * try {
 *   new EtcdRegistry({ endpoints: ["127.0.0.1:2379"] });
 * } catch (err) {
 *   message = (err as TypeError).message;
 * }
 * if (!message.includes("endpoints")) throw new Error("expected a TypeError naming endpoints");
 * ```
 *
 * @module
 */

import { ErrorCode, WeftError } from "../errors.ts";
import type { KeyValue, KvEvent, KvStore, KvWatchBatch, Lease } from "./_kv.ts";
import { KvRegistry, type RegistryOptions, StoreRegistry } from "./_kv_registry.ts";
import { randomLeaseId } from "./_memory_kv.ts";

export type * from "./types.ts";
export { DEFAULT_LEASE_TTL } from "./types.ts";
export type { RegistryOptions } from "./_kv_registry.ts";
export type { Logger } from "../cluster/options.ts";
export { DEFAULT_MAX_INSTANCE_BYTES, DEFAULT_NAMESPACE, StoreRegistry } from "./_kv_registry.ts";

/** Options of {@linkcode EtcdRegistry}. */
export interface EtcdRegistryOptions extends RegistryOptions {
  /**
   * The etcd client URLs (`http://host:2379`), tried in order; a request that
   * cannot reach one endpoint goes to the next, and the one that answered is
   * used first from then on.
   */
  endpoints: string | readonly string[];
  /** A user name for etcd's auth; with `password`, the registry authenticates and refreshes its token. */
  username?: string;
  /** The password of `username`. */
  password?: string;
  /** A fixed auth token (sent as the `Authorization` header) instead of a user name and password. */
  token?: string;
  /** How long one request may take, in ms. @default {DEFAULT_ETCD_REQUEST_TIMEOUT} */
  requestTimeout?: number;
  /**
   * How long a watch stream may stay silent before it is restarted (from the
   * last revision, so nothing is lost), in ms. etcd sends progress
   * notifications on idle watches (every 10 minutes by default; see its
   * `--experimental-watch-progress-notify-interval`), so this catches a
   * stream that died without closing.
   * @default {DEFAULT_ETCD_WATCH_IDLE_TIMEOUT}
   */
  watchIdleTimeout?: number;
  /** The largest response (or watch message) accepted, in bytes. @default {DEFAULT_ETCD_MAX_RESPONSE_BYTES} */
  maxResponseBytes?: number;
  /** The `fetch` to use. @default {globalThis.fetch} */
  fetch?: typeof fetch;
}

/** The default {@linkcode EtcdRegistryOptions.requestTimeout}: 5 s. */
export const DEFAULT_ETCD_REQUEST_TIMEOUT = 5000;
/** The default {@linkcode EtcdRegistryOptions.watchIdleTimeout}: 60 s. */
export const DEFAULT_ETCD_WATCH_IDLE_TIMEOUT = 60_000;
/** The default {@linkcode EtcdRegistryOptions.maxResponseBytes}: 16 MiB. */
export const DEFAULT_ETCD_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function b64(text: string): string {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function unb64(value: unknown, endpoint: string): string {
  if (value === undefined) return "";
  if (typeof value !== "string") throw malformed(endpoint, "a key or value is not base64");
  try {
    const binary = atob(value);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return decoder.decode(bytes);
  } catch (cause) {
    throw malformed(endpoint, "a key or value is not base64", cause);
  }
}

/** The end of the key range holding every key that starts with `prefix` (etcd's GetPrefixRangeEnd). */
function prefixEnd(prefix: string): string {
  const bytes = encoder.encode(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = bytes.slice(0, i + 1);
      end[i]!++;
      let binary = "";
      for (const byte of end) binary += String.fromCharCode(byte);
      return btoa(binary);
    }
  }
  return btoa("\0");
}

function malformed(endpoint: string, what: string, cause?: unknown): WeftError {
  return new WeftError(
    ErrorCode.RegistryMalformed,
    `Malformed response from etcd at ${endpoint}: ${what}`,
    { cause },
  );
}

function int(value: unknown, endpoint: string, what: string): bigint {
  if (value === undefined) return 0n;
  if ((typeof value === "string" && /^-?\d{1,20}$/.test(value)) || Number.isSafeInteger(value)) {
    return BigInt(value as string | number);
  }
  throw malformed(endpoint, `${what} is not an integer`);
}

function object(value: unknown, endpoint: string, what: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw malformed(endpoint, `${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function revisionOf(body: Record<string, unknown>, endpoint: string): bigint {
  return int(object(body.header, endpoint, "header").revision, endpoint, "header.revision");
}

function keyValue(raw: unknown, endpoint: string): KeyValue {
  const kv = object(raw, endpoint, "kv");
  return {
    key: unb64(kv.key, endpoint),
    value: unb64(kv.value, endpoint),
    createRevision: int(kv.create_revision, endpoint, "create_revision"),
    modRevision: int(kv.mod_revision, endpoint, "mod_revision"),
  };
}

function notGateway(endpoint: string, path: string): WeftError {
  return new WeftError(
    ErrorCode.RegistryRejected,
    `etcd at ${endpoint} has no ${path} (HTTP 404): not an etcd v3 gateway (etcd 3.4 or later)?`,
  );
}

const AUTH_MESSAGE = /auth|token|user name|permission denied|password/i;

/** The error of a gRPC status carried in a gateway answer. */
function statusError(endpoint: string, path: string, status: number, body: unknown): WeftError {
  const b = body !== null && typeof body === "object" ? body as Record<string, unknown> : {};
  const inner = b.error !== null && typeof b.error === "object"
    ? b.error as Record<string, unknown>
    : b;
  const code = Number(inner.code ?? inner.grpc_code);
  const message = String(inner.message ?? inner.error ?? `HTTP ${status}`);
  if (status === 401 || code === 16 || code === 7 || AUTH_MESSAGE.test(message)) {
    return new WeftError(
      ErrorCode.RegistryAuth,
      `etcd at ${endpoint} refused ${path}: ${message}`,
    );
  }
  if (code === 14 || status === 503) {
    return new WeftError(
      ErrorCode.RegistryUnreachable,
      `etcd at ${endpoint} is unavailable: ${message}`,
    );
  }
  return new WeftError(
    ErrorCode.RegistryRejected,
    `etcd at ${endpoint} rejected ${path}: ${message}`,
  );
}

/**
 * `work`, or a rejection with `signal`'s reason as soon as it aborts. The
 * deadline of a request must not depend on the `fetch` in use honouring its
 * signal (a custom `fetch` option may not; a body read may not see it): the
 * wait ends on the abort either way, and `work`'s late outcome is dropped.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/** Cancels a response body without waiting for it longer than `ms` (the stream is done with). */
async function release(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    reader.cancel().catch(() => {}),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

async function readLimited(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  limit: number,
  endpoint: string,
  signal: AbortSignal,
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await untilAborted(reader.read(), signal);
    if (done) break;
    size += value.length;
    if (size > limit) {
      await untilAborted(reader.cancel(), signal).catch(() => {});
      throw malformed(endpoint, `response over maxResponseBytes ${limit}`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return decoder.decode(all);
}

class EtcdKv implements KvStore {
  readonly #endpoints: string[];
  readonly #fetch: typeof fetch;
  readonly #timeout: number;
  readonly #idle: number;
  readonly #limit: number;
  readonly #username: string | undefined;
  readonly #password: string | undefined;
  #token: string | undefined;
  #authenticating: Promise<void> | undefined;
  #current = 0;

  constructor(options: EtcdRegistryOptions) {
    const list = typeof options.endpoints === "string" ? [options.endpoints] : options.endpoints;
    if (!Array.isArray(list) || list.length === 0) {
      throw new TypeError("Invalid option endpoints: expected one or more http(s) URLs");
    }
    this.#endpoints = list.map((e) => {
      let url: URL;
      try {
        url = new URL(String(e));
      } catch {
        throw new TypeError(`Invalid option endpoints: ${JSON.stringify(e)} is not a URL`);
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new TypeError(`Invalid option endpoints: ${JSON.stringify(e)} is not http(s)`);
      }
      return url.origin + url.pathname.replace(/\/+$/, "");
    });
    const pos = (name: string, v: number | undefined, d: number) => {
      if (v === undefined) return d;
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
        throw new RangeError(`Invalid option ${name}: ${v} is not a positive number`);
      }
      return v;
    };
    this.#timeout = pos("requestTimeout", options.requestTimeout, DEFAULT_ETCD_REQUEST_TIMEOUT);
    this.#idle = pos("watchIdleTimeout", options.watchIdleTimeout, DEFAULT_ETCD_WATCH_IDLE_TIMEOUT);
    this.#limit = pos(
      "maxResponseBytes",
      options.maxResponseBytes,
      DEFAULT_ETCD_MAX_RESPONSE_BYTES,
    );
    if ((options.username === undefined) !== (options.password === undefined)) {
      throw new TypeError("Invalid options username/password: give both or neither");
    }
    if (options.token !== undefined && options.username !== undefined) {
      throw new TypeError("Invalid option token: give a token or a username, not both");
    }
    this.#username = options.username;
    this.#password = options.password;
    this.#token = options.token;
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new TypeError("Invalid option fetch: not a function");
    this.#fetch = f;
  }

  /**
   * One POST to one endpoint; `signal` (the caller's, with its timeout)
   * stays linked to the response body, so aborting it also ends the body.
   */
  async #post(
    endpoint: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.#token !== undefined && path !== "/v3/auth/authenticate") {
      headers.authorization = this.#token;
    }
    try {
      signal.throwIfAborted();
      return await untilAborted(
        this.#fetch(endpoint + path, {
          method: "POST",
          headers,
          body: JSON.stringify(body),
          signal,
        }),
        signal,
      );
    } catch (cause) {
      if (signal.aborted) throw signal.reason;
      throw new WeftError(
        ErrorCode.RegistryUnreachable,
        `Cannot reach etcd at ${endpoint}: ${cause instanceof Error ? cause.message : cause}`,
        { cause },
      );
    }
  }

  /** One unary call to one endpoint; the parsed `result` (or body). */
  async #unary(
    endpoint: string,
    path: string,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    // An abort listener added to a signal already aborted never runs: the
    // request would then go out and wait for its answer after all.
    if (signal?.aborted) throw signal.reason;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, this.#timeout);
    try {
      const res = await this.#post(endpoint, path, body, ctl.signal);
      let text: string;
      try {
        text = await readLimited(res.body!.getReader(), this.#limit, endpoint, ctl.signal);
      } catch (cause) {
        if (cause instanceof WeftError) throw cause;
        throw new WeftError(
          ErrorCode.RegistryUnreachable,
          `Cannot reach etcd at ${endpoint}: the answer to ${path} broke off`,
          { cause },
        );
      }
      // Streaming methods (keepalive) answer one `{"result":…}` per line.
      const line = text.split("\n").find((l) => l.trim() !== "") ?? "";
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (cause) {
        if (res.status === 404) throw notGateway(endpoint, path);
        throw malformed(endpoint, `the answer to ${path} (HTTP ${res.status}) is not JSON`, cause);
      }
      const o = object(parsed, endpoint, `the answer to ${path}`);
      if (!res.ok || o.error !== undefined) throw statusError(endpoint, path, res.status, o);
      return o.result === undefined ? o : object(o.result, endpoint, "result");
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timedOut && !(err instanceof WeftError && err.code !== ErrorCode.RegistryUnreachable)) {
        throw new WeftError(
          ErrorCode.RegistryUnreachable,
          `Cannot reach etcd at ${endpoint}: no answer to ${path} within ${this.#timeout} ms`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async #authenticate(endpoint: string, signal?: AbortSignal): Promise<void> {
    if (this.#username === undefined) return;
    this.#authenticating ??= (async () => {
      const r = await this.#unary(endpoint, "/v3/auth/authenticate", {
        name: this.#username,
        password: this.#password,
      }, signal);
      if (typeof r.token !== "string" || r.token === "") {
        throw malformed(endpoint, "authenticate returned no token");
      }
      this.#token = r.token;
    })().finally(() => (this.#authenticating = undefined));
    await this.#authenticating;
  }

  /** Runs `attempt` on each endpoint in turn, from the last one that worked. */
  async #failover<T>(
    signal: AbortSignal | undefined,
    attempt: (endpoint: string) => Promise<T>,
  ): Promise<T> {
    let last: unknown;
    const n = this.#endpoints.length;
    const start = this.#current;
    for (let i = 0; i < n; i++) {
      const index = (start + i) % n;
      const endpoint = this.#endpoints[index]!;
      try {
        if (this.#token === undefined) await this.#authenticate(endpoint, signal);
        let result: T;
        try {
          result = await attempt(endpoint);
        } catch (err) {
          // An expired token: authenticate again once and retry.
          if (
            this.#username === undefined || !(err instanceof WeftError) ||
            err.code !== ErrorCode.RegistryAuth
          ) throw err;
          this.#token = undefined;
          await this.#authenticate(endpoint, signal);
          result = await attempt(endpoint);
        }
        this.#current = index;
        return result;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!(err instanceof WeftError) || err.code !== ErrorCode.RegistryUnreachable) throw err;
        last = err;
      }
    }
    throw last;
  }

  /** A unary call with failover: the result and the endpoint that gave it. */
  #call(
    path: string,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<[Record<string, unknown>, string]> {
    return this.#failover(
      signal,
      async (endpoint) => [await this.#unary(endpoint, path, body, signal), endpoint],
    );
  }

  async grant(ttl: number, signal?: AbortSignal): Promise<Lease> {
    // The id is chosen here, at random: etcd's own are sequential, and a
    // client of an etcd without auth that knows a lease id can revoke it.
    let answer: [Record<string, unknown>, string] | undefined;
    for (let attempt = 0; answer === undefined; attempt++) {
      try {
        answer = await this.#call(
          "/v3/lease/grant",
          { TTL: String(Math.ceil(ttl / 1000)), ID: randomLeaseId() },
          signal,
        );
      } catch (err) {
        // 63 random bits taken already: one more try, in theory never needed.
        if (
          attempt > 2 || !(err instanceof WeftError && /lease already exists/.test(err.message))
        ) {
          throw err;
        }
      }
    }
    const [r, ep] = answer;
    if (typeof r.error === "string" && r.error !== "") {
      throw new WeftError(ErrorCode.RegistryRejected, `etcd at ${ep} refused a lease: ${r.error}`);
    }
    const id = int(r.ID, ep, "ID");
    const granted = Number(int(r.TTL, ep, "TTL"));
    if (id === 0n || granted <= 0) throw malformed(ep, "lease grant returned no ID or TTL");
    return { id: String(id), ttl: granted * 1000 };
  }

  async keepAlive(id: string, signal?: AbortSignal): Promise<number> {
    const [r, ep] = await this.#call("/v3/lease/keepalive", { ID: id }, signal);
    const ttl = Number(int(r.TTL, ep, "TTL"));
    return ttl > 0 ? ttl * 1000 : 0;
  }

  async revoke(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.#call("/v3/lease/revoke", { ID: id }, signal);
    } catch (err) {
      if (err instanceof WeftError && /lease not found/.test(err.message)) return;
      throw err;
    }
  }

  async put(key: string, value: string, lease: string, signal?: AbortSignal): Promise<bigint> {
    const [r, ep] = await this.#call(
      "/v3/kv/put",
      { key: b64(key), value: b64(value), lease },
      signal,
    );
    return revisionOf(r, ep);
  }

  async delete(key: string, signal?: AbortSignal): Promise<bigint> {
    const [r, ep] = await this.#call("/v3/kv/deleterange", { key: b64(key) }, signal);
    return revisionOf(r, ep);
  }

  async range(
    prefix: string,
    signal?: AbortSignal,
  ): Promise<{ revision: bigint; kvs: KeyValue[] }> {
    const [r, ep] = await this.#call(
      "/v3/kv/range",
      { key: b64(prefix), range_end: prefixEnd(prefix) },
      signal,
    );
    const raw = r.kvs ?? [];
    if (!Array.isArray(raw)) throw malformed(ep, "kvs is not a list");
    return { revision: revisionOf(r, ep), kvs: raw.map((kv) => keyValue(kv, ep)) };
  }

  async *watch(prefix: string, from: bigint, signal: AbortSignal): AsyncGenerator<KvWatchBatch> {
    // Aborted already (while the caller handled the snapshot before this
    // watch): the listener below would never run, and etcd's progress
    // notifications would keep the stream alive past every idle timeout.
    if (signal.aborted) return;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    let idle = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (ms = this.#idle) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        ctl.abort();
      }, ms);
    };
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let endpoint = "";
    try {
      arm(this.#timeout * this.#endpoints.length);
      const res = await this.#failover(ctl.signal, async (ep) => {
        const res = await this.#post(
          ep,
          "/v3/watch",
          {
            create_request: {
              key: b64(prefix),
              range_end: prefixEnd(prefix),
              start_revision: String(from),
              progress_notify: true,
            },
          },
          ctl.signal,
        );
        if (!res.ok) {
          const text = await readLimited(res.body!.getReader(), this.#limit, ep, ctl.signal)
            .catch(() => "");
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            if (res.status === 404) throw notGateway(ep, "/v3/watch");
            body = {};
          }
          throw statusError(ep, "/v3/watch", res.status, body);
        }
        endpoint = ep;
        return res;
      });
      reader = res.body!.getReader();
      arm();
      let buffer = "";
      for (;;) {
        const { done, value } = await untilAborted(reader.read(), ctl.signal);
        if (done) return;
        arm();
        buffer += decoder.decode(value, { stream: true });
        if (buffer.length > this.#limit) {
          throw malformed(endpoint, `a watch message over maxResponseBytes ${this.#limit}`);
        }
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line === "") continue;
          let parsed: unknown;
          try {
            parsed = JSON.parse(line);
          } catch (cause) {
            throw malformed(endpoint, "a watch message is not JSON", cause);
          }
          const o = object(parsed, endpoint, "a watch message");
          if (o.error !== undefined) throw statusError(endpoint, "/v3/watch", 200, o);
          const r = object(o.result, endpoint, "a watch result");
          if (r.canceled === true) {
            const compacted = int(r.compact_revision, endpoint, "compact_revision");
            if (compacted > 0n) {
              yield { type: "compacted", revision: compacted };
              return;
            }
            throw new WeftError(
              ErrorCode.RegistryRejected,
              `etcd at ${endpoint} canceled the watch: ${String(r.cancel_reason ?? "no reason")}`,
            );
          }
          const revision = revisionOf(r, endpoint);
          if (r.created === true) continue;
          const raw = r.events ?? [];
          if (!Array.isArray(raw)) throw malformed(endpoint, "events is not a list");
          const events: KvEvent[] = raw.map((e) => {
            const ev = object(e, endpoint, "an event");
            const kv = keyValue(ev.kv, endpoint);
            return ev.type === "DELETE"
              ? { type: "delete", key: kv.key, modRevision: kv.modRevision }
              : { type: "put", kv };
          });
          yield { type: "events", revision, events };
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      if (idle) {
        throw new WeftError(
          ErrorCode.RegistryUnreachable,
          `etcd at ${endpoint || "(connecting)"} sent nothing on a watch for ${this.#idle} ms`,
          { cause: err },
        );
      }
      if (err instanceof WeftError) throw err;
      throw new WeftError(
        ErrorCode.RegistryUnreachable,
        `Cannot reach etcd at ${endpoint}: the watch broke off`,
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      ctl.abort();
      if (reader !== undefined) await release(reader, this.#timeout);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The {@linkcode Registry} on etcd. See the module doc for how it talks to
 * etcd; the README's Discovery section for how to run etcd.
 *
 * Errors: `registry unreachable` (no endpoint answered, a timeout, a broken
 * stream), `registry auth` (bad credentials or token, permission denied),
 * `registry rejected` (a wrong endpoint, a refused request), `registry
 * malformed` (an answer that is not etcd's): each names the endpoint.
 */
export class EtcdRegistry extends StoreRegistry {
  /**
   * Creates the registry; nothing is sent until it is used.
   *
   * @param options The endpoints, credentials, timeouts and bounds.
   * @throws {TypeError} A bad endpoint or credentials (named in the message).
   * @throws {RangeError} A timeout or bound out of range (named in the message).
   */
  constructor(options: EtcdRegistryOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Invalid options: expected an object with endpoints");
    }
    super(new KvRegistry(new EtcdKv(options), options));
  }
}
