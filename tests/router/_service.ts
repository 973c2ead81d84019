/**
 * A router-test service as its own process (Deno, Bun or Node):
 * `_service.ts ID ROUTER[,ROUTER...] [RETRY_MS]`. Prints `ready ID` once
 * registered and `router HOST:PORT` whenever the router in use changes;
 * answers the commands of _commands.ts.
 */

import { json } from "../../src/codec/json.ts";
import { Service } from "../../src/router/service.ts";
import { serviceHandler } from "./_handler.ts";
import { COMMANDS } from "./_commands.ts";

declare const process: { argv: string[]; exit(code: number): never };

const [idText, routersText, retryText] = process.argv.slice(2);
if (idText === undefined || routersText === undefined) {
  console.error("usage: _service.ts ID ROUTER[,ROUTER...] [RETRY_MS]");
  process.exit(2);
}
const id = Number(idText);
const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node";
const service: Service = new Service({
  id,
  routers: routersText.split(","),
  ...json({ commands: COMMANDS }),
  retryInterval: retryText === undefined ? 200 : Number(retryText),
  heartbeatInterval: 500,
  call: serviceHandler(id, runtime, () => service),
  onRouter: (address) => console.log(`router ${address ?? "none"}`),
});
await service.start();
console.log(`ready ${id}`);
