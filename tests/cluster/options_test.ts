/**
 * Issue 10's smaller items about options and messages: hardLimit against
 * softLimit and the handshake, weft's 4 MiB default hard limit, a per-call
 * timeout of the wrong type, connect errors said once, command names in log
 * lines, and the fault log's option and lines (over memory and Deno sockets).
 */

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { CommandNames, Logger } from "../../src/cluster/options.ts";
import { json } from "../../src/codec/json.ts";
import { raw } from "../../src/codec/raw.ts";
import { isWeftError, type WeftError } from "../../src/errors.ts";
import { transport as memory } from "../../src/transport/memory.ts";
import { transport as deno } from "../../src/transport/deno.ts";
import type { Transport } from "../../src/transport/types.ts";
import { until } from "./cases.ts";

const MiB = 1024 * 1024;

/** Records each line and its detail. */
class DetailLogger implements Logger {
  readonly lines: { message: string; detail: unknown }[] = [];
  error(message: string, detail?: unknown): void {
    this.lines.push({ message, detail });
  }
  warn(): void {}
}

function rangeError(pattern: RegExp) {
  return (e: unknown) => e instanceof RangeError && pattern.test(e.message);
}

function typeError(pattern: RegExp) {
  return (e: unknown) => e instanceof TypeError && pattern.test(e.message);
}

Deno.test("Cluster refuses hardLimit below softLimit when both are given, and in weft mode below the largest handshake frame (528 bytes)", () => {
  const codec = raw();
  assert.throws(
    () => new Cluster({ codec, hardLimit: 1000, softLimit: 2000 }),
    rangeError(/Invalid options hardLimit and softLimit: hardLimit must be >= softLimit/),
  );
  // Only hardLimit given: the default soft limit (65535) does not make it an error.
  new Cluster({ codec, hardLimit: 1000 });
  new Cluster({ codec, hardLimit: 2000, softLimit: 2000 });
  assert.throws(
    () => new Cluster({ codec, hardLimit: 527 }),
    rangeError(/Invalid option hardLimit: weft mode needs at least 528 bytes .*got 527/),
  );
  new Cluster({ codec, hardLimit: 528 });
  new Cluster({ codec, hardLimit: 527, protocol: "silly" });
  assert.throws(() => new Cluster({ codec, faultLogLimit: -1 }), rangeError(/faultLogLimit/));
  assert.throws(
    () => new Cluster({ codec, faultLogLimit: "5" as unknown as number }),
    typeError(/faultLogLimit/),
  );
  assert.throws(
    () => new Cluster({ codec, maxRequestsPerTurn: 0 }),
    rangeError(/maxRequestsPerTurn/),
  );
  assert.throws(
    () => new Cluster({ codec, maxRequestsPerTurn: 1.5 }),
    rangeError(/maxRequestsPerTurn/),
  );
  assert.throws(
    () => new Cluster({ codec, maxRequestsPerTurn: "8" as unknown as number }),
    typeError(/maxRequestsPerTurn/),
  );
  new Cluster({ codec, maxRequestsPerTurn: Infinity });
  new Cluster({ codec, maxRequestsPerTurn: 1 });
  assert.throws(() => new Cluster({ codec, soloTurnTime: -1 }), rangeError(/soloTurnTime/));
  assert.throws(() => new Cluster({ codec, soloTurnTime: NaN }), rangeError(/soloTurnTime/));
  assert.throws(
    () => new Cluster({ codec, soloTurnTime: "1" as unknown as number }),
    typeError(/soloTurnTime/),
  );
  new Cluster({ codec, soloTurnTime: 0 });
  new Cluster({ codec, soloTurnTime: 2.5 });
  new Cluster({ codec, soloTurnTime: Infinity });
  assert.throws(
    () => new Cluster({ codec, commands: {} as unknown as CommandNames }),
    typeError(/commands/),
  );
});

for (const [name, transport] of [["memory", memory], ["deno", deno]] as [string, Transport][]) {
  Deno.test(`Cluster (${name}) weft mode's default hard limit is 4 MiB; silly mode keeps 128 MiB`, async () => {
    for (const protocol of ["weft", "silly"] as const) {
      const options = { codec: raw(), transport, protocol, logger: new DetailLogger() };
      await using server = new Cluster({ ...options, call: (_p, _c, body) => body });
      const listener = await server.listen("127.0.0.1:0");
      await using client = new Cluster(options);
      const peer = client.connect(`127.0.0.1:${listener.address.port}`);
      const body = new Uint8Array(4 * MiB);
      const result = await client.call(peer, 1, body).then((v) => v, (e) => e);
      if (protocol === "weft") {
        assert.ok(isWeftError(result, "frame too large"), String(result));
        assert.match((result as Error).message, /4194304/);
      } else {
        assert.equal((result as Uint8Array).length, 4 * MiB);
      }
    }
  });

  Deno.test(`Cluster (${name}) a per-call timeout of the wrong type is a TypeError naming the option`, async () => {
    await using client = new Cluster({ codec: raw(), transport });
    const peer = client.connect("127.0.0.1:1");
    await assert.rejects(
      client.call(peer, 1, undefined, { timeout: "1000" as unknown as number }),
      typeError(/Invalid option timeout: expected a number of milliseconds, got string 1000/),
    );
    await assert.rejects(
      client.call(peer, 1, undefined, { timeout: Number.NaN }),
      typeError(/Invalid option timeout/),
    );
    await assert.rejects(
      client.send(peer, 1, undefined, { timeout: -5 }),
      rangeError(/Invalid option timeout: expected more than 0 ms, got -5/),
    );
  });

  Deno.test(`Cluster (${name}) a connect error says "Cannot connect to" once`, async () => {
    // A port nothing listens on: bind one, then close it.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    await using client = new Cluster({ codec: raw(), transport });
    const address = `127.0.0.1:${port}`;
    const error = await client.call(client.connect(address), 1).then(
      () => assert.fail("connected"),
      (e: WeftError) => e,
    );
    assert.ok(isWeftError(error, "connect failed"), String(error));
    assert.match(error.message, new RegExp(`^Cannot connect to ${address}`));
    assert.equal(error.message.split("Cannot connect to").length, 2, error.message);
  });

  Deno.test(`Cluster (${name}) log lines name a command by its table name`, async () => {
    const logger = new DetailLogger();
    const commands = { ping: 1, fail: { id: 7, response: "ping" } };
    await using server = new Cluster({
      ...json({ commands }),
      transport,
      logger,
      call: (_p, cmd) => {
        if (cmd === 7) throw new Error("handler broke");
        return "pong";
      },
    });
    const listener = await server.listen("127.0.0.1:0");
    await using client = new Cluster({ ...raw({ commands }), transport });
    const peer = client.connect(`127.0.0.1:${listener.address.port}`);
    await assert.rejects(client.call(peer, "fail", "{}"), (e) => isWeftError(e, "remote"));
    await assert.rejects(client.call(peer, "ping", "{bad"), (e) => isWeftError(e, "remote"));
    const messages = logger.lines.map((l) => l.message);
    assert.ok(
      messages.some((m) => m.includes(`Handler for cmd "fail" (7) from`)),
      messages.join("\n"),
    );
    assert.ok(
      messages.some((m) => m.includes(`Cannot unmarshal request cmd "ping" (1) from`)),
      messages.join("\n"),
    );
    // The handler's own failure keeps its error (and stack); the peer's fault does not.
    const handler = logger.lines.find((l) => l.message.includes("Handler for"))!;
    assert.ok(handler.detail instanceof Error);
    const fault = logger.lines.find((l) => l.message.includes("Cannot unmarshal"))!;
    assert.deepEqual(fault.detail, { code: "unmarshal failed" });
  });

  Deno.test(`Cluster (${name}) a garbage connection is one fault line with a { code } detail, rate-limited by faultLogLimit`, async () => {
    const logger = new DetailLogger();
    await using server = new Cluster({ codec: raw(), transport, logger, faultLogLimit: 2 });
    const listener = await server.listen("127.0.0.1:0");
    const t0 = Date.now();
    for (let i = 0; i < 6; i++) {
      const conn = await transport.connect(`127.0.0.1:${listener.address.port}`);
      let closed!: () => void;
      const done = new Promise<void>((resolve) => closed = resolve);
      conn.start({ data() {}, drain() {}, close: () => closed() });
      conn.write(Uint8Array.of(255, 255, 255, 255, 0, 0));
      await done;
    }
    await until(() => logger.lines.length >= 2, 2000, "the fault lines");
    const elapsed = Date.now() - t0;
    // Two lines per second: within one window exactly two of the six.
    if (elapsed < 900) assert.equal(logger.lines.length, 2);
    else assert.ok(logger.lines.length <= 2 * Math.ceil(elapsed / 1000 + 1));
    for (const { message, detail } of logger.lines) {
      assert.match(
        message,
        /^Closed .*: Protocol mismatch: .*without weft's HELLO \(length 4294967295 exceeds the handshake frame's size 528\)/,
      );
      assert.deepEqual(detail, { code: "protocol" });
      assert.equal(detail instanceof Error, false);
    }
  });
}

for (const [name, transport] of [["memory", memory], ["deno", deno]] as [string, Transport][]) {
  Deno.test(`Cluster (${name}) frames past the handshake's size flow once the handshake is done, with and without key authentication`, async () => {
    const auth = { keys: { k: "0123456789abcdef0123" }, keyId: "k" };
    for (const withAuth of [false, true]) {
      const options = {
        codec: raw(),
        transport,
        logger: new DetailLogger(),
        ...(withAuth ? { auth } : {}),
      };
      await using server = new Cluster({ ...options, call: (_p, _c, body) => body });
      const listener = await server.listen("127.0.0.1:0");
      await using client = new Cluster(options);
      const peer = client.connect(`127.0.0.1:${listener.address.port}`);
      // Sent at once, pipelined behind the handshake (and the proof).
      const bodies = [100, 1000, 100_000].map((n) => new Uint8Array(n).fill(7));
      const replies = await Promise.all(bodies.map((b) => client.call(peer, 1, b)));
      assert.deepEqual(replies.map((r) => (r as Uint8Array).length), [100, 1000, 100_000]);
    }
  });
}
