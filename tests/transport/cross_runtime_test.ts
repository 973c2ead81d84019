// Every ordered pair of {deno, bun, node} as (server, client) exchanges
// silly frames for real: examples/raw_echo_server.ts under one runtime,
// examples/raw_echo_client.ts under another, each picking its own adapter.

import assert from "node:assert/strict";
import { runScript, type RuntimeName, runtimePath } from "../_runtimes.ts";

const RUNTIMES: RuntimeName[] = ["deno", "bun", "node"];
const SERVER = new URL("../../examples/raw_echo_server.ts", import.meta.url).pathname;
const CLIENT = new URL("../../examples/raw_echo_client.ts", import.meta.url).pathname;
const START_LIMIT = 30_000;
const CLIENT_LIMIT = 60_000;

/** Reads the server's stdout until its `listening HOST:PORT` line. */
async function addressLine(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  seen: { text: string },
): Promise<string> {
  const dec = new TextDecoder();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("server printed no address line")), START_LIMIT);
  });
  const read = (async () => {
    while (true) {
      const match = seen.text.match(/^listening (\S+)$/m);
      if (match) return match[1]!;
      const { value, done } = await reader.read();
      if (done) throw new Error("server exited before printing its address");
      seen.text += dec.decode(value, { stream: true });
    }
  })();
  try {
    return await Promise.race([read, limit]);
  } finally {
    clearTimeout(timer);
  }
}

for (const server of RUNTIMES) {
  for (const client of RUNTIMES) {
    Deno.test({
      name: `raw echo example: ${server} server, ${client} client`,
      sanitizeOps: true,
      sanitizeResources: true,
      async fn() {
        const bin = await runtimePath(server);
        const args = server === "deno"
          ? ["run", "-A", SERVER, "127.0.0.1:0"]
          : [SERVER, "127.0.0.1:0"];
        const child = new Deno.Command(bin, { args, stdout: "piped", stderr: "piped" }).spawn();
        const reader = child.stdout.getReader();
        const stderr = child.stderr.text();
        const seen = { text: "" };
        let result: Awaited<ReturnType<typeof runScript>> | undefined;
        try {
          const address = await addressLine(reader, seen);
          result = await runScript(client, CLIENT, [address], CLIENT_LIMIT);
        } finally {
          // Kill the server this test started, by its own handle, and reap it.
          try {
            child.kill("SIGKILL");
          } catch { /* already gone */ }
          await reader.cancel().catch(() => {});
          await child.status;
        }
        const serverErr = await stderr;
        assert.equal(
          result.code,
          0,
          `${client} client against ${server} server failed (exit ${result.code}):\n` +
            `client stdout:\n${result.stdout}\nclient stderr:\n${result.stderr}\n` +
            `server stdout:\n${seen.text}\nserver stderr:\n${serverErr}`,
        );
        assert.match(result.stdout, /PASS/);
      },
    });
  }
}
