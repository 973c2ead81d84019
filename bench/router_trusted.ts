// A router for the router benchmark with trust on: `router_trusted.ts
// MODE [CERTDIR]` (MODE `keys` or `tls`, see _trust.ts). Prints `listening
// HOST:PORT`. Runs under Deno, Bun and Node.

import { Router } from "../src/router/router.ts";
import { formatAddress } from "../src/transport/address.ts";
import { args } from "./_common.ts";
import { type TrustMode, trustOptions } from "./_trust.ts";

const [mode, certDir] = args;
const router = new Router(trustOptions(mode as TrustMode, "server", certDir));
const listener = await router.listen("127.0.0.1:0");
console.log(`listening ${formatAddress(listener.address)}`);
