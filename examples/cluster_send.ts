// Ports silly's `cluster.send(peer, cmd, obj)` example from
// silly.net.cluster's reference (findstr/silly
// docs/src/en/reference/net/cluster.md): a client sends five one-way
// `notify` messages; the server prints them and returns nothing, so no
// response is written. silly listens on 127.0.0.1:7777 and sleeps 100 ms
// between sends; this port uses loopback port 0 and 10 ms.
//
// As in silly, a send is an ordinary request on the wire (silly has no
// one-way flag): `send` resolves once the frame is handed to the socket,
// and the handler's `undefined` means no response.
//
//   deno run -A examples/cluster_send.ts
//   bun examples/cluster_send.ts
//   node24 examples/cluster_send.ts
//
// Exits 0 only if every check passed; closes everything, so the process
// ends by itself.

import { Cluster } from "../src/cluster/cluster.ts";
import { Commands } from "../src/codec/commands.ts";
import { json } from "../src/codec/json.ts";
import { isWeftError } from "../src/errors.ts";
import { check, finish, until } from "./_check.ts";

const commands = new Commands({ notify: 0x10 });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const received: string[] = [];
const server = new Cluster({
  ...json({ commands }),
  call: (_peer, _cmd, body) => {
    const { message } = body as { message: string };
    console.log(`server: received notification: ${message}`);
    received.push(message);
    // A one-way message gets no response.
    return undefined;
  },
});
const client = new Cluster({ ...json({ commands }) });
try {
  const listener = await server.listen("127.0.0.1:0");
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);

  // Send multiple notifications.
  let sent = 0;
  for (let i = 1; i <= 5; i++) {
    try {
      await client.send(peer, "notify", { message: `Notification #${i}` });
      sent++;
    } catch (error) {
      console.log(`send failed: ${isWeftError(error) ? error.code : error}`);
      break;
    }
    await sleep(10);
  }
  check(sent === 5, "five sends were handed to the socket");
  await until(() => received.length >= 5);
  check(
    received.join("|") === [1, 2, 3, 4, 5].map((i) => `Notification #${i}`).join("|"),
    "the server received the five notifications, in order",
  );
  await client.close(peer);
} finally {
  await client.close();
  await server.close();
}

finish();
