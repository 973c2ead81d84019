// A process of the demo's router part (examples/demo.ts), the same file on
// Deno, Bun and Node. Either a named node (examples/_demo_named.ts), or a router that takes its masters from the
// registry, or a service that registers with the routers and campaigns for
// master of its group in the registry. REGISTRY is a registry node's
// `host:port` (examples/registry_node.ts) or an etcd http(s) URL.
//
//   deno run -A examples/_demo_part.ts node REGISTRY NAMESPACE
//   deno run -A examples/_demo_part.ts router REGISTRY NAMESPACE GROUP[,GROUP...]
//   deno run -A examples/_demo_part.ts service REGISTRY NAMESPACE ID ROUTER[,ROUTER...]
//
// Prints `listening HOST:PORT` (router), `started` (service, named node),
// `named [REPORT...]` (a named node called the others) and `master
// FENCE` (a service elected). A service answers `whoami` with its id and
// runtime. Exits by itself after 120 s, so an interrupted demo leaves no
// process behind.

import { json } from "../src/codec/json.ts";
import { formatAddress } from "../src/transport/address.ts";
import { detectRuntime } from "../src/transport/detect.ts";
import { openRegistry, startNamedNode } from "./_demo_named.ts";
import {
  masterElection,
  registerRouter,
  registryMasters,
  Router,
  Service,
  serviceInstanceId,
} from "../src/router/mod.ts";

declare const process: { argv: string[]; exit(code: number): never };
const argv = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const [role, endpoint, namespace, arg, routers] = argv;
if (!role || !endpoint || !namespace) throw new Error("usage: ROLE REGISTRY NAMESPACE ...");
const runtime = detectRuntime() ?? "unknown";
// Lease TTL of a master's election, ms: how long a dead master holds its group.
const DEMO_TTL = 1000;

setTimeout(() => {
  console.error(`demo ${role} (${runtime}): still running after 120 s, exiting`);
  process.exit(1);
}, 120_000);

const logger = {
  error: (message: string, detail?: unknown) => console.error(message, String(detail ?? "")),
  warn: (message: string, detail?: unknown) => console.error(message, String(detail ?? "")),
};
const registry = openRegistry(endpoint!, namespace!);

if (role === "node") {
  // A named node: stays up (answering the others) until the demo stops it.
  const node = await startNamedNode(registry);
  console.log("started");
  console.log(`named ${JSON.stringify(await node.run(30_000))}`);
} else if (role === "router") {
  const groups = arg!.split(",").map(Number);
  const router = new Router({
    heartbeatInterval: 300,
    masters: registryMasters(registry, { groups, onError: (e) => logger.error("masters", e) }),
    // Numbers for the dashboard (weft dashboard), which finds the router in the registry.
    stats: { remote: true },
    logger,
  });
  const listener = await router.listen("127.0.0.1:0");
  const address = formatAddress(listener.address);
  await registerRouter(registry, address, { ttl: DEMO_TTL });
  console.log(`listening ${address}`);
} else if (role === "service") {
  const id = Number(arg);
  const service = new Service({
    id,
    routers: routers!.split(","),
    ...json({ commands: { whoami: 1 } }),
    heartbeatInterval: 300,
    retryInterval: 200,
    timeout: 1000,
    logger,
    stats: { remote: true },
    call: () => ({ id, runtime }),
  });
  // A loaded machine can take longer than a call's second to connect: start
  // again (it keeps trying the routers meanwhile) rather than give up.
  for (let attempt = 1;; attempt++) {
    try {
      await service.start();
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== "unreachable" || attempt >= 20) throw error;
    }
  }
  console.log("started");
  const instance = { id: serviceInstanceId(id), address: "127.0.0.1:0", metadata: { runtime } };
  for (let attempt = 0; attempt < 1000; attempt++) {
    try {
      const leadership = await registry.campaign(masterElection(id >>> 16), instance, {
        ttl: DEMO_TTL,
      });
      console.log(`master ${leadership.master.fence}`);
      await new Promise((resolve) => leadership.signal.addEventListener("abort", resolve));
      console.log(`lost ${leadership.master.fence}`);
    } catch (error) {
      logger.error("campaign failed", error);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
} else {
  console.error("usage: _demo_part.ts router|service REGISTRY NAMESPACE ...");
  process.exit(2);
}
