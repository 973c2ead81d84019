// Every ordered pair of {deno, bun, node} as (server, client) makes real
// cluster calls: examples/echo_server.ts under one runtime,
// examples/echo_client.ts under another, each on its own adapter.

import assert from "node:assert/strict";
import { runScript, type RuntimeName, spawnScript } from "../_runtimes.ts";

const RUNTIMES: RuntimeName[] = ["deno", "bun", "node"];
const SERVER = new URL("../../examples/echo_server.ts", import.meta.url).pathname;
const CLIENT = new URL("../../examples/echo_client.ts", import.meta.url).pathname;
const START_LIMIT = 30_000;
const CLIENT_LIMIT = 60_000;

for (const server of RUNTIMES) {
  for (const client of RUNTIMES) {
    Deno.test(`Cluster echo example: ${server} server, ${client} client`, async () => {
      const child = await spawnScript(server, SERVER, ["127.0.0.1:0"]);
      let result: Awaited<ReturnType<typeof runScript>> | undefined;
      let serverErr = "";
      try {
        const [, address] = await child.waitFor(/^listening (\S+)$/m, START_LIMIT);
        result = await runScript(client, CLIENT, [address!], CLIENT_LIMIT);
      } finally {
        // Kill the server this test started (by its own handle) and reap it.
        serverErr = await child.stop();
      }
      assert.equal(
        result.code,
        0,
        `${client} client against ${server} server failed (exit ${result.code}):\n` +
          `client stdout:\n${result.stdout}\nclient stderr:\n${result.stderr}\n` +
          `server stdout:\n${child.stdout()}\nserver stderr:\n${serverErr}`,
      );
      assert.match(result.stdout, /^PASS$/m);
    });
  }
}
