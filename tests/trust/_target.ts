/**
 * A well-behaved service of the attack tests (key id `good`), on Deno, Bun
 * or Node: `_target.ts ID ROUTER`. Answers `who` with `{ id, token }` (the
 * token a per-process random string the caller checks against a good
 * answer), `claim` with `claimMaster(body.fence)`'s result or error code.
 * Prints `ready ID TOKEN` once registered.
 */

import { json } from "../../src/codec/json.ts";
import { Service } from "../../src/router/service.ts";
import { authAs } from "./_keys.ts";
import { TARGET_COMMANDS } from "./_measure.ts";

declare const process: { argv: string[] };

const [idText, router] = process.argv.slice(2);
const id = Number(idText);
const token = Math.random().toString(36).slice(2);
const service: Service = new Service({
  id,
  routers: [router!],
  ...json({ commands: TARGET_COMMANDS }),
  ...authAs("good"),
  retryInterval: 100,
  logger: { error() {}, warn() {} },
  call: async (_source, cmd, body) => {
    if (cmd === TARGET_COMMANDS.who) return { id, token, echo: body };
    if (cmd === TARGET_COMMANDS.claim) {
      try {
        return await service.claimMaster((body as { fence: number }).fence);
      } catch (error) {
        return (error as { code?: string }).code ?? String(error);
      }
    }
    throw new Error(`unknown cmd ${cmd}`);
  },
});
await service.start();
console.log(`ready ${id} ${token}`);
