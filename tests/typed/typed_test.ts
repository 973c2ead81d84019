import assert from "node:assert/strict";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { Logger } from "../../src/cluster/options.ts";
import { type CallContext, typed } from "../../src/cluster/typed.ts";
import { json } from "../../src/codec/json.ts";
import { msgpack } from "../../src/codec/msgpack.ts";
import { isWeftError, WeftError } from "../../src/errors.ts";
import { transport as memory } from "../../src/transport/memory.ts";
import { transport as deno } from "../../src/transport/deno.ts";
import type { Transport } from "../../src/transport/types.ts";
import { until } from "../_wait.ts";

// ---- type-level checks -------------------------------------------------------

const checkFile = fileURLToPath(new URL("./typed_types_check.ts", import.meta.url));
const config = fileURLToPath(new URL("../../deno.json", import.meta.url));
const srcUrl = pathToFileURL(fileURLToPath(new URL("../../src/", import.meta.url))).href;
const DIRECTIVE = /^\s*\/\/ @ts-expect-error\b.*$/;

async function denoCheck(file: string): Promise<{ success: boolean; output: string }> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "--config", config, file],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return { success, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** Checks `source` (typed_types_check.ts, changed) from a temporary file. */
async function checkVariant(source: string): Promise<{ success: boolean; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "weft_typed_" });
  try {
    const file = `${dir}/variant.ts`;
    await Deno.writeTextFile(file, source.replaceAll('"../../src/', `"${srcUrl}`));
    return await denoCheck(file);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("`typed()` type-level checks pass: every @ts-expect-error line is an error", async () => {
  const { success, output } = await denoCheck(checkFile);
  assert.ok(success, `deno check failed:\n${output}`);
});

Deno.test("`typed()` type-level checks: without the directives, each of their lines errors", async () => {
  const lines = (await Deno.readTextFile(checkFile)).split("\n");
  const expected = new Set<number>();
  const kept: string[] = [];
  for (const line of lines) {
    if (DIRECTIVE.test(line)) {
      expected.add(kept.length + 1); // the next line, numbered in the stripped file
      continue;
    }
    kept.push(line);
  }
  assert.ok(expected.size >= 20, `expected many directives, found ${expected.size}`);
  const { success, output } = await checkVariant(kept.join("\n"));
  assert.equal(success, false, "the stripped file should not type-check");
  const errored = new Set(
    // Each error's own location (related notes are indented further).
    [...output.matchAll(/^ {4}at \S*variant\.ts:(\d+):\d+$/gm)].map((match) => Number(match[1])),
  );
  const silent = [...expected].filter((line) => !errored.has(line));
  assert.deepEqual(silent, [], `lines that no longer error: ${silent.join(", ")}\n${output}`);
  const unexpected = [...errored].filter((line) => !expected.has(line));
  assert.deepEqual(unexpected, [], `errors on lines without a directive:\n${output}`);
});

Deno.test("`typed()` type-level checks fail when a wrong call becomes right", async () => {
  // Make the "wrong request shape" call well-typed but keep its directive:
  // the directive is then unused, and the check must fail.
  const source = await Deno.readTextFile(checkFile);
  const wrong = 'await client.call(peer, "add", { a: 1 });';
  assert.ok(source.includes(wrong));
  const { success, output } = await checkVariant(
    source.replace(wrong, 'await client.call(peer, "add", { a: 1, b: 2 });'),
  );
  assert.equal(success, false, "the check should fail");
  assert.match(output, /Unused '@ts-expect-error' directive/);
});

// ---- runtime behaviour -------------------------------------------------------

type Api = {
  add: { request: { a: number; b: number }; response: { sum: number } };
  ping: { request: { msg: string }; response: { msg: string } };
  notify: { request: { text: string } };
  relay: { request: { a: number; b: number }; response: { sum: number; trace: string } };
  stamp: { request: undefined; response: { at: number } };
};

const TABLE = {
  add: 1,
  ping: { id: 2, response: "pong" },
  pong: 3,
  notify: 0x10,
  relay: 4,
  stamp: 5,
} as const;

class MemoryLogger implements Logger {
  readonly errors: { message: string; detail: unknown }[] = [];
  error(message: string, detail?: unknown): void {
    this.errors.push({ message, detail });
  }
  warn(): void {}
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const transports: [string, Transport][] = [["memory", memory], ["deno", deno]];

for (const [label, transport] of transports) {
  Deno.test(`\`typed()\` (${label}) calls, sends and handlers end to end, json and msgpack`, async () => {
    for (const codec of [json, msgpack]) {
      const api = typed<Api>(TABLE);
      const notes: string[] = [];
      let relayed: CallContext | undefined;
      const logger = new MemoryLogger();
      await using server = new Cluster({
        ...codec({ commands: api.commands }),
        transport,
        logger,
        call: api.handlers({
          add: ({ a, b }) => ({ sum: a + b }),
          ping: async ({ msg }) => {
            await delay(1);
            return { msg: `pong: ${msg}` };
          },
          notify: ({ text }) => void notes.push(text),
          // Calls back the caller over the same connection, typed, carrying the trace id.
          relay: async (body, context) => {
            relayed = context;
            const { sum } = await api.client(context).call(context.peer, "add", body);
            return { sum, trace: context.traceId.toString(16) };
          },
          stamp: () => ({ at: 42 }),
        }),
      });
      const listener = await server.listen("127.0.0.1:0");
      await using node = new Cluster({
        ...codec({ commands: api.commands }),
        transport,
        logger,
        call: api.handlers({ add: ({ a, b }) => ({ sum: a * b }) }),
      });
      const client = api.client(node);
      assert.equal(client.host, node);
      const peer = node.connect(`127.0.0.1:${listener.address.port}`);

      const { sum } = await client.call(peer, "add", { a: 2, b: 3 });
      assert.equal(sum, 5);
      assert.deepEqual(await client.call(peer, "ping", { msg: "hi" }), { msg: "pong: hi" });
      assert.deepEqual(await client.call(peer, "stamp", undefined), { at: 42 });
      await client.send(peer, "notify", { text: "one" });
      await client.send(peer, "notify", { text: "two" });
      await until(() => notes.length === 2, 0, "the notifications");
      assert.deepEqual(notes, ["one", "two"]);

      // relay: the server's handler calls the client's add (a * b) back.
      const traceId = 0x1234_5678_9abc_0000n;
      const relay = await client.call(peer, "relay", { a: 4, b: 5 }, { traceId });
      assert.equal(relay.sum, 20);
      assert.equal(relay.trace, traceId.toString(16));
      assert.equal(relayed?.traceId, traceId);

      // Concurrent calls each get their own typed answer.
      const sums = await Promise.all(
        Array.from({ length: 20 }, (_, i) => client.call(peer, "add", { a: i, b: i })),
      );
      assert.deepEqual(sums.map((reply) => reply.sum), Array.from({ length: 20 }, (_, i) => 2 * i));
      assert.deepEqual(logger.errors, []);
    }
  });

  Deno.test(`\`typed()\` (${label}) a codec without a table: the client sends numbers`, async () => {
    const api = typed<Api>(TABLE);
    await using server = new Cluster({
      ...json(),
      transport,
      call: api.handlers({ add: ({ a, b }) => ({ sum: a + b }) }),
    });
    const listener = await server.listen("127.0.0.1:0");
    await using node = new Cluster({ ...json(), transport });
    const peer = node.connect(`127.0.0.1:${listener.address.port}`);
    const { sum } = await api.client(node).call(peer, "add", { a: 1, b: 2 });
    assert.equal(sum, 3);
  });

  Deno.test(`\`typed()\` (${label}) a command without a handler fails like an undecodable request`, async () => {
    const api = typed<Api>(TABLE);
    const logger = new MemoryLogger();
    const untyped: number[] = [];
    await using server = new Cluster({
      ...json(), // no table in the codec: the typed dispatcher sees every number
      transport,
      logger,
      call: api.handlers({ add: ({ a, b }) => ({ sum: a + b }) }),
    });
    const listener = await server.listen("127.0.0.1:0");
    await using fallbackServer = new Cluster({
      ...json(),
      transport,
      call: api.handlers({ add: ({ a, b }) => ({ sum: a + b }) }, {
        fallback: (_peer, cmd, body) => {
          untyped.push(cmd);
          return { untyped: body };
        },
      }),
    });
    const fallbackListener = await fallbackServer.listen("127.0.0.1:0");
    await using node = new Cluster({ ...json(), transport, timeout: 60 });
    const client = api.client(node);
    const peer = node.connect(`127.0.0.1:${listener.address.port}`);

    // In the table, no handler; then a number outside the table.
    const attempts = [
      {
        call: client.call(peer, "ping", { msg: "hi" }),
        why: /no handler for command "ping" \(2\)/,
      },
      { call: node.call(peer, 99, {}), why: /unknown command 99/ },
    ];
    for (const [i, { call, why }] of attempts.entries()) {
      const error = await call.then(() => assert.fail("expected a rejection"), (e: unknown) => e);
      assert.ok(isWeftError(error), String(error));
      if (error.code === "remote") {
        // weft mode: the handler's WeftError comes back.
        const remote = (error as WeftError & { remote: { code?: string } }).remote;
        assert.equal(remote.code, "unmarshal failed");
        assert.match(error.message, why);
      } else {
        // silly mode: logged, no answer; the caller times out.
        assert.equal(error.code, "timeout");
        await until(() => logger.errors.length > i, 0, "the logged failure");
        const cause = logger.errors[i]?.detail;
        assert.ok(isWeftError(cause, "unmarshal failed"), String(cause));
        assert.match(cause.message, why);
      }
    }

    // With a fallback, the rest reaches it, untyped.
    const other = node.connect(`127.0.0.1:${fallbackListener.address.port}`);
    assert.deepEqual(await node.call(other, 99, { x: 1 }), { untyped: { x: 1 } });
    assert.deepEqual(await client.call(other, "add", { a: 1, b: 1 }), { sum: 2 });
    assert.deepEqual(untyped, [99]);
  });
}

Deno.test("`typed()` rejects names outside the table, as the codecs do", async () => {
  const api = typed<Api>(TABLE);
  let called = 0;
  const host = {
    call: () => {
      called++;
      return Promise.resolve(undefined);
    },
    send: () => {
      called++;
      return Promise.resolve();
    },
  };
  const client = api.client(host);
  // deno-lint-ignore no-explicit-any
  const untyped = client as any;
  await assert.rejects(untyped.call(null, "pnig", {}), TypeError);
  await assert.rejects(untyped.send(null, "pnig", {}), TypeError);
  await assert.rejects(untyped.call(null, 1, {}), TypeError);
  assert.equal(called, 0);
  // The table's numbers go to the host.
  const seen: unknown[] = [];
  const recording = api.client({
    call: (_peer, cmd, body) => {
      seen.push(cmd, body);
      return Promise.resolve({ sum: 3 });
    },
    send: (_peer, cmd) => {
      seen.push(cmd);
      return Promise.resolve();
    },
  });
  // deno-lint-ignore no-explicit-any
  const peer = null as any;
  assert.deepEqual(await recording.call(peer, "add", { a: 1, b: 2 }), { sum: 3 });
  await recording.send(peer, "notify", { text: "x" });
  assert.deepEqual(seen, [1, { a: 1, b: 2 }, 0x10]);
});

Deno.test("`typed()` option errors are TypeErrors naming what is wrong", () => {
  const api = typed<Api>(TABLE);
  // deno-lint-ignore no-explicit-any
  const untyped = api as any;
  assert.throws(() => untyped.handlers(null), /Invalid handlers/);
  assert.throws(() => untyped.handlers({ sub: () => 1 }), /Unknown command: "sub"/);
  assert.throws(() => untyped.handlers({ add: 1 }), /Invalid handler "add"/);
  assert.throws(() => untyped.handlers({}, { fallback: 1 }), /Invalid option fallback/);
  assert.throws(() => untyped.client({}), /Invalid client host/);
  // A malformed number table, from the Commands constructor.
  assert.throws(() => typed<Api>({ ...TABLE, pong: 1 }), /share the number 1/);
  assert.throws(
    () => typed<Api>({ ...TABLE, ping: { id: 2, response: "png" } }),
    /names no command/,
  );
  // The handler maps a number to its command and passes the body and context.
  const seen: unknown[] = [];
  const handle = api.handlers({
    add: (body, context) => {
      seen.push(body, context);
      return { sum: 0 };
    },
  });
  // deno-lint-ignore no-explicit-any
  const context = { cmd: 1 } as any;
  // deno-lint-ignore no-explicit-any
  assert.deepEqual(handle(null as any, 1, { a: 1, b: 2 }, context), { sum: 0 });
  assert.deepEqual(seen, [{ a: 1, b: 2 }, context]);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => handle(null as any, 3, {}, context), (error: unknown) => {
    return error instanceof WeftError && error.code === "unmarshal failed" &&
      /no handler for command "pong" \(3\)/.test(error.message);
  });
});
