// Codec benches through a full call: the small object
// `{ id: 123, name: "hello", tags: ["a", "b"], ok: true }` sent by
// `cluster.call` and echoed back by the handler, one call in flight, with the
// json and msgpack codecs. Each measured call marshals the request, frames
// it, crosses the transport, unmarshals it, runs the handler, and does the
// same for the response.
//
// Over Deno's real loopback sockets (server and client Cluster in the same
// process, so one event loop serves both ends) and over the in-memory
// transport (no sockets: what is left is the codec, framing and cluster
// cost). The typed client (src/cluster/typed.ts) is measured against the
// plain call, to show what the facade costs.
//
// Run: deno bench -A bench/codec_call_bench.ts

import { Cluster } from "../src/cluster/cluster.ts";
import type { Peer } from "../src/connection/peer.ts";
import { typed, type TypedClient } from "../src/cluster/typed.ts";
import { json } from "../src/codec/json.ts";
import { msgpack } from "../src/codec/msgpack.ts";
import { transport as deno } from "../src/transport/deno.ts";
import { transport as memory } from "../src/transport/memory.ts";
import type { Transport } from "../src/transport/types.ts";

type Small = { id: number; name: string; tags: string[]; ok: boolean };
type Api = { echo: { request: Small; response: Small } };

const body: Small = { id: 123, name: "hello", tags: ["a", "b"], ok: true };
const api = typed<Api>({ echo: 1 });

interface Setup {
  client: Cluster;
  peer: Peer;
  typedClient: TypedClient<Api>;
}

const clusters: Cluster[] = [];

async function setup(transport: Transport, codec: typeof json | typeof msgpack): Promise<Setup> {
  const server = new Cluster({
    ...codec({ commands: api.commands }),
    transport,
    call: api.handlers({ echo: (request) => request }),
  });
  const listener = await server.listen("127.0.0.1:0");
  const client = new Cluster({ ...codec({ commands: api.commands }), transport });
  clusters.push(server, client);
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  // Connect and warm up before measuring; check the echo once.
  for (let i = 0; i < 200; i++) await client.call(peer, 1, body);
  const echoed = await client.call(peer, 1, body) as Small;
  if (echoed.name !== "hello" || echoed.tags[1] !== "b") throw new Error("bad echo");
  return { client, peer, typedClient: api.client(client) };
}

const targets: [string, Transport][] = [["Deno loopback sockets", deno], [
  "memory transport",
  memory,
]];

for (const [where, transport] of targets) {
  const group = `call, small object, one in flight (${where})`;
  const viaJson = await setup(transport, json);
  const viaMsgpack = await setup(transport, msgpack);
  Deno.bench(`json`, { group, baseline: true, n: 20_000, warmup: 2_000 }, async () => {
    await viaJson.client.call(viaJson.peer, 1, body);
  });
  Deno.bench(`msgpack`, { group, n: 20_000, warmup: 2_000 }, async () => {
    await viaMsgpack.client.call(viaMsgpack.peer, 1, body);
  });
  Deno.bench(`json, typed client`, { group, n: 20_000, warmup: 2_000 }, async () => {
    await viaJson.typedClient.call(viaJson.peer, "echo", body);
  });
  Deno.bench(`msgpack, typed client`, { group, n: 20_000, warmup: 2_000 }, async () => {
    await viaMsgpack.typedClient.call(viaMsgpack.peer, "echo", body);
  });
}

// Close the sockets once the benches are done.
globalThis.addEventListener("unload", () => {
  for (const cluster of clusters) void cluster.close();
});
