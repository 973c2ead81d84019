/**
 * Introspection: a node answers INFO requests about itself, by kind, so an
 * operator's tools (`weft ls`, `weft stats`, `weft dashboard`) learn what a
 * node is, what it serves and its numbers from the node itself.
 *
 * On the wire it is the protocol mode's (`can.info`: weft's INFO control
 * frame, cmd `0xFFFFFF10`, see docs/PROTOCOL_EXTENSIONS.md), whose payload
 * is the kind's name in UTF-8 (empty: `stats`), answered by an ordinary
 * response to its session in the mode's heads: UTF-8 JSON, or an error
 * response with a code. The channel hands the request up
 * (`ChannelHost.onInfo`) and sends ours (`channel.askInfo`); nothing here
 * writes a mode's bytes.
 *
 * The kinds a node knows:
 *
 * - `describe`: what the node is (`kind`: `cluster`, or the layer's:
 *   `node`, `router`, `service`, `registry`), its runtime, uptime, node id,
 *   listening addresses, and what the layer above adds (services and their
 *   commands, groups and masters, ...).
 * - `stats`: `cluster.stats()`'s snapshot, and what the layer adds (a
 *   router's per-group counters).
 * - any kind a layer adds with {@linkcode InfoService.provide}.
 *
 * Who may ask: every INFO request is refused (`forbidden`) when the node
 * has `introspect: false`; `stats` is refused unless the node has `stats: {
 * remote: true }`; and the node's `authorize` hook, if any, is asked about
 * each request as a request to the service {@linkcode INFO_SERVICE}
 * (`"$info"`) with the kind as its command (so `allowList({ ops: ["$info"]
 * })` lets key id `ops` ask anything, and an allow-list without it refuses).
 *
 * What it costs a node: the kind is read only up to
 * {@linkcode MAX_INFO_KIND_BYTES}; each kind's answer is encoded at most
 * once per {@linkcode INFO_CACHE_MS} for every asker together; an INFO
 * request that arrives while its connection's writes are backed up is
 * dropped (a peer asking faster than it reads gets nothing more than its
 * connection's high-water mark); and refusals are logged through the
 * rate-limited fault log.
 *
 * @module
 */

import { type AbortSignalLike, strictUtf8Decoder, utf8Encoder } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import { PendingCall } from "../session/pending_calls.ts";
import { faultBody } from "./fault_reply.ts";
import { type ModeConnection, ResponseStatus } from "../protocol/mode.ts";
import { detectRuntime } from "../transport/detect.ts";
import { formatAddress } from "../transport/address.ts";
import type { Address } from "../transport/types.ts";
import { VERSION } from "../version.ts";
import type { FaultLog } from "./fault_log.ts";
import type { Logger } from "./logger.ts";
import type { Peer } from "../connection/peer.ts";
// The number `authorize` sees for an INFO request (weft's control cmd).
import { ControlCmd } from "../protocol/weft/protocol.ts";
import { type Authorize, refusal } from "./security.ts";

/** The service name `authorize` sees for an INFO request (the kind is its `command`). */
export const INFO_SERVICE = "$info";

/** The longest kind name a node reads, in UTF-8 bytes; a longer one is refused. */
export const MAX_INFO_KIND_BYTES = 64;

/** How long a node reuses one kind's encoded answer, in ms. */
export const INFO_CACHE_MS = 250;

/** The kinds every node answers (when allowed); layers add theirs. */
export const InfoKind = {
  /** What the node is and serves. */
  Describe: "describe",
  /** Its numbers (needs `stats: { remote: true }`). */
  Stats: "stats",
} as const;

/**
 * What a layer adds to a kind's answer: an object whose fields are merged
 * over the cluster's own answer to that kind (if it has one). Called at
 * most once per {@linkcode INFO_CACHE_MS}; it must not throw (a throw is
 * answered as an error and logged).
 */
export type InfoProvider = () => object;

/** What {@linkcode InfoService} needs of the connection an INFO request came on. */
export interface InfoChannel {
  /** The peer that asked. */
  readonly peer: Peer;
  /** True while the connection's writes are backed up. */
  readonly congested: boolean;
  /** The connection's protocol mode: its response heads and error bodies. */
  readonly protocol: ModeConnection;
  /** Writes a response to `session` (`head`: the mode's response head). */
  response(session: number, bytes: Uint8Array | string, head: Uint8Array): void;
  /** Sends an INFO request (`payload`: the kind) under a new session; `call` waits for its response. */
  askInfo(payload: Uint8Array, call: PendingCall, deadline: number): void;
}

/** Options of {@linkcode InfoService}. */
export interface InfoServiceOptions {
  /** Whether INFO requests are answered at all (the cluster option `introspect`). */
  introspect: boolean;
  /** Whether `stats` is answered (the cluster option `stats: { remote: true }`). */
  remoteStats: boolean;
  /** The cluster's own answers: `describe` and, with stats on, `stats`. */
  own: (kind: string) => object | undefined;
  /** The cluster's `authorize` hook. */
  authorize: Authorize | undefined;
  /** Where refusals and failing providers are logged (rate-limited). */
  faults: FaultLog;
  /** Where a throwing `authorize` hook is logged (a bug of this node). */
  logger: Logger;
  /** Clock for the cache, ms. */
  now: () => number;
}

interface Cached {
  at: number;
  bytes: Uint8Array;
}

/**
 * A node's side of INFO: which kinds it answers, for whom, and their
 * answers (cached); and the asking side's request and reply.
 */
export class InfoService {
  readonly #o: InfoServiceOptions;
  readonly #providers = new Map<string, InfoProvider>();
  readonly #cache = new Map<string, Cached>();

  /** @param options What the cluster gives it. */
  constructor(options: InfoServiceOptions) {
    this.#o = options;
  }

  /**
   * Adds (or, given `undefined`, removes) a layer's part of `kind`'s
   * answer: its fields are merged over the cluster's own.
   *
   * @throws {TypeError} For a kind that is not a short non-empty name, or a provider that is not a function.
   */
  provide(kind: string, provider: InfoProvider | undefined): void {
    checkKind(kind);
    if (provider === undefined) this.#providers.delete(kind);
    else if (typeof provider !== "function") {
      throw new TypeError(`Invalid info provider for ${kind}: expected a function`);
    } else this.#providers.set(kind, provider);
    this.#cache.delete(kind);
  }

  /**
   * Answers a peer's INFO request (its payload: the kind) on `channel`
   * with a weft response to `session`; drops it while the channel is
   * congested.
   */
  answer(channel: InfoChannel, session: number, payload: Uint8Array): void {
    if (channel.congested) {
      this.#o.faults.report(
        "info dropped",
        () => `INFO request from ${channel.peer} dropped: its connection is backed up`,
      );
      return;
    }
    let kind: string;
    if (payload.length === 0) kind = InfoKind.Stats;
    else if (payload.length > MAX_INFO_KIND_BYTES) {
      return this.#refuse(channel, session, "unknown command", "Info kind is too long");
    } else {
      try {
        kind = strictUtf8Decoder.decode(payload);
      } catch {
        return this.#refuse(channel, session, "unknown command", "Info kind is not UTF-8");
      }
    }
    const refused = this.#refusal(kind, channel.peer);
    if (refused !== undefined) return this.#refuse(channel, session, "forbidden", refused);
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.#encoded(kind);
    } catch (error) {
      this.#o.faults.report("info failed", () => `Info ${kind} failed: ${String(error)}`);
      return this.#refuse(channel, session, "remote", `Info ${kind} failed on this node`);
    }
    if (bytes === undefined) {
      return this.#refuse(channel, session, "unknown command", `No info kind "${kind}" here`);
    }
    channel.response(session, bytes, channel.protocol.okHead);
  }

  /**
   * This node's answer to `kind` as a peer would get it, for layers that
   * carry INFO some other way (a service reached through a router), with
   * the same rules; the caller has run `authorize` for `peer` already or
   * passes it here.
   *
   * @throws {WeftError} `forbidden` (introspection off, stats not remote,
   *   or `authorize` refused), `unknown command` (no such kind).
   */
  local(kind: string, peer?: Peer): unknown {
    checkKind(kind);
    const refused = this.#refusal(kind, peer);
    if (refused !== undefined) throw new WeftError("forbidden", refused);
    const bytes = this.#encoded(kind);
    if (bytes === undefined) {
      throw new WeftError("unknown command", `No info kind "${kind}" on this node`);
    }
    return JSON.parse(strictUtf8Decoder.decode(bytes));
  }

  /**
   * Asks the peer at the other end of `channel` for `kind`; resolves with
   * the answer (parsed JSON). The caller makes sure the channel is ready
   * (the handshake done).
   *
   * @throws {WeftError} (as a rejection) `remote` with the node's code
   *   (`forbidden`, `unknown command`) as `remote.code`; `timeout`,
   *   `closed`, `aborted`, `protocol` (not JSON).
   */
  ask(
    channel: InfoChannel,
    kind: string,
    deadline: number,
    signal: AbortSignalLike | undefined,
  ): Promise<unknown> {
    const bytes = checkKind(kind);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const call = new PendingCall(`info ${kind}`, resolve, reject);
    // The response is ours to decode (not the cluster's codec's).
    const protocol = channel.protocol;
    call.raw = (payload: Uint8Array) => {
      try {
        const status = protocol.responseStatus(payload);
        const body = payload.subarray(protocol.responseHeadSize);
        if (status === ResponseStatus.Error) {
          return call.reject(protocol.decodeError(body, `info ${kind}`));
        }
        if (status !== ResponseStatus.Ok) throw new Error(`status ${status}`);
        call.resolve(JSON.parse(strictUtf8Decoder.decode(body)));
      } catch (error) {
        call.reject(
          new WeftError("protocol", `Bad answer to info ${kind} from ${channel.peer}`, {
            cause: error,
          }),
        );
      }
    };
    if (signal !== undefined) {
      if (signal.aborted) {
        return Promise.reject(
          new WeftError("aborted", `Info ${kind} aborted`, { cause: signal.reason }),
        );
      }
      const onAbort = () => {
        if (call.table?.remove(call)) {
          call.reject(new WeftError("aborted", `Info ${kind} aborted`, { cause: signal.reason }));
        }
      };
      call.signal = signal;
      call.onAbort = onAbort;
      signal.addEventListener("abort", onAbort, { once: true });
    }
    try {
      channel.askInfo(bytes, call, deadline);
    } catch (error) {
      call.reject(error);
    }
    return promise;
  }

  /** Why `peer` may not have `kind` (the message of a `forbidden` error), or undefined. */
  #refusal(kind: string, peer: Peer | undefined): string | undefined {
    if (!this.#o.introspect) return "Introspection is off on this node (introspect: false)";
    if (kind === InfoKind.Stats && !this.#o.remoteStats) {
      return "stats not allowed: this node does not have stats: { remote: true }";
    }
    if (peer === undefined) return undefined;
    return refusal(this.#o.authorize, peer, ControlCmd.Info, this.#o, {
      service: INFO_SERVICE,
      command: kind,
    });
  }

  #refuse(channel: InfoChannel, session: number, code: string, message: string): void {
    const protocol = channel.protocol;
    // A mode whose errors do not travel has no INFO either (weft has both).
    if (protocol.errorHead === null) return;
    channel.response(session, faultBody(protocol, code, message), protocol.errorHead);
  }

  /** `kind`'s answer as UTF-8 JSON (cached), or undefined if nobody answers it. */
  #encoded(kind: string): Uint8Array | undefined {
    const t = this.#o.now();
    const cached = this.#cache.get(kind);
    if (cached !== undefined && t - cached.at < INFO_CACHE_MS) return cached.bytes;
    const own = this.#o.own(kind);
    const provider = this.#providers.get(kind);
    if (own === undefined && provider === undefined) return undefined;
    const answer = provider === undefined ? own : { ...own, ...provider() };
    const bytes = utf8Encoder.encode(JSON.stringify(answer));
    this.#cache.set(kind, { at: t, bytes });
    return bytes;
  }
}

/**
 * The kind's UTF-8 bytes.
 *
 * @throws {TypeError} Unless `kind` is a non-empty string of at most {@linkcode MAX_INFO_KIND_BYTES} bytes.
 */
function checkKind(kind: unknown): Uint8Array {
  const bytes = typeof kind === "string" ? utf8Encoder.encode(kind) : undefined;
  if (bytes === undefined || bytes.length === 0 || bytes.length > MAX_INFO_KIND_BYTES) {
    throw new TypeError(
      `Invalid info kind: expected a name of 1 to ${MAX_INFO_KIND_BYTES} bytes, got ${
        String(kind)
      }`,
    );
  }
  return bytes;
}

/**
 * Checks the cluster option `introspect`.
 *
 * @throws {TypeError} Unless it is a boolean or undefined.
 */
export function checkIntrospect(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== "boolean") {
    throw new TypeError(`Invalid option introspect: expected a boolean, got ${String(value)}`);
  }
  return value;
}

/** What a plain cluster says about itself (`describe`), from its parts. */
export interface ClusterDescription {
  /** `cluster`, or the layer above's kind of node (`node`, `router`, `service`, `registry`). */
  kind: string;
  /** `deno`, `bun` or `node` (or `unknown`). */
  runtime: string;
  /** weft's version. */
  version: string;
  /** `weft` or `silly`. */
  protocol: string;
  /** The node id in its trace ids. */
  nodeId: number;
  /** The node name it gives in its handshake, if any. */
  nodeName?: string;
  /** Milliseconds since the cluster was created. */
  uptimeMs: number;
  /** Where it listens (`host:port`). */
  listening: string[];
  /** Open connections. */
  connections: number;
  /** Its command table (name -> number), when its codec has one. */
  commands?: Record<string, number>;
}

/** Something that lists a command table's names and numbers (a codec's `Commands`). */
interface ListedCommands {
  names(): string[];
  idOf(name: string): number;
}

/** The name -> number table of `commands`, if it can list itself. */
export function commandTable(commands: unknown): Record<string, number> | undefined {
  const c = commands as Partial<ListedCommands> | undefined;
  if (typeof c?.names !== "function" || typeof c.idOf !== "function") return undefined;
  const table: Record<string, number> = {};
  for (const name of c.names()) table[name] = c.idOf(name);
  return table;
}

/** What {@linkcode clusterInfo} reads of a cluster. */
export interface ClusterInfoParts {
  /** The cluster's options as given (`introspect`, `commands`, `codec`). */
  options: { introspect?: boolean; commands?: unknown; codec?: unknown };
  /** Its resolved options. */
  protocol: string;
  nodeId: number;
  nodeName: string | undefined;
  authorize: Authorize | undefined;
  faults: FaultLog;
  logger: Logger;
  /** Its stats recorder's `remote`, and its snapshot (undefined: stats off). */
  remoteStats: boolean;
  stats: () => object | undefined;
  /** Where it listens now, and its open connections. */
  listening: () => Address[];
  connections: () => number;
  /** Monotonic ms. */
  now: () => number;
}

/**
 * A cluster's {@linkcode InfoService}: its own `describe` (a
 * {@linkcode ClusterDescription}) and `stats` answers, under its
 * `introspect`, `stats.remote` and `authorize`.
 *
 * @throws {TypeError} For an `introspect` option that is not a boolean.
 */
export function clusterInfo(parts: ClusterInfoParts): InfoService {
  const created = parts.now();
  const o = parts.options;
  const commands = commandTable(
    o.commands ?? (o.codec as { commands?: unknown } | undefined)?.commands,
  );
  return new InfoService({
    introspect: checkIntrospect(o.introspect),
    remoteStats: parts.remoteStats,
    authorize: parts.authorize,
    faults: parts.faults,
    logger: parts.logger,
    now: parts.now,
    own: (kind) => {
      if (kind === InfoKind.Stats) return parts.stats();
      if (kind !== InfoKind.Describe) return undefined;
      const description: ClusterDescription = {
        kind: "cluster",
        runtime: detectRuntime() ?? "unknown",
        version: VERSION,
        protocol: parts.protocol,
        nodeId: parts.nodeId,
        ...(parts.nodeName === undefined ? {} : { nodeName: parts.nodeName }),
        uptimeMs: Math.round(parts.now() - created),
        listening: parts.listening().map(formatAddress),
        connections: parts.connections(),
        ...(commands === undefined ? {} : { commands }),
      };
      return description;
    },
  });
}
