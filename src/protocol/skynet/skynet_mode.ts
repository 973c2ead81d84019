/**
 * skynet mode: skynet's cluster protocol (cloudwu/skynet's
 * `lualib-src/lua-cluster.c`, `service/clustersender.lua`,
 * `service/clusteragent.lua`), byte for byte, so that a weft node and a
 * skynet node call each other. See docs/SKYNET_MODE.md for the design and
 * the facts it copies.
 *
 * - **One role per connection**, as skynet: the side that connected plays
 *   clustersender (writes requests and pushes, reads responses), the side
 *   that accepted plays clusteragent (reads requests, writes responses). A
 *   request back over an accepted connection is refused (`protocol`).
 * - **No handshake, no control frames**: no heartbeat, cancel or deadline
 *   travels (skynet has none); those stay local.
 * - **Requests** go to a name (`@sdb`, type 0x80; a service name without
 *   `@` or `.` gets the `@`) or to a numeric handle (the call's cmd, type
 *   0). The command (`options.command`) is the first packed value of the
 *   message, as `skynet.call(addr, "lua", "GET", "a")` packs it; the body
 *   (packed by the cluster's codec, `skynet()` from `@weft/cluster/skynet`)
 *   follows. A push is session 0 (a large one keeps its session).
 * - **Requests read** give the service name without its `@`, the command
 *   (the first value, when it is a string), the body after it; a request
 *   to address 0 is skynet's `cluster.query` (its body is the name).
 * - **Responses**: type 1 with the packed result (a handler returning
 *   undefined answers no value), type 0 with an error text. skynet's
 *   agent's own texts get weft's codes: `"Invalid name"` and `"name not
 *   found"` are `unknown service`, `"Invalid large req"` `protocol` (all
 *   `mayHaveRun` false); any other text is a `RemoteError` named
 *   `SkynetError` (`mayHaveRun` true: skynet cannot say).
 * - **Large messages** (32 KiB and more) go in skynet's parts through the
 *   connection's parts queue, interleaved with small frames as skynet's
 *   low-priority writes are; no acknowledgements (the socket paces them).
 *
 * @module
 */

import { RemoteError, type RemoteErrorInfo, WeftError } from "../../errors.ts";
import { lenientUtf8Decoder, strictUtf8Decoder, utf8Encoder } from "../../_platform.ts";
import { packValues, unpackFirst } from "../../codec/skynet.ts";
import type { Frame } from "../../wire/frame.ts";
import { SKYNET_MULTI_PART, SkynetResponseType } from "../../wire/skynet_packet.ts";
import {
  type FirstBytes,
  type ModeConnection,
  type ModeInfo,
  type ModeLink,
  type OutgoingMessage,
  type PartWindow,
  type ProtocolMode,
  type RequestHead,
  ResponseStatus,
  type TraceParent,
} from "../mode.ts";
import type { PartLimits } from "../weft/parts.ts";
import { HEAD_NAME, HEAD_PUSH, SkynetReader, SkynetWriter } from "./skynet_frames.ts";

/** Default largest message in skynet mode (its `hardLimit`): 4 MiB, as weft mode's. */
export const DEFAULT_SKYNET_HARD_LIMIT = 4 * 1024 * 1024;

/** skynet mode: what it can do (errors, parts, names; nothing else) and its defaults. */
export const SKYNET: ModeInfo = {
  name: "skynet",
  can: {
    handshake: false,
    keys: false,
    errors: true,
    cancel: false,
    deadlines: false,
    heartbeats: false,
    parts: true,
    names: true,
    traceContext: false,
    info: false,
  },
  // Session 0 is a push, and every small push carries it.
  sessions: { lowest: 1, unique: false },
  // A frame is at most 65,535 bytes by its 2-byte length; the hard limit
  // bounds a message (in parts), as maxMessageSize.
  hardLimit: DEFAULT_SKYNET_HARD_LIMIT,
  minHardLimit: { bytes: SKYNET_MULTI_PART, why: "a message of one part" },
  // skynet keeps a sender's connection for the process's life, idle or not.
  idleTimeout: Infinity,
  frameTimeout: 60_000,
};

/** What skynet mode takes of the cluster's options. */
export interface SkynetSettings {
  /** The bounds of large messages (`maxMessageSize`, `maxPartialMessages`, `maxPartialBytes`). */
  readonly parts: PartLimits;
}

/**
 * skynet mode with these settings.
 *
 * @param settings The bounds of large messages.
 */
export function skynetMode(settings: SkynetSettings): ProtocolMode {
  return { ...SKYNET, open: (link, initiator) => new SkynetConnection(link, settings, initiator) };
}

/** {@linkcode RequestHead} with its fields writable: the one each connection reuses. */
type Head = { -readonly [K in keyof RequestHead]: RequestHead[K] };

const OK_HEAD = Uint8Array.of(SkynetResponseType.Ok);
const ERROR_HEAD = Uint8Array.of(SkynetResponseType.Error);

/** The texts skynet's clusteragent answers by itself, and what they mean. */
const AGENT_TEXTS: ReadonlyMap<string, "unknown service" | "protocol"> = new Map([
  ["Invalid name", "unknown service"],
  ["name not found", "unknown service"],
  ["Invalid large req", "protocol"],
]);

/** Packed commands, kept (a service has few): the head of every request is built from one. */
const MAX_CACHED_COMMANDS = 256;

/** One connection in skynet mode. */
export class SkynetConnection implements ModeConnection {
  /** skynet's packets, by this side's role. */
  readonly reader: SkynetReader;
  /** skynet's packets, batched. */
  readonly writer: SkynetWriter;
  /** The 2-byte big-endian length. */
  readonly prefixSize = 2;
  /** skynet has no handshake. */
  readonly handshake: null = null;
  /** skynet has no control frames. */
  readonly firstControlCmd: number = Infinity;
  /** Every u32 is an address. */
  readonly firstReservedCmd: number = Infinity;
  /** Type 1. */
  readonly okHead: Uint8Array = OK_HEAD;
  /** Type 1, no values: skynet's agent answers every call. */
  readonly emptyHead: Uint8Array = OK_HEAD;
  /** Type 0: a text. */
  readonly errorHead: Uint8Array = ERROR_HEAD;
  /** The type byte. */
  readonly responseHeadSize = 1;
  /** No acknowledgements: the socket paces the parts. */
  readonly parts: PartWindow;
  /**
   * Messages over this go to the parts queue; the writer sends each by
   * skynet's own rule (a request of 32 KiB and more, a result over 32 KiB,
   * in parts).
   */
  readonly partThreshold: number = SKYNET_MULTI_PART;
  readonly #initiator: boolean;
  readonly #commands = new Map<string, Uint8Array>();
  readonly #in: Head = {
    body: 0,
    deadline: Infinity,
    oneWay: false,
    service: undefined,
    command: undefined,
    trace: undefined,
  };

  /**
   * One connection's side of skynet mode.
   *
   * @param link The connection.
   * @param settings The bounds of large messages.
   * @param initiator True on the side that connected (it calls; the other answers).
   */
  constructor(link: ModeLink, settings: SkynetSettings, initiator: boolean) {
    this.#initiator = initiator;
    const limits = {
      maxMessageSize: settings.parts.maxMessageSize,
      maxPartialMessages: settings.parts.maxPartialMessages,
      maxPartialBytes: settings.parts.maxPartialBytes,
    };
    this.parts = { partWindow: Infinity, maxMessageSize: settings.parts.maxMessageSize };
    this.writer = new SkynetWriter(!initiator);
    this.reader = new SkynetReader(initiator, limits, (session) => {
      // skynet's agent: parts that do not add up are answered, not fatal.
      if (link.closed) return;
      this.writer.response(session, "Invalid large req", ERROR_HEAD);
      link.flush();
    });
  }

  /** skynet's framing has no tell-tale first bytes. */
  framingHint(_first: FirstBytes): string {
    return "";
  }

  /** Never called (no control frames). */
  control(_frame: Frame): boolean {
    return false;
  }

  /** skynet has no INFO request (`can.info` is false; the cluster checks first). */
  askInfo(_session: number, _payload: Uint8Array): void {
    throw new WeftError("protocol", "Info requests need weft mode");
  }

  /** skynet cannot cancel: the handler runs on. */
  cancel(_session: number): void {}

  /** skynet has no heartbeats. */
  ping(_seq: number): void {}

  /**
   * The head of a request: the address (a name, or the call's cmd as a
   * handle) and the packed command.
   *
   * @throws {WeftError} `protocol` on a connection a peer opened (it only answers).
   * @throws {TypeError} For a name over 255 bytes.
   */
  requestHead(
    oneWay: boolean,
    _remaining: number,
    service: string | undefined,
    command: string | undefined,
    _bodySize: number,
  ): Uint8Array {
    if (!this.#initiator) {
      throw new WeftError(
        "protocol",
        "Cannot send a request over a connection a skynet node opened: skynet's sender reads only responses",
      );
    }
    const packed = command === undefined ? undefined : this.#command(command);
    const flags = oneWay ? HEAD_PUSH : 0;
    if (service === undefined) {
      if (packed === undefined) return oneWay ? PUSH_NUMBER_HEAD : NUMBER_HEAD;
      const head = new Uint8Array(1 + packed.length);
      head[0] = flags;
      head.set(packed, 1);
      return head;
    }
    const first = service.charCodeAt(0);
    // skynet's names: "@sdb" (a cluster name), ".local"; a bare name is "@" + it.
    const name = utf8Encoder.encode(first === 0x40 || first === 0x2e ? service : `@${service}`);
    if (name.length > 255) {
      throw new TypeError(
        `Invalid option service: a skynet name is at most 255 bytes, got ${name.length}`,
      );
    }
    const head = new Uint8Array(2 + name.length + (packed?.length ?? 0));
    head[0] = HEAD_NAME | flags;
    head[1] = name.length;
    head.set(name, 2);
    if (packed !== undefined) head.set(packed, 2 + name.length);
    return head;
  }

  /** No trace context travels (skynet's trace tag is its own; see the README). */
  traceHead(head: Uint8Array | undefined, _context: TraceParent): Uint8Array | undefined {
    return head;
  }

  /** Reads a request packet: address, push, the command (first value) and where the body starts. */
  readRequest(payload: Uint8Array, _receivedAt: number): RequestHead {
    const head = this.#in;
    const type = payload[0]!;
    let at: number;
    let address: number | string;
    if ((type & HEAD_NAME) !== 0) {
      const n = payload[1]!;
      address = decodeName(payload.subarray(2, 2 + n));
      at = 2 + n;
    } else {
      address = u32(payload, 1);
      at = 5;
    }
    const session = u32(payload, at);
    at += 4;
    head.oneWay = session === 0 || (type & HEAD_PUSH) !== 0;
    head.service = typeof address === "string"
      ? (address.charCodeAt(0) === 0x40 ? address.slice(1) : address)
      : undefined;
    head.command = undefined;
    head.body = at;
    // Address 0 is cluster.query: the body is the name asked for.
    if (address === 0) return head;
    try {
      const first = unpackFirst(payload.subarray(at), FIRST_VALUE);
      if (typeof first.value === "string") {
        head.command = first.value;
        head.body = at + first.end;
      }
    } catch {
      // Malformed values: the codec refuses the body, and the caller gets that error.
    }
    return head;
  }

  /** A push (session 0, or a large push's flag). */
  oneWay(payload: Uint8Array): boolean {
    const type = payload[0]!;
    const at = (type & HEAD_NAME) !== 0 ? 2 + payload[1]! : 5;
    return (type & HEAD_PUSH) !== 0 || u32(payload, at) === 0;
  }

  /**
   * An error as skynet's agent words it: an unknown service is "Invalid
   * name" ("name not found" for a `cluster.query`), anything else its message.
   */
  encodeError(info: RemoteErrorInfo): Uint8Array {
    if (info.code === "unknown service") {
      return utf8Encoder.encode(info.message === "name not found" ? info.message : "Invalid name");
    }
    return utf8Encoder.encode(info.message);
  }

  /**
   * Type 1 is a result, 0 an error.
   *
   * @throws {WeftError} `protocol` for another type (the reader lets none through).
   */
  responseStatus(payload: Uint8Array): ResponseStatus {
    const type = payload[0];
    if (type === SkynetResponseType.Ok) return ResponseStatus.Ok;
    if (type === SkynetResponseType.Error) return ResponseStatus.Error;
    throw new WeftError("protocol", `Unknown skynet response type ${String(type)}`);
  }

  /** skynet's error text: the agent's own texts coded, any other a `SkynetError`. */
  decodeError(body: Uint8Array, cmd: string | number): WeftError {
    const text = lenientUtf8Decoder.decode(body);
    const code = AGENT_TEXTS.get(text);
    if (code === "unknown service") {
      // A RemoteError with weft's code: mayHaveRun false, and Nodes names the node.
      return new RemoteError(
        { name: "SkynetError", code, message: text },
        `Call ${String(cmd)} failed remotely`,
      );
    }
    if (code === "protocol") {
      return new WeftError("protocol", `Call ${String(cmd)}: skynet answered "${text}"`, {
        mayHaveRun: false,
      });
    }
    return new RemoteError(
      { name: "SkynetError", message: text },
      `Call ${String(cmd)} failed remotely`,
      { mayHaveRun: true },
    );
  }

  /** The next packet of a large message (skynet's parts are 32 KiB, whatever `size`). */
  writePart(message: OutgoingMessage, _size: number): number {
    return this.writer.part(message);
  }

  /** Nothing to drop: the assemblers go with the reader. */
  close(): void {}

  /** `skynet.pack(command)`, kept. */
  #command(command: string): Uint8Array {
    let packed = this.#commands.get(command);
    if (packed === undefined) {
      packed = packValues([command]);
      if (this.#commands.size < MAX_CACHED_COMMANDS) this.#commands.set(command, packed);
    }
    return packed;
  }
}

const NUMBER_HEAD = Uint8Array.of(0);
const PUSH_NUMBER_HEAD = Uint8Array.of(HEAD_PUSH);
/** The command is a short string: read it with tight limits. */
const FIRST_VALUE = { maxDepth: 1, maxElements: 1 } as const;

function u32(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
}

function decodeName(bytes: Uint8Array): string {
  try {
    return strictUtf8Decoder.decode(bytes);
  } catch {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return s;
  }
}
