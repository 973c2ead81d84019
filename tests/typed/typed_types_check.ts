// Type-level tests of the typed command layer, run by typed_test.ts through
// `deno check` (this file is not a test module and is never run). Every line
// under a `// @ts-expect-error` must be a type error: if a wrong call stopped
// being one, the unused directive would fail the check. Lines without the
// directive must check cleanly. typed_test.ts also checks a copy without the
// directives (each of their lines, and only those, must then error) and a
// copy where one wrong call is made right (the check must then fail).
//
// It imports only src/cluster/typed.ts (types from the cluster, no Cluster
// value), so it checks the typed layer alone.

import { Commands } from "../../src/codec/commands.ts";
import { type CallContext, type ContextHost, type Peer, typed } from "../../src/cluster/typed.ts";

type Api = {
  add: { request: { a: number; b: number }; response: { sum: number } };
  ping: { request: { msg: string }; response: { msg: string } };
  notify: { request: { text: string } };
  stamp: { request: undefined; response: Date };
};

interface InterfaceApi {
  echo: { request: string; response: string };
}

declare const host: ContextHost;
declare const peer: Peer;
declare const context: CallContext;

const api = typed<Api>({
  add: 1,
  ping: { id: 2, response: "pong" },
  pong: 3,
  notify: 0x10,
  stamp: 4,
});
const client = api.client(host);

export async function calls(): Promise<void> {
  // Well-typed calls: the response has the declared type.
  const { sum } = await client.call(peer, "add", { a: 1, b: 2 });
  const n: number = sum;
  const { msg } = await client.call(peer, "ping", { msg: "hi" }, { timeout: 100 });
  const s: string = msg;
  const at: Date = await client.call(peer, "stamp", undefined);
  await client.send(peer, "notify", { text: "hello" });
  await client.send(peer, "add", { a: 1, b: 2 });
  void n, s, at;

  // @ts-expect-error: unknown command name
  await client.call(peer, "pnig", { msg: "hi" });
  // @ts-expect-error: unknown command name in send
  await client.send(peer, "nottify", { text: "hello" });
  // @ts-expect-error: "pong" is in the number table but not a command of the type
  await client.call(peer, "pong", { msg: "hi" });
  // @ts-expect-error: wrong request shape (b missing)
  await client.call(peer, "add", { a: 1 });
  // @ts-expect-error: wrong request field type
  await client.call(peer, "add", { a: 1, b: "2" });
  // @ts-expect-error: another command's request
  await client.call(peer, "add", { msg: "hi" });
  // @ts-expect-error: wrong request shape in send
  await client.send(peer, "notify", { message: "hello" });
  // @ts-expect-error: a one-way command cannot be called
  await client.call(peer, "notify", { text: "hello" });
  // @ts-expect-error: the body is required
  await client.call(peer, "ping");

  const reply = await client.call(peer, "add", { a: 1, b: 2 });
  // @ts-expect-error: using the response as the wrong type
  const wrong: string = reply.sum;
  // @ts-expect-error: a field the response does not have
  void reply.total;
  void wrong;

  // A handler's context gives a traced typed client too.
  const traced = api.client(context);
  const { msg: again } = await traced.call(peer, "ping", { msg: "hi" });
  void again;
  // @ts-expect-error: the traced client is typed as well
  await traced.call(peer, "ping", { text: "hi" });
}

// Handlers: each typed per command; a map may leave commands out.
export const handler = api.handlers({
  add: ({ a, b }) => ({ sum: a + b }),
  ping: ({ msg }, ctx) => {
    const inbound: boolean = ctx.peer.inbound;
    void inbound;
    return Promise.resolve({ msg });
  },
  notify: ({ text }) => {
    void text;
  },
  stamp: () => new Date(),
});
export const partial = api.handlers({ add: ({ a, b }) => ({ sum: a * b }) });

export const wrongReturn = api.handlers({
  // @ts-expect-error: wrong handler return type
  add: ({ a, b }) => ({ total: a + b }),
});
export const wrongAsyncReturn = api.handlers({
  // @ts-expect-error: wrong handler return type, through a promise
  ping: () => Promise.resolve({ msg: 1 }),
});
export const wrongRequestUse = api.handlers({
  // @ts-expect-error: the request has no such field
  add: ({ c }) => ({ sum: c }),
});
export const wrongRequestType = api.handlers({
  // @ts-expect-error: the request's field is a number, not a string
  ping: ({ msg }) => ({ msg: msg.toFixed(1) }),
});
export const unknownHandler = api.handlers({
  // @ts-expect-error: unknown command name in the handler map
  sub: () => ({ sum: 0 }),
});
export const oneWayReturns = api.handlers({
  // @ts-expect-error: a one-way command's handler returns nothing
  notify: () => ({ ok: true }),
});

// The number table must give a number to every command of the type.
// @ts-expect-error: the table lacks "ping"
typed<Api>({ add: 1, notify: 0x10, stamp: 4 });
// @ts-expect-error: a number table entry must be a number or { id, response? }
typed<Api>({ add: "1", ping: 2, notify: 0x10, stamp: 4 });

// Interfaces qualify as command table types too.
const ifaceApi = typed<InterfaceApi>({ echo: 7 });
export async function iface(): Promise<string> {
  return await ifaceApi.client(host).call(peer, "echo", "hi");
}
// @ts-expect-error: not an object of command types
typed<{ add: number }>({ add: 1 });

// A ready Commands qualifies when it names every command of the type.
const table = new Commands({
  add: 1,
  ping: { id: 2, response: "pong" },
  pong: 3,
  notify: 4,
  stamp: 5,
});
export const fromCommands = typed<Api>(table);
// @ts-expect-error: this Commands lacks "stamp"
typed<Api>(new Commands({ add: 1, ping: 2, notify: 4 }));
