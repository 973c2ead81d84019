/**
 * Cluster echo client: calls `echo` on an echo server (examples/echo_server.ts)
 * with bodies of varied sizes (one over 64 KiB, one of 1 MiB, with
 * multi-byte UTF-8), some one after another and some at once, sends a
 * one-way `note`, and asks the server for the notes it received. Checks
 * every reply, prints what it did, and exits 0 only if every check passed.
 *
 * Runs unchanged under Deno, Bun and Node 24.
 *
 * ```sh
 * deno run -A examples/echo_client.ts 127.0.0.1:PORT
 * bun examples/echo_client.ts 127.0.0.1:PORT
 * node24 examples/echo_client.ts 127.0.0.1:PORT
 * ```
 */

import { Cluster } from "../src/cluster/cluster.ts";
import { json } from "../src/codec/json.ts";
import { isWeftError } from "../src/errors.ts";
import { detectRuntime } from "../src/transport/detect.ts";
import { ECHO_COMMANDS } from "./_echo_commands.ts";

declare const process: { argv: string[]; exit(code: number): never };

const address = process.argv[2];
if (address === undefined) {
  console.error("usage: echo_client.ts HOST:PORT");
  process.exit(2);
}

interface Body {
  seq: number;
  text: string;
}

const ALPHABET = Array.from("abcdefghij0123456789 é€漢🙂");

/** A string of `size` code points, some of them 2, 3 or 4 bytes in UTF-8. */
function text(size: number, seed: number): string {
  const chars: string[] = [];
  for (let i = 0; i < size; i++) chars.push(ALPHABET[(i * 7 + seed) % ALPHABET.length]!);
  return chars.join("");
}

let failures = 0;
function check(ok: boolean, what: string): void {
  console.log(`${ok ? "ok" : "FAIL"} - ${what}`);
  if (!ok) failures++;
}
function describe(error: unknown): string {
  return isWeftError(error) ? `${error.code}: ${error.message}` : String(error);
}

const client = new Cluster({
  ...json({ commands: ECHO_COMMANDS }),
  timeout: 10_000,
  // Frames over the soft limit (64 KiB by default, as in silly) are logged
  // as warnings; the big echoes here are on purpose.
  softLimit: 4 * 1024 * 1024,
});
const peer = client.connect(address);
console.log(`${detectRuntime()} client: calling echo on ${address}`);
try {
  // One after another.
  const sizes = [0, 5, 1000, 70_000, 1024 * 1024];
  for (const [seq, size] of sizes.entries()) {
    const body: Body = { seq, text: text(size, seq) };
    const started = performance.now();
    try {
      const reply = await client.call(peer, "echo", body) as Body;
      const ms = (performance.now() - started).toFixed(1);
      check(
        reply.seq === seq && reply.text === body.text,
        `echo of ${size} code points (${
          new TextEncoder().encode(body.text).length
        } bytes UTF-8) in ${ms} ms`,
      );
    } catch (error) {
      check(false, `echo of ${size} code points: ${describe(error)}`);
    }
  }

  // At once: replies come back matched to their calls, whatever the order.
  const many = Array.from({ length: 20 }, (_, i) => ({ seq: 100 + i, text: text(i * 500, i) }));
  const replies = await Promise.allSettled(many.map((body) => client.call(peer, "echo", body)));
  const matched = replies.filter((r, i) =>
    r.status === "fulfilled" && (r.value as Body).seq === many[i]!.seq &&
    (r.value as Body).text === many[i]!.text
  ).length;
  check(matched === many.length, `${matched}/${many.length} concurrent echoes matched`);

  // A one-way send, then ask what the server received.
  try {
    await client.send(peer, "note", { seq: 999, text: "one-way" });
    const notes = await client.call(peer, "notes") as Body[];
    check(
      notes.length === 1 && notes[0]?.seq === 999 && notes[0]?.text === "one-way",
      "send: the server received the one-way note",
    );
  } catch (error) {
    check(false, `send: ${describe(error)}`);
  }
} finally {
  await client.close();
}

console.log(failures === 0 ? "PASS" : `FAIL: ${failures} check(s) failed`);
if (failures > 0) process.exit(1);
