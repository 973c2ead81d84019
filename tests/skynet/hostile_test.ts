// A hostile skynet peer in its own process (_hostile_peer.ts, under Node)
// against a weft node in skynet mode: each malformed or unbounded stream
// closes its own connection (with a coded error through the fault log),
// while a well-behaved skynet-mode client beside it keeps calling.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { CallContext } from "../../src/cluster/call_context.ts";
import { skynet } from "../../src/codec/skynet.ts";
import { runScript } from "../_runtimes.ts";

const PEER = new URL("./_hostile_peer.ts", import.meta.url).pathname;

Deno.test("skynet mode: a hostile peer's connections close one by one; a good client keeps working", async () => {
  const faults: string[] = [];
  const server = new Cluster({
    ...skynet(),
    protocol: "skynet",
    logger: {
      error: (message: string) => void faults.push(message),
      warn: (message: string) => void faults.push(message),
    },
    call: (_peer, _cmd, body, context: CallContext) => context.command === "GET" ? body : null,
  });
  const client = new Cluster({ ...skynet(), protocol: "skynet" });
  try {
    const listener = await server.listen("127.0.0.1:0");
    const address = `127.0.0.1:${listener.address.port}`;
    const peer = client.connect(address);
    let calls = 0;
    let stop = false;
    const good = (async () => {
      // Bounded: at most 100,000 calls, and only while the attack runs.
      while (!stop && calls < 100_000) {
        assert.equal(await client.call(peer, 0, "a", { service: "@sdb", command: "GET" }), "a");
        calls++;
      }
    })();
    const attack = await runScript("node", PEER, [address], 60_000);
    stop = true;
    await good;
    assert.equal(attack.code, 0, attack.stderr);
    for (
      const name of [
        "unknown type",
        "header over maxMessageSize",
        "messages in parts without end",
        "cut packet",
      ]
    ) {
      assert.match(attack.stdout, new RegExp(`^CLOSED ${name}$`, "m"), attack.stdout);
    }
    assert.ok(calls > 0, "the good client's calls went on");
    assert.equal(await client.call(peer, 0, "b", { service: "@sdb", command: "GET" }), "b");
    assert.ok(faults.length >= 1 && faults.length <= 20, `fault log lines: ${faults.length}`);
    // Each close went through the fault log, naming what was wrong.
    for (
      const why of [
        /unknown type 0x09/,
        /over maxMessageSize/,
        /over maxPartialMessages/,
        /needs 9/,
      ]
    ) {
      assert.ok(faults.some((line) => why.test(line)), faults.join("\n"));
    }
  } finally {
    await client.close();
    await server.close();
  }
});
