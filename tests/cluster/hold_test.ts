// holdReading(peer): a node stops reading from one peer (real loopback
// sockets), counted holds, harmless double release, other peers untouched.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { holdReading } from "../../src/cluster/hold.ts";
import type { Peer } from "../../src/connection/peer.ts";
import { raw } from "../../src/codec/raw.ts";

const text = (bytes: unknown) => new TextDecoder().decode(bytes as Uint8Array);

Deno.test("holdReading() stops reading one peer until every hold is released", async () => {
  const peers: Peer[] = [];
  await using server = new Cluster({
    ...raw(),
    call: (peer, _cmd, body) => {
      if (!peers.includes(peer)) peers.push(peer);
      return body;
    },
  });
  const listener = await server.listen("127.0.0.1:0");
  const address = `127.0.0.1:${listener.address.port}`;
  await using a = new Cluster(raw());
  await using b = new Cluster(raw());
  const pa = a.connect(address);
  const pb = b.connect(address);
  assert.equal(text(await a.call(pa, 1, "a0")), "a0");
  assert.equal(text(await b.call(pb, 1, "b0")), "b0");
  const [fromA] = peers;
  const first = holdReading(fromA!);
  const second = holdReading(fromA!);
  let answered = false;
  const waiting = a.call(pa, 1, "a1", { timeout: 120_000 }).then((r) => {
    answered = true;
    return r;
  });
  // the other peer is still read
  assert.equal(text(await b.call(pb, 1, "b1")), "b1");
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(answered, false, "a held peer was read");
  first();
  first(); // harmless twice: the second hold still holds
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(answered, false, "released before the last hold");
  second();
  assert.equal(text(await waiting), "a1");
  assert.throws(() => holdReading({} as Peer), TypeError);
});

Deno.test("holdReading() of a peer without a connection is a no-op", async () => {
  await using cluster = new Cluster(raw());
  const peer = cluster.connect("127.0.0.1:9"); // never connected
  const release = holdReading(peer);
  release();
  assert.equal(peer.isConnected, false);
});

Deno.test("holdReading(): the holding node does not take the held peer for dead (its unread pongs are not misses)", async () => {
  let release = () => {};
  let held: Peer | undefined;
  await using server = new Cluster({
    ...raw(),
    heartbeatInterval: 30,
    heartbeatMisses: 2,
    call: (peer, _cmd, body) => {
      if (held === undefined) {
        held = peer;
        release = holdReading(peer);
      }
      return body;
    },
  });
  const listener = await server.listen("127.0.0.1:0");
  await using client = new Cluster({ ...raw(), heartbeatInterval: 60_000 });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  assert.equal(text(await client.call(peer, 1, "first")), "first");
  const second = client.call(peer, 1, "second", { timeout: 5000 });
  // ten heartbeat windows of the server while it holds the client
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(held!.isClosed, false, "the server closed a peer it chose not to read");
  release();
  assert.equal(text(await second), "second");
});
