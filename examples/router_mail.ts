/**
 * luabus's mail service through two routers: `send_mail` is hashed by the
 * player's account, so every mail of an account lands on the same mail
 * service instance. Two routers run as their own processes (this runtime
 * running src/router/main.ts); three mail services and a game service run
 * here. Halfway through, the router the game service uses is killed with
 * SIGKILL while calls go on: calls caught in it fail with `closed` and are
 * sent again (the mail id makes that safe), the game service switches to
 * the other router at once, and every mail is stored exactly once, on the
 * same instance as before.
 *
 * ```sh
 * deno run -A examples/router_mail.ts
 * bun examples/router_mail.ts
 * node examples/router_mail.ts
 * ```
 */

import { spawn } from "node:child_process";
import { json } from "../src/codec/json.ts";
import { isWeftError } from "../src/errors.ts";
import { hash, Service, serviceId } from "../src/router/mod.ts";
import { check, finish, sleep } from "./_check.ts";

const MAIL = 2; // luabus: "we define the mail service as 2"
const GAME = 1;
const commands = { send_mail: 1 };

// Two routers, each its own process, on free ports.
const main = new URL("../src/router/main.ts", import.meta.url).pathname;
const deno = "Deno" in globalThis && !("Bun" in globalThis);
function startRouter() {
  const child = spawn(process.execPath, [
    ...(deno ? ["run", "-A"] : []),
    main,
    "--listen",
    "127.0.0.1:0",
    "--heartbeat",
    "500",
  ], { stdio: ["ignore", "pipe", "inherit"] });
  const address = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Uint8Array) => {
      out += new TextDecoder().decode(chunk);
      const match = /^listening (\S+)$/m.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on("exit", () => reject(new Error(`router exited: ${out}`)));
  });
  return { child, address };
}
const routerProcesses = [startRouter(), startRouter()];
const routers = await Promise.all(routerProcesses.map((r) => r.address));

// Three mail services: each keeps the mails of the accounts it owns.
const stored = new Map<string, number>(); // mail id -> instance that stored it
const mails = [1, 2, 3].map((index) =>
  new Service({
    id: serviceId(MAIL, index),
    routers,
    ...json({ commands }),
    heartbeatInterval: 500,
    retryInterval: 200,
    call: (_source, _cmd, body) => {
      const { mailId } = body as { mailId: string; acc: string };
      if (!stored.has(mailId)) stored.set(mailId, index); // idempotent: a resend is harmless
      return { by: index };
    },
  })
);
const switches: string[] = [];
const game = new Service({
  id: serviceId(GAME, 1),
  routers,
  ...json({ commands }),
  heartbeatInterval: 500,
  onRouter: (address) => switches.push(address ?? "none"),
});
for (const service of [...mails, game]) await service.start();

// luabus's call_mailsvr(key, msg, ...): hash by account.
function callMailsvr(acc: string, body: unknown) {
  return game.call(hash(MAIL, acc), "send_mail", body);
}

const accounts = Array.from({ length: 20 }, (_, i) => `player${i}`);
const owner = new Map<string, number>();
let resent = 0;
let mailCount = 0;
async function sendMail(acc: string, n: number) {
  const body = { mailId: `${acc}#${n}`, acc, receiver: "bob", text: "hello" };
  mailCount++;
  for (;;) {
    try {
      const { by } = await callMailsvr(acc, body) as { by: number };
      if (owner.has(acc) && owner.get(acc) !== by) owner.set(acc, -1);
      else owner.set(acc, by);
      return;
    } catch (error) {
      // Only the router we used was lost: send again, through the other one.
      if (!isWeftError(error, "closed")) throw error;
      resent++;
      await sleep(10);
    }
  }
}

const first = game.router!;
const killed = routerProcesses[routers.indexOf(first)]!;
for (let round = 0; round < 10; round++) {
  const batch = accounts.map((acc) => sendMail(acc, round));
  if (round === 5) killed.child.kill("SIGKILL"); // with the round's calls in flight
  await Promise.all(batch);
}

check(game.router !== undefined && game.router !== first, "the game switched to the other router");
check(switches.at(-1) === game.router, `onRouter told of the switch (${switches.join(" -> ")})`);
check(
  stored.size === mailCount,
  `every mail stored exactly once (${stored.size} of ${mailCount}, ${resent} resent)`,
);
check([...owner.values()].every((by) => by > 0), "each account's mails all went to one instance");
check(new Set(owner.values()).size > 1, "the accounts are spread over the instances");

for (const service of [game, ...mails]) await service.close();
for (const { child } of routerProcesses) child.kill("SIGKILL");
finish();
