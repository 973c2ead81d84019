// The send queue of the adapters whose runtime does not buffer writes for
// them (Deno, Bun): chunks in write order, joined when small.

/** Small queued chunks are joined into writes of up to this many bytes. */
const JOIN_LIMIT = 64 * 1024;

/** A FIFO of byte chunks with a running byte count. */
export class WriteQueue {
  #chunks: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;

  /** Bytes queued. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends a chunk (ownership passes to the queue). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }

  /**
   * The next bytes to write: the first chunk, or the first few joined into
   * one buffer when they are small (one syscall instead of many). Call only
   * when `bytes > 0`.
   */
  peek(): Uint8Array {
    const chunks = this.#chunks;
    const first = chunks[this.#head]!;
    const count = chunks.length - this.#head;
    if (count === 1 || first.length >= JOIN_LIMIT / 4) return first;
    let total = 0;
    let end = this.#head;
    while (end < chunks.length && total + chunks[end]!.length <= JOIN_LIMIT) {
      total += chunks[end]!.length;
      end++;
    }
    if (end - this.#head < 2) return first;
    const joined = new Uint8Array(total);
    let at = 0;
    for (let i = this.#head; i < end; i++) {
      joined.set(chunks[i]!, at);
      at += chunks[i]!.length;
    }
    // Replace the joined chunks by the joined buffer, in place.
    chunks.splice(this.#head, end - this.#head, joined);
    return joined;
  }

  /** Drops `n` written bytes from the front (`n` at most the first chunk's length). */
  consume(n: number): void {
    if (n <= 0) return;
    const first = this.#chunks[this.#head]!;
    this.#bytes -= n;
    if (n < first.length) {
      this.#chunks[this.#head] = first.subarray(n);
      return;
    }
    this.#head++;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Drops everything. */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}
