/**
 * The examples of modules the package does not export (a doc example
 * imports the package by name, and these are not in it), run as tests:
 * src/session/skynet_link.ts.
 */

import { SkynetSender } from "../../src/session/skynet_link.ts";
import { encodeSkynetResponse } from "../../src/wire/skynet_packet.ts";

Deno.test("SkynetSender (src/session/skynet_link.ts): A call and its response", async () => {
  const written: Uint8Array[] = [];
  const sender = new SkynetSender({ write: (frames) => written.push(...frames) });
  const { session, response } = sender.call("@sdb", new Uint8Array([0x1c, 0x47, 0x45, 0x54]));
  for (const frame of encodeSkynetResponse(session, true, new Uint8Array([0x0a, 7]))) {
    sender.receive(frame);
  }
  if ((await response)[1] !== 7 || written.length !== 1) throw new Error("unexpected result");
});
