import assert from "node:assert/strict";
import { Commands, MAX_COMMAND_ID, toCommands } from "../../src/codec/commands.ts";

const table = {
  ping: { id: 1, response: "pong" },
  pong: 2,
  add: { id: 3, response: 40 },
  notify: 0x10,
} as const;

Deno.test("`Commands` maps names to numbers and back", () => {
  const commands = new Commands(table);
  assert.equal(commands.idOf("ping"), 1);
  assert.equal(commands.idOf("notify"), 0x10);
  assert.equal(commands.nameOf(2), "pong");
  assert.equal(commands.nameOf(40), undefined);
  assert.deepEqual(commands.names(), ["ping", "pong", "add", "notify"]);
  assert.ok(commands.has("add") && commands.has(3) && !commands.has("sum") && !commands.has(4));
});

Deno.test("`Commands` resolves each command's response", () => {
  const commands = new Commands(table);
  assert.equal(commands.responseIdOf("ping"), 2);
  assert.equal(commands.responseIdOf(1), 2);
  assert.equal(commands.responseNameOf("ping"), "pong");
  assert.equal(commands.responseIdOf("add"), 40);
  assert.equal(commands.responseNameOf(3), undefined);
  assert.equal(commands.responseIdOf("notify"), 0x10, "no response: answered by itself");
  assert.equal(commands.responseIdOf(77), 77, "a number outside the table answers itself");
});

Deno.test("`Commands.toWire()` refuses unknown names and (closed) numbers", () => {
  const commands = new Commands(table);
  assert.equal(commands.toWire("ping"), 1);
  assert.equal(commands.toWire(2), 2);
  // @ts-expect-error: not a name of the table
  assert.throws(() => commands.toWire("pnig"), TypeError);
  assert.throws(() => commands.toWire(99), TypeError);
  assert.throws(() => commands.toWire(-1), RangeError);
  assert.throws(() => commands.toWire(1.5), RangeError);
  assert.throws(() => commands.toWire(MAX_COMMAND_ID + 1), RangeError);
  // @ts-expect-error: not a name or a number
  assert.throws(() => commands.toWire(null), TypeError);
  // @ts-expect-error: not a name of the table
  assert.throws(() => commands.idOf("nope"), TypeError);
  assert.throws(() => commands.responseIdOf("nope" as "ping"), TypeError);
  assert.ok(commands.accepts(1) && !commands.accepts(99));
});

Deno.test("`Commands` with `open: true` lets any u32 number through", () => {
  const commands = new Commands(table, { open: true });
  assert.equal(commands.toWire(99), 99);
  assert.equal(commands.toWire(MAX_COMMAND_ID), MAX_COMMAND_ID);
  assert.ok(commands.accepts(99) && !commands.accepts(-1) && !commands.accepts(2 ** 32));
  assert.throws(() => commands.toWire("nope" as "ping"), TypeError, "names stay closed");
});

Deno.test("`Commands` refuses malformed tables", () => {
  assert.throws(() => new Commands({ a: 1, b: 1 }), TypeError, "shared number");
  assert.throws(
    () => new Commands({ a: { id: 1, response: "zz" } }),
    TypeError,
    "unknown response",
  );
  assert.throws(() => new Commands({ a: -1 }), RangeError);
  assert.throws(() => new Commands({ a: 2 ** 32 }), RangeError);
  assert.throws(() => new Commands({ a: { id: 1, response: -5 } }), RangeError);
  // @ts-expect-error: not a spec
  assert.throws(() => new Commands({ a: "1" }), TypeError);
  // @ts-expect-error: not a spec
  assert.throws(() => new Commands({ a: { response: "a" } }), TypeError);
  // @ts-expect-error: not a table
  assert.throws(() => new Commands(null), TypeError);
  assert.equal(new Commands({ a: { id: 0, response: "a" } }).responseIdOf("a"), 0);
});

Deno.test("`toCommands()` keeps a ready table and wraps a declared one", () => {
  const commands = new Commands(table);
  assert.equal(toCommands(commands), commands);
  assert.equal(toCommands(table).idOf("add"), 3);
});
