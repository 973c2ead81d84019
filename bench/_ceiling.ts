// The raw-socket ceiling's protocol, shared by ceiling_{deno,bun,node}.ts:
// frames are `[u32 LE length][payload]`, the server echoes every complete
// frame back, and the client keeps `depth` frames in flight. No weft code:
// each runtime's script only adds its native socket calls around this.
//
// Hand-tuned as a raw echo would be: the server writes back the complete
// frames of each read in one write (a view of the read, no copy unless a
// frame spans reads); the client's requests are all the same bytes, so it
// writes views of one prebuilt buffer and allocates nothing per call.
//
// The promise floor (EchoCalls) is the same echo with a call API: each call
// returns a promise that the next response resolves, and the calls of one
// turn go out in one write. It is what any promise-per-call library pays on
// top of the raw echo, measured by the same driver loop as weft's client.

import { drive, Latencies, type LoadCase, type LoadResult, runtime, sleep } from "./_common.ts";

/** Server side: finds frame boundaries and says what to echo. */
export class EchoFramer {
  /** Bytes of a frame that spans reads. */
  #carry: Uint8Array | null = null;

  /**
   * Feeds a read; returns the bytes to echo now (complete frames only), or
   * null. The result may be a view of `chunk`.
   */
  feed(chunk: Uint8Array): Uint8Array | null {
    let data = chunk;
    if (this.#carry !== null) {
      const joined = new Uint8Array(this.#carry.length + chunk.length);
      joined.set(this.#carry);
      joined.set(chunk, this.#carry.length);
      data = joined;
      this.#carry = null;
    }
    let pos = 0;
    const len = data.length;
    while (len - pos >= 4) {
      const size = 4 +
        ((data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16) | (data[pos + 3]! << 24)) >>>
          0);
      if (len - pos < size) break;
      pos += size;
    }
    if (pos < len) this.#carry = data.slice(pos);
    return pos === 0 ? null : data.subarray(0, pos);
  }
}

/** Client side: keeps `depth` frames in flight and measures. */
export class EchoLoad {
  readonly #c: LoadCase;
  readonly #frameSize: number;
  /** `depth + 1` identical frames: any run of frames from any offset is a view. */
  readonly #stream: Uint8Array;
  readonly #send: (bytes: Uint8Array) => void;
  readonly #latencies = new Latencies();
  readonly #counter = new FrameCounter();
  #sentAt = 0;
  #running = true;
  #measuring = false;
  #calls = 0;
  /** Bytes written so far, to know where in the frame pattern the next write starts. */
  #sent = 0;

  /**
   * @param c The case.
   * @param send Writes bytes (the runtime queues what it cannot send yet;
   * the bytes are never changed afterwards, so it may keep the view).
   */
  constructor(c: LoadCase, send: (bytes: Uint8Array) => void) {
    this.#c = c;
    this.#send = send;
    this.#frameSize = 4 + c.payload;
    this.#stream = frameStream(c);
  }

  #write(frames: number): void {
    let bytes = frames * this.#frameSize;
    while (bytes > 0) {
      const off = this.#sent % this.#frameSize;
      const n = Math.min(bytes, this.#stream.length - off);
      this.#send(this.#stream.subarray(off, off + n));
      this.#sent += n;
      bytes -= n;
    }
  }

  /** Handles received bytes. */
  data(chunk: Uint8Array): void {
    const done = this.#counter.count(chunk);
    if (done === 0) return;
    if (this.#measuring) {
      this.#calls += done;
      if (this.#c.depth === 1) this.#latencies.record(performance.now() - this.#sentAt);
    }
    if (!this.#running) return;
    if (this.#c.depth === 1) this.#sentAt = performance.now();
    this.#write(done);
  }

  /** Runs the case: warm-up, then the measured window. */
  async run(): Promise<LoadResult> {
    this.#sentAt = performance.now();
    this.#write(this.#c.depth);
    await sleep(this.#c.warmupMs);
    this.#measuring = true;
    const start = performance.now();
    await sleep(this.#c.durationMs);
    this.#measuring = false;
    const seconds = (performance.now() - start) / 1000;
    this.#running = false;
    return {
      runtime,
      calls: this.#calls,
      seconds,
      callsPerSec: this.#calls / seconds,
      ...(this.#c.depth === 1 ? this.#latencies.summary() : {}),
    };
  }
}

/**
 * Counts the complete `[u32 length][payload]` frames in a byte stream cut
 * into arbitrary chunks.
 */
class FrameCounter {
  /** Bytes of the current frame still to come. */
  #rest = 0;
  #prefix = new Uint8Array(4);
  #prefixHave = 0;

  /** Returns how many frames `chunk` completes. */
  count(chunk: Uint8Array): number {
    let pos = 0;
    const len = chunk.length;
    let done = 0;
    while (pos < len) {
      if (this.#rest === 0) {
        while (this.#prefixHave < 4 && pos < len) this.#prefix[this.#prefixHave++] = chunk[pos++]!;
        if (this.#prefixHave < 4) break;
        const p = this.#prefix;
        this.#rest = (p[0]! | (p[1]! << 8) | (p[2]! << 16) | (p[3]! << 24)) >>> 0;
        this.#prefixHave = 0;
        if (this.#rest === 0) {
          done++;
          continue;
        }
      }
      const take = Math.min(this.#rest, len - pos);
      this.#rest -= take;
      pos += take;
      if (this.#rest === 0) done++;
    }
    return done;
  }
}

/**
 * The promise floor's client: `call()` queues one echo frame and returns a
 * promise that the next response resolves (responses come back in order,
 * so a FIFO of resolvers is the whole table). The frames queued in one turn
 * are written together from a microtask, as weft batches its writes.
 */
export class EchoCalls {
  readonly #c: LoadCase;
  readonly #frameSize: number;
  readonly #stream: Uint8Array;
  readonly #send: (bytes: Uint8Array) => void;
  readonly #counter = new FrameCounter();
  /** Resolvers of the calls in flight, oldest at `#head` (a ring). */
  #ring: (() => void)[] = new Array(1024);
  #head = 0;
  #size = 0;
  #queued = 0;
  #flushQueued = false;
  #sent = 0;

  /** @param c The case. @param send Writes bytes (kept as views; never changed). */
  constructor(c: LoadCase, send: (bytes: Uint8Array) => void) {
    this.#c = c;
    this.#send = send;
    this.#frameSize = 4 + c.payload;
    this.#stream = frameStream(c);
  }

  readonly #flush = (): void => {
    this.#flushQueued = false;
    let bytes = this.#queued * this.#frameSize;
    this.#queued = 0;
    while (bytes > 0) {
      const off = this.#sent % this.#frameSize;
      const n = Math.min(bytes, this.#stream.length - off);
      this.#send(this.#stream.subarray(off, off + n));
      this.#sent += n;
      bytes -= n;
    }
  };

  /** One echo call. */
  call(): Promise<void> {
    const promise = new Promise<void>((resolve) => {
      if (this.#size === this.#ring.length) this.#growRing();
      this.#ring[(this.#head + this.#size++) & (this.#ring.length - 1)] = resolve;
    });
    this.#queued++;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
    return promise;
  }

  #growRing(): void {
    const next: (() => void)[] = new Array(this.#ring.length * 2);
    for (let i = 0; i < this.#size; i++) {
      next[i] = this.#ring[(this.#head + i) & (this.#ring.length - 1)]!;
    }
    this.#ring = next;
    this.#head = 0;
  }

  /** Handles received bytes: resolves one call per complete frame. */
  data(chunk: Uint8Array): void {
    let done = this.#counter.count(chunk);
    const mask = this.#ring.length - 1;
    while (done-- > 0 && this.#size > 0) {
      const resolve = this.#ring[this.#head]!;
      this.#ring[this.#head] = undefined!;
      this.#head = (this.#head + 1) & mask;
      this.#size--;
      resolve();
    }
  }

  /** Runs the case with the driver weft's client uses. */
  run(): Promise<LoadResult> {
    return drive(() => this.call(), this.#c);
  }
}

/** `depth + 1` frames of the case's payload (one more than in flight), each filled with its own letter. */
function frameStream(c: LoadCase): Uint8Array {
  const frameSize = 4 + c.payload;
  const stream = new Uint8Array(frameSize * (c.depth + 1));
  const view = new DataView(stream.buffer);
  for (let i = 0; i <= c.depth; i++) {
    view.setUint32(i * frameSize, c.payload, true);
    stream.fill(0x61 + (i % 26), i * frameSize + 4, (i + 1) * frameSize);
  }
  return stream;
}
