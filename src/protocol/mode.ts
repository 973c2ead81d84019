/**
 * The seam between a connection and the protocol it speaks.
 *
 * A protocol mode (silly, weft; skynet next) is one module implementing
 * {@linkcode ProtocolMode}. A cluster picks one mode for all its
 * connections; each connection (src/connection/channel.ts) opens it once,
 * {@linkcode ProtocolMode.open}, and from then on calls the
 * {@linkcode ModeConnection} it got without asking which mode it is. The
 * mode owns everything that is bytes:
 *
 * - how bytes become frames and frames bytes (its {@linkcode FrameReader}
 *   and {@linkcode FrameWriter}: silly and weft use src/wire's zero-copy
 *   decoder and batching encoder; another framing brings its own);
 * - its handshake, if any ({@linkcode Handshake});
 * - the head of a request (written before the body, read back into a
 *   {@linkcode RequestHead}) and the head of a response (its status);
 * - its control frames (which frames are not requests, and what they do:
 *   each calls back into the connection through the {@linkcode ModeLink});
 * - what it cannot do ({@linkcode ModeAbilities}): the connection builds
 *   no part for an ability its mode lacks.
 *
 * The connection owns everything that is state over time: the socket,
 * pending calls, the requests being served, flow control, liveness, the
 * queue of large messages and its window.
 *
 * @module
 */

import { type RemoteErrorInfo, WeftError } from "../errors.ts";
import type { CloseInfo } from "../transport/types.ts";
import type { Frame, RequestHeader } from "../wire/frame.ts";

/** Receives each frame a {@linkcode FrameReader} decodes (valid only during the call). */
export type FrameHandler = (frame: Frame) => void;

/**
 * Turns the bytes read from a connection into frames. src/wire's
 * `FrameDecoder` is the one silly and weft use.
 */
export interface FrameReader {
  /**
   * Feeds one chunk (only read during the call) and calls `onFrame` for
   * each complete frame, in order. A frame and its payload are valid only
   * during `onFrame`.
   *
   * @throws {WeftError} For malformed input; the connection then closes.
   */
  decode(chunk: Uint8Array, onFrame: FrameHandler): void;
  /** Bytes held of a frame begun and not complete (0 between frames). */
  readonly buffered: number;
}

/**
 * Turns frames into bytes, batched: frames are appended until the
 * connection takes the batch for one socket write. src/wire's
 * `FrameEncoder` is the one silly and weft use.
 */
export interface FrameWriter {
  /** Bytes written and not yet taken. */
  readonly length: number;
  /**
   * Appends a request frame: `head` (the mode's request head, copied at
   * once) then `payload`.
   *
   * @returns The frame's size in bytes, length prefix included.
   * @throws {WeftError} `frame too large`; nothing is written then.
   */
  request(header: RequestHeader, payload?: Uint8Array | string, head?: Uint8Array): number;
  /**
   * Appends a response frame to the request under `session`: `head` (the
   * mode's response head) then `payload`.
   *
   * @returns The frame's size in bytes, length prefix included.
   * @throws {WeftError} `frame too large`; nothing is written then.
   */
  response(session: number, payload?: Uint8Array | string, head?: Uint8Array): number;
  /** Every byte written since the last take, handed over (the writer never writes over them). */
  take(): Uint8Array;
  /** Drops the bytes not yet taken. */
  clear(): void;
}

/**
 * The error for a peer that speaks another protocol (or another mode of
 * this one): code `protocol`, "Protocol mismatch: " and `detail`.
 */
export function protocolMismatch(detail: string): WeftError {
  return new WeftError("protocol", `Protocol mismatch: ${detail}`);
}

/** How a response says its request ended, as a mode reads its response head. */
export const ResponseStatus = {
  /** A body follows. */
  Ok: 0,
  /** The handler failed; an error (the mode's encoding) follows. */
  Error: 1,
  /** The handler returned undefined: no body. */
  Empty: 2,
} as const;

/** The union of {@linkcode ResponseStatus} values. */
export type ResponseStatus = typeof ResponseStatus[keyof typeof ResponseStatus];

/**
 * What a mode can do. A connection (and the cluster) asks these, never the
 * mode's name: what a mode cannot do is simply not built for its
 * connections.
 */
export interface ModeAbilities {
  /** A handshake precedes everything else ({@linkcode ModeConnection.handshake}). */
  readonly handshake: boolean;
  /** Key authentication in the handshake (the cluster's `auth` option). */
  readonly keys: boolean;
  /** A failed handler's error travels back (and a request can be refused with one). */
  readonly errors: boolean;
  /** A caller can cancel a call it gave up on ({@linkcode ModeConnection.cancel}). */
  readonly cancel: boolean;
  /** A request carries the time its caller still waits. */
  readonly deadlines: boolean;
  /** Heartbeats detect a dead peer ({@linkcode ModeConnection.ping}). */
  readonly heartbeats: boolean;
  /** Large messages travel in parts that interleave with small frames. */
  readonly parts: boolean;
  /** A request can carry a service and a command name. */
  readonly names: boolean;
  /** A request can carry W3C trace context. */
  readonly traceContext: boolean;
  /**
   * A peer can ask a node about itself (what it is, serves, its numbers:
   * src/cluster/info.ts) with {@linkcode ModeControl.askInfo}, answered by
   * an ordinary response.
   */
  readonly info: boolean;
}

/** How a mode's requests use their session ids. */
export interface ModeSessions {
  /**
   * The least session id a call carries: the connection's counter wraps
   * back to it (0 for silly and weft; skynet gives 0 to a push).
   */
  readonly lowest: number;
  /**
   * A session names one request in flight, so a request reusing one still
   * being served is the peer's fault and is refused (weft). False where a
   * session may repeat: silly does not look, skynet's pushes all carry 0.
   */
  readonly unique: boolean;
}

/** What is fixed about a mode whatever its settings: its name, abilities and defaults. */
export interface ModeInfo {
  /** The mode's name, as the cluster's `protocol` option gives it. */
  readonly name: string;
  /** What the mode can do. */
  readonly can: ModeAbilities;
  /** How its requests use session ids. */
  readonly sessions: ModeSessions;
  /** Default `hardLimit` (bytes of one frame's body). */
  readonly hardLimit: number;
  /** The least `hardLimit` the mode works with, and why (for the option's error). */
  readonly minHardLimit: { readonly bytes: number; readonly why: string };
  /** Default `idleTimeout` of accepted connections, in ms (Infinity: off). */
  readonly idleTimeout: number;
  /** Default `frameTimeout` (a begun frame must be complete within it), in ms. */
  readonly frameTimeout: number;
}

/** A protocol mode, configured for one cluster: its info, and how it opens a connection. */
export interface ProtocolMode extends ModeInfo {
  /**
   * Opens one connection's side of the mode.
   *
   * @param link What the mode may ask of its connection.
   * @param initiator True on the side that connected.
   */
  open(link: ModeLink, initiator: boolean): ModeConnection;
}

/** W3C trace context: what `traceparent` and `tracestate` carry. */
export interface TraceParent {
  /** The trace id: 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** The parent span's id: 16 lowercase hex digits, not all zero. */
  spanId: string;
  /** The trace flags (bit 0: sampled). */
  flags: number;
  /** The `tracestate` header's value, "" for none; at most 255 ASCII bytes are sent. */
  traceState: string;
}

/**
 * What a request's head said, as {@linkcode ModeConnection.readRequest}
 * read it. The mode reuses one object per connection: it is valid until
 * the next request is read.
 */
export interface RequestHead {
  /** Offset of the body in the request's payload (the head's length). */
  readonly body: number;
  /** When the caller stops waiting, in this node's monotonic ms; Infinity if it did not say. */
  readonly deadline: number;
  /** The caller asked for no response at all. */
  readonly oneWay: boolean;
  /** The service name the request carried. */
  readonly service: string | undefined;
  /** The command name the request carried. */
  readonly command: string | undefined;
  /** The trace context the request carried. */
  readonly trace: TraceParent | undefined;
}

/**
 * A message waiting to go in parts (see the connection's large-message
 * queue). The mode writes its parts ({@linkcode ModeConnection.writePart}).
 */
export interface OutgoingMessage {
  /** The stream id its parts carry (counted per connection and direction). */
  readonly stream: number;
  /** A request (with a pending session) or a response. */
  readonly response: boolean;
  /** The message's session (its own, or, with the response bit, the request's it answers). */
  readonly session: number;
  /** The request's cmd (0 for a response). */
  readonly cmd: number;
  /** High half of the request's trace id. */
  readonly traceHi: number;
  /** Low half of the request's trace id. */
  readonly traceLo: number;
  /** The mode's head in front of the body (a copy). */
  readonly head: Uint8Array;
  /** The body. */
  readonly body: Uint8Array;
  /** Bytes of head + body already sent. */
  sent: number;
  /** Set when the sender gave up: the mode tells the peer instead of sending the rest. */
  aborted: boolean;
}

/** How far large messages in parts go on one connection. */
export interface PartWindow {
  /**
   * Part bytes sent and not yet acknowledged, at most (`link.partsAcked`).
   * `Infinity` for a mode whose peer acknowledges nothing (skynet's): the
   * socket's own backpressure paces the parts then.
   */
  readonly partWindow: number;
  /** The largest message sent in parts. */
  readonly maxMessageSize: number;
}

/** How many of a connection's first bytes are kept: an HTTP status line, a HELLO in either framing. */
export const FIRST_BYTES_KEPT = 64;

/**
 * The first bytes a connection received, kept until its first frame is
 * decoded (or, for a mode with a handshake, until the handshake is over):
 * enough for a mode to tell what the peer is when they are not its frames
 * ({@linkcode ModeConnection.framingHint}, src/protocol/peer_recognition.ts).
 */
export class FirstBytes {
  /** Up to the first {@linkcode FIRST_BYTES_KEPT} bytes. */
  readonly bytes: Uint8Array = new Uint8Array(FIRST_BYTES_KEPT);
  /** How many of `bytes` are set. */
  have = 0;
  /** Bytes received in all (before the first frame). */
  received = 0;

  /** Notes a chunk that arrived before the first frame. */
  note(chunk: Uint8Array): void {
    const take = Math.min(chunk.length, FIRST_BYTES_KEPT - this.have);
    if (take > 0) {
      this.bytes.set(take === chunk.length ? chunk : chunk.subarray(0, take), this.have);
      this.have += take;
    }
    this.received += chunk.length;
  }

  /** The kept bytes. */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.have);
  }
}

/**
 * A mode's handshake on one connection. While the connection is not ready
 * it hands every frame to the handshake, which answers through the
 * {@linkcode ModeLink} and calls `link.ready()` when it is done (and
 * `link.frame()` for frames it held meanwhile).
 */
export interface Handshake {
  /** The connection started reading: the side that speaks first does. */
  start(): void;
  /**
   * A frame arrived before the connection was ready.
   *
   * @throws {WeftError} For a peer that broke the handshake; the connection closes.
   */
  onFrame(frame: Frame): void;
  /**
   * A decode error during the handshake, explained (e.g. a frame too long
   * to be one: another protocol), naming the peer from the first bytes
   * when they tell; errors the handshake threw itself come back as they are.
   */
  explain(error: WeftError): WeftError;
  /** The peer closed before the handshake completed: what to tell the waiting calls, or null for the plain close. */
  closedEarly(info: CloseInfo): WeftError | null;
  /** The handshake took longer than `limit` ms; `hint` names a likely framing mismatch (or is ""). */
  expired(limit: number, hint: string): WeftError;
}

/**
 * What a mode may ask of its connection (the channel gives each mode
 * connection one link; the mode keeps it).
 */
export interface ModeLink {
  /** The peer, for messages. */
  readonly peer: { toString(): string };
  /** True once the connection is closing: write nothing more. */
  readonly closed: boolean;
  /**
   * What the connection received before its first frame, or (for a mode
   * with a handshake) before the handshake completed: a handshake that
   * fails names the peer from them (src/protocol/peer_recognition.ts).
   * Null once the first frame was read or the handshake is over.
   */
  readonly firstBytes: FirstBytes | null;
  /** Sends what the mode wrote into its writer, with this turn's batch. */
  flush(): void;
  /** Stops reading until `resumeReading()` (a handshake checking a proof). */
  pauseReading(): void;
  /** Ends a `pauseReading()`. */
  resumeReading(): void;
  /** The handshake completed: calls may go out, requests be served. */
  ready(): void;
  /**
   * The peer's handshake fields, and the node name among them (a claim),
   * recorded on the peer.
   */
  peerHello(fields: Map<number, Uint8Array>, nodeName: string | undefined): void;
  /** The peer proved the key `keyId`, recorded on the peer. */
  peerProved(keyId: string): void;
  /** Handles `frame` as if just read (a message put back together, a frame held during the handshake). */
  frame(frame: Frame): void;
  /** Closes the connection for `error` (the peer's fault). */
  fail(error: WeftError): void;
  /** A frame over the soft limit arrived (silly logs a warning). */
  overSoftLimit(bodyLength: number): void;
  /** The peer cancelled the request it sent under `session`. */
  cancelled(session: number): void;
  /** The peer answered the heartbeat `seq`. */
  pong(seq: number): void;
  /** The peer took `bytes` of parts: the window opens by as much. */
  partsAcked(bytes: number): void;
  /**
   * The peer asked about this node (`payload`: what it asked, in the
   * mode's bytes); the node answers with an ordinary response to `session`.
   */
  info(session: number, payload: Uint8Array): void;
}

/** A mode's framing: how bytes become frames and back. */
export interface ModeFraming {
  /** Reads frames from the connection's bytes. */
  readonly reader: FrameReader;
  /** Writes frames, batched. */
  readonly writer: FrameWriter;
  /** Bytes a frame has before its body (its length prefix), for the soft limit. */
  readonly prefixSize: number;
  /** A sentence naming a likely framing mismatch, from the first bytes received; or "". */
  framingHint(first: FirstBytes): string;
}

/** A mode's handshake and control frames: what on a connection is not a call. */
export interface ModeControl {
  /** The handshake, or null: the connection is ready at once. */
  readonly handshake: Handshake | null;
  /**
   * Request frames whose cmd is at least this may be control frames and go
   * to `control()` first (Infinity: the mode has none).
   */
  readonly firstControlCmd: number;
  /**
   * A request frame whose cmd is at least `firstControlCmd`.
   *
   * @returns True if the mode handled it; false: it is an ordinary request.
   * @throws {WeftError} For a control frame the peer had no business sending; the connection closes.
   */
  control(frame: Frame): boolean;
  /** Writes a CANCEL for the call under `session` (only if `can.cancel`). */
  cancel(session: number): void;
  /** Writes a heartbeat `seq` (only if `can.heartbeats`). */
  ping(seq: number): void;
  /**
   * Writes a request about the peer itself (`payload`, see `can.info`)
   * under `session`; its answer is an ordinary response to that session.
   *
   * @throws {WeftError} `protocol` if the mode cannot (`can.info` false).
   */
  askInfo(session: number, payload: Uint8Array): void;
  /**
   * The mode's own deadlines, checked by the cluster's sweep at time `t`
   * (monotonic ms; weft: the next part of a half-sent message). `paused`:
   * this side stopped reading, so a stall is not the peer's.
   *
   * @returns The error to close the connection with, or null.
   */
  sweep?(t: number, paused: boolean): WeftError | null;
}

/** A mode's request head: written before a request's body, read back on the other side. */
export interface ModeRequests {
  /** Cmd numbers from this one up are the mode's own: a request may not use them (Infinity: none). */
  readonly firstReservedCmd: number;
  /**
   * The head of a request about to be written, or undefined if the mode
   * writes none. Valid until the next call (the writer copies it).
   *
   * @param oneWay No response is wanted.
   * @param remaining Milliseconds the caller still waits (Infinity: no deadline); asked only if `can.deadlines`.
   * @param service A service name to carry (only if `can.names`).
   * @param command A command name to carry (only if `can.names`).
   * @param bodySize About the body's size in bytes (a string counts 3 per UTF-16 unit).
   * @throws {TypeError} For a name the mode cannot carry.
   * @throws {WeftError} `name too long`.
   */
  requestHead(
    oneWay: boolean,
    remaining: number,
    service: string | undefined,
    command: string | undefined,
    bodySize: number,
  ): Uint8Array | undefined;
  /** `head` with W3C trace context added, if the mode carries it; else `head` as it is. */
  traceHead(head: Uint8Array | undefined, context: TraceParent): Uint8Array | undefined;
  /**
   * Reads the head of a request's payload.
   *
   * @param receivedAt When its bytes arrived (this node's monotonic ms), for the deadline.
   * @throws {WeftError} `protocol` for a malformed head; the connection closes.
   */
  readRequest(payload: Uint8Array, receivedAt: number): RequestHead;
  /** True if the request wants no response (or its head is too short to tell). */
  oneWay(payload: Uint8Array): boolean;
}

/** A mode's response head: how a response says its call ended. */
export interface ModeResponses {
  /** The head of a response with a body. */
  readonly okHead: Uint8Array;
  /** The head of a response without a body; null: a handler returning undefined answers nothing. */
  readonly emptyHead: Uint8Array | null;
  /** The head of an error response; null: errors do not travel back (`can.errors` false). */
  readonly errorHead: Uint8Array | null;
  /** Encodes an error for an error response. */
  encodeError(info: RemoteErrorInfo): Uint8Array;
  /** Bytes of a response's payload before its body. */
  readonly responseHeadSize: number;
  /**
   * The status a response's head gives.
   *
   * @throws {WeftError} `protocol` for a status the mode does not know.
   */
  responseStatus(payload: Uint8Array): ResponseStatus;
  /**
   * The error an error response's body describes: a `RemoteError` for a
   * failure of the peer's handler, or any coded `WeftError` the mode can
   * tell (skynet's agent's own texts: an unknown service, say).
   *
   * @throws {WeftError} `protocol` if it cannot be read.
   */
  decodeError(body: Uint8Array, cmd: string | number): WeftError;
}

/** A mode's large messages: which bodies go in parts, and how a part is written. */
export interface ModeParts {
  /** The window of large messages, or undefined if the mode sends none in parts. */
  readonly parts: PartWindow | undefined;
  /** Bodies (with their head) over this many bytes go in parts (Infinity: never). */
  readonly partThreshold: number;
  /**
   * Writes the next part of `message` (at most `size` bytes of it),
   * advancing `message.sent`.
   *
   * @returns The part's bytes that count against the window.
   */
  writePart(message: OutgoingMessage, size: number): number;
}

/**
 * One connection's side of a protocol mode, made by
 * {@linkcode ProtocolMode.open}: its framing, its handshake and control
 * frames, the heads of its requests and responses, and its large messages.
 */
export interface ModeConnection
  extends ModeFraming, ModeControl, ModeRequests, ModeResponses, ModeParts {
  /** The connection closed: drop what the mode holds for it (messages half put back together). */
  close(): void;
}
