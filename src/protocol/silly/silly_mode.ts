/**
 * silly mode: silly.net.cluster's protocol, byte for byte, in either of
 * its framings (v2: a u32 little-endian length, header first; v1: a u16
 * big-endian length, trailer). Frames are requests and responses, and
 * nothing else: no handshake, no control frames, no request or response
 * head. So a failed handler answers nothing (the caller times out), a
 * handler returning undefined answers nothing, and a one-way send is an
 * ordinary request whose response nobody waits for.
 *
 * The one thing silly mode reads beyond silly: weft's HELLO, to name a
 * weft peer that was pointed at this node by mistake.
 *
 * @module
 */

import { type RemoteErrorInfo, WeftError } from "../../errors.ts";
import { DEFAULT_HARD_LIMIT, type Frame, type Framing, prefixSize } from "../../wire/frame.ts";
import { FrameDecoder } from "../../wire/frame_decoder.ts";
import { FrameEncoder } from "../../wire/frame_encoder.ts";
import {
  type FirstBytes,
  type ModeConnection,
  type ModeInfo,
  type ModeLink,
  type OutgoingMessage,
  protocolMismatch,
  type ProtocolMode,
  type RequestHead,
  ResponseStatus,
  type TraceParent,
} from "../mode.ts";
import { ControlCmd, isHello } from "../weft/protocol.ts";
import { framingHint } from "./framing_hint.ts";

/** The settings of silly's framing: which one, and the limits on a frame's body. */
export interface FramingSettings {
  /** `"v2"` or `"v1"`. */
  readonly framing: Framing;
  /** The largest body (header included) read or written. */
  readonly hardLimit: number;
  /** Bodies over this are logged as a warning, as silly does. */
  readonly softLimit: number;
}

/** silly mode: what it can do (none of weft's extensions) and its defaults. */
export const SILLY: ModeInfo = {
  name: "silly",
  can: {
    handshake: false,
    keys: false,
    errors: false,
    cancel: false,
    deadlines: false,
    heartbeats: false,
    parts: false,
    names: false,
    traceContext: false,
    info: false,
  },
  sessions: { lowest: 0, unique: false },
  hardLimit: DEFAULT_HARD_LIMIT,
  minHardLimit: { bytes: 4, why: "a response's session" },
  idleTimeout: Infinity,
  frameTimeout: 60_000,
};

/**
 * silly mode with these framing settings.
 *
 * @param settings The framing and its limits.
 */
export function sillyMode(settings: FramingSettings): ProtocolMode {
  return { ...SILLY, open: (link) => new SillyConnection(link, settings) };
}

const EMPTY = new Uint8Array(0);

/** Every silly request's head: none. */
const NO_HEAD: RequestHead = Object.freeze({
  body: 0,
  deadline: Infinity,
  oneWay: false,
  service: undefined,
  command: undefined,
  trace: undefined,
});

/** One connection in silly mode. */
export class SillyConnection implements ModeConnection {
  /** silly's frames, read without a copy when they lie in one chunk. */
  readonly reader: FrameDecoder;
  /** silly's frames, batched for one socket write per turn. */
  readonly writer: FrameEncoder;
  /** 4 (v2) or 2 (v1). */
  readonly prefixSize: number;
  /** silly has no handshake. */
  readonly handshake: null = null;
  /** Only weft's HELLO is looked at twice (to name a weft peer); any other cmd is a request. */
  readonly firstControlCmd: number = ControlCmd.Hello;
  /** silly reserves no cmd number. */
  readonly firstReservedCmd: number = Infinity;
  /** silly's responses have no head. */
  readonly okHead: Uint8Array = EMPTY;
  /** A handler returning undefined answers nothing. */
  readonly emptyHead: null = null;
  /** Errors do not travel back. */
  readonly errorHead: null = null;
  /** silly's responses have no head. */
  readonly responseHeadSize = 0;
  /** Nothing goes in parts. */
  readonly parts: undefined = undefined;
  /** Nothing goes in parts. */
  readonly partThreshold: number = Infinity;
  readonly #link: ModeLink;
  readonly #settings: FramingSettings;

  /**
   * One connection's side of silly mode.
   *
   * @param link The connection.
   * @param settings The framing and its limits.
   */
  constructor(link: ModeLink, settings: FramingSettings) {
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
  }

  /** The other framing, if the first bytes read as one of its frames. */
  framingHint(first: FirstBytes): string {
    return framingHint(this.#settings.framing, first, this.#settings.hardLimit);
  }

  /**
   * weft's HELLO: a weft peer, told so; any other cmd is an ordinary request.
   *
   * @throws {WeftError} `protocol` for a weft HELLO.
   */
  control(frame: Frame): boolean {
    if (frame.cmd === ControlCmd.Hello && isHello(frame.payload)) {
      throw protocolMismatch(
        `${this.#link.peer} speaks weft's protocol; this node is in silly mode`,
      );
    }
    return false;
  }

  /** silly cannot cancel: the peer's handler runs to its end. */
  cancel(_session: number): void {}

  /** silly has no heartbeats. */
  ping(_seq: number): void {}

  /**
   * silly has no way to ask a node about itself.
   *
   * @throws {WeftError} `protocol`, always.
   */
  askInfo(_session: number, _payload: Uint8Array): void {
    throw new WeftError("protocol", "Info requests need weft mode");
  }

  /**
   * No head; names cannot travel.
   *
   * @throws {TypeError} If a service or command name is given.
   */
  requestHead(
    _oneWay: boolean,
    _remaining: number,
    service: string | undefined,
    command: string | undefined,
  ): Uint8Array | undefined {
    if (service === undefined && command === undefined) return undefined;
    throw new TypeError("Invalid option service/command: names travel only in weft mode");
  }

  /** Nothing new is sent: the peer gets only the frame's 64-bit traceid. */
  traceHead(head: Uint8Array | undefined, _context: TraceParent): Uint8Array | undefined {
    return head;
  }

  /** No head: the payload is the body, no deadline, no names. */
  readRequest(_payload: Uint8Array, _receivedAt: number): RequestHead {
    return NO_HEAD;
  }

  /** A silly request cannot say it wants no response. */
  oneWay(_payload: Uint8Array): boolean {
    return false;
  }

  /** Never asked (no error responses): an empty body. */
  encodeError(_info: RemoteErrorInfo): Uint8Array {
    return EMPTY;
  }

  /** Every silly response is a body. */
  responseStatus(_payload: Uint8Array): ResponseStatus {
    return ResponseStatus.Ok;
  }

  /**
   * Never asked (no error responses).
   *
   * @throws {WeftError} `protocol` always.
   */
  decodeError(_body: Uint8Array, cmd: string | number): WeftError {
    throw new WeftError("protocol", `silly mode has no error responses (call ${String(cmd)})`);
  }

  /** Never asked (nothing goes in parts). */
  writePart(_message: OutgoingMessage, _size: number): number {
    return 0;
  }

  /** Nothing held. */
  close(): void {}
}
