/**
 * Routers at the centre of a star, as luabus has them: every service
 * process connects to every {@linkcode Router}, announces its service id
 * (`(group << 16) | index`), and calls other services through one router by
 * route: {@linkcode target}, {@linkcode random}, {@linkcode hash}
 * (rendezvous or luabus's fixed slots), {@linkcode broadcast},
 * {@linkcode master}. Unlike luabus, a call through a router gets a reply or
 * a coded error (`unreachable` at once for a missing target), and remote
 * errors, cancellation and deadlines cross the router as on a direct
 * connection.
 *
 * @example A router, a mail service hashed by account, and a caller
 * ```ts
 * import { hash, Router, Service, serviceId } from "@weft/cluster/router";
 * import { json } from "@weft/cluster/json";
 * import { transport } from "@weft/cluster/memory";
 *
 * await using router = new Router({ transport });
 * const { address } = await router.listen("127.0.0.1:0");
 * const routers = [`127.0.0.1:${address.port}`];
 * const codec = json({ commands: { send_mail: 1 } });
 * const MAIL = 2;
 * await using mail = new Service({
 *   id: serviceId(MAIL, 1),
 *   routers,
 *   ...codec,
 *   transport,
 *   call: (_source, _cmd, body) => `queued for ${(body as { to: string }).to}`,
 * });
 * await using game = new Service({ id: serviceId(1, 1), routers, ...codec, transport });
 * await mail.start();
 * await game.start();
 * const reply = await game.call(hash(MAIL, "alice"), "send_mail", { to: "bob" });
 * if (reply !== "queued for bob") throw new Error(`unexpected reply ${reply}`);
 * ```
 *
 * @module
 */

export * from "./service_id.ts";
export * from "./hash.ts";
export * from "./route.ts";
export * from "./router.ts";
export * from "./policy.ts";
export { DEFAULT_MAX_DEAD_SLOTS, DEFAULT_SLOT_GRACE } from "./slots.ts";
export * from "./service.ts";
export * from "./registry_masters.ts";
export * from "./registry_members.ts";
export type { GroupStats, RouterDescription } from "./router_stats.ts";
