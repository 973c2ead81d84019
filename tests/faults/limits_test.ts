/**
 * A hostile peer against a node's limits, over real sockets: a fault server
 * (fault_server.ts) under Deno, Bun and Node in turn, the attacker and a
 * well-behaved client in this Deno process. Covers issue 10's items 3 (codec
 * element limits, weft's 4 MiB default), 4 (no allocation for a length
 * prefix; nothing but the handshake before HELLO) and 6 (peer faults logged
 * as single lines, rate-limited per kind, with the count held back).
 */

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { ClusterOptions } from "../../src/cluster/options.ts";
import { json } from "../../src/codec/json.ts";
import { msgpack } from "../../src/codec/msgpack.ts";
import { raw } from "../../src/codec/raw.ts";
import { isWeftError, type RemoteError } from "../../src/errors.ts";
import { parseAddress } from "../../src/transport/address.ts";
import { transport } from "../../src/transport/deno.ts";
import type { RuntimeName } from "../_runtimes.ts";
import { MemoryLogger } from "../cluster/cases.ts";
import { concat } from "../wire/_util.ts";
import { delay, rssOf, type ServerChild, startServer, vmSizeOf } from "./_child.ts";
import { CMD } from "./_commands.ts";
import { attack, CALL_TIMEOUT, HELLO, randomBytes, weftRequest, wellBehaved } from "./_helpers.ts";
import { waitLimit } from "../_wait.ts";

const RUNTIMES: RuntimeName[] = ["deno", "bun", "node"];
const enc = new TextEncoder();
const dec = new TextDecoder();
const MiB = 1024 * 1024;

function cluster(options: Partial<ClusterOptions> = {}): Cluster {
  return new Cluster({ codec: raw(), transport, logger: new MemoryLogger(), ...options });
}

function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then((value) => ({ value }), (error) => error);
}

/** `n` empty objects as a JSON array: the issue's `[{},{},...]`. */
function jsonMaps(n: number): Uint8Array {
  return enc.encode("[" + "{},".repeat(n - 1) + "{}]");
}

/** `n` empty maps as a MessagePack array 32: one byte each. */
function packMaps(n: number): Uint8Array {
  const bytes = new Uint8Array(5 + n).fill(0x80);
  bytes[0] = 0xdd;
  new DataView(bytes.buffer).setUint32(1, n);
  return bytes;
}

for (const runtime of RUNTIMES) {
  Deno.test(`limits: a ${runtime} node refuses a body over its codec's element limit with a coded remote error, before decoding; a frame over weft's 4 MiB default closes only its connection`, async () => {
    const servers: ServerChild[] = [];
    const clusters: Cluster[] = [];
    const good: ReturnType<typeof wellBehaved>[] = [];
    try {
      for (const name of ["json", "msgpack"] as const) {
        const server = await startServer(runtime, "127.0.0.1:0", [`--codec=${name}`]);
        servers.push(server);
        const codec = name === "json" ? json() : msgpack();
        const friend = cluster({ codec });
        clusters.push(friend);
        good.push(wellBehaved(friend, server.address, true));
        // The hostile side writes bytes of its choosing; its own hard limit is
        // raised, and it sends large bodies as one frame, not in parts.
        const hostile = cluster({ hardLimit: 16 * MiB, partSize: 0xffffffff });
        clusters.push(hostile);
        const peer = hostile.connect(server.address);
        const bodies = name === "json" ? jsonMaps : packMaps;
        // 1.1 M empty maps (3.3 MB of JSON, 1.1 MB of MessagePack): under 4 MiB, over 1 M values.
        const refused = await outcome(hostile.call(peer, CMD.size, bodies(1_100_000)));
        assert.ok(isWeftError(refused, "remote"), `${name}: ${refused}`);
        assert.equal((refused as RemoteError).remote.code, "unmarshal failed");
        assert.match((refused as Error).message, /maxElements 1000000/);
        // Under the limit it decodes (and the node counts what it decoded).
        const size = await hostile.call(peer, CMD.size, bodies(400_000));
        const count = name === "json" ? JSON.parse(dec.decode(size as Uint8Array)) : size;
        assert.equal(
          name === "json" ? count : (msgpack().unmarshal("response", 5, size as Uint8Array)),
          400_001,
        );
        // Over weft's default hard limit (4 MiB): the node closes that connection.
        const big = await outcome(hostile.call(peer, CMD.echo, new Uint8Array(4 * MiB)));
        assert.ok(isWeftError(big, "closed"), `${name}: ${big}`);
        await server.until(
          (out) => /^log error \[frame too large\] .*exceeds hard limit 4194304/m.test(out),
          5000,
          "the frame too large line",
        );
      }
      for (const calls of good) {
        await calls.stop();
        assert.deepEqual(calls.failures, []);
        assert.ok(calls.ok > 0);
      }
    } finally {
      for (const calls of good) await calls.stop();
      for (const c of clusters) await c.close();
      for (const s of servers) await s.stop();
    }
  });

  Deno.test(`limits: 200 connections each announcing a 128 MiB body reserve little memory on a ${runtime} node (silly mode); in weft mode a frame longer than HELLO before the handshake closes the connection`, async () => {
    let silly: ServerChild | undefined;
    let weft: ServerChild | undefined;
    const conns: Deno.Conn[] = [];
    const friend = cluster({ protocol: "silly" });
    try {
      [silly, weft] = await Promise.all([
        startServer(runtime, "127.0.0.1:0", ["--protocol=silly"]),
        startServer(runtime, "127.0.0.1:0"),
      ]);
      const peer = friend.connect(silly.address);
      assert.equal(
        dec.decode(await friend.call(peer, CMD.echo, enc.encode("a")) as Uint8Array),
        "a",
      );
      const before = await rssOf(silly.pid);
      const vmBefore = await vmSizeOf(silly.pid);
      const port = parseAddress(silly.address).port;
      // A prefix claiming 128 MiB - 1 (silly's hard limit), then a 16-byte header.
      const claim = new Uint8Array(20);
      new DataView(claim.buffer).setUint32(0, 128 * MiB - 1, true);
      for (let i = 0; i < 200; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conns.push(conn);
        await conn.write(claim);
      }
      // Wait until the node accepted (and read) them all; bounded (a hang guard).
      const end = Date.now() + waitLimit(0);
      for (let i = 0; i < 100_000; i++) {
        const stats = JSON.parse(
          dec.decode(
            await friend.call(peer, CMD.stats, undefined, { timeout: CALL_TIMEOUT }) as Uint8Array,
          ),
        );
        if (stats.accepted === 201) break;
        assert.ok(Date.now() < end, `the node accepted ${stats.accepted} of 201 connections`);
        await delay(10);
      }
      await delay(100);
      const after = await rssOf(silly.pid);
      const vmAfter = await vmSizeOf(silly.pid);
      console.log(
        `  ${runtime}: 200 x 128 MiB prefixes: server RSS ${(before / MiB).toFixed(0)} -> ${
          (after / MiB).toFixed(0)
        } MiB, virtual ${(vmBefore / MiB).toFixed(0)} -> ${(vmAfter / MiB).toFixed(0)} MiB`,
      );
      // Old behaviour: 200 x 128 MiB reserved at once (25 GiB of address
      // space: zero pages, so RSS hardly shows it, but a strict overcommit
      // policy or a ulimit -v refuses it). Now a few KiB each.
      assert.ok(
        after - before < 64 * MiB,
        `server RSS grew ${((after - before) / MiB).toFixed(1)} MiB`,
      );
      assert.ok(
        vmAfter - vmBefore < 2048 * MiB,
        `server virtual memory grew ${((vmAfter - vmBefore) / MiB).toFixed(0)} MiB`,
      );

      // Weft mode: nothing but the handshake is read before HELLO.
      const how = await attack(parseAddress(weft.address).port, Uint8Array.of(0, 0, 16, 0, 1, 2));
      assert.notEqual(how, "open");
      await weft.until(
        (out) =>
          /^log error \[protocol\] .*without weft's HELLO.*exceeds the handshake frame's size 528/m
            .test(out),
        5000,
        "the handshake refusal",
      );
      // A HELLO, then a big frame: read normally once the handshake is done.
      const after24 = await attack(
        parseAddress(weft.address).port,
        concat([HELLO, weftRequest(1, CMD.echo, new Uint8Array(100_000))]),
        { limitMs: 300 },
      );
      assert.equal(after24, "open");
    } finally {
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await friend.close();
      await silly?.stop();
      await weft?.stop();
    }
  });

  Deno.test(`limits: a flood of bad connections and bad requests to a ${runtime} node logs at most faultLogLimit single lines per kind per second, then the count held back; a good client is unaffected`, async () => {
    let server: ServerChild | undefined;
    const friend = cluster({ codec: json() });
    const hostile = cluster();
    let calls: ReturnType<typeof wellBehaved> | undefined;
    try {
      server = await startServer(runtime, "127.0.0.1:0", ["--codec=json", "--fault-log-limit=3"]);
      calls = wellBehaved(friend, server.address, true);
      const port = parseAddress(server.address).port;
      const t0 = Date.now();
      for (let i = 0; i < 20; i++) {
        assert.notEqual(await attack(port, randomBytes(i + 1, 64)), "open");
      }
      // Bad requests on one connection: undecodable JSON.
      const peer = hostile.connect(server.address);
      const bad = await Promise.all(
        Array.from(
          { length: 30 },
          () => outcome(hostile.call(peer, CMD.echo, enc.encode("{nope"))),
        ),
      );
      for (const error of bad) assert.ok(isWeftError(error, "remote"), String(error));
      const seconds = (Date.now() - t0) / 1000;
      const lines = server.lines(/^log error/);
      for (const kind of ["protocol", "unmarshal failed"]) {
        const n = lines.filter((l) => l.includes(`[${kind}]`)).length;
        assert.ok(n >= 1 && n <= 3 * Math.ceil(seconds + 1), `${n} ${kind} lines in ${seconds} s`);
      }
      // After the window, the next fault's line says how many were held back.
      await delay(1100);
      await outcome(hostile.call(peer, CMD.echo, enc.encode("{nope")));
      await server.until(
        (out) => /\(and \d+ more unmarshal failed faults not logged\)/.test(out),
        5000,
        "the count of what was held back",
      );
      const unmarshal = server.lines(/^log error \[unmarshal failed\]/);
      const held = unmarshal.reduce(
        (n, l) => n + Number(l.match(/\(and (\d+) more/)?.[1] ?? 0),
        0,
      );
      assert.equal(unmarshal.length + held, 31, unmarshal.join("\n"));
      assert.match(unmarshal[0]!, /Cannot unmarshal request cmd 1 from .*as JSON/);
      await calls.stop();
      assert.deepEqual(calls.failures, []);
      assert.ok(calls.ok > 0);
    } finally {
      await calls?.stop();
      await friend.close();
      await hostile.close();
      await server?.stop();
    }
  });
}

for (const runtime of RUNTIMES) {
  Deno.test(`limits: with the default logger, a garbage connection to a ${runtime} node costs one line of stderr, no stack, its code in brackets`, async () => {
    let server: ServerChild | undefined;
    try {
      server = await startServer(runtime, "127.0.0.1:0", ["--stderr-log"]);
      const port = parseAddress(server.address).port;
      for (let i = 0; i < 5; i++) {
        assert.notEqual(await attack(port, randomBytes(i + 9, 5)), "open");
      }
      await delay(200);
      const stderr = await server.stop();
      const lines = stderr.trim().split("\n");
      assert.equal(lines.length, 5, stderr);
      assert.doesNotMatch(stderr, /^\s+at /m);
      for (const line of lines) {
        assert.match(line, /^\[weft\] Closed .* \[protocol\]$/);
        assert.ok(line.length < 300, line);
      }
    } finally {
      await server?.stop();
    }
  });
}
