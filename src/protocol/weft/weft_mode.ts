/**
 * weft mode: silly's frames (either framing, so a misconfigured pair still
 * frames each other and fails loudly) plus what silly lacks. This folder is
 * what weft adds, one file per addition:
 *
 * - protocol.ts: the bytes (control cmds, HELLO, the 5-byte request head,
 *   the 1-byte response status, error bodies);
 * - handshake.ts and handshake_auth.ts: HELLO / HELLO_ACK, key authentication;
 * - names.ts: service and command names sent once per connection;
 * - parts.ts: large messages in PART frames and their reassembly;
 * - trace_context.ts: W3C trace context in the request head;
 * - this file: a connection in weft mode, which puts them to work.
 *
 * Control frames (requests with a cmd of `0xFFFFFF00` and up) carry what
 * is not a call: CANCEL, PING / PONG, INFO, PART / PART_ACK, and the
 * handshake's. See docs/PROTOCOL_EXTENSIONS.md for the tables.
 *
 * @module
 */

import { type RemoteErrorInfo, WeftError } from "../../errors.ts";
import { type Frame, prefixSize, type RequestHeader } from "../../wire/frame.ts";
import { FrameDecoder } from "../../wire/frame_decoder.ts";
import { FrameEncoder } from "../../wire/frame_encoder.ts";
import type {
  FirstBytes,
  ModeConnection,
  ModeInfo,
  ModeLink,
  OutgoingMessage,
  ProtocolMode,
  RequestHead,
  ResponseStatus,
  TraceParent,
} from "../mode.ts";
import { framingHint } from "../silly/framing_hint.ts";
import type { FramingSettings } from "../silly/silly_mode.ts";
import { HandshakeAuth, type KeyRing } from "./handshake_auth.ts";
import { type ControlWriter, WeftHandshake } from "./handshake.ts";
import { MAX_NAME_BYTES, NameReader, NameWriter } from "./names.ts";
import { nextPart, PART_FIRST_SIZE, type PartLimits, Reassembler } from "./parts.ts";
import {
  ControlCmd,
  decodeErrorInfo,
  encodeErrorInfo,
  HELLO_BODY_SIZE,
  REQUEST_HEAD_SIZE,
  RequestFlag,
  requestFlags,
  requestRemaining,
  RESERVED_CMD_MIN,
  ResponseStatus as Status,
  STATUS_HEAD,
  writeRequestHead,
} from "./protocol.ts";
import { appendTraceContext, readTraceContext } from "./trace_context.ts";

/**
 * Default hard limit in weft mode: 4 MiB, as gRPC's default largest
 * message. A frame is held whole before it is decoded and a ready codec's
 * heap can be tens of times the body (see the README's "Limits against a
 * hostile peer"), so weft's default keeps one frame's cost small. silly mode
 * keeps silly's 128 MiB.
 */
export const DEFAULT_WEFT_HARD_LIMIT = 4 * 1024 * 1024;

/** weft mode: what it can do (everything silly cannot) and its defaults. */
export const WEFT: ModeInfo = {
  name: "weft",
  can: {
    handshake: true,
    keys: true,
    errors: true,
    cancel: true,
    deadlines: true,
    heartbeats: true,
    parts: true,
    names: true,
    traceContext: true,
    info: true,
  },
  sessions: { lowest: 0, unique: true },
  hardLimit: DEFAULT_WEFT_HARD_LIMIT,
  minHardLimit: { bytes: HELLO_BODY_SIZE, why: "its handshake frame" },
  idleTimeout: 300_000,
  frameTimeout: 30_000,
};

/** The settings of weft mode: silly's framing, and weft's own. */
export interface WeftSettings extends FramingSettings {
  /** This node's HELLO / HELLO_ACK fields (its node name), if any. */
  readonly helloFields: ReadonlyMap<number, Uint8Array> | undefined;
  /** Large messages in parts: their sizes, window and the receiver's bounds. */
  readonly parts: PartLimits;
  /** Key authentication: this node's keys, or undefined for none. */
  readonly keys: KeyRing | undefined;
  /**
   * Set if this node connects over TLS: whether it presents a client
   * certificate (to name a mutual-TLS refusal).
   */
  readonly tls?: { readonly clientCert: boolean } | undefined;
}

/**
 * weft mode with these settings.
 *
 * @param settings The framing, this node's HELLO fields, parts, keys.
 */
export function weftMode(settings: WeftSettings): ProtocolMode {
  return { ...WEFT, open: (link, initiator) => new WeftConnection(link, settings, initiator) };
}

const EMPTY = new Uint8Array(0);

/** {@linkcode RequestHead} with its fields writable: the one each connection reuses. */
type Head = { -readonly [K in keyof RequestHead]: RequestHead[K] };

/** One connection in weft mode. */
export class WeftConnection implements ModeConnection, ControlWriter {
  /** silly's frames, read without a copy when they lie in one chunk. */
  readonly reader: FrameDecoder;
  /** silly's frames, batched for one socket write per turn. */
  readonly writer: FrameEncoder;
  /** 4 (v2) or 2 (v1). */
  readonly prefixSize: number;
  /** HELLO, HELLO_ACK and (with keys) AUTH. */
  readonly handshake: WeftHandshake;
  /** Requests with a cmd from `0xFFFFFF00` up are control frames. */
  readonly firstControlCmd: number = RESERVED_CMD_MIN;
  /** A call may not use the control frames' cmd numbers. */
  readonly firstReservedCmd: number = RESERVED_CMD_MIN;
  /** Status byte 0. */
  readonly okHead: Uint8Array = STATUS_HEAD[Status.Ok];
  /** Status byte 2: weft answers every call, undefined too. */
  readonly emptyHead: Uint8Array = STATUS_HEAD[Status.Empty];
  /** Status byte 1. */
  readonly errorHead: Uint8Array = STATUS_HEAD[Status.Error];
  /** The status byte. */
  readonly responseHeadSize = 1;
  /** The window and bounds of large messages. */
  readonly parts: PartLimits;
  /** Bodies over the part size (clamped to what the hard limit allows) go in parts. */
  readonly partThreshold: number;
  readonly #link: ModeLink;
  readonly #settings: WeftSettings;
  /** Scratch for control frames and parts (their session, cmd; trace id 0). */
  readonly #header: RequestHeader = { session: 0, cmd: 0, traceHi: 0, traceLo: 0 };
  /** Scratch request head, written per request. */
  readonly #head = new Uint8Array(REQUEST_HEAD_SIZE);
  /** The last request head read. */
  readonly #in: Head = {
    body: REQUEST_HEAD_SIZE,
    deadline: Infinity,
    oneWay: false,
    service: undefined,
    command: undefined,
    trace: undefined,
  };
  /** Names this side sends on this connection, and those the peer defined. */
  readonly #names = new NameWriter();
  readonly #nameReader = new NameReader();
  #reassembler: Reassembler | null = null;

  /**
   * One connection's side of weft mode, its handshake not yet started.
   *
   * @param link The connection.
   * @param settings The framing, this node's HELLO fields, parts, keys.
   * @param initiator True on the side that connected.
   */
  constructor(link: ModeLink, settings: WeftSettings, initiator: boolean) {
    this.#link = link;
    this.#settings = settings;
    this.reader = new FrameDecoder({
      framing: settings.framing,
      hardLimit: settings.hardLimit,
      softLimit: settings.softLimit,
      onSoftLimit: (n) => link.overSoftLimit(n),
    });
    this.writer = new FrameEncoder({ framing: settings.framing, hardLimit: settings.hardLimit });
    this.prefixSize = prefixSize(settings.framing);
    this.parts = settings.parts;
    this.partThreshold = Math.max(
      1,
      Math.min(settings.parts.partSize, this.writer.hardLimit - 16 - PART_FIRST_SIZE),
    );
    this.handshake = new WeftHandshake(link, this, this.reader, {
      initiator,
      helloFields: settings.helloFields,
      auth: settings.keys && new HandshakeAuth(settings.keys),
      tls: settings.tls,
    });
  }

  /** The other framing, if the first bytes read as one of its frames. */
  framingHint(first: FirstBytes): string {
    return framingHint(this.#settings.framing, first, this.#settings.hardLimit);
  }

  /** Writes a control frame and has it sent with this turn's batch. */
  writeControl(cmd: number, session: number, payload: Uint8Array): void {
    const header = this.#header;
    header.session = session;
    header.cmd = cmd;
    header.traceHi = 0;
    header.traceLo = 0;
    this.writer.request(header, payload);
    this.#link.flush();
  }

  /**
   * A control frame after the handshake.
   *
   * @throws {WeftError} `authentication failed` for the peer's AUTH refusal,
   *   `protocol` for an unknown control frame or a malformed part.
   */
  control(frame: Frame): boolean {
    const link = this.#link;
    switch (frame.cmd) {
      case ControlCmd.Cancel:
        link.cancelled(frame.session);
        return true;
      case ControlCmd.Ping:
        this.writeControl(ControlCmd.Pong, frame.session, EMPTY);
        return true;
      case ControlCmd.Auth:
        // The accepting side refused this node's proof and is closing.
        throw new WeftError(
          "authentication failed",
          `Authentication failed: ${link.peer} refused this node's key`,
        );
      case ControlCmd.Info:
        // Answered by the node with an ordinary response to this session.
        link.info(frame.session, frame.payload);
        return true;
      case ControlCmd.Part: {
        this.#reassembler ??= new Reassembler(this.parts);
        const whole = this.#reassembler.accept(frame.session, frame.payload);
        this.writeControl(ControlCmd.PartAck, frame.payload.length, EMPTY);
        if (whole !== undefined) link.frame(whole);
        return true;
      }
      case ControlCmd.PartAck:
        link.partsAcked(frame.session);
        return true;
      case ControlCmd.Pong:
        link.pong(frame.session);
        return true;
      default:
        throw new WeftError(
          "protocol",
          `Unexpected control frame 0x${frame.cmd.toString(16)} from ${link.peer}`,
        );
    }
  }

  /** CANCEL: the caller gave up on the call under `session`. */
  cancel(session: number): void {
    this.writeControl(ControlCmd.Cancel, session, EMPTY);
  }

  /** PING with sequence number `seq`. */
  ping(seq: number): void {
    this.writeControl(ControlCmd.Ping, seq, EMPTY);
  }

  /** INFO under `session` (`payload`: the kind's name). */
  askInfo(session: number, payload: Uint8Array): void {
    this.writeControl(ControlCmd.Info, session, payload);
  }

  /**
   * The 5-byte head (flags, remaining time), then the service and command
   * refs if any. A body that may go in parts carries its names inline: its
   * parts may arrive after later frames that would refer to a definition.
   *
   * @throws {TypeError} For a name that is not a non-empty string.
   * @throws {WeftError} `name too long`.
   */
  requestHead(
    oneWay: boolean,
    remaining: number,
    service: string | undefined,
    command: string | undefined,
    bodySize: number,
  ): Uint8Array {
    const head = writeRequestHead(this.#head, oneWay, remaining);
    if (service === undefined && command === undefined) return head;
    const inline = bodySize + 2 * (3 + MAX_NAME_BYTES) + REQUEST_HEAD_SIZE > this.partThreshold;
    return this.#names.head(head, service, command, inline);
  }

  /** `head` with the trace context extension after it (flag 8). */
  traceHead(head: Uint8Array | undefined, context: TraceParent): Uint8Array | undefined {
    return head === undefined ? head : appendTraceContext(head, context);
  }

  /**
   * Reads the flags, the remaining time, the names and the trace context.
   *
   * @throws {WeftError} `protocol` for a head cut short or malformed names or trace context.
   */
  readRequest(payload: Uint8Array, receivedAt: number): RequestHead {
    if (payload.length < REQUEST_HEAD_SIZE) {
      throw new WeftError(
        "protocol",
        `Request from ${this.#link.peer} is shorter than weft's ${REQUEST_HEAD_SIZE}-byte request head`,
      );
    }
    const into = this.#in;
    const flags = requestFlags(payload);
    into.oneWay = (flags & RequestFlag.OneWay) !== 0;
    const remaining = requestRemaining(payload);
    into.deadline = remaining === Infinity ? Infinity : receivedAt + remaining;
    let named = REQUEST_HEAD_SIZE;
    if ((flags & RequestFlag.Named) !== 0) {
      const reader = this.#nameReader;
      named = reader.read(payload);
      into.service = reader.service;
      into.command = reader.command;
    } else {
      into.service = undefined;
      into.command = undefined;
    }
    const traced = readTraceContext(payload, named);
    into.trace = traced?.context;
    into.body = traced?.end ?? named;
    return into;
  }

  /** The one-way flag (a head too short to read is not answered either). */
  oneWay(payload: Uint8Array): boolean {
    return payload.length < 1 || (requestFlags(payload) & RequestFlag.OneWay) !== 0;
  }

  /** UTF-8 JSON: name, code, message (and a stack if the errorInfo hook gave one). */
  encodeError(info: RemoteErrorInfo): Uint8Array {
    return encodeErrorInfo(info);
  }

  /**
   * The status byte.
   *
   * @throws {WeftError} `protocol` for an unknown status.
   */
  responseStatus(payload: Uint8Array): ResponseStatus {
    const status = payload[0];
    if (status === Status.Ok || status === Status.Error || status === Status.Empty) return status;
    throw new WeftError("protocol", `Unknown weft response status ${String(status)}`);
  }

  /**
   * The JSON error body, as a `RemoteError`.
   *
   * @throws {WeftError} `protocol` if it is not the JSON weft writes.
   */
  decodeError(body: Uint8Array, cmd: string | number): WeftError {
    return decodeErrorInfo(body, cmd);
  }

  /** A PART frame: the stream id as its session, the next slice as its payload. */
  writePart(message: OutgoingMessage, size: number): number {
    const header = this.#header;
    header.session = message.stream;
    header.cmd = ControlCmd.Part;
    header.traceHi = 0;
    header.traceLo = 0;
    const part = nextPart(message, size);
    this.writer.request(header, part);
    return part.length;
  }

  /** The deadline of a half-sent message's next part (`partTimeout`). */
  sweep(t: number, paused: boolean): WeftError | null {
    const reassembler = this.#reassembler;
    return reassembler === null || reassembler.size === 0 ? null : reassembler.sweep(t, paused);
  }

  /** Drops the messages half put back together. */
  close(): void {
    this.#reassembler?.clear();
  }
}
