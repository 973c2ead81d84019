/**
 * What is on the other end (src/protocol/peer_recognition.ts): first the
 * recogniser fed bytes by hand (whole and split at every offset), then the
 * bytes real peers send, captured over loopback: an HTTP server and TLS
 * listeners of weft's transport in a child process on Deno, Bun and Node
 * (tests/protocol/_other_ends.ts), an HTTP client (`fetch`), a TLS client,
 * silly-mode clusters in both framings, and a weft HELLO of another
 * version, each against a weft node whose log must name what it met.
 */

import assert from "node:assert/strict";
import { Cluster } from "../../src/cluster/cluster.ts";
import { FirstBytes } from "../../src/protocol/mode.ts";
import {
  closedBeforeHello,
  firstBytesHint,
  handshakeMismatch,
  type PeerKind,
  type PeerSituation,
  recognisePeer,
} from "../../src/protocol/peer_recognition.ts";
import { ControlCmd, encodeHello, HELLO_PAYLOAD } from "../../src/protocol/weft/protocol.ts";
import { raw } from "../../src/codec/raw.ts";
import { isWeftError, WeftError } from "../../src/errors.ts";
import { transport } from "../../src/transport/deno.ts";
import type { CloseInfo, ConnectOptions } from "../../src/transport/types.ts";
import type { Framing } from "../../src/wire/frame.ts";
import { FrameEncoder } from "../../src/wire/frame_encoder.ts";
import { type RuntimeName, spawnScript } from "../_runtimes.ts";
import { makeCerts } from "../security/_certs.ts";
import { MemoryLogger, until } from "../cluster/cases.ts";

const enc = new TextEncoder();

function helloFrame(framing: Framing, version = 1, cmd: number = ControlCmd.Hello): Uint8Array {
  const payload = HELLO_PAYLOAD.slice();
  payload[4] = version & 0xff;
  payload[5] = version >> 8;
  const e = new FrameEncoder({ framing });
  e.request({ session: 0, cmd, traceHi: 0, traceLo: 0 }, payload);
  return e.take().slice();
}

function sillyRequest(framing: Framing): Uint8Array {
  const e = new FrameEncoder({ framing });
  e.request({ session: 1, cmd: 7, traceHi: 0x11223344, traceLo: 0x55667788 }, enc.encode('"hi"'));
  return e.take().slice();
}

function firstOf(...chunks: Uint8Array[]): FirstBytes {
  const first = new FirstBytes();
  for (const chunk of chunks) first.note(chunk);
  return first;
}

function situation(
  bytes: Uint8Array,
  more: Partial<Omit<PeerSituation, "first">> = {},
): PeerSituation {
  return { first: firstOf(bytes), framing: "v2", hardLimit: 4 * 1024 * 1024, ...more };
}

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

/** Bytes, the side that received them, and what they must be recognised as. */
const KNOWN: [string, Uint8Array, Partial<PeerSituation>, PeerKind | undefined, RegExp][] = [
  [
    "an HTTP response",
    enc.encode("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"),
    { connecting: true },
    "http server",
    /an HTTP server \(it answered "HTTP\/1\.1 400 Bad Request"\): check the address/,
  ],
  [
    "an HTTP request",
    enc.encode("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
    {},
    "http client",
    /an HTTP client \(it sent "GET \/metrics HTTP\/1\.1"\).*not HTTP/,
  ],
  [
    "HTTP/2's preface",
    enc.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    {},
    "http client",
    /HTTP client/,
  ],
  [
    "a TLS ClientHello",
    CLIENT_HELLO,
    {},
    "tls client",
    /a TLS client .*ClientHello.*plain TCP: give it tls options/,
  ],
  [
    "a TLS alert (decode_error)",
    Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 50),
    { connecting: true },
    "tls server",
    /a TLS server \(it answered with a TLS record, alert decode_error\): connect with tls/,
  ],
  [
    "a TLS alert (protocol_version)",
    Uint8Array.of(0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 70),
    { connecting: true },
    "tls server",
    /alert protocol_version/,
  ],
  [
    "weft's HELLO of version 2",
    helloFrame("v2", 2),
    {},
    "weft version",
    /a weft node of protocol version 2 \(this node: 1\)/,
  ],
  [
    "weft's HELLO_ACK of version 3",
    helloFrame("v2", 3, ControlCmd.HelloAck),
    { connecting: true },
    "weft version",
    /protocol version 3/,
  ],
  [
    "weft's HELLO in framing v1, to a v2 node",
    helloFrame("v1"),
    {},
    "weft framing",
    /a weft node using framing "v1" \(this node: "v2"\)/,
  ],
  [
    "weft's HELLO in framing v2, to a v1 node",
    helloFrame("v2"),
    { framing: "v1" },
    "weft framing",
    /a weft node using framing "v2" \(this node: "v1"\)/,
  ],
  [
    "silly's request (v2) without HELLO",
    sillyRequest("v2"),
    {},
    "silly",
    /silly's frames without weft's HELLO\): serve it with protocol "silly"/,
  ],
  [
    "silly's request (v1) to a v1 node",
    sillyRequest("v1"),
    { framing: "v1" },
    "silly",
    /silly node/,
  ],
  [
    "silly's request (v1) to a v2 node",
    sillyRequest("v1"),
    {},
    "silly framing",
    /framing "v1" \(this node: "v2"\)/,
  ],
  [
    "silly's response (v2) answering HELLO",
    Uint8Array.of(4, 0, 0, 0, 0, 0, 0, 0x80),
    { connecting: true },
    "silly",
    /answered weft's HELLO with silly's frames\): talk to it with protocol "silly"/,
  ],
  [
    "plain text",
    enc.encode("hello there, this is not a frame\n"),
    {},
    "unknown bytes",
    /neither weft nor silly \(its first bytes: 68 65 6c 6c .* \("hello there, thi\.\.\."\)\)/,
  ],
  [
    "binary noise",
    Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff, 1, 2),
    {},
    "unknown bytes",
    /its first bytes: de ad be ef ff ff ff ff 01 02\)/,
  ],
  ["weft's HELLO of this version", helloFrame("v2"), {}, undefined, /./],
];

Deno.test("recognisePeer(): names each kind of peer from its first bytes, whole or split at any offset", () => {
  for (const [what, bytes, more, kind, words] of KNOWN) {
    const whole = recognisePeer(situation(bytes, more));
    assert.equal(whole?.kind, kind, what);
    if (whole !== undefined) assert.match(`${whole.what}: ${whole.advice}`, words, what);
    for (let at = 1; at < bytes.length; at++) {
      const split = recognisePeer({
        ...situation(bytes, more),
        first: firstOf(bytes.subarray(0, at), bytes.subarray(at)),
      });
      assert.deepEqual(split, whole, `${what}, split at ${at}`);
    }
  }
});

Deno.test("recognisePeer(): too few bytes to tell say nothing; only the first 64 bytes are kept", () => {
  assert.equal(recognisePeer(situation(new Uint8Array(0))), undefined);
  assert.equal(recognisePeer(situation(Uint8Array.of(1, 2, 3))), undefined);
  const first = firstOf(new Uint8Array(1000).fill(0x41));
  assert.equal(first.have, 64);
  assert.equal(first.received, 1000);
});

Deno.test("firstBytesHint(): the framing hint's old wording, and HTTP and TLS named; silly and noise add nothing", () => {
  const hint = (bytes: Uint8Array, framing: Framing = "v2") =>
    firstBytesHint(framing, firstOf(bytes), 4 * 1024 * 1024);
  assert.match(
    hint(sillyRequest("v1")),
    /; the first bytes read as a complete frame of silly's v1 framing: the peer likely uses framing "v1" \(this node: "v2"\)/,
  );
  assert.match(hint(sillyRequest("v2"), "v1"), /likely uses framing "v2" \(this node: "v1"\)/);
  assert.match(
    hint(helloFrame("v1")),
    /weft's HELLO in framing "v1": the peer likely uses framing "v1"/,
  );
  assert.match(hint(enc.encode("HTTP/1.0 200 OK\r\n")), /^; the peer is an HTTP server/);
  assert.match(hint(CLIENT_HELLO), /^; the peer is a TLS client/);
  assert.equal(hint(sillyRequest("v2")), "");
  assert.equal(hint(Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9, 9)), "");
});

Deno.test("handshakeMismatch(): what the peer is replaces 'it speaks silly's protocol'; unknown peers keep the silly advice as a question", () => {
  const http = handshakeMismatch(
    "outbound 127.0.0.1:80",
    situation(enc.encode("HTTP/1.1 400 Bad Request\r\n"), { connecting: true }),
    "length 1347703880 exceeds the handshake limit",
  );
  assert.match(
    http,
    /^outbound 127\.0\.0\.1:80 answered without weft's HELLO_ACK \(length 1347703880 exceeds the handshake limit\): it is an HTTP server/,
  );
  assert.doesNotMatch(http, /silly/);
  const silly = handshakeMismatch("inbound 127.0.0.1:5", situation(sillyRequest("v2")));
  assert.match(
    silly,
    /^inbound 127\.0\.0\.1:5 sent frames without weft's HELLO: it is a silly node/,
  );
  const nothing = handshakeMismatch(
    "outbound x:1",
    situation(new Uint8Array(0), { connecting: true }),
  );
  assert.match(nothing, /does not speak weft's protocol \(a silly node\? use protocol "silly"/);
});

Deno.test("closedBeforeHello(): a mutual-TLS refusal, a TLS alert, bytes that tell, or the likely causes", () => {
  const none = situation(new Uint8Array(0), { connecting: true });
  const peer = "outbound 127.0.0.1:7000";
  const noCert = closedBeforeHello(peer, { ...none, tls: { clientCert: false } });
  assert.match(noCert, /requires a client certificate \(mutual TLS\).*tls\.cert and tls\.key/);
  assert.doesNotMatch(noCert, /it refused this node|TLS port/);
  const withCert = closedBeforeHello(peer, { ...none, tls: { clientCert: true } });
  assert.match(withCert, /refused this node's client certificate/);
  for (
    const message of [
      "error:0A00045C:SSL routines::tlsv13 alert certificate required",
      "received fatal alert: CertificateRequired",
    ]
  ) {
    const error = new WeftError("transport", "Connection failed", { cause: new Error(message) });
    assert.match(
      closedBeforeHello(peer, { ...none, tls: { clientCert: true } }, error),
      /requires a client certificate/,
    );
  }
  const unknownCa = new WeftError("transport", "Connection failed: tlsv1 alert unknown ca");
  assert.match(
    closedBeforeHello(peer, { ...none, tls: { clientCert: true } }, unknownCa),
    /TLS alert: unknown ca/,
  );
  const plain = closedBeforeHello(peer, none);
  assert.match(
    plain,
    /before it answered weft's HELLO: it refused this node.*silly mode.*a TLS port \(this connection is plain TCP: set tls\)/,
  );
  const alert = closedBeforeHello(peer, {
    ...none,
    first: firstOf(Uint8Array.of(0x15, 3, 3, 0, 2, 2, 50)),
  });
  assert.match(alert, /it is a TLS server/);
});

// ---- real peers over loopback ------------------------------------------------

/** Connects to `address`, writes `bytes`, keeps what comes back until the peer closes (bounded). */
async function capture(
  address: string,
  bytes: Uint8Array,
  options?: ConnectOptions,
): Promise<{ first: FirstBytes; info: CloseInfo }> {
  const conn = await transport.connect(address, options);
  const first = new FirstBytes();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const info = await new Promise<CloseInfo>((resolve, reject) => {
      conn.start({ data: (chunk) => first.note(chunk), close: resolve });
      conn.write(bytes);
      timer = setTimeout(() => reject(new Error(`${address} never closed`)), 20_000);
    });
    return { first, info };
  } finally {
    clearTimeout(timer);
    await conn.close();
  }
}

const RUNTIMES: RuntimeName[] = ["deno", "bun", "node"];

for (const runtime of RUNTIMES) {
  Deno.test(`weft against an HTTP server and TLS ports on ${runtime}: recognised, and the client told so`, async () => {
    const certs = await makeCerts();
    const child = await spawnScript(runtime, "tests/protocol/_other_ends.ts", [certs.dir]);
    const logger = new MemoryLogger();
    const client = new Cluster({ codec: raw(), transport, logger, connectTimeout: 20_000 });
    try {
      const ports = JSON.parse((await child.waitFor(/^ready (.*)$/m, 60_000))[1]!);
      const at = (name: string) => `127.0.0.1:${ports[name]}`;

      // An HTTP server answers weft's HELLO with 400.
      const http = await capture(at("http"), helloFrame("v2"));
      const seenHttp = recognisePeer({
        first: http.first,
        framing: "v2",
        hardLimit: 4 << 20,
        connecting: true,
      });
      assert.equal(seenHttp?.kind, "http server");
      assert.match(seenHttp!.what, /"HTTP\/1\.1 400 Bad Request"/);
      const error = await client.call(client.connect(at("http")), 1, new Uint8Array(0)).then(
        () => assert.fail("a call to an HTTP server answered"),
        (e) => e,
      );
      assert.ok(isWeftError(error, "protocol"), String(error));
      assert.match(error.message, /an HTTP server \(it answered "HTTP\/1\.1 400 Bad Request"\)/);

      // Plain TCP to a TLS port: a TLS alert back (Deno, Bun), or a silent close (Node).
      const tls = await capture(at("tls"), helloFrame("v2"));
      const plainSide: PeerSituation = {
        first: tls.first,
        framing: "v2",
        hardLimit: 4 << 20,
        connecting: true,
      };
      if (tls.first.received > 0) {
        assert.equal(recognisePeer(plainSide)?.kind, "tls server", `${tls.first.view()}`);
        const e = await client.call(client.connect(at("tls")), 1, new Uint8Array(0)).then(
          () => assert.fail("a plain call to a TLS port answered"),
          (e) => e,
        );
        assert.match(e.message, /a TLS server \(it answered with a TLS record/);
      }
      assert.match(
        closedBeforeHello(`outbound ${at("tls")}`, plainSide, tls.info.error),
        /TLS (server|port)/,
      );

      // Mutual TLS: a client without a certificate is closed with nothing said.
      const mtls = await capture(at("mtls"), helloFrame("v2"), { tls: { ca: certs.ca } });
      assert.equal(mtls.first.received, 0);
      assert.match(
        closedBeforeHello(`outbound ${at("mtls")}`, {
          first: mtls.first,
          framing: "v2",
          hardLimit: 4 << 20,
          connecting: true,
          tls: { clientCert: false },
        }, mtls.info.error),
        /requires a client certificate \(mutual TLS\)/,
      );
    } finally {
      await client.close();
      await child.stop();
    }
  });
}

/** A weft node on Deno's transport logging to memory; `fn` gets its address. */
async function weftNode(
  fn: (address: string, logger: MemoryLogger) => Promise<void>,
  framing: Framing = "v2",
): Promise<void> {
  const logger = new MemoryLogger();
  const server = new Cluster({ codec: raw(), transport, logger, framing, call: () => undefined });
  try {
    const listener = await server.listen("127.0.0.1:0");
    await fn(`127.0.0.1:${listener.address.port}`, logger);
  } finally {
    await server.close();
  }
}

const logged = (logger: MemoryLogger, pattern: RegExp) => () =>
  [...logger.errors, ...logger.warnings].some((line) => pattern.test(line));

Deno.test("a weft node names an HTTP client (fetch) in its log", async () => {
  await weftNode(async (address, logger) => {
    await fetch(`http://${address}/metrics`).then(
      (r) => r.body?.cancel(),
      () => {},
    );
    await until(
      logged(logger, /an HTTP client \(it sent "GET \/metrics HTTP\/1\.1"\)/),
      20_000,
      `the HTTP client named: ${[...logger.errors, ...logger.warnings].join("\n")}`,
    );
  });
});

Deno.test("a weft node names a TLS client in its log; the TLS client hears the server may not speak TLS", async () => {
  const certs = await makeCerts();
  await weftNode(async (address, logger) => {
    const error = await transport.connect(address, { tls: { ca: certs.ca } }).then(
      async (conn) => {
        await conn.close();
        assert.fail("TLS to a plain port connected");
      },
      (e) => e,
    );
    assert.ok(isWeftError(error, "tls"), String(error));
    assert.match(error.message, /does it speak TLS|not speak TLS/);
    await until(
      logged(logger, /a TLS client \(it sent a TLS ClientHello\).*plain TCP/),
      20_000,
      "the TLS client named",
    );
  });
});

Deno.test("a weft node names silly-mode peers in either framing and a weft HELLO of another version", async () => {
  for (const framing of ["v2", "v1"] as const) {
    await weftNode(async (address, logger) => {
      const silly = new Cluster({
        codec: raw(),
        transport,
        protocol: "silly",
        framing,
        logger: new MemoryLogger(),
      });
      try {
        await silly.call(silly.connect(address), 7, enc.encode("hi"), { timeout: 20_000 }).catch(
          () => {},
        );
      } finally {
        await silly.close();
      }
      const words = framing === "v2"
        ? /without weft's HELLO: it is a silly node, or a weft node in silly mode/
        : /framing "v1" \(this node: "v2"\)/;
      await until(logged(logger, words), 20_000, `silly ${framing} named`);
    });
  }
  await weftNode(async (address, logger) => {
    const { first } = await capture(address, helloFrame("v2", 2));
    assert.equal(first.received, 0, "closed without an answer");
    await until(logged(logger, /weft protocol version 2, this node 1/), 20_000, "version named");
  });
  // What a silly-mode client sends, captured by a raw listener.
  for (const framing of ["v2", "v1"] as const) {
    const got = new FirstBytes();
    const arrived = Promise.withResolvers<void>();
    const listener = await transport.listen("127.0.0.1:0", (conn) => {
      conn.start({
        data: (chunk) => {
          got.note(chunk);
          arrived.resolve();
          void conn.close();
        },
        close: () => {},
      });
    });
    const silly = new Cluster({
      codec: raw(),
      transport,
      protocol: "silly",
      framing,
      logger: new MemoryLogger(),
    });
    try {
      void silly.call(silly.connect(`127.0.0.1:${listener.address.port}`), 7, enc.encode("hi"), {
        timeout: 20_000,
      }).catch(() => {});
      await arrived.promise;
    } finally {
      await silly.close();
      await listener.close();
    }
    assert.equal(
      recognisePeer({ first: got, framing: "v2", hardLimit: 4 << 20 })?.kind,
      framing === "v2" ? "silly" : "silly framing",
    );
  }
});

Deno.test("encodeHello fields do not confuse the recogniser (a HELLO with a node name is weft)", () => {
  const payload = encodeHello(new Map([[1, enc.encode("node-a")]]));
  const e = new FrameEncoder({ framing: "v2" });
  e.request({ session: 0, cmd: ControlCmd.Hello, traceHi: 0, traceLo: 0 }, payload);
  assert.equal(recognisePeer(situation(e.take().slice())), undefined);
});
