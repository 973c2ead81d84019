/**
 * Fault tests over real processes on loopback: a fault server
 * (fault_server.ts) runs under Deno, Bun and Node in turn; the client is
 * this Deno process (a cluster on the Deno transport, or raw sockets). Every
 * wait is bounded; every child is killed in `finally`.
 */

import assert from "node:assert/strict";
import { isWeftError, type WeftError } from "../../src/errors.ts";
import { parseAddress } from "../../src/transport/address.ts";
import { concat } from "../wire/_util.ts";
import { rssOf, type ServerChild, startServer } from "./_child.ts";
import { CMD } from "./_commands.ts";
import {
  attack,
  CALL_TIMEOUT,
  client,
  codes,
  dec,
  enc,
  HEARTBEAT,
  HELLO,
  outcome,
  randomBytes,
  requestFrame,
  restartOn,
  RUNTIMES,
  SERVER_HEARTBEAT,
  SETTLE_LIMIT,
  settleAll,
  stats,
  sum,
  untilStats,
  weftRequest,
  wellBehaved,
} from "./_helpers.ts";

for (const runtime of RUNTIMES) {
  Deno.test(`fault: kill -9 of a ${runtime} server rejects 1,000 calls in flight with "closed"; the client reconnects to its successor`, async () => {
    const { cluster } = client(HEARTBEAT);
    let server: ServerChild | undefined;
    let successor: ServerChild | undefined;
    try {
      server = await startServer(runtime, "127.0.0.1:0", [...SERVER_HEARTBEAT]);
      const peer = cluster.connect(server.address);
      assert.equal(
        dec.decode(await cluster.call(peer, CMD.echo, enc.encode("hi")) as Uint8Array),
        "hi",
      );
      const calls = Array.from({ length: 1000 }, () => outcome(cluster.call(peer, CMD.hold)));
      await untilStats(cluster, server.address, (s) => s.running === 1000, "1,000 held calls");
      const t0 = performance.now();
      server.signal("SIGKILL");
      const results = await settleAll(calls, SETTLE_LIMIT);
      const ms = performance.now() - t0;
      assert.deepEqual(codes(results), new Map([["closed", 1000]]));
      console.log(`  ${runtime}: 1,000 calls rejected "closed" ${ms.toFixed(0)} ms after SIGKILL`);
      await server.stop();
      assert.equal(peer.isConnected, false);

      successor = await restartOn(runtime, server.address, [...SERVER_HEARTBEAT]);
      assert.equal(successor.address, server.address);
      const reply = await cluster.call(peer, CMD.echo, enc.encode("again"));
      assert.equal(dec.decode(reply as Uint8Array), "again");
      assert.equal(peer.isConnected, true);
      assert.equal((await stats(cluster, successor.address)).accepted, 1);
    } finally {
      await cluster.close();
      await successor?.stop();
      await server?.stop();
    }
  });

  Deno.test(`fault: SIGSTOP of a ${runtime} server rejects calls in flight within the heartbeat window; after SIGCONT the next call uses a fresh connection`, async () => {
    const { cluster } = client(HEARTBEAT);
    let server: ServerChild | undefined;
    try {
      server = await startServer(runtime, "127.0.0.1:0", [...SERVER_HEARTBEAT]);
      const peer = cluster.connect(server.address);
      await cluster.call(peer, CMD.echo, enc.encode("hi"));
      const calls = Array.from({ length: 100 }, () => outcome(cluster.call(peer, CMD.hold)));
      await untilStats(cluster, server.address, (s) => s.running === 100, "100 held calls");
      const t0 = performance.now();
      server.signal("SIGSTOP");
      let results: unknown[];
      try {
        results = await settleAll(calls, SETTLE_LIMIT);
      } finally {
        server.signal("SIGCONT");
      }
      const ms = performance.now() - t0;
      // "closed", not "timeout": the calls' own timeout is 10 s; the heartbeat found it.
      assert.deepEqual(codes(results), new Map([["closed", 100]]));
      const first = results[0] as WeftError;
      assert.match(
        String((first.cause as Error)?.message ?? first.message),
        /heartbeats unanswered/,
      );
      console.log(`  ${runtime}: 100 calls rejected "closed" ${ms.toFixed(0)} ms after SIGSTOP`);
      assert.equal(peer.isConnected, false);

      const reply = await cluster.call(peer, CMD.echo, enc.encode("after"));
      assert.equal(dec.decode(reply as Uint8Array), "after");
      // A second connection was accepted, and the server saw the first one close
      // (its 100 handlers aborted: "closed", or "transport" where the runtime
      // reports the write into the closed socket as EPIPE).
      const s = await untilStats(
        cluster,
        server.address,
        (s) => s.open === 1 && sum(s.aborted) === 100,
        "the frozen connection closed on the server",
      );
      assert.equal(s.accepted, 2);
      assert.equal(s.running, 0);
    } finally {
      await cluster.close();
      await server?.stop();
    }
  });
}

const WIRE_CODES = ["frame too large", "frame too short", "request too short", "protocol"];

for (const runtime of RUNTIMES) {
  Deno.test(`fault: malformed input to a ${runtime} node closes that connection with one coded error logged; other connections keep working`, async () => {
    const { cluster } = client();
    let server: ServerChild | undefined;
    let calls: ReturnType<typeof wellBehaved> | undefined;
    try {
      server = await startServer(runtime, "127.0.0.1:0", [...SERVER_HEARTBEAT]);
      const port = parseAddress(server.address).port;
      calls = wellBehaved(cluster, server.address);
      const valid = weftRequest(1, CMD.echo, enc.encode("hello there"));
      const cases: [string, Uint8Array, string[]][] = [
        ["random bytes", randomBytes(0x5eed, 4096), WIRE_CODES],
        ["random bytes after HELLO", concat([HELLO, randomBytes(0xfa17, 4096)]), WIRE_CODES],
        ["random bytes, 2nd seed", randomBytes(0xbad5eed, 64), WIRE_CODES],
        [
          "a length prefix over the hard limit",
          concat([HELLO, Uint8Array.of(255, 255, 255, 255)]),
          [
            "frame too large",
          ],
        ],
        [
          "a request shorter than its 16-byte header",
          concat([HELLO, Uint8Array.of(8, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0)]),
          ["request too short"],
        ],
        ["a body shorter than a session", concat([HELLO, Uint8Array.of(2, 0, 0, 0, 1, 0)]), [
          "frame too short",
        ]],
        [
          "a weft request shorter than its 5-byte head",
          concat([HELLO, requestFrame(1, CMD.echo, Uint8Array.of(0, 0))]),
          ["protocol"],
        ],
      ];
      for (const [name, bytes, allowed] of cases) {
        const before = server.lines(/^log error/).length;
        const how = await attack(port, bytes);
        assert.notEqual(how, "open", `${name}: the node left the connection open`);
        await server.until(
          (out) => out.split("\n").filter((l) => l.startsWith("log error")).length > before,
          3000,
          `the error logged for ${name}`,
        );
        const line = server.lines(/^log error/)[before]!;
        const code = line.match(/^log error \[([^\]]+)\]/)?.[1];
        assert.ok(
          code !== undefined && allowed.includes(code),
          `${name}: expected one of ${allowed.join(", ")}, logged: ${line}`,
        );
      }
      // A frame cut off by the end of the stream, and one left hanging: the
      // node closes both (the second through its heartbeat), without errors.
      assert.equal(
        await attack(port, concat([HELLO, valid.subarray(0, 12)]), { closeWrite: true }),
        "eof",
      );
      assert.equal(await attack(port, concat([HELLO, valid.subarray(0, 12)])), "eof");
      // Nothing at all, or half a HELLO: the handshake never completes.
      assert.equal(await attack(port, new Uint8Array(0)), "eof");
      assert.equal(await attack(port, HELLO.subarray(0, 6)), "eof");

      const reply = await cluster.call(cluster.connect(server.address), CMD.echo, enc.encode("x"));
      assert.equal(dec.decode(reply as Uint8Array), "x");
      await calls.stop();
      assert.deepEqual(calls.failures, []);
      assert.ok(calls.ok > 0);
      // Logged once each: as many error lines as malformed connections.
      const errors = server.lines(/^log error/);
      assert.equal(errors.length, cases.length, errors.join("\n"));
    } finally {
      await calls?.stop();
      await cluster.close();
      await server?.stop();
    }
  });
}

/**
 * Writes `bytes` whole unless a write makes no progress for `stallMs`;
 * returns false then (the write left pending is caught, to end at close).
 */
async function writeUnlessStalled(
  conn: Deno.Conn,
  bytes: Uint8Array,
  stallMs: number,
): Promise<boolean> {
  let at = 0;
  for (let i = 0; i < 100_000 && at < bytes.length; i++) {
    const write = conn.write(bytes.subarray(at));
    write.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stall = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), stallMs));
    const n = await Promise.race([write, stall]);
    clearTimeout(timer);
    if (n === null) return false;
    at += n;
  }
  return true;
}

const MiB = 1024 * 1024;

for (const runtime of RUNTIMES) {
  Deno.test(`fault: a client that writes requests but never reads leaves a ${runtime} node's memory bounded; the node serves others meanwhile`, async () => {
    const { cluster } = client();
    let server: ServerChild | undefined;
    let conn: Deno.Conn | undefined;
    try {
      // Heartbeats off in practice: this test is about backpressure alone
      // (with them, the node would also drop the non-reading peer in time).
      server = await startServer(runtime, "127.0.0.1:0", ["--heartbeat=600000"]);
      const peer = cluster.connect(server.address);
      await cluster.call(peer, CMD.echo, enc.encode("warm"));
      const rssBefore = await rssOf(server.pid);
      conn = await Deno.connect({ hostname: "127.0.0.1", port: parseAddress(server.address).port });
      assert.ok(await writeUnlessStalled(conn, HELLO, 1000));
      // 16 echo requests of 60 KiB (under the soft limit) per write: ~1 MiB.
      const body = randomBytes(7, 60 * 1024);
      const batch = concat([
        ...Array.from({ length: 16 }, (_, i) => weftRequest(i + 1, CMD.echo, body)),
      ]);
      let sent = 0;
      let stalled = false;
      for (let i = 0; i < 400 && sent < 200 * MiB; i++) {
        if (!(await writeUnlessStalled(conn, batch, 300))) {
          stalled = true;
          break;
        }
        sent += batch.length;
      }
      // While that connection is stuck, others are served.
      for (let i = 0; i < 20; i++) {
        const reply = await cluster.call(peer, CMD.echo, enc.encode(`m${i}`), {
          timeout: CALL_TIMEOUT,
        });
        assert.equal(dec.decode(reply as Uint8Array), `m${i}`);
      }
      const rssAfter = await rssOf(server.pid);
      const growth = rssAfter - rssBefore;
      console.log(
        `  ${runtime}: wrote ${(sent / MiB).toFixed(0)} MiB of requests before the writes ${
          stalled ? "stalled" : "ended"
        }; server RSS ${(rssBefore / MiB).toFixed(0)} -> ${(rssAfter / MiB).toFixed(0)} MiB`,
      );
      // Bounded: far less than what was offered (200 MiB), whatever the
      // kernel's socket buffers hold. Without backpressure the node would
      // hold every response it could not write.
      assert.ok(growth < 64 * MiB, `server RSS grew ${(growth / MiB).toFixed(1)} MiB`);
      assert.ok(stalled, `the node read all ${sent} bytes: no backpressure`);
    } finally {
      try {
        conn?.close();
      } catch { /* closed */ }
      await cluster.close();
      await server?.stop();
    }
  });

  Deno.test(`fault: cancelling a call aborts the slow handler's signal on a ${runtime} node`, async () => {
    const { cluster } = client(HEARTBEAT);
    let server: ServerChild | undefined;
    try {
      server = await startServer(runtime, "127.0.0.1:0", [...SERVER_HEARTBEAT]);
      const peer = cluster.connect(server.address);
      const controller = new AbortController();
      const call = outcome(
        cluster.call(peer, CMD.slow, enc.encode("10000"), { signal: controller.signal }),
      );
      await untilStats(cluster, server.address, (s) => s.running === 1, "the slow handler");
      controller.abort(new Error("caller gave up"));
      const [aborted] = await settleAll([call], SETTLE_LIMIT);
      assert.ok(isWeftError(aborted, "aborted"), String(aborted));
      await untilStats(cluster, server.address, (s) => s.aborted["aborted"] === 1, "the abort");

      // A call that times out cancels its handler the same way.
      const late = outcome(cluster.call(peer, CMD.slow, enc.encode("10000"), { timeout: 100 }));
      const [timedOut] = await settleAll([late], SETTLE_LIMIT);
      assert.ok(isWeftError(timedOut, "timeout"), String(timedOut));
      const s = await untilStats(
        cluster,
        server.address,
        (s) => s.aborted["aborted"] === 2,
        "the second abort",
      );
      assert.equal(s.running, 0);
      assert.equal(s.started, 2);
      assert.equal(s.open, 1, "the connection survives cancellations");
      // A handler that rejects with its aborted signal's reason did as asked:
      // nothing is logged as an error (the caller no longer waits).
      assert.equal(s.errors, 0, server.lines(/^log error/).join("\n"));
    } finally {
      await cluster.close();
      await server?.stop();
    }
  });

  Deno.test(`fault: weft and silly modes across processes (${runtime} server) fail fast with coded errors, and the node that sees the mismatch logs it`, async () => {
    const weft = client(HEARTBEAT);
    const silly = client({ protocol: "silly" });
    let sillyServer: ServerChild | undefined;
    let weftServer: ServerChild | undefined;
    try {
      [sillyServer, weftServer] = await Promise.all([
        startServer(runtime, "127.0.0.1:0", ["--protocol=silly"]),
        startServer(runtime, "127.0.0.1:0", [...SERVER_HEARTBEAT]),
      ]);
      // A weft client calls a silly node: the node hangs up on the HELLO.
      const [toSilly] = await settleAll(
        [outcome(weft.cluster.call(weft.cluster.connect(sillyServer.address), CMD.echo))],
        SETTLE_LIMIT,
      );
      assert.ok(isWeftError(toSilly, "closed"), String(toSilly));
      assert.match((toSilly as Error).message, /a node in silly mode \(use protocol "silly"\)/);
      await sillyServer.until(
        (out) => /^log error \[protocol\] .*this node is in silly mode$/m.test(out),
        SETTLE_LIMIT,
        "the mismatch logged",
      );
      // A silly client calls a weft node: the node hangs up on the first frame.
      const [toWeft] = await settleAll(
        [outcome(silly.cluster.call(silly.cluster.connect(weftServer.address), CMD.echo))],
        SETTLE_LIMIT,
      );
      assert.ok(isWeftError(toWeft, "closed"), String(toWeft));
      await weftServer.until(
        (out) =>
          /^log error \[protocol\] .*without weft's HELLO: it is a silly node, or a weft node in silly mode/m
            .test(out),
        SETTLE_LIMIT,
        "the mismatch logged",
      );
      assert.equal(sillyServer.lines(/^log error/).length, 1);
      assert.equal(weftServer.lines(/^log error/).length, 1);
    } finally {
      await weft.cluster.close();
      await silly.cluster.close();
      await sillyServer?.stop();
      await weftServer?.stop();
    }
  });
}

// When the heartbeat declares a connection dead, the transport may still be
// flushing megabytes to the frozen peer (Deno's adapter waits up to 2 s):
// calls pending on it, and calls waiting for it to drain, must reject with
// "closed" at once, not wait for that flush (or their own timeout, far
// longer than the heartbeat window).
Deno.test({
  name:
    'fault: SIGSTOP with megabytes queued to the frozen server still rejects calls with "closed" from the heartbeat',
  async fn() {
    const { cluster } = client(HEARTBEAT);
    let server: ServerChild | undefined;
    try {
      server = await startServer("deno", "127.0.0.1:0", [...SERVER_HEARTBEAT]);
      const peer = cluster.connect(server.address);
      await cluster.call(peer, CMD.echo, enc.encode("hi"));
      server.signal("SIGSTOP");
      const big = new Uint8Array(256 * 1024);
      const calls = Array.from(
        { length: 100 },
        () => outcome(cluster.call(peer, CMD.echo, big, { timeout: CALL_TIMEOUT })),
      );
      let results: unknown[];
      try {
        results = await settleAll(calls, SETTLE_LIMIT);
      } finally {
        server.signal("SIGCONT");
      }
      assert.deepEqual(codes(results), new Map([["closed", 100]]));
    } finally {
      await cluster.close();
      await server?.stop();
    }
  },
});
