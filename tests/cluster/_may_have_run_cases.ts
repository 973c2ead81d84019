// Cluster's WeftError.mayHaveRun (issue 24): a call whose request was
// written to the transport fails with mayHaveRun true (it may have run);
// one that never left this node (held behind backpressure, waiting to
// connect, aborted or timed out before it was written) with false. Over
// real loopback sockets against a peer that accepts and never reads (so
// the connection backs up) or never answers. Run by may_have_run_test.ts
// under Deno and by tests/_cases_runner.ts under Bun and Node.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { json } from "../../src/codec/json.ts";
import { WeftError } from "../../src/errors.ts";
import { defaultTransport } from "../../src/transport/detect.ts";
import type { Connection, Listener, Transport } from "../../src/transport/types.ts";
import { until } from "../_wait.ts";

/** A named case. */
export interface Case {
  name: string;
  fn: () => Promise<void>;
}

const quiet = { error() {}, warn() {} };

/** A peer that accepts connections and never reads or answers them. */
async function deafPeer(): Promise<
  { address: string; accepted: Promise<Connection>; listener: Listener }
> {
  const transport = await defaultTransport();
  const accepted = Promise.withResolvers<Connection>();
  const listener = await transport.listen("127.0.0.1:0", (connection) => {
    accepted.resolve(connection);
  });
  return { address: `127.0.0.1:${listener.address.port}`, accepted: accepted.promise, listener };
}

function outcome(promise: Promise<unknown>): Promise<WeftError> {
  return promise.then(
    () => {
      throw new Error("the call resolved");
    },
    (error) => {
      assert.ok(error instanceof WeftError, String(error));
      return error;
    },
  );
}

/** The default transport, counting the bytes its connections write. */
async function countingTransport(): Promise<{ transport: Transport; written: () => number }> {
  const inner = await defaultTransport();
  let written = 0;
  const transport: Transport = {
    name: `counting(${inner.name})`,
    connect: async (address, options) => {
      const conn = await inner.connect(address, options);
      const write = conn.write.bind(conn);
      conn.write = (bytes: Uint8Array) => {
        written += bytes.length;
        return write(bytes);
      };
      return conn;
    },
    listen: (address, onAccept, options) => inner.listen(address, onAccept, options),
  };
  return { transport, written: () => written };
}

export const cases: Case[] = [
  {
    name:
      "Cluster: a connection lost with calls written and calls held behind backpressure: closed, mayHaveRun true and false",
    async fn() {
      const peer = await deafPeer();
      const counting = await countingTransport();
      // silly mode: no handshake, the first frame is a call.
      const client = new Cluster({
        ...json(),
        protocol: "silly",
        transport: counting.transport,
        highWaterMark: 1024,
        timeout: 30_000,
        logger: quiet,
      });
      try {
        const to = client.connect(peer.address);
        // Large bodies fill the connection past its high-water mark and the
        // kernel's buffers (the peer does not read): the first is written,
        // and calls behind the congestion wait for a drain that never comes.
        const body = "x".repeat(1024 * 1024);
        const large = Array.from({ length: 24 }, () => outcome(client.call(to, 1, body)));
        const written = large[0]!;
        const held = [1, 2, 3].map((n) => outcome(client.call(to, 1, n)));
        const server = await peer.accepted;
        // Lost once the first body is written (not after a guess at how long that takes).
        await until(() => counting.written() > body.length, 0, "the first body written");
        await server.close();
        const first = await written;
        assert.equal(first.code, "closed");
        assert.equal(first.mayHaveRun, true, `written: ${first.message}`);
        for (const error of await Promise.all(large)) assert.equal(error.code, "closed");
        for (const error of await Promise.all(held)) {
          assert.equal(error.code, "closed");
          assert.equal(error.mayHaveRun, false, `held: ${error.message}`);
        }
      } finally {
        await client.close();
        await peer.listener.close();
      }
    },
  },
  {
    name:
      "Cluster: a call written and never answered times out with mayHaveRun true; one timed out behind backpressure, false",
    async fn() {
      const peer = await deafPeer();
      const client = new Cluster({
        ...json(),
        protocol: "silly",
        highWaterMark: 1024,
        logger: quiet,
      });
      try {
        const to = client.connect(peer.address);
        // Connected first (a send is handed to the socket), so that the
        // small call is written at once, long before its timeout, however
        // slow the machine.
        await client.send(to, 1, "connect");
        const small = await outcome(client.call(to, 1, "a", { timeout: 2000 }));
        assert.equal(small.code, "timeout");
        assert.equal(small.mayHaveRun, true, small.message);
        // 12 MiB, past what the kernel's buffers take (a 4 MiB send buffer
        // and the deaf peer's receive buffer): one 4 MiB body could drain
        // into them within the held call's timeout and let it be written.
        const bigs = [1, 2, 3].map(() =>
          outcome(client.call(to, 1, "x".repeat(4 * 1024 * 1024), { timeout: 2000 }))
        );
        const held = await outcome(client.call(to, 1, "b", { timeout: 300 }));
        assert.equal(held.code, "timeout");
        assert.equal(held.mayHaveRun, false, held.message);
        assert.equal((await bigs[0]!).mayHaveRun, true);
        await Promise.all(bigs);
        await (await peer.accepted).close();
      } finally {
        await client.close();
        await peer.listener.close();
      }
    },
  },
  {
    name:
      "Cluster: a call aborted after it was written: mayHaveRun true; aborted before it was sent: false",
    async fn() {
      const peer = await deafPeer();
      const counting = await countingTransport();
      const client = new Cluster({
        ...json(),
        protocol: "silly",
        transport: counting.transport,
        logger: quiet,
      });
      try {
        const to = client.connect(peer.address);
        const early = new AbortController();
        early.abort();
        const before = await outcome(client.call(to, 1, "a", { signal: early.signal }));
        assert.equal(before.code, "aborted");
        assert.equal(before.mayHaveRun, false);
        const late = new AbortController();
        const call = outcome(client.call(to, 1, "b", { signal: late.signal }));
        await peer.accepted;
        // Aborted once its request is written (not after a guess at how long that takes).
        await until(() => counting.written() > 0, 0, "the request written");
        late.abort();
        const after = await call;
        assert.equal(after.code, "aborted");
        assert.equal(after.mayHaveRun, true);
        await (await peer.accepted).close();
      } finally {
        await client.close();
        await peer.listener.close();
      }
    },
  },
  {
    name: "Cluster: a call to a closed peer and a failed connect never ran",
    async fn() {
      const peer = await deafPeer();
      const port = peer.address.split(":")[1];
      await peer.listener.close();
      const client = new Cluster({ ...json(), connectTimeout: 2000, logger: quiet });
      try {
        const to = client.connect(`127.0.0.1:${port}`);
        const failed = await outcome(client.call(to, 1, "a"));
        assert.equal(failed.mayHaveRun, false, `${failed.code}: ${failed.message}`);
        await client.close(to);
        const closed = await outcome(client.call(to, 1, "a"));
        assert.equal(closed.code, "peer closed");
        assert.equal(closed.mayHaveRun, false);
      } finally {
        await client.close();
      }
    },
  },
];
