// The router benchmark's target: one process answering `echo` both as a
// router service (id 2.1, through the router given, and through the
// trusted routers given with --keys=ADDR and --tls=ADDR --certs=DIR) and as
// a plain cluster node listening for direct calls. Prints `ready
// HOST:PORT` (the direct address). Runs under Deno, Bun and Node.

import { Cluster } from "../src/cluster/cluster.ts";
import { raw } from "../src/codec/raw.ts";
import { Service } from "../src/router/service.ts";
import { formatAddress } from "../src/transport/address.ts";
import { args, options } from "./_common.ts";
import { trustOptions } from "./_trust.ts";

const { flags, positional } = options(args);
const router = positional[0]!;
const codec = raw();
const echo = (_a: unknown, _cmd: number, body: unknown) => body;
const direct = new Cluster({ ...codec, call: echo });
const listener = await direct.listen("127.0.0.1:0");
const service = new Service({ id: 0x20001, routers: [router], ...codec, call: echo });
await service.start();
for (const mode of ["keys", "tls"] as const) {
  const at = flags.get(mode);
  if (at === undefined) continue;
  const trusted = new Service({
    id: 0x20001,
    routers: [at],
    ...codec,
    ...trustOptions(mode, "client", flags.get("certs")),
    call: echo,
  });
  await trusted.start();
}
console.log(`ready ${formatAddress(listener.address)}`);
