// Lines a peer can make a node write, bounded (real loopback sockets): a
// request to a node without a `call` hook, an answer the codec cannot
// marshal, and a throwing `errorInfo` hook each happen once per request a
// peer sends, so each goes through the node's fault log (at most
// `faultLogLimit` lines a second per kind, the rest counted), never one
// line per request.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { json } from "../../src/codec/json.ts";
import { raw } from "../../src/codec/raw.ts";
import { RemoteError } from "../../src/errors.ts";

const CALLS = 2000;
const LIMIT = 5;

function counting() {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      error: (message: string) => lines.push(`error ${message}`),
      warn: (message: string) => lines.push(`warn ${message}`),
    },
  };
}

/** Makes `CALLS` calls of `body` to `node` from a fresh client; every one must be refused remotely. */
async function flood(
  node: Cluster,
  codec: ReturnType<typeof raw> | ReturnType<typeof json>,
  body: unknown,
) {
  const listener = await node.listen("127.0.0.1:0");
  await using client = new Cluster({ ...codec, logger: counting().logger });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  const outcomes = await Promise.allSettled(
    Array.from({ length: CALLS }, () => client.call(peer, 1, body as never)),
  );
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    assert.ok((outcome as PromiseRejectedResult).reason instanceof RemoteError);
  }
}

Deno.test("requests to a node without a call hook log at most faultLogLimit lines a second", async () => {
  const server = counting();
  await using node = new Cluster({ ...raw(), logger: server.logger, faultLogLimit: LIMIT });
  const started = performance.now();
  await flood(node, raw(), new Uint8Array(4));
  const seconds = Math.ceil((performance.now() - started) / 1000) + 1;
  const noHandler = server.lines.filter((line) => line.includes("No call handler"));
  assert.ok(noHandler.length >= 1, "the first refusal is logged");
  assert.ok(
    noHandler.length <= LIMIT * seconds,
    `${noHandler.length} lines for ${CALLS} requests in ${seconds} s windows`,
  );
  assert.equal(server.lines.length, noHandler.length, server.lines.join("\n"));
});

Deno.test("answers the codec cannot marshal log at most faultLogLimit lines a second; callers get the coded error", async () => {
  const server = counting();
  await using node = new Cluster({
    ...json(),
    logger: server.logger,
    faultLogLimit: LIMIT,
    call: () => ({ big: 1n }), // JSON cannot encode a bigint
  });
  const started = performance.now();
  await flood(node, json(), { n: 1 });
  const seconds = Math.ceil((performance.now() - started) / 1000) + 1;
  const marshal = server.lines.filter((line) => line.includes("Cannot marshal response"));
  assert.ok(marshal.length >= 1, "the first failure is logged");
  assert.ok(marshal.length <= LIMIT * seconds, `${marshal.length} lines in ${seconds} s windows`);
  assert.equal(server.lines.length, marshal.length, server.lines.join("\n"));
});

Deno.test("a throwing errorInfo hook logs at most faultLogLimit lines a second, beside the handler's own", async () => {
  const server = counting();
  await using node = new Cluster({
    ...raw(),
    logger: server.logger,
    faultLogLimit: LIMIT,
    call: () => {
      throw new Error("handler failed");
    },
    errorInfo: () => {
      throw new Error("errorInfo failed");
    },
  });
  const started = performance.now();
  await flood(node, raw(), new Uint8Array(4));
  const seconds = Math.ceil((performance.now() - started) / 1000) + 1;
  const hook = server.lines.filter((line) => line.includes("errorInfo hook threw"));
  const threw = server.lines.filter((line) => / threw/.test(line) && !line.includes("errorInfo"));
  assert.ok(hook.length >= 1 && threw.length >= 1, server.lines.join("\n"));
  assert.ok(hook.length <= LIMIT * seconds, `${hook.length} errorInfo lines in ${seconds} s`);
  assert.ok(threw.length <= LIMIT * seconds, `${threw.length} handler lines in ${seconds} s`);
  assert.equal(server.lines.length, hook.length + threw.length, server.lines.join("\n"));
});
