// Typed commands: the command table is declared once as a TypeScript type,
// and every call, send and handler is checked against it. Two Cluster nodes
// in one process, on loopback port 0, with the JSON codec.
//
//   deno run -A examples/typed_commands.ts
//   bun examples/typed_commands.ts
//   node24 examples/typed_commands.ts
//
// Exits 0 only if every check passed; closes everything, so the process
// ends by itself.

import { Cluster } from "../src/cluster/cluster.ts";
import { typed } from "../src/cluster/typed.ts";
import { json } from "../src/codec/json.ts";
import { check, finish, until } from "./_check.ts";

// The types: request and response per command. notify has no response: it
// can be sent, not called.
type Api = {
  add: { request: { a: number; b: number }; response: { sum: number } };
  ping: { request: { msg: string }; response: { msg: string } };
  notify: { request: { text: string } };
};
// The numbers the wire carries (ping is answered by pong, as in silly's docs).
const api = typed<Api>({ add: 1, ping: { id: 2, response: "pong" }, pong: 3, notify: 0x10 });

const notes: string[] = [];
const server = new Cluster({
  ...json({ commands: api.commands }),
  call: api.handlers({
    add: ({ a, b }) => ({ sum: a + b }), // a, b: number; must return { sum: number }
    ping: async ({ msg }, context) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return { msg: `pong to ${msg} from ${context.peer}` };
    },
    notify: ({ text }) => void notes.push(text), // one-way: returns nothing
  }),
});
const node = new Cluster({ ...json({ commands: api.commands }) });
const client = api.client(node);

try {
  const listener = await server.listen("127.0.0.1:0");
  const peer = node.connect(`127.0.0.1:${listener.address.port}`);

  const { sum } = await client.call(peer, "add", { a: 1, b: 2 }); // sum: number
  check(sum === 3, `add answered ${sum}`);
  const { msg } = await client.call(peer, "ping", { msg: "hi" }); // msg: string
  check(msg.startsWith("pong to hi"), `ping answered "${msg}"`);
  await client.send(peer, "notify", { text: "hello" });
  await until(() => notes.length > 0);
  check(notes[0] === "hello", "the notification arrived");

  // Each of these is a type error (deno check examples/typed_commands.ts):
  // client.call(peer, "sub", { a: 1, b: 2 });    // no command "sub"
  // client.call(peer, "add", { a: 1 });          // b is missing
  // client.call(peer, "notify", { text: "x" });  // notify has no response
  // const s: string = (await client.call(peer, "add", { a: 1, b: 2 })).sum;
} finally {
  await node.close();
  await server.close();
}

finish();
