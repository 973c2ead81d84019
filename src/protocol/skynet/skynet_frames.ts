/**
 * skynet's cluster packets as a connection's frames: a {@linkcode SkynetReader}
 * (the 2-byte big-endian length, then requests or responses by the
 * connection's role, large messages put back together) and a
 * {@linkcode SkynetWriter} (the same packets, batched for one socket write
 * per turn). The packet layouts and the assemblers are src/wire's
 * (`skynet_packet.ts`); this file maps them onto the connection's
 * {@linkcode Frame}s.
 *
 * What a frame's payload holds, for the mode (./skynet_mode.ts) to read:
 *
 * - a request: a request packet without its length,
 *   `[type][address][session u32le][message]`, type `0x00` (a numeric
 *   address, u32le) or `0x80` (a name: its length byte, then its bytes),
 *   with `0x40` set for a push that went in parts (a small push says so
 *   with session 0). A packet read whole is handed out as it is (no copy);
 *   a message put back together from parts is written in that layout.
 *   The frame's `cmd` is the numeric address (0 for a name).
 * - a response: `[type][message]`, type 1 (ok) or 0 (error), the session
 *   in the frame.
 *
 * @module
 */

import { utf8Encoder } from "../../_platform.ts";
import { WeftError } from "../../errors.ts";
import type { Frame, RequestHeader } from "../../wire/frame.ts";
import {
  decodeSkynetRequest,
  decodeSkynetResponse,
  SKYNET_MAX_SESSION,
  SKYNET_MULTI_PART,
  type SkynetAssemblyOptions,
  SkynetFrameSplitter,
  SkynetRequestAssembler,
  SkynetRequestType,
  SkynetResponseAssembler,
  SkynetResponseType,
} from "../../wire/skynet_packet.ts";
import type { FrameHandler, FrameReader, FrameWriter, OutgoingMessage } from "../mode.ts";

/** Bit of a request head's (and an assembled request payload's) type byte: the address is a name. */
export const HEAD_NAME = 0x80;
/** Bit of a request head's (and an assembled request payload's) type byte: a push (no response). */
export const HEAD_PUSH = 0x40;

/** The address part of a request head: the type byte, and the name's length and bytes. */
export function headAddressSize(head: Uint8Array): number {
  return (head[0]! & HEAD_NAME) !== 0 ? 2 + head[1]! : 1;
}

function putU32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 0xff;
  buf[at + 1] = (v >>> 8) & 0xff;
  buf[at + 2] = (v >>> 16) & 0xff;
  buf[at + 3] = (v >>> 24) & 0xff;
}

/**
 * Reads skynet's packets from a connection: requests on the side that
 * accepted (skynet's clusteragent), responses on the side that connected
 * (its clustersender). Large messages are put back together within the
 * assemblers' bounds; a request whose parts do not add up is answered
 * "Invalid large req" through `invalid`, as skynet's agent does.
 */
export class SkynetReader implements FrameReader {
  readonly #splitter = new SkynetFrameSplitter();
  readonly #responses: boolean;
  readonly #requestParts: SkynetRequestAssembler | undefined;
  readonly #responseParts: SkynetResponseAssembler | undefined;
  readonly #invalid: (session: number) => void;
  /** A trace tag came: the next request goes through the assembler, which pairs them. */
  #traced = false;
  #onFrame: FrameHandler | undefined;
  readonly #frame: Frame = {
    kind: "request",
    session: 0,
    cmd: 0,
    traceHi: 0,
    traceLo: 0,
    payload: new Uint8Array(0),
  };

  /**
   * A reader for one connection.
   *
   * @param responses True on the side that connected: it reads responses.
   * @param limits The bounds of messages in parts.
   * @param invalid Answers a request whose parts do not add up.
   */
  constructor(
    responses: boolean,
    limits: SkynetAssemblyOptions,
    invalid: (session: number) => void,
  ) {
    this.#responses = responses;
    this.#invalid = invalid;
    if (responses) this.#responseParts = new SkynetResponseAssembler(limits);
    else this.#requestParts = new SkynetRequestAssembler(limits);
  }

  /** Bytes held of a packet begun and not complete. */
  get buffered(): number {
    return this.#splitter.buffered;
  }

  /** Large messages in parts now (either direction). */
  get partials(): number {
    return this.#requestParts?.partials ?? this.#responseParts!.partials;
  }

  /**
   * Feeds a chunk; calls `onFrame` per request or response.
   *
   * @throws {WeftError} For a malformed packet or a bound passed.
   */
  decode(chunk: Uint8Array, onFrame: FrameHandler): void {
    this.#onFrame = onFrame;
    this.#splitter.push(chunk, this.#responses ? this.#response : this.#request);
  }

  readonly #response = (packet: Uint8Array): void => {
    const frame = this.#frame;
    const parts = this.#responseParts!;
    const decoded = decodeSkynetResponse(packet);
    frame.kind = "response";
    frame.cmd = 0;
    if (decoded.kind !== "begin" && decoded.kind !== "part" && parts.partials === 0) {
      // The common case: one packet, handed out as a view (type byte first).
      frame.session = decoded.session;
      frame.payload = packet.subarray(4);
      this.#onFrame!(frame);
      return;
    }
    const whole = parts.push(decoded);
    if (whole === undefined) return;
    const payload = new Uint8Array(1 + whole.message.length);
    payload[0] = whole.ok ? SkynetResponseType.Ok : SkynetResponseType.Error;
    payload.set(whole.message, 1);
    frame.session = whole.session;
    frame.payload = payload;
    this.#onFrame!(frame);
  };

  readonly #request = (packet: Uint8Array): void => {
    const frame = this.#frame;
    const decoded = decodeSkynetRequest(packet);
    frame.kind = "request";
    if (decoded.kind === "request" && !this.#traced) {
      // The common case: one packet, handed out as it is.
      frame.session = decoded.session;
      frame.cmd = typeof decoded.address === "number" ? decoded.address : 0;
      frame.payload = packet;
      this.#onFrame!(frame);
      return;
    }
    if (decoded.kind === "trace") this.#traced = true;
    else if (decoded.kind !== "part") this.#traced = false;
    const whole = this.#requestParts!.push(decoded);
    if (whole === undefined) return;
    if (whole.kind === "invalid") {
      if (!whole.push) this.#invalid(whole.session);
      return;
    }
    const address = whole.address;
    const name = typeof address === "string" ? utf8Encoder.encode(address) : undefined;
    const at = name === undefined ? 5 : 2 + name.length;
    const payload = new Uint8Array(at + 4 + whole.message.length);
    if (name === undefined) {
      payload[0] = SkynetRequestType.Number | (whole.push ? HEAD_PUSH : 0);
      putU32(payload, 1, address as number);
    } else {
      payload[0] = SkynetRequestType.Name | (whole.push ? HEAD_PUSH : 0);
      payload[1] = name.length;
      payload.set(name, 2);
    }
    putU32(payload, at, whole.session);
    payload.set(whole.message, at + 4);
    frame.session = whole.session;
    frame.cmd = typeof address === "number" ? address : 0;
    frame.payload = payload;
    this.#onFrame!(frame);
  };
}

const INITIAL_CAPACITY = 16 * 1024;

/**
 * Writes skynet's packets, batched: appended to one buffer until the
 * connection takes it for a socket write.
 *
 * A request's head is the mode's (./skynet_mode.ts): a type byte
 * ({@linkcode HEAD_NAME}, {@linkcode HEAD_PUSH}), the name's length and
 * bytes for a name, then the packed command, which goes at the front of the
 * message. A numeric address is the frame's `cmd`. A response's head is its
 * type byte (1 ok, 0 error).
 */
export class SkynetWriter implements FrameWriter {
  #buffer = new Uint8Array(INITIAL_CAPACITY);
  #length = 0;
  /** True on the side that accepted: it answers, and never writes a request. */
  readonly #answering: boolean;

  /**
   * A writer for one connection.
   *
   * @param answering True on the side that accepted (skynet's clusteragent).
   */
  constructor(answering: boolean) {
    this.#answering = answering;
  }

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.#length;
  }

  /**
   * Appends a request or push: one packet under 32 KiB of message, else a
   * header and its parts (the connection sends large ones through
   * {@linkcode SkynetWriter.prototype.part}; this is the rare message whose
   * address made it cross the line).
   *
   * @returns The bytes written.
   * @throws {WeftError} `protocol` on a connection that only answers.
   */
  request(header: RequestHeader, payload: Uint8Array | string = EMPTY, head?: Uint8Array): number {
    if (this.#answering) throw backwards();
    const body = typeof payload === "string" ? utf8Encoder.encode(payload) : payload;
    const h = head ?? NUMBER_HEAD;
    const addressSize = headAddressSize(h);
    const command = h.length - addressSize;
    const size = command + body.length;
    if (size >= SKYNET_MULTI_PART) {
      const before = this.#length;
      const message = { head: h, body, session: header.session, cmd: header.cmd, sent: 0 };
      while (message.sent < h.length + body.length) this.#requestPart(message);
      return this.#length - before;
    }
    const push = (h[0]! & HEAD_PUSH) !== 0;
    const packet = addressSize + (addressSize === 1 ? 4 : 0) + 4 + size;
    const out = this.#reserve(2 + packet);
    let at = this.#length;
    out[at++] = packet >> 8;
    out[at++] = packet & 0xff;
    if (addressSize === 1) {
      out[at++] = SkynetRequestType.Number;
      putU32(out, at, header.cmd);
      at += 4;
    } else {
      out[at++] = SkynetRequestType.Name;
      out.set(h.subarray(1, addressSize), at);
      at += addressSize - 1;
    }
    putU32(out, at, push ? 0 : header.session);
    at += 4;
    out.set(h.subarray(addressSize), at);
    out.set(body, at + command);
    this.#length = at + size;
    return 2 + packet;
  }

  /**
   * Appends a response: an error text (cut to 32 KiB, as skynet does), or
   * a result in one packet up to 32 KiB, else begin, parts and end.
   *
   * @returns The bytes written.
   */
  response(session: number, payload: Uint8Array | string = EMPTY, head?: Uint8Array): number {
    let body = typeof payload === "string" ? utf8Encoder.encode(payload) : payload;
    const ok = head === undefined || head[0] !== SkynetResponseType.Error;
    if (!ok && body.length > SKYNET_MULTI_PART) body = body.subarray(0, SKYNET_MULTI_PART);
    if (ok && body.length > SKYNET_MULTI_PART) {
      const before = this.#length;
      const message = { session, body, sent: 0 };
      while (message.sent < body.length + 1) this.#responsePart(message);
      return this.#length - before;
    }
    return this.#packet(
      session,
      ok ? SkynetResponseType.Ok : SkynetResponseType.Error,
      body,
      0,
      body.length,
    );
  }

  /**
   * Writes the next packet of a large message: for a request, its header
   * (the first time) then a 32 KiB part; for a response, its begin (the
   * first time) then a part. A message that turns out small by skynet's
   * rule goes in one packet.
   *
   * @returns The message's bytes (of head and body) the packet carried.
   */
  part(message: OutgoingMessage): number {
    const before = message.sent;
    if (message.response) {
      const m = { session: message.session & SKYNET_MAX_SESSION, body: message.body, sent: before };
      this.#responsePart(m);
      message.sent = m.sent;
    } else {
      if (this.#answering) throw backwards();
      const m = {
        head: message.head,
        body: message.body,
        session: message.session,
        cmd: message.cmd,
        sent: before,
      };
      this.#requestPart(m);
      message.sent = m.sent;
    }
    return message.sent - before;
  }

  /** Every byte written since the last take, copied out (the buffer is reused). */
  take(): Uint8Array {
    const out = this.#buffer.slice(0, this.#length);
    this.#length = 0;
    return out;
  }

  /** Drops the bytes not yet taken. */
  clear(): void {
    this.#length = 0;
  }

  /** One step of a request message; `sent` counts head and body bytes. */
  #requestPart(
    m: { head: Uint8Array; body: Uint8Array; session: number; cmd: number; sent: number },
  ): void {
    const head = m.head;
    const addressSize = headAddressSize(head);
    const command = head.length - addressSize;
    const size = command + m.body.length;
    const push = (head[0]! & HEAD_PUSH) !== 0;
    if (m.sent === 0 && size < SKYNET_MULTI_PART) {
      // Small by skynet's rule: one packet.
      this.request({ session: m.session, cmd: m.cmd, traceHi: 0, traceLo: 0 }, m.body, head);
      m.sent = head.length + m.body.length;
      return;
    }
    if (m.sent === 0) {
      const packet = addressSize === 1 ? 13 : 8 + addressSize;
      const out = this.#reserve(2 + packet);
      let at = this.#length;
      out[at++] = packet >> 8;
      out[at++] = packet & 0xff;
      if (addressSize === 1) {
        out[at++] = push ? SkynetRequestType.MultiNumberPush : SkynetRequestType.MultiNumber;
        putU32(out, at, m.cmd);
        at += 4;
      } else {
        out[at++] = push ? SkynetRequestType.MultiNamePush : SkynetRequestType.MultiName;
        out.set(head.subarray(1, addressSize), at);
        at += addressSize - 1;
      }
      putU32(out, at, m.session);
      putU32(out, at + 4, size);
      this.#length = at + 8;
      m.sent = addressSize;
    }
    // The message's bytes: the packed command (rest of the head), then the body.
    const from = m.sent - addressSize;
    const s = Math.min(SKYNET_MULTI_PART, size - from);
    const out = this.#reserve(2 + 5 + s);
    let at = this.#length;
    out[at++] = (5 + s) >> 8;
    out[at++] = (5 + s) & 0xff;
    // lua-cluster.c packreq_multi: "more" while over 32 KiB remains.
    out[at++] = size - from > SKYNET_MULTI_PART
      ? SkynetRequestType.Part
      : SkynetRequestType.LastPart;
    putU32(out, at, m.session);
    at += 4;
    copyMessage(out, at, head, addressSize, m.body, from, s);
    this.#length = at + s;
    m.sent += s;
  }

  /** One step of a large response; `sent` counts the status byte and the body. */
  #responsePart(m: { session: number; body: Uint8Array; sent: number }): void {
    const size = m.body.length;
    if (m.sent === 0 && size <= SKYNET_MULTI_PART) {
      this.#packet(m.session, SkynetResponseType.Ok, m.body, 0, size);
      m.sent = 1 + size;
      return;
    }
    if (m.sent === 0) {
      const out = this.#reserve(2 + 9);
      let at = this.#length;
      out[at++] = 0;
      out[at++] = 9;
      putU32(out, at, m.session);
      out[at + 4] = SkynetResponseType.MultiBegin;
      putU32(out, at + 5, size);
      this.#length = at + 9;
      m.sent = 1;
    }
    const from = m.sent - 1;
    const s = Math.min(SKYNET_MULTI_PART, size - from);
    this.#packet(
      m.session,
      size - from > SKYNET_MULTI_PART ? SkynetResponseType.MultiPart : SkynetResponseType.MultiEnd,
      m.body,
      from,
      s,
    );
    m.sent += s;
  }

  /** `[session u32le][type][body[from, from + n)]`, framed. */
  #packet(session: number, type: number, body: Uint8Array, from: number, n: number): number {
    const packet = 5 + n;
    const out = this.#reserve(2 + packet);
    let at = this.#length;
    out[at++] = packet >> 8;
    out[at++] = packet & 0xff;
    putU32(out, at, session);
    out[at + 4] = type;
    out.set(n === body.length ? body : body.subarray(from, from + n), at + 5);
    this.#length = at + packet;
    return 2 + packet;
  }

  /** The buffer, grown to take `n` more bytes. */
  #reserve(n: number): Uint8Array {
    const need = this.#length + n;
    if (need > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(need, this.#buffer.length * 2));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    return this.#buffer;
  }
}

const EMPTY = new Uint8Array(0);
/** A request head for a numeric address, no command, not a push. */
const NUMBER_HEAD = Uint8Array.of(0);

/** Copies `n` bytes of the message (`head` after its address, then `body`) from `from` into `out` at `at`. */
function copyMessage(
  out: Uint8Array,
  at: number,
  head: Uint8Array,
  addressSize: number,
  body: Uint8Array,
  from: number,
  n: number,
): void {
  const command = head.length - addressSize;
  if (from < command) {
    const k = Math.min(n, command - from);
    out.set(head.subarray(addressSize + from, addressSize + from + k), at);
    at += k;
    from += k;
    n -= k;
  }
  if (n > 0) out.set(body.subarray(from - command, from - command + n), at);
}

function backwards(): WeftError {
  return new WeftError(
    "protocol",
    "Cannot send a request over a connection a skynet node opened: skynet's sender reads only responses (call the node over a connection of this node)",
  );
}
