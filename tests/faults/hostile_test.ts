/**
 * A hostile peer against a node in another process (issue 10): the fault
 * server runs under Deno, Bun and Node in turn; the attacker is raw sockets
 * (or a cluster) in this Deno process, with a well-behaved client beside it.
 * Every wait is bounded; every child is stopped in `finally`.
 */

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { raw } from "../../src/codec/raw.ts";
import { isWeftError } from "../../src/errors.ts";
import { parseAddress } from "../../src/transport/address.ts";
import { transport } from "../../src/transport/deno.ts";
import type { Frame } from "../../src/wire/frame.ts";
import { concat } from "../wire/_util.ts";
import { MemoryLogger } from "../cluster/cases.ts";
import { until } from "../_wait.ts";
import { delay, type ServerChild, startServer } from "./_child.ts";
import { CMD } from "./_commands.ts";
import {
  attack,
  client,
  codes,
  dec,
  enc,
  HELLO,
  outcome,
  rawPeer,
  requestFrame,
  RUNTIMES,
  SETTLE_LIMIT,
  settleAll,
  sourced,
  type SourcedSocket,
  stats,
  untilStats,
  weftRequest,
  wellBehaved,
} from "./_helpers.ts";

/** The error a weft error response carries, or null for another frame. */
function errorOf(frame: Frame): { code?: string; message: string } | null {
  if (frame.kind !== "response" || frame.payload[0] !== 1) return null;
  return JSON.parse(dec.decode(frame.payload.subarray(1)));
}

/** `count` request frames of `cmd` under `session(i)`, weft heads or not. */
function requests(
  count: number,
  weft: boolean,
  cmd: number,
  session: (i: number) => number,
): Uint8Array {
  const empty = new Uint8Array(0);
  return concat(
    Array.from(
      { length: count },
      (_, i) => weft ? weftRequest(session(i), cmd, empty) : requestFrame(session(i), cmd, empty),
    ),
  );
}

for (const runtime of RUNTIMES) {
  Deno.test(`hostile (${runtime}): a session id reused on one connection orphans no handler; weft refuses the duplicates with a coded error, silly tracks them all; a disconnect aborts every one`, async () => {
    const { cluster } = client();
    const servers: ServerChild[] = [];
    let calls: ReturnType<typeof wellBehaved> | undefined;
    try {
      for (const protocol of ["weft", "silly"] as const) {
        const server = await startServer(runtime, "127.0.0.1:0", [
          `--protocol=${protocol}`,
          "--heartbeat=600000",
        ]);
        servers.push(server);
        const good = protocol === "weft" ? cluster : new Cluster({
          codec: raw(),
          transport,
          protocol: "silly",
          logger: new MemoryLogger(),
        });
        calls = wellBehaved(good, server.address);
        const weft = protocol === "weft";
        const attacker = await rawPeer(server.address);
        if (weft) await attacker.write(HELLO);
        // 1,000 held requests, all under session 7.
        await attacker.write(requests(1000, weft, CMD.hold, () => 7));
        if (weft) {
          await attacker.until(
            () => attacker.frames.filter((f) => errorOf(f) !== null).length === 999,
            SETTLE_LIMIT,
            "999 refusals",
          );
          const refusal = errorOf(attacker.frames.find((f) => errorOf(f) !== null)!)!;
          assert.equal(refusal.code, "protocol");
          assert.match(refusal.message, /session 7 is already being served/);
          // Logged, but not once per refusal: through the node's fault log,
          // at most faultLogLimit (10) lines a second per kind, for the
          // second or two the 999 refusals take.
          const logged = server.lines(/^log warn .*refused/).length;
          assert.ok(logged >= 1 && logged <= 30, `${logged} refusal lines logged`);
        }
        const expected = weft ? 1 : 1000;
        const held = await untilStats(
          good,
          server.address,
          (s) => s.running === expected,
          `${expected} handler(s)`,
        );
        assert.equal(held.started, expected);
        await attacker.close();
        // Every handler of that connection is aborted: none is orphaned.
        const after = await untilStats(good, server.address, (s) => s.running === 0, "aborts");
        assert.equal(after.aborted["closed"] ?? 0, expected, JSON.stringify(after));
        await calls.stop();
        assert.deepEqual(calls.failures, []);
        assert.ok(calls.ok > 0);
        if (good !== cluster) await good.close();
      }
    } finally {
      await calls?.stop();
      await cluster.close();
      for (const server of servers) await server.stop();
    }
  });

  Deno.test(`hostile (${runtime}): a connection pipelining held requests gets at most maxInflightPerConnection handlers and is slowed, not failed; a pipelining client finishes`, async () => {
    const { cluster } = client();
    let server: ServerChild | undefined;
    let calls: ReturnType<typeof wellBehaved> | undefined;
    try {
      server = await startServer(runtime, "127.0.0.1:0", [
        "--max-inflight=50",
        "--heartbeat=600000",
      ]);
      calls = wellBehaved(cluster, server.address);
      const attacker = await rawPeer(server.address);
      await attacker.write(HELLO);
      // 800 held requests in one write: only 50 may run (the rest wait,
      // under a high-water mark, so the node still sees the hang-up).
      await attacker.write(requests(800, true, CMD.hold, (i) => i + 1));
      await untilStats(cluster, server.address, (s) => s.running === 50, "50 handlers");
      await delay(300);
      const s = await stats(cluster, server.address);
      assert.equal(s.running, 50);
      assert.equal(s.started, 50);
      assert.equal(attacker.ended, false, "the node closed a connection it should only slow");
      assert.equal(attacker.frames.length, 1, "only HELLO_ACK: nothing refused");
      await attacker.close();
      await untilStats(cluster, server.address, (s) => s.running === 0, "aborts");

      // A well-behaved client pipelining 500 slow calls on one connection:
      // slowed to 50 at a time, and every call succeeds.
      const peer = cluster.connect(server.address);
      const results = await settleAll(
        Array.from(
          { length: 500 },
          () => outcome(cluster.call(peer, CMD.slow, enc.encode("5"), { timeout: 20_000 })),
        ),
        30_000,
      );
      assert.deepEqual(codes(results), new Map([["ok", 500]]));
      await calls.stop();
      assert.deepEqual(calls.failures, []);
    } finally {
      await calls?.stop();
      await cluster.close();
      await server?.stop();
    }
  });

  Deno.test(`hostile (${runtime}): idle, silent and trickling connections are closed by their deadlines in both modes; a weft idler that answers pings too`, async () => {
    const servers: ServerChild[] = [];
    const { cluster } = client();
    try {
      for (const protocol of ["weft", "silly"] as const) {
        const weft = protocol === "weft";
        const server = await startServer(runtime, "127.0.0.1:0", [
          `--protocol=${protocol}`,
          "--heartbeat=600000",
          "--handshake=300",
          "--idle=500",
          "--frame-timeout=300",
        ]);
        servers.push(server);
        const port = parseAddress(server.address).port;
        // Nothing at all (weft: no handshake; silly: idle).
        assert.equal(await attack(port, new Uint8Array(0), { limitMs: 5000 }), "eof");
        // A frame trickled one byte every 50 ms (a complete frame would take 1 s).
        const trickler = await rawPeer(server.address);
        if (weft) await trickler.write(HELLO);
        const frame = weft
          ? weftRequest(1, CMD.echo, new Uint8Array(0))
          : requestFrame(1, CMD.echo, new Uint8Array(0));
        for (let i = 0; i < frame.length - 1 && !trickler.ended; i++) {
          await trickler.write(frame.subarray(i, i + 1));
          await delay(50);
        }
        await trickler.until(() => trickler.ended, 3000, "the trickler closed");
        await trickler.close();
        await server.until(
          (out) => /Frame from .* not complete within 300 ms/.test(out),
          3000,
          "the frame deadline logged",
        );
        if (weft) {
          // An idler that completes the handshake and answers every ping
          // (this server pings every 100 ms). Both ends allow 20 misses: on a
          // loaded machine a slow ping must not close the connection as dead
          // before the idle timeout does.
          const pinging = await startServer(runtime, "127.0.0.1:0", [
            "--heartbeat=100",
            "--misses=20",
            "--idle=500",
          ]);
          servers.push(pinging);
          const idler = new Cluster({
            codec: raw(),
            transport,
            logger: new MemoryLogger(),
            heartbeatInterval: 100,
            heartbeatMisses: 20,
          });
          try {
            const peer = idler.connect(pinging.address);
            await idler.call(peer, CMD.echo, enc.encode("once"));
            await until(() => !peer.isConnected, 30_000, "the pinging idler reaped");
            await pinging.until(
              (out) => /idle for 500 ms/.test(out),
              3000,
              "the idle close logged",
            );
          } finally {
            await idler.close();
          }
        }
      }
    } finally {
      await cluster.close();
      for (const server of servers) await server.stop();
    }
  });

  Deno.test(`hostile (${runtime}): over maxConnections a listener closes new connections at once, counts and logs them; the connections it holds keep working`, async () => {
    const { cluster } = client();
    let server: ServerChild | undefined;
    const held: Awaited<ReturnType<typeof rawPeer>>[] = [];
    try {
      server = await startServer(runtime, "127.0.0.1:0", ["--max-connections=4"]);
      const peer = cluster.connect(server.address);
      await cluster.call(peer, CMD.echo, enc.encode("first"));
      for (let i = 0; i < 3; i++) {
        const conn = await rawPeer(server.address);
        await conn.write(HELLO);
        await conn.until(() => conn.frames.length === 1, 3000, "HELLO_ACK");
        held.push(conn);
      }
      const port = parseAddress(server.address).port;
      // Closed at once (EOF, or a reset where the runtime closes that way).
      for (let i = 0; i < 5; i++) assert.notEqual(await attack(port, HELLO), "open");
      const s = await stats(cluster, server.address);
      assert.equal(s.refused, 5);
      assert.equal(s.connections, 4);
      assert.ok(held.every((c) => !c.ended));
      // Through the fault log: one line each (under its 10 a second), with its kind.
      assert.equal(
        server.lines(/^log warn \[connections refused\] .*refused a connection .*maxConnections 4/)
          .length,
        5,
      );
      // One connection closes: a new one is accepted again.
      await held.pop()!.close();
      await untilStats(cluster, server.address, (s) => s.connections === 3, "3 connections");
      const again = await rawPeer(server.address);
      held.push(again);
      await again.write(HELLO);
      await again.until(() => again.frames.length === 1, 3000, "HELLO_ACK after a slot freed");
    } finally {
      for (const conn of held) await conn.close();
      await cluster.close();
      await server?.stop();
    }
  });

  Deno.test(`hostile (${runtime}): over maxConnectionsPerAddress a listener closes that address's new connections at once; other addresses are still admitted`, async () => {
    const { cluster } = client();
    let server: ServerChild | undefined;
    const held: SourcedSocket[] = [];
    try {
      server = await startServer(runtime, "127.0.0.1:0", ["--max-per-address=3"]);
      const port = parseAddress(server.address).port;
      // Three from 127.0.0.2 are held (each answered HELLO_ACK).
      for (let i = 0; i < 3; i++) {
        const socket = await sourced(port, "127.0.0.2", HELLO);
        await socket.until(() => socket.received > 0, 3000, "HELLO_ACK");
        held.push(socket);
      }
      // More from 127.0.0.2 are closed at once, before any byte comes back.
      for (let i = 0; i < 4; i++) {
        const socket = await sourced(port, "127.0.0.2", HELLO);
        await socket.until(() => socket.ended, 3000, "the refused connection to close");
        assert.equal(socket.received, 0);
      }
      // Another address is admitted: this client (127.0.0.1), and 127.0.0.3.
      await cluster.call(cluster.connect(server.address), CMD.echo, enc.encode("still in"));
      const other = await sourced(port, "127.0.0.3", HELLO);
      held.push(other);
      await other.until(() => other.received > 0, 3000, "HELLO_ACK for 127.0.0.3");
      const s = await stats(cluster, server.address);
      assert.equal(s.refused, 4);
      assert.equal(s.connections, 5);
      assert.ok(held.every((c) => !c.ended));
      assert.equal(
        server.lines(
          /^log warn \[per address refused\] .*127\.0\.0\.2: it holds maxConnectionsPerAddress 3/,
        )
          .length,
        4,
      );
      // One of 127.0.0.2's closes: that address is admitted again.
      held.shift()!.destroy();
      await untilStats(cluster, server.address, (s) => s.connections === 4, "4 connections");
      const again = await sourced(port, "127.0.0.2", HELLO);
      held.push(again);
      await again.until(() => again.received > 0, 3000, "HELLO_ACK after a slot freed");
    } finally {
      for (const socket of held) socket.destroy();
      await cluster.close();
      await server?.stop();
    }
  });

  Deno.test(`hostile (${runtime}): weft mode against a silly node sends nothing before HELLO_ACK; calls and sends fail with "protocol" naming the mismatch`, async () => {
    const fakes: ServerChild[] = [];
    const weft = client({ connectTimeout: 300 });
    const silly = client({ protocol: "silly" });
    try {
      for (const mode of ["answer", "quiet"]) {
        const fake = await startServer(runtime, "127.0.0.1:0", [`--fake-silly=${mode}`]);
        fakes.push(fake);
        const peer = weft.cluster.connect(fake.address);
        const [call, send] = await settleAll([
          outcome(weft.cluster.call(peer, CMD.echo, enc.encode("x"), { timeout: 5000 })),
          outcome(weft.cluster.send(peer, CMD.echo, enc.encode("y"), { timeout: 5000 })),
        ], SETTLE_LIMIT);
        for (const error of [call, send]) {
          assert.ok(isWeftError(error, "protocol"), `${mode}: ${error}`);
          assert.match((error as Error).message, /HELLO/);
          assert.match((error as Error).message, /protocol "silly"/);
        }
        // The silly node ran HELLO (as silly would) and nothing else.
        assert.deepEqual(fake.lines(/^ran /).map((l) => l.split(" ")[1]), [String(0xffffff00)]);
        // A client in silly mode talks to it.
        const reply = await silly.cluster.call(
          silly.cluster.connect(fake.address),
          CMD.echo,
          enc.encode("hi"),
        );
        assert.equal(dec.decode(reply as Uint8Array), "hi");
      }
    } finally {
      await weft.cluster.close();
      await silly.cluster.close();
      for (const fake of fakes) await fake.stop();
    }
  });

  Deno.test(`hostile (${runtime}): a silly node names a framing mismatch (v1 against v2 and v2 against v1) in the error it logs`, async () => {
    const servers: ServerChild[] = [];
    const clients: Cluster[] = [];
    try {
      for (const [serverFraming, clientFraming] of [["v2", "v1"], ["v1", "v2"]] as const) {
        const server = await startServer(runtime, "127.0.0.1:0", [
          "--protocol=silly",
          `--framing=${serverFraming}`,
          "--frame-timeout=300",
        ]);
        servers.push(server);
        const c = new Cluster({
          codec: raw(),
          transport,
          protocol: "silly",
          framing: clientFraming,
          logger: new MemoryLogger(),
        });
        clients.push(c);
        const [result] = await settleAll([
          outcome(c.call(c.connect(server.address), CMD.echo, enc.encode("hello"), {
            timeout: 2000,
          })),
        ], SETTLE_LIMIT);
        assert.ok(isWeftError(result), String(result));
        await server.until(
          (out) => new RegExp(`likely uses framing "${clientFraming}"`).test(out),
          3000,
          "the framing mismatch named",
        );
      }
    } finally {
      for (const c of clients) await c.close();
      for (const server of servers) await server.stop();
    }
  });

  Deno.test(`hostile (${runtime}): a call whose response is read after its deadline rejects with "timeout"`, async () => {
    // The server sends `busy` and the response in one write: this node's
    // handler for `busy` blocks its event loop past the call's deadline
    // before the response (already in the same chunk) is read.
    const { cluster } = client({
      call(_peer, cmd, body) {
        if (cmd !== CMD.busy) return undefined;
        const ms = Number(dec.decode(body as Uint8Array));
        const end = performance.now() + ms;
        while (performance.now() < end) { /* block */ }
        return undefined;
      },
    });
    let server: ServerChild | undefined;
    try {
      server = await startServer(runtime);
      const peer = cluster.connect(server.address);
      assert.equal(
        dec.decode(await cluster.call(peer, CMD.poke, enc.encode("0")) as Uint8Array),
        "0",
      );
      const [late] = await settleAll(
        [outcome(cluster.call(peer, CMD.poke, enc.encode("300"), { timeout: 100 }))],
        SETTLE_LIMIT,
      );
      assert.ok(isWeftError(late, "timeout"), String(late));
    } finally {
      await cluster.close();
      await server?.stop();
    }
  });
}
