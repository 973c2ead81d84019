/**
 * Peer recognition wired into the connection (src/protocol/weft/handshake.ts
 * asks src/protocol/peer_recognition.ts; the channel keeps the first bytes
 * until the handshake is over), over real loopback sockets:
 *
 * - a weft listener met by raw TCP clients that send an HTTP request, a TLS
 *   ClientHello, silly's v1 frames, silly's v2 frames: the connection closes
 *   with a `protocol` error (seen by the `close` hook) whose message says
 *   what the client is and what to do, and the node's log (the rate-limited
 *   fault log) carries the same line;
 * - a weft client calling raw servers that answer its HELLO with an HTTP
 *   response, a TLS alert, silly's frames, or hang up without a byte: the
 *   call rejects with the coded error naming what is there, and the client's
 *   log says so.
 */

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import type { Peer } from "../../src/connection/peer.ts";
import { raw } from "../../src/codec/raw.ts";
import { isWeftError, type WeftError } from "../../src/errors.ts";
import { transport } from "../../src/transport/deno.ts";
import type { Framing } from "../../src/wire/frame.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";
import { MemoryLogger, until } from "../cluster/cases.ts";

const enc = new TextEncoder();

/** silly's frames as a silly node sends them: a request with a body, in `framing`. */
function sillyFrames(framing: Framing, response = false): Uint8Array {
  const e = new FrameEncoder({ framing });
  if (response) e.response(1, enc.encode('"ok"'));
  else {e.request(
      { session: 1, cmd: 7, traceHi: 0x11223344, traceLo: 0x55667788 },
      enc.encode("hi"),
    );}
  return e.take().slice();
}

/** The start of a TLS 1.2/1.3 ClientHello record (what a TLS client sends first). */
const CLIENT_HELLO = Uint8Array.of(
  0x16,
  0x03,
  0x01,
  0x00,
  0xf1,
  0x01,
  0x00,
  0x00,
  0xed,
  0x03,
  0x03,
  ...new Uint8Array(32),
);

/** A TLS alert record: fatal, protocol_version (what a TLS server answers bytes that are not TLS). */
const TLS_ALERT = Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46);

interface Closed {
  peer: Peer;
  error: WeftError;
}

/**
 * A weft node listening on loopback; a raw TCP client writes `bytes` to it
 * and waits for the node to close the connection. Returns the error the
 * node closed it with (from its `close` hook) and its log.
 */
async function rawClientAgainstWeft(
  bytes: Uint8Array,
): Promise<{ closed: Closed; log: string[] }> {
  const logger = new MemoryLogger();
  const closes: Closed[] = [];
  const server = new Cluster({
    codec: raw(),
    transport,
    logger,
    call: () => undefined,
    close: (peer, error) => closes.push({ peer, error }),
  });
  try {
    const listener = await server.listen("127.0.0.1:0");
    const conn = await transport.connect(`127.0.0.1:${listener.address.port}`);
    try {
      const ended = Promise.withResolvers<void>();
      conn.start({ data: () => {}, close: () => ended.resolve() });
      conn.write(bytes);
      await ended.promise;
    } finally {
      await conn.close();
    }
    await until(() => closes.length > 0, 20_000, "the node's close hook");
    return { closed: closes[0]!, log: [...logger.errors, ...logger.warnings] };
  } finally {
    await server.close();
  }
}

Deno.test("a weft listener names a raw HTTP client: protocol error, the advice, and the log line", async () => {
  const { closed, log } = await rawClientAgainstWeft(
    enc.encode("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"),
  );
  assert.ok(isWeftError(closed.error, "protocol"), String(closed.error));
  assert.match(
    closed.error.message,
    /^Protocol mismatch: inbound 127\.0\.0\.1:\d+ sent frames without weft's HELLO \(length \d+ exceeds the handshake frame's size \d+\): it is an HTTP client \(it sent "GET \/metrics HTTP\/1\.1"\): this port speaks weft's binary protocol, not HTTP/,
  );
  assert.doesNotMatch(closed.error.message, /silly/);
  assert.ok(
    log.some((line) => line === `Closed ${closed.peer}: ${closed.error.message}`),
    log.join("\n"),
  );
});

Deno.test("a weft listener names a raw TLS ClientHello: set tls on this listener", async () => {
  const { closed, log } = await rawClientAgainstWeft(CLIENT_HELLO);
  assert.ok(isWeftError(closed.error, "protocol"), String(closed.error));
  assert.match(
    closed.error.message,
    /sent frames without weft's HELLO \(.*\): it is a TLS client \(it sent a TLS ClientHello\): this listener is plain TCP: give it tls options \(cert and key\), or connect without tls$/,
  );
  assert.ok(log.some((line) => line.includes("a TLS client (it sent a TLS ClientHello)")));
});

Deno.test("a weft listener names silly's v1 frames (the other framing) and silly's v2 frames (use protocol silly)", async () => {
  const v1 = await rawClientAgainstWeft(sillyFrames("v1"));
  assert.ok(isWeftError(v1.closed.error, "protocol"), String(v1.closed.error));
  assert.match(
    v1.closed.error.message,
    /without weft's HELLO.*: it is a node using framing "v1" \(this node: "v2"\).*give both nodes the same framing option/,
  );
  assert.ok(v1.log.some((line) => /framing "v1" \(this node: "v2"\)/.test(line)));

  const v2 = await rawClientAgainstWeft(sillyFrames("v2"));
  assert.ok(isWeftError(v2.closed.error, "protocol"), String(v2.closed.error));
  assert.match(
    v2.closed.error.message,
    /^Protocol mismatch: inbound .* sent frames without weft's HELLO: it is a silly node, or a weft node in silly mode \(it sent silly's frames without weft's HELLO\): serve it with protocol "silly" on this node, or make it speak weft$/,
  );
  assert.ok(v2.log.some((line) => line.includes('serve it with protocol "silly"')));
});

/**
 * A raw server on loopback that answers the first bytes it receives with
 * `answer` (nothing: it hangs up) and closes; a weft client calls it.
 * Returns the call's error and the client's log.
 */
async function weftClientAgainstRaw(
  answer: Uint8Array | null,
): Promise<{ error: WeftError; log: string[]; address: string }> {
  const listener = await transport.listen("127.0.0.1:0", (conn) => {
    conn.start({
      data: () => {
        if (answer !== null) conn.write(answer);
        void conn.close();
      },
      close: () => {},
    });
  });
  const logger = new MemoryLogger();
  const client = new Cluster({ codec: raw(), transport, logger, connectTimeout: 20_000 });
  const address = `127.0.0.1:${listener.address.port}`;
  try {
    const error = await client.call(client.connect(address), 1, new Uint8Array(0), {
      timeout: 20_000,
    }).then(
      () => assert.fail("a call to something that is not weft answered"),
      (e: WeftError) => e,
    );
    return { error, log: [...logger.errors, ...logger.warnings], address };
  } finally {
    await client.close();
    await listener.close();
  }
}

Deno.test("a weft client calling an HTTP server: protocol error naming it, no silly advice, logged", async () => {
  const { error, log, address } = await weftClientAgainstRaw(
    enc.encode("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
  );
  assert.ok(isWeftError(error, "protocol"), String(error));
  assert.match(
    error.message,
    new RegExp(
      `^Protocol mismatch: outbound ${
        address.replaceAll(".", "\\.")
      } answered without weft's HELLO_ACK \\(.*\\): it is an HTTP server \\(it answered "HTTP/1\\.1 400 Bad Request"\\): check the address: weft speaks its own binary protocol over TCP, not HTTP`,
    ),
  );
  assert.doesNotMatch(error.message, /silly/);
  assert.ok(log.some((line) => line.includes(error.message)), log.join("\n"));
});

Deno.test("a weft client calling a TLS port with plain TCP: a TLS server, connect with tls", async () => {
  const { error } = await weftClientAgainstRaw(TLS_ALERT);
  assert.ok(isWeftError(error, "protocol"), String(error));
  assert.match(
    error.message,
    /answered without weft's HELLO_ACK.*: it is a TLS server \(it answered with a TLS record, alert protocol_version\): connect with tls options/,
  );
});

Deno.test("a weft client calling a silly node: talk to it with protocol silly", async () => {
  const { error } = await weftClientAgainstRaw(sillyFrames("v2", true));
  assert.ok(isWeftError(error, "protocol"), String(error));
  assert.match(
    error.message,
    /answered without weft's HELLO_ACK: it is a silly node, or a weft node in silly mode \(it answered weft's HELLO with silly's frames\): talk to it with protocol "silly"$/,
  );
});

Deno.test("a weft client whose peer hangs up without a byte: closed, with the likely causes", async () => {
  const { error } = await weftClientAgainstRaw(null);
  assert.ok(isWeftError(error, "closed"), String(error));
  assert.match(
    error.message,
    /before it answered weft's HELLO: it refused this node \(its log says why.*\), or it is not a weft node: a node in silly mode \(use protocol "silly"\), or a TLS port \(this connection is plain TCP: set tls\)/,
  );
});
