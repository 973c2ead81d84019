/**
 * An in-process transport: a real {@linkcode Transport} whose network is a
 * table in this module, for tests and examples that need no sockets. It is
 * runtime-free, so it runs the same under Deno, Bun, Node and a browser.
 *
 * The network behaves like loopback TCP where it matters:
 *
 * - Addresses are `host:port`. Any host name is accepted as a virtual host
 *   (`node-a:7000` works), except names ending in `.invalid`, which do not
 *   resolve (`host not found`). `localhost` binds `127.0.0.1` and connects
 *   to `127.0.0.1`, then `::1`; a listener on `0.0.0.0` (or `::`) accepts
 *   connections to any host name (or any IPv6 address) at its port.
 * - Port 0 picks a free port; a taken address gives `address in use`; an
 *   address nobody listens on gives `connection refused`.
 * - Delivery is asynchronous, in order, in chunks of at most 64 KiB: small
 *   writes are coalesced into one chunk (copied into a buffer the receiver
 *   may only use during its `data` call), a single write is handed over as
 *   is, without a copy. Each chunk is delivered in its own microtask, and
 *   after every 1024 deliveries one goes through a timer instead, so a
 *   busy pair of connections never starves timers and I/O.
 * - There is no kernel buffer: `bufferedAmount` is every byte written and
 *   not yet delivered to the peer's `data` handler. A peer that pauses (or
 *   has not started) makes the writer's `bufferedAmount` grow past the
 *   high-water mark, `write()` return `false`, and `drain` follow once the
 *   peer reads again and the amount is back at or under the mark.
 * - `close()` hands the bytes still queued to the peer, which receives them
 *   and then closes with reason `"remote"`; the closing side closes with
 *   `"local"` at once, and bytes the peer writes meanwhile are dropped.
 * - Connecting completes at once: a connect timeout never fires, and only a
 *   signal that is already aborted (or aborts before the next microtask)
 *   stops it.
 *
 * @example Echo over the in-memory network
 * ```ts
 * import { transport } from "@weft/cluster/memory";
 *
 * const listener = await transport.listen("127.0.0.1:0", (conn) => {
 *   conn.start({ data: (chunk) => conn.write(chunk.slice()), close: () => {} });
 * });
 * const conn = await transport.connect(`127.0.0.1:${listener.address.port}`);
 * const received: number[] = [];
 * const got = Promise.withResolvers<void>();
 * conn.start({
 *   data: (chunk) => {
 *     received.push(...chunk);
 *     if (received.length === 3) got.resolve();
 *   },
 *   close: () => {},
 * });
 * conn.write(new Uint8Array([1, 2, 3]));
 * await got.promise;
 * if (received.join() !== "1,2,3") throw new Error("unexpected echo");
 * await conn.close();
 * await listener.close();
 * ```
 *
 * @module
 */

import { WeftError } from "../errors.ts";
import { microtask, startRefTimer, stopTimer, type TimerHandle } from "../_platform.ts";
import { DEFAULT_HIGH_WATER_MARK, formatAddress, parseAddress } from "./address.ts";
import type {
  AcceptHandler,
  Address,
  AdmitHandler,
  CloseInfo,
  Connection,
  ConnectionHandler,
  ConnectOptions,
  Listener,
  ListenOptions,
  Transport,
} from "./types.ts";

/** Largest chunk handed to a `data` handler, like one socket read. */
const MAX_CHUNK = 64 * 1024;

/** Deliveries in microtasks before one goes through a timer. */
const MICROTASK_BUDGET = 1024;

/** Where `listen` on port 0 starts looking for a free port. */
const FIRST_LISTEN_PORT = 49152;

/** Ports handed to the client end of each connection. */
const FIRST_CLIENT_PORT = 32768;
const LAST_CLIENT_PORT = 48999;

const listeners = new Map<string, MemoryListener>();
const boundPorts = new Map<number, number>();
let nextListenPort = FIRST_LISTEN_PORT;
let nextClientPort = FIRST_CLIENT_PORT;
let microDeliveries = 0;

function keyOf(hostname: string, port: number): string {
  return formatAddress({ hostname, port });
}

function isIPv6(hostname: string): boolean {
  return hostname.includes(":");
}

function resolves(hostname: string): boolean {
  return hostname !== "invalid" && !hostname.endsWith(".invalid");
}

function hostNotFound(what: string, address: string): WeftError {
  return new WeftError(
    "host not found",
    `Cannot ${what} ${address}: host name does not resolve in the memory network`,
  );
}

function closedError(): WeftError {
  return new WeftError("closed", "Connection closed");
}

function checkHighWaterMark(value: unknown): number {
  if (value === undefined) return DEFAULT_HIGH_WATER_MARK;
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(
      `Invalid highWaterMark: expected a finite number >= 0, got ${String(value)}`,
    );
  }
  return value;
}

function checkNoDelay(value: unknown): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw new TypeError(`Invalid noDelay: expected a boolean, got ${typeof value}`);
  }
}

class MemoryConnection implements Connection {
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  readonly closed: Promise<CloseInfo>;

  // Set once, right after construction, by `pair()`.
  #peer!: MemoryConnection;
  #highWaterMark: number;
  #handler: ConnectionHandler | undefined;
  #paused = false;
  #isClosed = false;
  #closeInfo: CloseInfo | undefined;
  #resolveClosed: (info: CloseInfo) => void;

  // What this end wrote and the peer has not been handed yet.
  #queue: Uint8Array[] = [];
  #queueHead = 0;
  #buffered = 0;
  // This end closed: once the queue is delivered the peer sees "remote".
  #ended = false;
  #wantDrain = false;
  #drainWaiters: { resolve: () => void; reject: (error: WeftError) => void }[] = [];

  // Delivery into this end.
  #scheduled = false;
  #timer: TimerHandle | undefined;
  #scratch: Uint8Array | undefined;

  constructor(localAddress: Address, remoteAddress: Address, highWaterMark: number) {
    this.localAddress = localAddress;
    this.remoteAddress = remoteAddress;
    this.#highWaterMark = highWaterMark;
    const { promise, resolve } = Promise.withResolvers<CloseInfo>();
    this.closed = promise;
    this.#resolveClosed = resolve;
  }

  static pair(
    client: Address,
    server: Address,
    clientHighWaterMark: number,
    serverHighWaterMark: number,
  ): [MemoryConnection, MemoryConnection] {
    const a = new MemoryConnection(client, server, clientHighWaterMark);
    const b = new MemoryConnection(server, client, serverHighWaterMark);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  get bufferedAmount(): number {
    return this.#buffered;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  start(handler: ConnectionHandler): void {
    if (this.#handler !== undefined) throw new TypeError("Cannot start: already started");
    if (typeof handler !== "object" || handler === null) {
      throw new TypeError(`Invalid handler: expected an object, got ${typeof handler}`);
    }
    this.#handler = handler;
    this.#schedule();
  }

  write(bytes: Uint8Array): boolean {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`Invalid bytes: expected a Uint8Array, got ${typeof bytes}`);
    }
    if (this.#isClosed) throw closedError();
    const peer = this.#peer;
    // The peer closed and its EOF is still on the way: the bytes are lost,
    // as they would be on a socket.
    if (peer.#isClosed) return true;
    if (bytes.length > 0) {
      this.#queue.push(bytes);
      this.#buffered += bytes.length;
      peer.#schedule();
    }
    if (this.#buffered <= this.#highWaterMark) return true;
    this.#wantDrain = true;
    return false;
  }

  drained(): Promise<void> {
    if (this.#isClosed) return Promise.reject(closedError());
    if (this.#buffered <= this.#highWaterMark) return Promise.resolve();
    this.#wantDrain = true;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#drainWaiters.push({ resolve, reject });
    return promise;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#schedule();
  }

  close(): Promise<CloseInfo> {
    if (this.#isClosed) return this.closed;
    // What this end wrote stays on its way to the peer, then the peer sees
    // EOF; what the peer sent and this end did not read is dropped.
    this.#ended = true;
    this.#peer.#schedule();
    this.#finish({ reason: "local" }, true);
    return this.closed;
  }

  // Schedules delivery of the peer's queued bytes (or of its EOF) into this end.
  #schedule(): void {
    if (this.#scheduled || this.#isClosed || this.#paused || this.#handler === undefined) return;
    const peer = this.#peer;
    if (peer.#queueHead === peer.#queue.length && !peer.#ended) return;
    this.#scheduled = true;
    if (++microDeliveries < MICROTASK_BUDGET) {
      microtask(() => this.#deliver());
    } else {
      microDeliveries = 0;
      this.#timer = startRefTimer(() => {
        this.#timer = undefined;
        this.#deliver();
      }, 0);
    }
  }

  // Hands one chunk (or the EOF) from the peer's queue to this end's handler.
  #deliver(): void {
    this.#scheduled = false;
    const handler = this.#handler;
    if (this.#isClosed || this.#paused || handler === undefined) return;
    const peer = this.#peer;
    if (peer.#queueHead === peer.#queue.length) {
      if (peer.#ended) this.#finish({ reason: "remote" }, false);
      return;
    }
    const chunk = this.#take(peer);
    // A peer that closed already stopped counting what it handed over.
    if (!peer.#isClosed) peer.#buffered -= chunk.length;
    try {
      handler.data(chunk);
    } finally {
      peer.#checkDrain();
      this.#schedule();
    }
  }

  // Takes up to MAX_CHUNK bytes off the peer's queue: the first write itself
  // (or a view of it) when it is alone or large, else several small writes
  // coalesced into this end's scratch buffer.
  #take(peer: MemoryConnection): Uint8Array {
    const queue = peer.#queue;
    const head = queue[peer.#queueHead]!;
    if (head.length >= MAX_CHUNK || peer.#queueHead + 1 === queue.length) {
      if (head.length <= MAX_CHUNK) {
        peer.#shift();
        return head;
      }
      queue[peer.#queueHead] = head.subarray(MAX_CHUNK);
      return head.subarray(0, MAX_CHUNK);
    }
    const scratch = this.#scratch ??= new Uint8Array(MAX_CHUNK);
    let filled = 0;
    while (filled < MAX_CHUNK && peer.#queueHead < queue.length) {
      const next = queue[peer.#queueHead]!;
      const room = MAX_CHUNK - filled;
      if (next.length <= room) {
        scratch.set(next, filled);
        filled += next.length;
        peer.#shift();
      } else {
        scratch.set(next.subarray(0, room), filled);
        filled += room;
        queue[peer.#queueHead] = next.subarray(room);
      }
    }
    return scratch.subarray(0, filled);
  }

  #shift(): void {
    const queue = this.#queue;
    queue[this.#queueHead++] = undefined as unknown as Uint8Array;
    if (this.#queueHead === queue.length) {
      queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead >= 1024 && this.#queueHead * 2 >= queue.length) {
      queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
  }

  #checkDrain(): void {
    if (!this.#wantDrain || this.#isClosed || this.#buffered > this.#highWaterMark) return;
    this.#wantDrain = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter.resolve();
    this.#handler?.drain?.();
  }

  #finish(info: CloseInfo, local: boolean): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#closeInfo = info;
    this.#paused = false;
    stopTimer(this.#timer);
    this.#timer = undefined;
    this.#scratch = undefined;
    // Bytes the peer sent that this end will never read count as gone.
    const peer = this.#peer;
    if (peer.#queueHead < peer.#queue.length) {
      peer.#queue = [];
      peer.#queueHead = 0;
      peer.#buffered = 0;
      microtask(() => peer.#checkDrain());
    }
    if (!local) {
      // EOF from the peer: nothing this end still queued can arrive.
      this.#queue = [];
      this.#queueHead = 0;
      this.#buffered = 0;
    } else {
      // Handed to the network: the peer receives it, this end no longer counts it.
      this.#buffered = 0;
    }
    this.#wantDrain = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter.reject(closedError());
    const handler = this.#handler;
    if (handler === undefined) {
      this.#resolveClosed(info);
      return;
    }
    microtask(() => {
      try {
        handler.close(info);
      } finally {
        this.#resolveClosed(this.#closeInfo ?? info);
      }
    });
  }
}

class MemoryListener implements Listener {
  readonly address: Address;
  readonly #key: string;
  readonly #onAccept: AcceptHandler;
  readonly #highWaterMark: number;
  #closed = false;

  readonly #admit: AdmitHandler | undefined;

  constructor(
    address: Address,
    onAccept: AcceptHandler,
    highWaterMark: number,
    admit: AdmitHandler | undefined,
  ) {
    this.address = address;
    this.#key = keyOf(address.hostname, address.port);
    this.#onAccept = onAccept;
    this.#highWaterMark = highWaterMark;
    this.#admit = admit;
  }

  accept(client: Address, clientHighWaterMark: number): MemoryConnection {
    const [clientEnd, serverEnd] = MemoryConnection.pair(
      client,
      this.address,
      clientHighWaterMark,
      this.#highWaterMark,
    );
    if (this.#admit !== undefined) {
      const release = this.#admit(client, () => void serverEnd.close());
      if (release === undefined) {
        serverEnd.close();
        return clientEnd;
      }
      let released = false;
      serverEnd.closed.then(() => {
        if (!released) release();
        released = true;
      });
    }
    try {
      this.#onAccept(serverEnd);
    } catch (error) {
      // The accept callback's bug is the application's: report it as an
      // uncaught error, as a socket server would, and drop the connection.
      serverEnd.close();
      microtask(() => {
        throw error;
      });
    }
    return clientEnd;
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      listeners.delete(this.#key);
      const port = this.address.port;
      const count = boundPorts.get(port) ?? 0;
      if (count <= 1) boundPorts.delete(port);
      else boundPorts.set(port, count - 1);
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function freePort(): number {
  for (let i = 0; i < 65536 - FIRST_LISTEN_PORT; i++) {
    const port = nextListenPort;
    nextListenPort = port === 65535 ? FIRST_LISTEN_PORT : port + 1;
    if (!boundPorts.has(port)) return port;
  }
  throw new WeftError("address in use", "Cannot listen: no free port left in the memory network");
}

function clientPort(): number {
  const port = nextClientPort;
  nextClientPort = port === LAST_CLIENT_PORT ? FIRST_CLIENT_PORT : port + 1;
  return port;
}

function findListener(hostname: string, port: number): MemoryListener | undefined {
  const candidates = hostname === "localhost" ? ["127.0.0.1", "::1"] : [hostname];
  for (const host of candidates) {
    const found = listeners.get(keyOf(host, port)) ??
      listeners.get(keyOf(isIPv6(host) ? "::" : "0.0.0.0", port));
    if (found !== undefined) return found;
  }
  return undefined;
}

function inUse(hostname: string, port: number): boolean {
  if (listeners.has(keyOf(hostname, port))) return true;
  const wildcard = isIPv6(hostname) ? "::" : "0.0.0.0";
  if (hostname === wildcard) {
    // A wildcard conflicts with any listener of its family on the port.
    for (const listener of listeners.values()) {
      if (
        listener.address.port === port && isIPv6(listener.address.hostname) === isIPv6(hostname)
      ) {
        return true;
      }
    }
    return false;
  }
  return listeners.has(keyOf(wildcard, port));
}

/**
 * Connects to `address` on the in-memory network.
 *
 * The connection exists at once, so `timeout` is validated but never fires;
 * `signal` is checked before and after one microtask.
 *
 * @param address `host:port` or `[ipv6]:port`.
 * @param options Abort signal, timeout, Nagle (ignored), high-water mark.
 * @returns The client end of the new connection.
 * @throws {WeftError} `bad address`, `connection refused`, `host not found`
 * or `aborted`.
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If `timeout` or `highWaterMark` is out of range.
 *
 * @example
 * ```ts
 * import { connect } from "@weft/cluster/memory";
 *
 * try {
 *   await connect("127.0.0.1:1");
 *   throw new Error("connected to nothing");
 * } catch (error) {
 *   if ((error as { code?: string }).code !== "connection refused") throw error;
 * }
 * ```
 */
export async function connect(address: string, options: ConnectOptions = {}): Promise<Connection> {
  const { signal, timeout } = options;
  if (
    timeout !== undefined &&
    (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0)
  ) {
    throw new RangeError(`Invalid timeout: expected a number >= 0, got ${String(timeout)}`);
  }
  checkNoDelay(options.noDelay);
  const highWaterMark = checkHighWaterMark(options.highWaterMark);
  const target = parseAddress(address);
  const aborted = () =>
    new WeftError("aborted", `Connect to ${address} aborted`, { cause: signal?.reason });
  if (signal?.aborted) throw aborted();
  await Promise.resolve();
  if (signal?.aborted) throw aborted();
  const hostname = target.hostname.toLowerCase();
  if (!resolves(hostname)) throw hostNotFound("connect to", address);
  const listener = target.port === 0 ? undefined : findListener(hostname, target.port);
  if (listener === undefined) {
    throw new WeftError(
      "connection refused",
      `Cannot connect to ${address}: nothing listens there in the memory network`,
    );
  }
  const server = listener.address;
  const local: Address = {
    hostname: server.hostname === "0.0.0.0" || server.hostname === "::"
      ? (isIPv6(hostname) ? "::1" : "127.0.0.1")
      : server.hostname,
    port: clientPort(),
  };
  return listener.accept(local, highWaterMark);
}

/**
 * Listens on `address` on the in-memory network and calls `onAccept` with
 * each connection, synchronously during the client's `connect`.
 *
 * @param address `host:port` or `[ipv6]:port`; port 0 picks a free port,
 * `localhost` binds `127.0.0.1`.
 * @param onAccept Called with each accepted connection, in accept order. If
 * it throws, the connection is closed and the error rethrown in a microtask.
 * @param options Backlog (validated, unused), Nagle (ignored), high-water
 * mark of accepted connections.
 * @returns The listener; `close()` it to free the address.
 * @throws {WeftError} `bad address`, `address in use` or `host not found`.
 * @throws {TypeError} If `onAccept` is not a function or an option has the wrong type.
 * @throws {RangeError} If `backlog` or `highWaterMark` is out of range.
 *
 * @example
 * ```ts
 * import { listen } from "@weft/cluster/memory";
 *
 * await using listener = await listen("127.0.0.1:0", (conn) => void conn.close());
 * if (listener.address.port === 0) throw new Error("no port picked");
 * ```
 */
export async function listen(
  address: string,
  onAccept: AcceptHandler,
  options: ListenOptions = {},
): Promise<Listener> {
  if (typeof onAccept !== "function") {
    throw new TypeError(`Invalid onAccept: expected a function, got ${typeof onAccept}`);
  }
  const { backlog } = options;
  if (backlog !== undefined && (!Number.isInteger(backlog) || backlog < 0)) {
    throw new RangeError(`Invalid backlog: expected an integer >= 0, got ${String(backlog)}`);
  }
  checkNoDelay(options.noDelay);
  const highWaterMark = checkHighWaterMark(options.highWaterMark);
  const admit = options.admit;
  if (admit !== undefined && typeof admit !== "function") {
    throw new TypeError(`Invalid option admit: expected a function, got ${typeof admit}`);
  }
  const requested = parseAddress(address);
  await Promise.resolve();
  let hostname = requested.hostname.toLowerCase();
  if (!resolves(hostname)) throw hostNotFound("listen on", address);
  if (hostname === "localhost") hostname = "127.0.0.1";
  const port = requested.port === 0 ? freePort() : requested.port;
  if (inUse(hostname, port)) {
    throw new WeftError(
      "address in use",
      `Cannot listen on ${address}: address already in use in the memory network`,
    );
  }
  const listener = new MemoryListener({ hostname, port }, onAccept, highWaterMark, admit);
  listeners.set(keyOf(hostname, port), listener);
  boundPorts.set(port, (boundPorts.get(port) ?? 0) + 1);
  return listener;
}

/**
 * The in-memory transport, for tests and examples.
 *
 * @example
 * ```ts
 * import { transport } from "@weft/cluster/memory";
 *
 * if (transport.name !== "memory") throw new Error("unexpected name");
 * ```
 */
export const transport: Transport = { name: "memory", connect, listen };
