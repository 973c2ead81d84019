// Security between runtimes: every ordered pair of {deno, bun, node} as
// (server, client) over mutual TLS, and again with key authentication (and
// the allow-list: echo allowed, secret forbidden), each side in its own
// process (_party.ts); then refused keys across mixed pairs, checking that
// no refused request reached the server's handler.

import assert from "node:assert/strict";
import { runScript, type RuntimeName, spawnScript } from "../_runtimes.ts";
import { makeCerts } from "./_certs.ts";

const RUNTIMES: RuntimeName[] = ["deno", "bun", "node"];
const PARTY = new URL("./_party.ts", import.meta.url).pathname;
const certs = await makeCerts();

async function run(
  server: RuntimeName,
  client: RuntimeName,
  serverFlags: string,
  clientFlags: string,
  scenario: "ok" | "refused",
): Promise<void> {
  const child = await spawnScript(server, PARTY, ["server", certs.dir, serverFlags]);
  let result: Awaited<ReturnType<typeof runScript>> | undefined;
  let serverErr = "";
  try {
    const [, address] = await child.waitFor(/^listening (\S+)$/m, 30_000);
    result = await runScript(
      client,
      PARTY,
      ["client", certs.dir, clientFlags, address!, scenario],
      60_000,
    );
  } finally {
    serverErr = await child.stop();
  }
  const output = `client stdout:\n${result.stdout}\nclient stderr:\n${result.stderr}\n` +
    `server stdout:\n${child.stdout()}\nserver stderr:\n${serverErr}`;
  assert.equal(result.code, 0, output);
  assert.match(result.stdout, /^PASS$/m, output);
  const handled = child.stdout().match(/^handled \d+$/gm) ?? [];
  // ok: echo ran once, secret was refused before the handler; refused: nothing ran.
  assert.deepEqual(handled, scenario === "ok" ? ["handled 1"] : [], output);
}

for (const server of RUNTIMES) {
  for (const client of RUNTIMES) {
    Deno.test(`security pairs: mutual TLS, ${server} server, ${client} client`, () =>
      run(server, client, "tls", "tls", "ok"));
    Deno.test(`security pairs: key auth, ${server} server, ${client} client`, () =>
      run(server, client, "key=server", "key=node-a", "ok"));
  }
}

const refusals: [RuntimeName, RuntimeName, string][] = [
  ["deno", "node", "key=bad"],
  ["node", "bun", "key=bad"],
  ["bun", "deno", "key=bad"],
  ["deno", "bun", "-"],
  ["bun", "node", "-"],
  ["node", "deno", "-"],
];
for (const [server, client, flags] of refusals) {
  const what = flags === "-" ? "no key" : "wrong key";
  Deno.test(`security pairs: ${what} refused, ${server} server, ${client} client`, () =>
    run(server, client, "key=server", flags, "refused"));
}
