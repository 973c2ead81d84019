import assert from "node:assert/strict";
import { FlowControl, Pause } from "../../src/connection/flow_control.ts";
import { LargeMessages, PARTS_PER_TURN } from "../../src/connection/large_messages.ts";
import { isWeftError, WeftError } from "../../src/errors.ts";
import type { OutgoingMessage } from "../../src/protocol/mode.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";

const EMPTY = new Uint8Array(0);

/**
 * A connection stand-in: the "mode" writes parts of `size` bytes (recording
 * each), the "socket" takes them while `room` lasts.
 */
function setup(
  options: { threshold?: number; partWindow?: number; highWaterMark?: number; max?: number } = {},
) {
  const parts: { stream: number; bytes: number; aborted: boolean }[] = [];
  const channel = {
    closed: false,
    pending: { size: 0 },
    room: Infinity,
    writes: 0,
    protocol: {
      writer: new FrameEncoder(),
      writePart(message: OutgoingMessage, size: number): number {
        const total = message.head.length + message.body.length;
        const aborted = message.aborted;
        const take = aborted ? total - message.sent : Math.min(size, total - message.sent);
        message.sent += take;
        parts.push({ stream: message.stream, bytes: aborted ? 0 : take, aborted });
        return aborted ? 1 : take;
      },
    },
    connection: {
      write(): boolean {
        channel.writes++;
        return --channel.room > 0;
      },
    },
  };
  const calls: string[] = [];
  const flow = new FlowControl({
    pause: () => calls.push("pause"),
    resume: () => calls.push("resume"),
    drained: () => Promise.resolve(),
  });
  const queue = new LargeMessages(channel, flow, {
    threshold: options.threshold ?? 10,
    window: { partWindow: options.partWindow ?? 1000, maxMessageSize: options.max ?? 1000 },
    highWaterMark: options.highWaterMark ?? 10,
  });
  return { channel, parts, flow, calls, queue };
}

function queueBody(queue: LargeMessages, size: number, session = 1, response = false): void {
  const body = queue.large(new Uint8Array(size), EMPTY);
  assert.ok(body !== null, `${size} bytes go in parts`);
  queue.add(response, session, 7, 0, 0, EMPTY, body);
}

Deno.test("`LargeMessages.large()`: small bodies go whole; large ones are copied; over maxMessageSize refused", () => {
  const { queue } = setup({ threshold: 10 });
  assert.equal(queue.large(new Uint8Array(10), EMPTY), null);
  assert.equal(queue.large("abc", EMPTY), null, "a short string is not even encoded");
  assert.equal(
    queue.large("abcdef", new Uint8Array(4)),
    null,
    "a string's exact UTF-8 size decides",
  );
  const lent = new Uint8Array(11).fill(1);
  const body = queue.large(lent, EMPTY)!;
  lent.fill(2);
  assert.equal(body[0], 1, "a copy: the caller may reuse its buffer");
  assert.throws(
    () => queue.large(new Uint8Array(1001), EMPTY),
    (error) => isWeftError(error, "frame too large") && /maxMessageSize 1000/.test(error.message),
  );
  const never = new LargeMessages(setup().channel, setup().flow, {
    threshold: Infinity,
    window: undefined,
    highWaterMark: 10,
  });
  assert.equal(never.large(new Uint8Array(1 << 20), EMPTY), null, "a mode without parts");
});

Deno.test("`LargeMessages.pump()` sends parts while the window is open; acknowledgements reopen it", () => {
  const { queue, parts } = setup({ threshold: 10, partWindow: 20 });
  queueBody(queue, 50);
  queue.pump();
  assert.deepEqual(
    parts.map((p) => p.bytes),
    [10, 10],
    "20 bytes unacknowledged: the window is full",
  );
  assert.equal(queue.acked(10), true, "parts wait to go");
  queue.pump();
  assert.deepEqual(parts.map((p) => p.bytes), [10, 10, 10]);
  queue.acked(100);
  queue.pump();
  assert.deepEqual(parts.map((p) => p.bytes), [10, 10, 10, 10, 10]);
  assert.equal(queue.pending, false);
  assert.equal(queue.acked(10), false, "nothing left to send");
});

Deno.test("`LargeMessages.pump()` stops at a full socket until it drains", () => {
  const { queue, parts, channel } = setup({ threshold: 10 });
  channel.room = 2;
  queueBody(queue, 50);
  queue.pump();
  assert.equal(parts.length, 2, "the second write filled the socket");
  queue.pump();
  assert.equal(parts.length, 2, "blocked until the socket drains");
  channel.room = Infinity;
  queue.socketDrained();
  queue.pump();
  assert.equal(parts.length, 5);
});

Deno.test("`LargeMessages.pump()` yields to the event loop after PARTS_PER_TURN parts, then goes on", async () => {
  const size = 10 * (PARTS_PER_TURN + 5);
  const { queue, parts } = setup({ threshold: 10, partWindow: size, max: size });
  queueBody(queue, size);
  queue.pump();
  assert.equal(parts.length, PARTS_PER_TURN, "one turn's worth");
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(parts.length, PARTS_PER_TURN + 5, "the rest on a later turn");
  assert.equal(queue.pending, false);
});

Deno.test("`LargeMessages.cancel()`: a message not started is dropped, one started is aborted", () => {
  const { queue, parts } = setup({ threshold: 10, partWindow: 10, highWaterMark: 1000 });
  queueBody(queue, 30, 1);
  queueBody(queue, 30, 2);
  queueBody(queue, 30, 3, true);
  queue.pump();
  assert.deepEqual(parts.map((p) => p.stream), [1]);
  queue.cancel(2);
  queue.cancel(1);
  queue.cancel(3); // a response: not a caller's to cancel
  queue.acked(1000);
  queue.pump();
  const streams = parts.map((p) => `${p.stream}${p.aborted ? "!" : ""}`);
  assert.deepEqual(streams.slice(0, 2), ["1", "1!"], "the started one ends with an abort part");
  assert.ok(!streams.includes("2"), "the one not started is never sent");
  assert.ok(streams.includes("3"), "the response still goes");
});

Deno.test("`LargeMessages` backs up like a socket: reading pauses, callers wait, both resume as it drains", async () => {
  const { queue, flow, calls, channel } = setup({
    threshold: 10,
    partWindow: 10,
    highWaterMark: 10,
  });
  // The bound: 4 x max(highWaterMark, partWindow) = 40 bytes behind the first message.
  queueBody(queue, 30, 1);
  queueBody(queue, 30, 2);
  assert.equal(queue.backedUp, false, "30 behind");
  queueBody(queue, 30, 3);
  assert.equal(queue.backedUp, true, "60 behind");
  assert.ok(flow.has(Pause.Parts), "a peer whose answers pile up is not read from");
  assert.deepEqual(calls, ["pause"]);
  const waiting = queue.wait();
  // Reading is paused: no acknowledgement can come, the socket paces the parts.
  queue.pump();
  await waiting;
  assert.equal(flow.has(Pause.Parts), false, "read again once at half the bound");
  assert.equal(queue.pending, true, "reading again: acknowledgements pace the rest");
  for (let i = 0; i < 20 && queue.pending; i++) {
    queue.acked(1000);
    queue.pump();
  }
  assert.equal(queue.pending, false);
  channel.pending.size = 1;
  queueBody(queue, 30, 4);
  queueBody(queue, 30, 5);
  queueBody(queue, 30, 6);
  assert.equal(flow.has(Pause.Parts), false, "calls of ours wait: their responses must be read");
});

Deno.test("`LargeMessages.clear()` drops everything and rejects waiters with closed", async () => {
  const { queue } = setup({ threshold: 10, partWindow: 10 });
  for (let i = 1; i <= 4; i++) queueBody(queue, 30, i);
  const waiting = queue.wait();
  queue.clear(new WeftError("timeout", "idle"));
  await assert.rejects(
    waiting,
    (error) => isWeftError(error, "closed") && /idle/.test(error.message),
  );
  assert.equal(queue.pending, false);
  assert.equal(queue.backedUp, false);
});

Deno.test("`LargeMessages` with an unacknowledged window (Infinity): the socket paces the parts, the queue stays bounded", () => {
  const { queue, parts, channel, flow } = setup({
    threshold: 10,
    partWindow: Infinity,
    highWaterMark: 10,
  });
  channel.room = 3;
  queueBody(queue, 50, 1);
  queue.pump();
  assert.equal(parts.length, 3, "no acknowledgement needed: parts go until the socket is full");
  queueBody(queue, 30, 2);
  queueBody(queue, 30, 3);
  assert.equal(
    queue.backedUp,
    true,
    "60 bytes behind, over 4 high-water marks: bounded all the same",
  );
  assert.ok(flow.has(Pause.Parts));
  channel.room = Infinity;
  queue.socketDrained();
  queue.pump();
  assert.equal(queue.pending, false);
  assert.equal(flow.has(Pause.Parts), false);
});
