/**
 * The examples of modules the package does not export (a doc example
 * imports the package by name, and these are not in it), run as tests:
 * src/cluster/forward.ts.
 */

import { Cluster } from "../../mod.ts";
import { forwardRaw } from "../../src/cluster/forward.ts";
import { transport } from "../../src/transport/memory.ts";

Deno.test("forwardRaw (src/cluster/forward.ts): Forward a request to another node", async () => {
  const codec = {
    marshal: (_type: string, cmd: string | number, body: unknown) =>
      [Number(cmd), body as Uint8Array] as const,
    unmarshal: (_type: string, _cmd: string | number, bytes: Uint8Array) => bytes.slice(),
  };
  await using back = new Cluster({ ...codec, transport, call: (_p, _c, body) => body });
  const backAt = await back.listen("127.0.0.1:0");
  let forwarded = 0;
  const front: Cluster = new Cluster({
    ...codec,
    transport,
    call: (_peer, cmd, body, context): unknown => {
      const { promise, resolve, reject } = Promise.withResolvers<unknown>();
      const sink = {
        response: (bytes: Uint8Array | undefined) => resolve(bytes?.slice()), // lent: copy
        error: reject,
      };
      if (forwardRaw(toBack, cmd, body as Uint8Array, context, sink, front.nodeId)) {
        forwarded++;
        return promise;
      }
      return context.call(toBack, cmd, body); // not connected yet: the ordinary path
    },
  });
  const toBack = front.connect(`127.0.0.1:${backAt.address.port}`);
  const frontAt = await front.listen("127.0.0.1:0");
  await using client = new Cluster({ ...codec, transport });
  const peer = client.connect(`127.0.0.1:${frontAt.address.port}`);
  const first = await client.call(peer, 1, Uint8Array.of(7)) as Uint8Array;
  const second = await client.call(peer, 1, Uint8Array.of(8)) as Uint8Array;
  if (first[0] !== 7 || second[0] !== 8 || forwarded !== 1) throw new Error("unexpected");
  await front.close();
});
