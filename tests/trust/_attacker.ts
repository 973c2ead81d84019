/**
 * An attacker of the router attack tests, on Deno, Bun or Node:
 * `_attacker.ts MODE KEY ROUTER [ARG]`. KEY is `none` (no key at all) or
 * `intruder` (a valid key of the ring, outside the router's policy). It
 * attacks until killed (bounded: 5,000 rounds or 120 s), printing
 * `progress {json}` (outcomes by code) every 100 ms. Modes:
 *
 * - `forge`: announces forged ids 2.100 to 2.399 of the good group, 4 at a time;
 * - `takeover ID`: announces ID (a good service's that died);
 * - `claim`: announces 9.1 (the intruder's own group) and claims master
 *   with a fence of 1e300 (without a key, the announcement already fails);
 * - `flood N FROM`: holds N connections from local address FROM. Without a
 *   key, raw TCP connections, half of them sending weft's HELLO and half
 *   nothing; with the key, N services 9.i (the intruder's own group, which
 *   it may announce: registered connections), `registered now` and
 *   `registered at most` counting those the router holds. Closed ones are
 *   opened again a second later (the services retry every second).
 * - `churn`: announces ids 2.1000 upwards, each once, one after another.
 */

import net from "node:net";
import { json } from "../../src/codec/json.ts";
import { Service } from "../../src/router/service.ts";
import { serviceId } from "../../src/router/service_id.ts";
import { parseAddress } from "../../src/transport/address.ts";
import { authAs } from "./_keys.ts";
import { TARGET_COMMANDS } from "./_measure.ts";
import { sourcedTransport } from "./_sourced.ts";

declare const process: { argv: string[]; exit(code: number): never };

const [mode, key, router, arg1, arg2] = process.argv.slice(2);
const counts: Record<string, number> = {};
const count = (code: string) => (counts[code] = (counts[code] ?? 0) + 1);
setInterval(() => console.log(`progress ${JSON.stringify(counts)}`), 100);
const end = Date.now() + 120_000;
const quiet = { error() {}, warn() {} };

function service(id: number, extra: Record<string, unknown> = {}): Service {
  return new Service({
    id,
    routers: [router!],
    ...json({ commands: TARGET_COMMANDS }),
    ...authAs(key!),
    retryInterval: 100,
    timeout: 10_000,
    logger: quiet,
    call: () => ({ id, token: "forged", echo: null }),
    ...extra,
  });
}

/** Announces `id` once: the outcome's code (`ok` if it was taken), closing the service. */
async function announce(id: number): Promise<string> {
  const s = service(id);
  try {
    await s.start();
    return "ok";
  } catch (error) {
    const e = error as { code?: string; cause?: { code?: string } };
    return e.code === "unreachable" && e.cause?.code !== undefined ? e.cause.code : e.code ?? "?";
  } finally {
    await s.close();
  }
}

/** weft's HELLO without key fields: a v2 request frame, cmd 0xffffff00, "WEFT" version 1. */
const HELLO = Uint8Array.of(
  ...[24, 0, 0, 0, 0, 0, 0, 0, 0x00, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
  ...[0x57, 0x45, 0x46, 0x54, 1, 0, 0, 0],
);

switch (mode) {
  case "forge": {
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let round = 0; round < 5000 && Date.now() < end; round++) {
        count(await announce(serviceId(2, 100 + (next++ % 300))));
      }
    }));
    break;
  }
  case "takeover":
    for (let round = 0; round < 5000 && Date.now() < end; round++) {
      count(await announce(Number(arg1)));
    }
    break;
  case "claim": {
    if (key === "none") {
      for (let round = 0; round < 5000 && Date.now() < end; round++) {
        count(await announce(serviceId(9, 1)));
      }
      break;
    }
    const own = service(serviceId(9, 1));
    await own.start();
    for (let round = 0; round < 5000 && Date.now() < end; round++) {
      try {
        count((await own.claimMaster(1e300)) ? "applied" : "stale");
      } catch (error) {
        count((error as { code?: string }).code ?? "?");
      }
    }
    await own.close();
    break;
  }
  case "flood": {
    const n = Number(arg1);
    const from = arg2!;
    if (key === "none") {
      const { port } = parseAddress(router!);
      const open = (i: number): Promise<void> =>
        new Promise((resolve) => {
          const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
          let received = 0;
          let opened = 0;
          socket.on("data", (chunk: Uint8Array) => (received += chunk.length));
          socket.on("error", () => {});
          socket.once("connect", () => {
            opened = Date.now();
            count("opened");
            if (i % 2 === 0) socket.write(HELLO);
          });
          socket.once("close", () => {
            const held = opened === 0 ? 0 : Date.now() - opened;
            count(
              received > 0
                ? "failed authentication"
                : held < 1000
                ? "closed at once"
                : "cut at the handshake deadline",
            );
            resolve();
          });
        });
      await Promise.all(Array.from({ length: n }, async (_, i) => {
        for (let round = 0; round < 200 && Date.now() < end; round++) {
          await open(i);
          // Reconnects as a client would, not as fast as the loop can: a
          // connect-rate flood costs a listener an accept and a close per
          // attempt, which SYN cookies and a firewall bound, not a process.
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }));
    } else {
      const transport = sourcedTransport(from);
      const services = Array.from(
        { length: n },
        (_, i) => service(serviceId(9, 1 + i), { transport, retryInterval: 1000 }),
      );
      // Every service keeps trying (retryInterval) while this process lives;
      // `registered now` is how many the router holds registered at once.
      let most = 0;
      setInterval(() => {
        const now = services.filter((s) => s.router !== undefined).length;
        most = Math.max(most, now);
        counts["registered now"] = now;
        counts["registered at most"] = most;
      }, 50);
      for (const s of services) {
        s.start().then(() => count("started"), (error) => {
          const e = error as { code?: string; cause?: { code?: string } };
          count(`${e.code}${e.cause?.code === undefined ? "" : `/${e.cause.code}`}`);
        });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, end - Date.now())));
    }
    break;
  }
  case "churn":
    for (let i = 0; i < 5000 && Date.now() < end; i++) {
      count(await announce(serviceId(2, 1000 + i)));
    }
    break;
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
console.log(`progress ${JSON.stringify(counts)}`);
console.log("finished");
process.exit(0);
