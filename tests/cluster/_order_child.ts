// A child for order_test.ts: a node and a client in one process of any
// runtime, over loopback. The client makes `calls` calls in one synchronous
// run with a small high-water mark, so that some find the connection
// congested and wait; the node records the order the calls arrive in and the
// child prints how many arrived after a call made later (overtaken), and how
// many writes the client's connection made for them (writes).
//
//   <runtime> tests/cluster/_order_child.ts <calls> <body bytes> <highWaterMark>

import { Cluster } from "../../src/cluster/cluster.ts";
import { raw } from "../../src/codec/raw.ts";
import { defaultTransport } from "../../src/transport/detect.ts";
import type { Connection, Transport } from "../../src/transport/types.ts";

const [calls = 200, size = 100, highWaterMark = 1024] = (
  typeof Deno === "undefined"
    ? (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2)
    : Deno.args
).map(Number);

const arrived: number[] = [];
const node = new Cluster({
  ...raw(),
  call: (_peer, _cmd, body) => {
    const bytes = body as Uint8Array;
    arrived.push(new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0));
    return bytes.subarray(0, 4);
  },
});
const listener = await node.listen("127.0.0.1:0");
// The runtime's own transport, its client connections' writes counted.
const native = await defaultTransport();
let writes = 0;
const counting: Transport = {
  name: native.name,
  listen: (address, onAccept, options) => native.listen(address, onAccept, options),
  connect: async (address, options) => {
    const connection: Connection = await native.connect(address, options);
    const write = connection.write.bind(connection);
    connection.write = (bytes) => {
      writes++;
      return write(bytes);
    };
    return connection;
  },
};
const client = new Cluster({ ...raw(), highWaterMark, transport: counting });
const peer = client.connect(`127.0.0.1:${listener.address.port}`);
// The handshake first, so that the run below is all requests.
await client.call(peer, 1, new Uint8Array(size));
arrived.length = 0;
writes = 0;
const pending: Promise<unknown>[] = [];
for (let i = 0; i < calls; i++) {
  const body = new Uint8Array(size);
  new DataView(body.buffer).setUint32(0, i);
  // Every third one a one-way send: sends keep their place among calls too.
  pending.push(i % 3 === 2 ? client.send(peer, 1, body) : client.call(peer, 1, body));
}
await Promise.all(pending);
const made = writes;
// The last sends may still be on their way: the last call's answer came after them.
await client.call(peer, 1, new Uint8Array(size));
arrived.pop();
let overtaken = 0;
let highest = -1;
for (const index of arrived) {
  if (index < highest) overtaken++;
  else highest = index;
}
console.log(JSON.stringify({ arrived: arrived.length, overtaken, writes: made }));
await client.close();
await node.close();
