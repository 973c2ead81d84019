// The Connection state machine shared by the socket adapters. An adapter
// supplies a SocketDriver (a few closures over its runtime's socket) and
// feeds events back through ConnectionEvents; everything the contract in
// types.ts promises (start/pause gating, backpressure signals, close once,
// writes after close) lives here, once.

import { WeftError } from "../errors.ts";
import { closedError } from "./_errors.ts";
import type {
  AcceptHandler,
  Address,
  AdmitHandler,
  CloseInfo,
  Connection,
  ConnectionHandler,
  PeerCertificate,
} from "./types.ts";

/** What an adapter does to its runtime's socket. */
export interface SocketDriver {
  /** Starts (`true`) or stops (`false`) reading from the socket. */
  read(on: boolean): void;
  /** Hands bytes to the socket; the driver queues what it cannot send now. */
  write(bytes: Uint8Array): void;
  /** Bytes accepted by `write` and not yet handed to the operating system. */
  buffered(): number;
  /**
   * True once the socket is torn down though its end is not yet reported
   * (Node destroys a socket on a write error before its 'close' event):
   * writes then would be dropped silently, so they are refused.
   */
  gone?(): boolean;
  /**
   * Closes the socket, flushing queued bytes first if possible (within
   * {@linkcode CLOSE_FLUSH_TIMEOUT}), then calls `events.end()`.
   */
  close(): void;
}

/** What an adapter reports about its socket. */
export interface ConnectionEvents {
  /** Bytes arrived; the view may be reused after the call. */
  data(chunk: Uint8Array): void;
  /** The send buffer shrank. */
  progress(): void;
  /** The socket is gone and its resources freed. Later calls are ignored. */
  end(info: CloseInfo): void;
}

/** Milliseconds `close()` waits for queued bytes to be sent before dropping them. */
export const CLOSE_FLUSH_TIMEOUT = 2000;

interface Waiter {
  resolve(): void;
  reject(error: WeftError): void;
}

/** A connection over a driver, and the event sink its adapter feeds. */
export function createConnection(
  driver: SocketDriver,
  localAddress: Address,
  remoteAddress: Address,
  highWaterMark: number,
  peerCertificate?: PeerCertificate,
): { connection: Connection; events: ConnectionEvents } {
  const connection = new SocketConnection(driver, localAddress, remoteAddress, highWaterMark);
  connection.peerCertificate = peerCertificate;
  return { connection, events: connection.events };
}

class SocketConnection implements Connection {
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  peerCertificate: PeerCertificate | undefined = undefined;
  readonly closed: Promise<CloseInfo>;
  readonly events: ConnectionEvents;
  readonly #driver: SocketDriver;
  readonly #highWaterMark: number;
  readonly #lowWaterMark: number;
  #handler: ConnectionHandler | undefined;
  #paused = false;
  #closing = false;
  #reading = false;
  /** Set once the socket is gone. */
  #ended: CloseInfo | undefined;
  /** Set once the owner has been told (handler.close, `closed`). */
  #done = false;
  #resolveClosed!: (info: CloseInfo) => void;
  #needDrain = false;
  #waiters: Waiter[] = [];
  /** Copies of chunks that arrived while delivery was paused. */
  #held: Uint8Array[] = [];
  #delivering = false;
  /** Set when a handler threw: the connection then closes with it. */
  #failure: WeftError | undefined;

  constructor(driver: SocketDriver, local: Address, remote: Address, highWaterMark: number) {
    this.#driver = driver;
    this.localAddress = local;
    this.remoteAddress = remote;
    this.#highWaterMark = highWaterMark;
    this.#lowWaterMark = highWaterMark >> 1;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.events = {
      data: (chunk) => this.#data(chunk),
      progress: () => this.#progress(),
      end: (info) => this.#end(info),
    };
  }

  get bufferedAmount(): number {
    return this.#ended === undefined ? this.#driver.buffered() : 0;
  }

  get isClosed(): boolean {
    return this.#closing || this.#ended !== undefined;
  }

  start(handler: ConnectionHandler): void {
    if (typeof handler !== "object" || handler === null) {
      throw new TypeError("Invalid handler: expected an object with data and close");
    }
    if (typeof handler.data !== "function" || typeof handler.close !== "function") {
      throw new TypeError("Invalid handler: data and close must be functions");
    }
    if (this.#handler !== undefined) throw new TypeError("Connection already started");
    this.#handler = handler;
    if (this.#closing || this.#done) return;
    this.#deliver();
  }

  write(bytes: Uint8Array): boolean {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`Invalid bytes: expected a Uint8Array, got ${typeof bytes}`);
    }
    if (this.isClosed || this.#driver.gone?.() === true) throw closedError();
    if (bytes.length > 0) this.#driver.write(bytes);
    if (this.#ended !== undefined) return false;
    if (this.#driver.buffered() > this.#highWaterMark) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  drained(): Promise<void> {
    if (this.isClosed || this.#driver.gone?.() === true) return Promise.reject(closedError());
    if (this.#driver.buffered() <= this.#highWaterMark) return Promise.resolve();
    this.#needDrain = true;
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  pause(): void {
    this.#paused = true;
    this.#setReading();
  }

  resume(): void {
    this.#paused = false;
    this.#deliver();
  }

  close(): Promise<CloseInfo> {
    if (!this.isClosed) {
      this.#closing = true;
      this.#held = [];
      this.#driver.close();
    } else if (this.#ended !== undefined && !this.#done) {
      // Ended by the peer while held data waited for resume(): give up on it.
      this.#held = [];
      this.#finish();
    }
    return this.closed;
  }

  /** Reading runs while started, not paused, not closing, with no held data. */
  #setReading(): void {
    const on = this.#handler !== undefined && !this.#paused && !this.isClosed &&
      this.#held.length === 0;
    if (on === this.#reading) return;
    this.#reading = on;
    this.#driver.read(on);
  }

  #data(chunk: Uint8Array): void {
    if (this.#closing || this.#done) return;
    const handler = this.#handler;
    if (handler === undefined || this.#paused || this.#held.length > 0 || this.#delivering) {
      // Arrived while delivery is held (runtimes may deliver one more chunk
      // after being told to stop): keep a copy, in order.
      this.#held.push(chunk.slice());
      this.#setReading();
      return;
    }
    this.#call(() => handler.data(chunk));
  }

  /** Hands held chunks over, then (re)starts reading or finishes a deferred end. */
  #deliver(): void {
    const handler = this.#handler;
    if (handler === undefined || this.#delivering) return;
    this.#delivering = true;
    try {
      while (this.#held.length > 0 && !this.#paused && !this.#closing && !this.#done) {
        const chunk = this.#held.shift()!;
        this.#call(() => handler.data(chunk));
      }
    } finally {
      this.#delivering = false;
    }
    if (this.#ended !== undefined) {
      if (this.#held.length === 0 || this.#closing) this.#finish();
      return;
    }
    this.#setReading();
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      // A throwing handler is a bug above us; the stream state is unknown
      // after it, so the connection is closed with the error attached.
      if (this.#ended === undefined && !this.#closing) {
        this.#closing = true;
        this.#held = [];
        this.#driver.close();
        this.#failure = new WeftError("transport", "Connection handler threw", {
          cause: error,
        });
      }
    }
  }

  #progress(): void {
    if (!this.#needDrain || this.#driver.buffered() > this.#lowWaterMark) return;
    this.#needDrain = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve();
    const handler = this.#handler;
    if (handler?.drain !== undefined && !this.isClosed) this.#call(() => handler.drain!());
  }

  #end(info: CloseInfo): void {
    if (this.#ended !== undefined) return;
    this.#ended = this.#failure !== undefined ? { reason: "error", error: this.#failure } : info;
    this.#reading = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(closedError());
    // Data held for a paused reader is handed over before close (on resume).
    if (this.#held.length > 0 && !this.#closing) return;
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#held = [];
    const info = this.#ended!;
    const handler = this.#handler;
    if (handler !== undefined) {
      try {
        handler.close(info);
      } catch { /* the connection is gone either way */ }
    }
    this.#resolveClosed(info);
  }
}

/**
 * Asks a listener's gate (`admit` of the listen options) about a socket
 * just accepted from `remote`: its release function (called at most once,
 * however often the adapter calls it), `null` if the gate refused it (the
 * caller closes it), `undefined` without a gate.
 */
export function askGate(
  admit: AdmitHandler | undefined,
  remote: Address,
  close: () => void,
): (() => void) | null | undefined {
  if (admit === undefined) return undefined;
  const release = admit(remote, close);
  if (release === undefined) return null;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    release();
  };
}

/**
 * Hands an accepted connection to `onAccept` (closing it if that throws);
 * `release`, the gate's, runs when it closes.
 */
export function handOver(
  connection: Connection,
  onAccept: AcceptHandler,
  release?: () => void,
): void {
  if (release !== undefined) connection.closed.then(release, release);
  try {
    onAccept(connection);
  } catch {
    void connection.close();
  }
}

/**
 * A plain (not TLS) connection just accepted, through the gate to
 * `onAccept`: refused, it is closed at once; admitted, an eviction closes it.
 */
export function acceptPlain(
  connection: Connection,
  onAccept: AcceptHandler,
  admit: AdmitHandler | undefined,
): void {
  const release = askGate(admit, connection.remoteAddress, () => void connection.close());
  if (release === null) {
    void connection.close();
    return;
  }
  handOver(connection, onAccept, release);
}
