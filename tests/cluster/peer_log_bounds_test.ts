// Lines a peer can make a node write, bounded (real loopback sockets): a
// request to a node without a `call` hook, an answer the codec cannot
// marshal, a throwing `errorInfo` hook and a cancelled call's handler
// stopping (at info level) each happen once per request a
// peer sends, so each goes through the node's fault log (at most
// `faultLogLimit` lines a second per kind, the rest counted), never one
// line per request.

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { json } from "../../src/codec/json.ts";
import { raw } from "../../src/codec/raw.ts";
import { isWeftError, RemoteError } from "../../src/errors.ts";
import { counting } from "./_log_lines.ts";

const CALLS = 2000;
const LIMIT = 5;

/**
 * Makes `CALLS` calls of `body` to `node` from a fresh client; every one
 * must be refused remotely. Returns how many fault-log windows (seconds) the
 * flood can have spanned.
 */
async function flood(
  node: Cluster,
  codec: ReturnType<typeof raw> | ReturnType<typeof json>,
  body: unknown,
): Promise<number> {
  const started = performance.now();
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
  return Math.ceil((performance.now() - started) / 1000) + 1;
}

/** The lines containing `text`: at least one (the first is logged), at most LIMIT per window. */
function bounded(lines: string[], text: string, windows: number, requests = CALLS): number {
  const matching = lines.filter((line) => line.includes(text)).length;
  assert.ok(matching >= 1, `no "${text}" line: ${lines.join("\n")}`);
  assert.ok(
    matching <= LIMIT * windows,
    `${matching} "${text}" lines for ${requests} requests or connections in ${windows} windows`,
  );
  return matching;
}

Deno.test("requests to a node without a call hook log at most faultLogLimit lines a second", async () => {
  const server = counting();
  await using node = new Cluster({ ...raw(), logger: server.logger, faultLogLimit: LIMIT });
  const windows = await flood(node, raw(), new Uint8Array(4));
  assert.equal(server.lines.length, bounded(server.lines, "No call handler", windows));
});

Deno.test("answers the codec cannot marshal log at most faultLogLimit lines a second; callers get the coded error", async () => {
  const server = counting();
  await using node = new Cluster({
    ...json(),
    logger: server.logger,
    faultLogLimit: LIMIT,
    call: () => ({ big: 1n }), // JSON cannot encode a bigint
  });
  const windows = await flood(node, json(), { n: 1 });
  assert.equal(server.lines.length, bounded(server.lines, "Cannot marshal response", windows));
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
  const windows = await flood(node, raw(), new Uint8Array(4));
  const hook = bounded(server.lines, "errorInfo hook threw", windows);
  const threw = bounded(server.lines, "Handler for cmd 1", windows);
  assert.equal(server.lines.length, hook + threw, server.lines.join("\n"));
});

Deno.test("calls a peer cancels stop their handlers with one coded reason, and log at most faultLogLimit info lines a second", async () => {
  const CANCELLED = 1000; // within maxInflightPerConnection: every one is running when cancelled
  const server = counting();
  const logger = {
    ...server.logger,
    info: (message: string) => server.lines.push(`info ${message}`),
  };
  const reasons: unknown[] = [];
  let running = 0;
  const allRunning = Promise.withResolvers<void>();
  const allStopped = Promise.withResolvers<void>();
  await using node = new Cluster({
    ...raw(),
    logger,
    faultLogLimit: LIMIT,
    call: (_peer, _cmd, _body, context) =>
      new Promise((_, reject) => {
        if (++running === CANCELLED) allRunning.resolve();
        context.signal.addEventListener("abort", () => {
          reasons.push(context.signal.reason);
          if (reasons.length === CANCELLED) allStopped.resolve();
          reject(context.signal.reason);
        }, { once: true });
      }),
  });
  const started = performance.now();
  const listener = await node.listen("127.0.0.1:0");
  await using client = new Cluster({ ...raw(), logger: counting().logger });
  const peer = client.connect(`127.0.0.1:${listener.address.port}`);
  const controllers = Array.from({ length: CANCELLED }, () => new AbortController());
  const calls = controllers.map((c) =>
    client.call(peer, 1, new Uint8Array(1), { signal: c.signal, timeout: 30_000 })
  );
  await allRunning.promise;
  for (const c of controllers) c.abort();
  const outcomes = await Promise.allSettled(calls);
  assert.ok(outcomes.every((o) => o.status === "rejected"));
  await allStopped.promise;
  const windows = Math.ceil((performance.now() - started) / 1000) + 1;
  for (const reason of reasons) {
    assert.ok(isWeftError(reason, "aborted"), String(reason));
    assert.match((reason as Error).message, /^Call cancelled by inbound 127\.0\.0\.1:\d+$/);
  }
  // Beside them, the connection's own lines (accepted, closed): one each.
  const lines = server.lines.filter((line) => !/^info (Accepted|Closed) /.test(line));
  assert.equal(lines.length, bounded(lines, "stopped", windows, CANCELLED), lines.join("\n"));
  assert.ok(lines.every((line) => line.startsWith("info ")), lines.join("\n"));
});

Deno.test("a peer connecting and hanging up in a loop logs at most faultLogLimit info lines a second of each (accepted, closed), the rest counted", async () => {
  const CONNECTIONS = 300;
  const server = counting();
  const logger = {
    ...server.logger,
    info: (message: string) => server.lines.push(`info ${message}`),
  };
  let closed = 0;
  const allClosed = Promise.withResolvers<void>();
  await using node = new Cluster({
    ...raw(),
    logger,
    faultLogLimit: LIMIT,
    close: () => {
      if (++closed === CONNECTIONS) allClosed.resolve();
    },
  });
  const started = performance.now();
  const listener = await node.listen("127.0.0.1:0");
  for (let i = 0; i < CONNECTIONS; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.address.port });
    conn.close();
  }
  await allClosed.promise;
  const windows = Math.ceil((performance.now() - started) / 1000) + 1;
  const accepted = bounded(server.lines, "info Accepted", windows, CONNECTIONS);
  const closedLines = server.lines.filter((line) => line.startsWith("info Closed")).length;
  const faults = server.lines.filter((line) => !line.startsWith("info ")).length;
  // A hang-up before the handshake is the peer's fault (`handshake`), on
  // the fault log's own budget; a clean close (none here) an info line.
  assert.ok(closedLines <= LIMIT * windows, server.lines.join("\n"));
  assert.ok(faults <= LIMIT * windows, server.lines.join("\n"));
  assert.ok(accepted + closedLines + faults < CONNECTIONS, server.lines.join("\n"));
});
