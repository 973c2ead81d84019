/**
 * {@linkcode WeftHandshake}: weft's handshake on one connection, the state
 * machine of HELLO, HELLO_ACK and (with key authentication) AUTH. The
 * cryptography is handshake_auth.ts's; this file decides which frame may
 * come when, what goes back, and when the connection is ready.
 *
 * Without keys: the connecting side sends HELLO and nothing else until
 * HELLO_ACK proves the peer speaks weft; the accepting side reads nothing
 * but HELLO, answers HELLO_ACK and is ready. With keys (the cluster's
 * `auth` option) the connecting side checks the proof in HELLO_ACK and
 * sends its own in AUTH; the accepting side holds every frame after HELLO
 * (reading paused) until that proof is checked, then handles them in
 * order. Until the handshake is over a node reads no frame longer than a
 * HELLO ({@linkcode HELLO_BODY_SIZE}).
 *
 * @module
 */

import { strictUtf8Decoder } from "../../_platform.ts";
import { WeftError } from "../../errors.ts";
import type { CloseInfo } from "../../transport/types.ts";
import type { Frame } from "../../wire/frame.ts";
import type { FrameDecoder } from "../../wire/frame_decoder.ts";
import { FirstBytes, type Handshake, type ModeLink, protocolMismatch } from "../mode.ts";
import {
  closedBeforeHello,
  firstBytesHint,
  handshakeMismatch,
  type PeerSituation,
} from "../peer_recognition.ts";
import type { HandshakeAuth } from "./handshake_auth.ts";
import {
  ControlCmd,
  decodeHelloFields,
  encodeHello,
  HELLO_BODY_SIZE,
  HelloField,
  helloVersion,
  isHello,
  MAX_HELLO_SIZE,
  WEFT_VERSION,
} from "./protocol.ts";

/** Frames held while key authentication completes, at most (the connection is paused meanwhile). */
export const MAX_HELD_FRAMES = 4096;

const EMPTY = new Uint8Array(0);

/** How the handshake writes its frames: weft's control frames, sent with this turn's batch. */
export interface ControlWriter {
  /** Writes control frame `cmd` with `session` and `payload`, and has it sent. */
  writeControl(cmd: number, session: number, payload: Uint8Array): void;
}

/** What a handshake is set up with. */
export interface WeftHandshakeOptions {
  /** True on the side that connected (it says HELLO first). */
  readonly initiator: boolean;
  /** This node's HELLO / HELLO_ACK fields (its name), if any. */
  readonly helloFields: ReadonlyMap<number, Uint8Array> | undefined;
  /** Key authentication for this connection, or undefined. */
  readonly auth: HandshakeAuth | undefined;
  /**
   * Set if this node connects over TLS: whether it presents a client
   * certificate (a TLS peer that closes at once most likely refused it).
   */
  readonly tls?: { readonly clientCert: boolean } | undefined;
}

const NO_BYTES = new FirstBytes();

/** The node name a HELLO's fields give (field 1, UTF-8), or undefined. */
function nodeNameOf(fields: Map<number, Uint8Array>): string | undefined {
  const bytes = fields.get(HelloField.NodeName);
  if (bytes === undefined) return undefined;
  try {
    return strictUtf8Decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Two sets of HELLO fields in one (the second's tags win). */
function withFields(
  a: ReadonlyMap<number, Uint8Array> | undefined,
  b: ReadonlyMap<number, Uint8Array> | undefined,
): ReadonlyMap<number, Uint8Array> | undefined {
  if (a === undefined || a.size === 0) return b;
  if (b === undefined || b.size === 0) return a;
  return new Map([...a, ...b]);
}

/**
 * weft's handshake on one connection. The connection hands it every frame
 * until it calls `link.ready()`.
 *
 * Its example runs as a test in tests/protocol/doc_examples_test.ts.
 */
export class WeftHandshake implements Handshake {
  readonly #link: ModeLink;
  readonly #out: ControlWriter;
  readonly #reader: FrameDecoder;
  readonly #auth: HandshakeAuth | undefined;
  readonly #helloFields: ReadonlyMap<number, Uint8Array> | undefined;
  readonly #tls: { readonly clientCert: boolean } | undefined;
  readonly #accepted: boolean;
  /** True on the connecting side until HELLO_ACK arrives (and, with keys, its AUTH is sent). */
  #awaitingAck: boolean;
  /** Accepting side: "hello" until HELLO, "ack" while the answer is made, "proof" until AUTH, "check", "done". */
  #stage: "hello" | "ack" | "proof" | "check" | "done" = "hello";
  /** Frames that arrived while a proof is checked, copied, handled once it passes. */
  #held: Frame[] | null = null;

  /**
   * Lowers `reader`'s limit to a HELLO's size until the handshake is over.
   *
   * @param link The connection.
   * @param out Where control frames go.
   * @param reader The connection's frame reader.
   * @param options The side, this node's fields, key authentication.
   */
  constructor(
    link: ModeLink,
    out: ControlWriter,
    reader: FrameDecoder,
    options: WeftHandshakeOptions,
  ) {
    this.#link = link;
    this.#out = out;
    this.#reader = reader;
    this.#auth = options.auth;
    this.#helloFields = options.helloFields;
    this.#tls = options.tls;
    this.#accepted = !options.initiator;
    this.#awaitingAck = options.initiator;
    // Read nothing but the handshake until it completes.
    reader.setLimit(HELLO_BODY_SIZE, "the handshake frame's size");
  }

  /** The connecting side says HELLO first, and sends nothing else until HELLO_ACK. */
  start(): void {
    if (!this.#awaitingAck) return;
    this.#out.writeControl(
      ControlCmd.Hello,
      0,
      encodeHello(withFields(this.#auth?.helloFields(), this.#helloFields)),
    );
  }

  /**
   * A frame before the connection is ready: the peer's HELLO / HELLO_ACK,
   * its proof, or (while a proof is checked) a frame to hold.
   *
   * @throws {WeftError} `protocol` for a peer that does not speak weft (or
   *   breaks the handshake), `authentication failed` for a refused key.
   */
  onFrame(frame: Frame): void {
    if (this.#held !== null) {
      this.#hold(frame);
      return;
    }
    if (this.#stage === "ack" || this.#stage === "proof") {
      this.#onProof(frame);
      return;
    }
    const link = this.#link;
    if (this.#awaitingAck && frame.kind === "request" && frame.cmd === ControlCmd.Auth) {
      throw new WeftError(
        "authentication failed",
        `Authentication failed: ${link.peer} refused this node (wrong key or no key)`,
      );
    }
    const expected = this.#awaitingAck ? ControlCmd.HelloAck : ControlCmd.Hello;
    if (frame.kind !== "request" || frame.cmd !== expected || !isHello(frame.payload)) {
      throw protocolMismatch(this.#unlikeWeft());
    }
    if (frame.payload.length > MAX_HELLO_SIZE) {
      throw new WeftError(
        "protocol",
        `HELLO of ${frame.payload.length} bytes from ${link.peer} is over the limit of ${MAX_HELLO_SIZE}`,
      );
    }
    const version = helloVersion(frame.payload);
    if (version !== WEFT_VERSION) {
      throw protocolMismatch(
        `${link.peer} speaks weft protocol version ${version}, this node ${WEFT_VERSION}`,
      );
    }
    // The peer's last handshake frame (with key authentication, the
    // accepting side's is AUTH): from here on frames up to the hard limit.
    if (this.#awaitingAck || this.#auth === undefined) this.#reader.setLimit();
    const fields = decodeHelloFields(frame.payload);
    link.peerHello(fields, nodeNameOf(fields));
    if (this.#awaitingAck) {
      if (this.#auth !== undefined) return this.#proveSelf(frame.payload);
      this.#awaitingAck = false;
      link.ready();
      return;
    }
    if (this.#auth !== undefined) return this.#challenge(frame.session, frame.payload);
    this.#out.writeControl(ControlCmd.HelloAck, frame.session, encodeHello(this.#helloFields));
    link.ready();
  }

  /**
   * A frame longer than a HELLO before the handshake: not a weft peer, and
   * what it is if its first bytes tell (HTTP, TLS, silly in either
   * framing, weft of another framing). Other decode errors get the same
   * naming as a hint; the handshake's own errors are returned as they are.
   */
  explain(error: WeftError): WeftError {
    if (error.code === "protocol" || error.code === "authentication failed") return error;
    const reader = this.#reader;
    if (error.code === "frame too large" && reader.limit < reader.hardLimit) {
      return protocolMismatch(
        this.#unlikeWeft(error.message.replace(/^Cannot decode frame: /, "")),
      );
    }
    const first = this.#link.firstBytes;
    const hint = first === null ? "" : firstBytesHint(reader.framing, first, reader.hardLimit);
    return hint === ""
      ? error
      : new WeftError(error.code, `${error.message}${hint}`, { cause: error });
  }

  /**
   * A peer that hangs up on our HELLO: what its bytes (if any) say it is,
   * a mutual-TLS refusal over TLS, or the likely causes (it refused this
   * node, it is in silly mode, it is a TLS port); its own log says which.
   */
  closedEarly(info: CloseInfo): WeftError | null {
    if (!this.#awaitingAck || info.reason === "local") return null;
    return new WeftError(
      "closed",
      closedBeforeHello(String(this.#link.peer), this.#situation(), info.error),
      info.error === undefined ? undefined : { cause: info.error },
    );
  }

  /** The accepting side never got HELLO, or the connecting side never got HELLO_ACK. */
  expired(limit: number, hint: string): WeftError {
    const peer = this.#link.peer;
    return this.#accepted
      ? new WeftError("timeout", `No weft handshake from ${peer} within ${limit} ms${hint}`)
      : protocolMismatch(
        hint === ""
          ? `${peer} did not answer weft's HELLO within ${limit} ms: it does not speak weft's protocol (a silly node? use protocol "silly" to talk to it)`
          : `${peer} did not answer weft's HELLO within ${limit} ms${hint}`,
      );
  }

  /** The peer's first frame was not the HELLO / HELLO_ACK expected: what it is, from its first bytes. */
  #unlikeWeft(detail?: string): string {
    return handshakeMismatch(String(this.#link.peer), this.#situation(), detail);
  }

  /** This connection's first bytes and this node's settings, for peer_recognition.ts. */
  #situation(): PeerSituation {
    return {
      first: this.#link.firstBytes ?? NO_BYTES,
      framing: this.#reader.framing,
      hardLimit: this.#reader.hardLimit,
      connecting: this.#awaitingAck,
      tls: this.#tls,
    };
  }

  // ---- key authentication (handshake_auth.ts does the cryptography) -------

  /** Accepting side, on HELLO: answer with this side's challenge and proof. */
  #challenge(session: number, payload: Uint8Array): void {
    const fields = decodeHelloFields(payload);
    this.#stage = "ack";
    this.#step(async () => {
      const ack = await this.#auth!.onHello(fields);
      if (this.#link.closed) return;
      this.#out.writeControl(
        ControlCmd.HelloAck,
        session,
        encodeHello(withFields(ack, this.#helloFields)),
      );
      this.#stage = "proof";
    });
  }

  /** Accepting side: the first frame after HELLO_ACK must be the peer's proof. */
  #onProof(frame: Frame): void {
    if (this.#stage !== "proof" || frame.kind !== "request" || frame.cmd !== ControlCmd.Auth) {
      this.#out.writeControl(ControlCmd.Auth, 0, EMPTY);
      throw new WeftError(
        "authentication failed",
        `Authentication failed: ${this.#link.peer} sent frames before proving its key`,
      );
    }
    const proof = frame.payload.slice();
    this.#reader.setLimit();
    this.#stage = "check";
    this.#holdFrames();
    this.#step(async () => {
      await this.#auth!.onAuth(proof);
      if (!this.#link.closed) this.#authenticated();
    });
  }

  /** Connecting side, on HELLO_ACK: check the peer's proof, then send this side's. */
  #proveSelf(payload: Uint8Array): void {
    const fields = decodeHelloFields(payload);
    this.#holdFrames();
    this.#step(async () => {
      const proof = await this.#auth!.onAck(fields);
      if (this.#link.closed) return;
      this.#out.writeControl(ControlCmd.Auth, 0, proof);
      this.#awaitingAck = false;
      this.#authenticated();
    });
  }

  /** Runs an async step; a failure closes the connection (the accepting side says only that it failed). */
  #step(step: () => Promise<void>): void {
    step().catch((error: unknown) => {
      if (this.#link.closed) return;
      const reason = error instanceof WeftError ? error : new WeftError(
        "authentication failed",
        `Authentication failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
      if (!this.#awaitingAck) this.#out.writeControl(ControlCmd.Auth, 0, EMPTY);
      this.#link.fail(reason);
    });
  }

  #holdFrames(): void {
    this.#held = [];
    this.#link.pauseReading();
  }

  #hold(frame: Frame): void {
    const held = this.#held!;
    if (held.length >= MAX_HELD_FRAMES) {
      throw new WeftError(
        "protocol",
        `${this.#link.peer} sent too many frames during authentication`,
      );
    }
    held.push({ ...frame, payload: frame.payload.slice() });
  }

  /** The peer proved its key: record who it is, become ready, handle what waited. */
  #authenticated(): void {
    const link = this.#link;
    link.peerProved(this.#auth!.peerKeyId!);
    this.#stage = "done";
    link.ready();
    const held = this.#held ?? [];
    this.#held = null;
    link.resumeReading();
    try {
      for (const frame of held) {
        if (link.closed) return;
        link.frame(frame);
      }
    } catch (error) {
      link.fail(
        error instanceof WeftError
          ? error
          : new WeftError("protocol", "Connection failed: frame handling threw", { cause: error }),
      );
    }
  }
}
