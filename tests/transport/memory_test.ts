// Focused tests of the in-memory transport: what the shared conformance
// suite cannot see (delivery timing, coalescing, the virtual network's
// naming rules, option validation).

import assert from "node:assert/strict";
import { connect, listen, transport } from "../../src/transport/memory.ts";
import type { CloseInfo, Connection, Listener } from "../../src/transport/types.ts";
import { isWeftError } from "../../src/errors.ts";

interface Sink {
  bytes: number[];
  chunks: number;
  closed: Promise<CloseInfo>;
  /** Resolves once `n` bytes in total have arrived. */
  until(n: number): Promise<void>;
}

function sink(conn: Connection, echo = false): Sink {
  const bytes: number[] = [];
  const closed = Promise.withResolvers<CloseInfo>();
  let waiting: { n: number; resolve: () => void } | undefined;
  const result: Sink = {
    bytes,
    chunks: 0,
    closed: closed.promise,
    until(n) {
      if (bytes.length >= n) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiting = { n, resolve };
      return promise;
    },
  };
  conn.start({
    data(chunk) {
      result.chunks++;
      for (const b of chunk) bytes.push(b);
      if (echo) conn.write(chunk.slice());
      if (waiting !== undefined && bytes.length >= waiting.n) {
        waiting.resolve();
        waiting = undefined;
      }
    },
    close: (info) => closed.resolve(info),
  });
  return result;
}

async function serverPair(
  address = "127.0.0.1:0",
): Promise<{ listener: Listener; client: Connection; server: Connection }> {
  const accepted = Promise.withResolvers<Connection>();
  const listener = await listen(address, (conn) => accepted.resolve(conn));
  const client = await connect(`${listener.address.hostname}:${listener.address.port}`);
  return { listener, client, server: await accepted.promise };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(isWeftError(error), `expected a WeftError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

Deno.test("`transport` exports the memory adapter", () => {
  assert.equal(transport.name, "memory");
  assert.equal(transport.connect, connect);
  assert.equal(transport.listen, listen);
});

Deno.test("`listen()` on port 0 picks a port and addresses match on both ends", async () => {
  const { listener, client, server } = await serverPair();
  try {
    assert.notEqual(listener.address.port, 0);
    assert.deepEqual(client.remoteAddress, listener.address);
    assert.deepEqual(server.localAddress, listener.address);
    assert.deepEqual(server.remoteAddress, client.localAddress);
    assert.equal(client.localAddress.hostname, "127.0.0.1");
  } finally {
    await client.close();
    await server.close();
    await listener.close();
  }
});

Deno.test("`connect()` resolves names: localhost, ::1, wildcards, virtual hosts", async () => {
  const listeners: Listener[] = [];
  const conns: Connection[] = [];
  const accept = (conn: Connection) => conns.push(conn);
  try {
    const v4 = await listen("localhost:0", accept);
    listeners.push(v4);
    assert.equal(v4.address.hostname, "127.0.0.1");
    conns.push(await connect(`localhost:${v4.address.port}`));
    conns.push(await connect(`127.0.0.1:${v4.address.port}`));
    await rejectsWith(connect(`[::1]:${v4.address.port}`), "connection refused");

    const v6 = await listen("[::1]:0", accept);
    listeners.push(v6);
    const c6 = await connect(`[::1]:${v6.address.port}`);
    conns.push(c6);
    assert.deepEqual(c6.remoteAddress, { hostname: "::1", port: v6.address.port });
    assert.equal(c6.localAddress.hostname, "::1");

    const any = await listen("0.0.0.0:0", accept);
    listeners.push(any);
    conns.push(await connect(`127.0.0.1:${any.address.port}`));
    conns.push(await connect(`node-a:${any.address.port}`));

    const named = await listen("Node-B:0", accept);
    listeners.push(named);
    assert.equal(named.address.hostname, "node-b");
    conns.push(await connect(`node-b:${named.address.port}`));
    await rejectsWith(connect(`node-c:${named.address.port}`), "connection refused");

    await rejectsWith(connect("nowhere.invalid:80"), "host not found");
    await rejectsWith(listen("nowhere.invalid:0", accept), "host not found");
    await rejectsWith(connect("no-port"), "bad address");
    await rejectsWith(listen("::1:80", accept), "bad address");
    // Accepted ends plus client ends.
    assert.equal(conns.length, 12);
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    await Promise.all(listeners.map((l) => l.close()));
  }
});

Deno.test("`listen()` twice on one address gives address in use, free again after close", async () => {
  const first = await listen("127.0.0.1:0", () => {});
  const port = first.address.port;
  try {
    await rejectsWith(listen(`127.0.0.1:${port}`, () => {}), "address in use");
    await rejectsWith(listen(`localhost:${port}`, () => {}), "address in use");
    await rejectsWith(listen(`0.0.0.0:${port}`, () => {}), "address in use");
    const v6 = await listen(`[::1]:${port}`, () => {});
    await v6.close();
  } finally {
    await first.close();
    await first.close();
  }
  const again = await listen(`127.0.0.1:${port}`, () => {});
  await again.close();
  await rejectsWith(connect(`127.0.0.1:${port}`), "connection refused");
});

Deno.test("`connect()` honours an aborted signal", async () => {
  const listener = await listen("127.0.0.1:0", (conn) => void conn.close());
  try {
    const reason = new Error("stop");
    await assert.rejects(
      connect(`127.0.0.1:${listener.address.port}`, { signal: AbortSignal.abort(reason) }),
      (error) => {
        assert.ok(isWeftError(error, "aborted"));
        assert.equal(error.cause, reason);
        return true;
      },
    );
    const controller = new AbortController();
    const pending = connect(`127.0.0.1:${listener.address.port}`, { signal: controller.signal });
    controller.abort();
    await rejectsWith(pending, "aborted");
  } finally {
    await listener.close();
  }
});

Deno.test("options are validated with TypeError/RangeError naming the option", async () => {
  await assert.rejects(connect("127.0.0.1:1", { timeout: -1 }), {
    name: "RangeError",
    message: /timeout/,
  });
  await assert.rejects(connect("127.0.0.1:1", { highWaterMark: -1 }), {
    name: "RangeError",
    message: /highWaterMark/,
  });
  await assert.rejects(
    connect("127.0.0.1:1", { highWaterMark: Number.NaN }),
    { name: "RangeError", message: /highWaterMark/ },
  );
  await assert.rejects(
    connect("127.0.0.1:1", { noDelay: "yes" as unknown as boolean }),
    { name: "TypeError", message: /noDelay/ },
  );
  await assert.rejects(listen("127.0.0.1:0", () => {}, { backlog: 1.5 }), {
    name: "RangeError",
    message: /backlog/,
  });
  await assert.rejects(
    listen("127.0.0.1:0", "x" as unknown as () => void),
    { name: "TypeError", message: /onAccept/ },
  );
});

Deno.test("`write()` delivers asynchronously, in order, and nothing before `start()`", async () => {
  const { listener, client, server } = await serverPair();
  try {
    client.write(new Uint8Array([1, 2]));
    client.write(new Uint8Array([3]));
    assert.equal(client.bufferedAmount, 3);
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The server has not started: the bytes wait in the client's buffer.
    assert.equal(client.bufferedAmount, 3);
    const got = sink(server);
    client.write(new Uint8Array([4]));
    assert.deepEqual(got.bytes, [], "no delivery inside write()");
    await got.until(4);
    assert.deepEqual(got.bytes, [1, 2, 3, 4]);
    assert.equal(got.chunks, 1, "small writes coalesce into one chunk");
    assert.equal(client.bufferedAmount, 0);
  } finally {
    await client.close();
    await server.close();
    await listener.close();
  }
});

Deno.test("`write()` hands a lone write over without a copy and splits large ones", async () => {
  const { listener, client, server } = await serverPair();
  try {
    const seen: Uint8Array[] = [];
    const done = Promise.withResolvers<void>();
    let total = 0;
    server.start({
      data(chunk) {
        seen.push(chunk);
        total += chunk.length;
        if (total === 200_000 + 10) done.resolve();
      },
      close() {},
    });
    const small = new Uint8Array(10).fill(7);
    client.write(small);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
    client.write(big);
    await done.promise;
    assert.equal(seen[0], small, "a lone write is delivered as the same object");
    assert.ok(seen.slice(1).every((c) => c.buffer === big.buffer && c.length <= 65536));
    assert.equal(seen.length, 1 + Math.ceil(200_000 / 65536));
  } finally {
    await client.close();
    await server.close();
    await listener.close();
  }
});

Deno.test("16 MiB each way in random write sizes arrives complete and in order", async () => {
  const { listener, client, server } = await serverPair();
  const size = 16 * 1024 * 1024;
  let seed = 12345;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  try {
    const check = (conn: Connection) => {
      let offset = 0;
      let bad = -1;
      const done = Promise.withResolvers<void>();
      conn.start({
        data(chunk) {
          for (let i = 0; i < chunk.length; i++) {
            if (bad < 0 && chunk[i] !== ((offset + i) * 31) % 251) bad = offset + i;
          }
          offset += chunk.length;
          if (offset === size) done.resolve();
        },
        close() {},
      });
      return async () => {
        await done.promise;
        assert.equal(bad, -1, `corrupt byte at ${bad}`);
      };
    };
    const send = async (conn: Connection) => {
      let offset = 0;
      while (offset < size) {
        const n = Math.min(size - offset, 1 + Math.floor(random() * 100_000));
        const bytes = new Uint8Array(n);
        for (let i = 0; i < n; i++) bytes[i] = ((offset + i) * 31) % 251;
        offset += n;
        if (!conn.write(bytes)) await conn.drained();
        assert.ok(conn.bufferedAmount <= 64 * 1024 + 100_000);
      }
    };
    const a = check(server);
    const b = check(client);
    await Promise.all([send(client), send(server), a(), b()]);
  } finally {
    await client.close();
    await server.close();
    await listener.close();
  }
});

Deno.test("`pause()` makes the writer see backpressure, `resume()` drains it", async () => {
  const accepted = Promise.withResolvers<Connection>();
  const listener = await listen("127.0.0.1:0", (conn) => accepted.resolve(conn));
  const client = await connect(`127.0.0.1:${listener.address.port}`, { highWaterMark: 1000 });
  const server = await accepted.promise;
  try {
    let drains = 0;
    let received = 0;
    client.start({ data() {}, drain: () => drains++, close() {} });
    server.start({ data: (chunk) => void (received += chunk.length), close() {} });
    server.pause();
    assert.equal(client.write(new Uint8Array(600)), true);
    assert.equal(client.write(new Uint8Array(400)), true, "at the mark is not over it");
    assert.equal(client.write(new Uint8Array(1)), false);
    const drained = client.drained();
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(received, 0);
    assert.equal(client.bufferedAmount, 1001);
    assert.equal(drains, 0);
    server.resume();
    await drained;
    assert.equal(drains, 1);
    assert.equal(client.bufferedAmount, 0);
    assert.equal(received, 1001);
    await client.drained();
    assert.equal(drains, 1, "drain only follows a write that returned false");
  } finally {
    await client.close();
    await server.close();
    await listener.close();
  }
});

Deno.test("`close()` delivers queued bytes, then the peer sees remote; writes then throw closed", async () => {
  const { listener, client, server } = await serverPair();
  try {
    const local = sink(client);
    client.write(new Uint8Array([1, 2, 3]));
    const first = client.close();
    assert.equal(client.close(), first, "closing twice returns the same promise");
    assert.equal(client.isClosed, true);
    assert.throws(() => client.write(new Uint8Array([4])), (e) => isWeftError(e, "closed"));
    await rejectsWith(client.drained(), "closed");
    assert.deepEqual(await first, { reason: "local" });
    assert.deepEqual(await local.closed, { reason: "local" });
    const remote = sink(server);
    assert.deepEqual(await remote.closed, { reason: "remote" });
    assert.deepEqual(remote.bytes, [1, 2, 3], "bytes written before close arrive before EOF");
    assert.deepEqual(await server.closed, { reason: "remote" });
    assert.equal(server.isClosed, true);
    assert.throws(() => server.write(new Uint8Array([4])), (e) => isWeftError(e, "closed"));
    assert.deepEqual(await server.close(), { reason: "remote" });
  } finally {
    await listener.close();
  }
});

Deno.test("`close()` rejects its own pending `drained()`", async () => {
  const { listener, client, server } = await serverPair();
  try {
    server.pause();
    sink(server);
    assert.equal(client.write(new Uint8Array(100_000)), false);
    const waiting = client.drained();
    await client.close();
    await rejectsWith(waiting, "closed");
    assert.equal(client.bufferedAmount, 0);
  } finally {
    await server.close();
    await listener.close();
  }
});

Deno.test("a peer closing without reading frees the writer's buffer", async () => {
  const { listener, client, server } = await serverPair();
  try {
    const got = sink(server);
    server.pause();
    const local = sink(client);
    assert.equal(client.write(new Uint8Array(100_000)), false);
    const waiting = client.drained();
    server.write(new Uint8Array([9]));
    await server.close();
    await waiting;
    assert.equal(client.bufferedAmount, 0);
    assert.equal(got.bytes.length, 0);
    assert.deepEqual(await local.closed, { reason: "remote" });
    assert.deepEqual(local.bytes, [9], "what the peer wrote before closing still arrives");
  } finally {
    await client.close();
    await listener.close();
  }
});

Deno.test("`close()` before `start()` calls no handler but resolves closed", async () => {
  const { listener, client, server } = await serverPair();
  try {
    assert.deepEqual(await server.close(), { reason: "local" });
    const got = sink(client);
    assert.deepEqual(await got.closed, { reason: "remote" });
  } finally {
    await listener.close();
  }
});

Deno.test("listener `close()` stops new connections, existing ones keep working", async () => {
  const accepted: Connection[] = [];
  const listener = await listen("127.0.0.1:0", (conn) => {
    accepted.push(conn);
    sink(conn, true);
  });
  const port = listener.address.port;
  const client = await connect(`127.0.0.1:${port}`);
  try {
    await listener.close();
    await rejectsWith(connect(`127.0.0.1:${port}`), "connection refused");
    const got = sink(client);
    client.write(new Uint8Array([5, 6]));
    await got.until(2);
    assert.deepEqual(got.bytes, [5, 6]);
  } finally {
    await client.close();
    await Promise.all(accepted.map((c) => c.close()));
    await listener[Symbol.asyncDispose]();
  }
});

Deno.test("a busy ping-pong does not starve timers", async () => {
  const listener = await listen("127.0.0.1:0", (conn) => void sink(conn, true));
  const client = await connect(`127.0.0.1:${listener.address.port}`);
  try {
    let rounds = 0;
    let timerFired = false;
    const stop = Promise.withResolvers<void>();
    setTimeout(() => {
      timerFired = true;
    }, 1);
    client.start({
      data(chunk) {
        rounds++;
        if (timerFired || rounds >= 1_000_000) stop.resolve();
        else client.write(chunk.slice());
      },
      close() {},
    });
    client.write(new Uint8Array([1]));
    await stop.promise;
    assert.ok(timerFired, `timer did not fire within ${rounds} round trips`);
  } finally {
    await client.close();
    await listener.close();
  }
});

Deno.test("500 concurrent connections each echo", async () => {
  const accepted: Connection[] = [];
  const listener = await listen("127.0.0.1:0", (conn) => {
    accepted.push(conn);
    sink(conn, true);
  });
  try {
    const clients = await Promise.all(
      Array.from({ length: 500 }, () => connect(`127.0.0.1:${listener.address.port}`)),
    );
    await Promise.all(clients.map(async (client, i) => {
      const got = sink(client);
      client.write(new Uint8Array([i & 0xff, i >> 8]));
      await got.until(2);
      assert.deepEqual(got.bytes, [i & 0xff, i >> 8]);
      await client.close();
    }));
  } finally {
    await Promise.all(accepted.map((c) => c.close()));
    await listener.close();
  }
});
