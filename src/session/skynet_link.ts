/**
 * The two ends of a skynet cluster connection as sans-I/O state machines,
 * for the skynet protocol mode to wrap (docs/SKYNET_MODE.md): bytes in,
 * frames out, no sockets and no timers.
 *
 * - {@linkcode SkynetSender} plays skynet's `clustersender`: it numbers
 *   sessions as skynet does, frames requests and pushes (parts for 32 KiB
 *   and more), and matches responses (reassembled) to calls.
 * - {@linkcode SkynetAgent} plays skynet's `clusteragent`: it reassembles
 *   requests (trace tags, parts), hands each to a dispatcher, and frames
 *   the answer as skynet's agent does.
 *
 * Messages are packed values (`@weft/cluster/skynet`); these classes move
 * them as bytes.
 *
 * @module
 */

import { lenientUtf8Decoder as utf8Decoder } from "../_platform.ts";
import { RemoteError, WeftError } from "../errors.ts";
import {
  decodeSkynetRequest,
  decodeSkynetResponse,
  encodeSkynetRequest,
  encodeSkynetResponse,
  encodeSkynetTrace,
  isSkynetMultipart,
  nextSkynetSession,
  type SkynetAddress,
  type SkynetAssemblyOptions,
  SkynetFrameSplitter,
  SkynetRequestAssembler,
  SkynetResponseAssembler,
} from "../wire/skynet_packet.ts";

/**
 * Writes frames to the connection, in order. `bulk` marks the parts of a
 * large message, which skynet writes on its low-priority queue: a writer
 * may let later small frames overtake them (skynet does).
 */
export type SkynetWrite = (frames: Uint8Array[], bulk: boolean) => void;

/** Options of {@linkcode SkynetSender}. */
export interface SkynetSenderOptions extends SkynetAssemblyOptions {
  /** Where frames go. */
  write: SkynetWrite;
  /** The first session (skynet's sender starts at 1). @default {1} */
  firstSession?: number;
}

/** A call sent by {@linkcode SkynetSender}. */
export interface SkynetCall {
  /** The session it took. */
  readonly session: number;
  /** The response's packed values; rejects with a coded error. */
  readonly response: Promise<Uint8Array>;
}

interface Waiting {
  resolve(message: Uint8Array): void;
  reject(error: WeftError): void;
}

/** The texts skynet's clusteragent answers itself, before any handler runs. */
const AGENT_REFUSALS: Readonly<Record<string, "unknown service" | "protocol">> = {
  "Invalid name": "unknown service",
  "name not found": "unknown service",
  "Invalid large req": "protocol",
};

/**
 * skynet's clustersender without the socket: numbers sessions as skynet
 * does (from 1, +1 per request and per large push, 1 after 2^31 − 1,
 * skipping one still waiting), frames requests and pushes, and settles
 * each call from its response. An error response is a `RemoteError`
 * (`SkynetError`, `mayHaveRun` true), except skynet's agent's own refusals
 * (`Invalid name`, `name not found`: `unknown service`; `Invalid large
 * req`: `protocol`), which never ran a handler.
 *
 * Its example runs as a test in tests/skynet/doc_examples_test.ts.
 */
export class SkynetSender {
  readonly #write: SkynetWrite;
  readonly #splitter = new SkynetFrameSplitter();
  readonly #responses: SkynetResponseAssembler;
  readonly #waiting = new Map<number, Waiting>();
  #session: number;
  #closed: WeftError | undefined;

  /**
   * Creates a sender.
   *
   * @param options Where frames go, the first session, the limits of responses in parts.
   * @throws {RangeError} For a bad limit or first session.
   */
  constructor(options: SkynetSenderOptions) {
    this.#write = options.write;
    this.#responses = new SkynetResponseAssembler(options);
    const first = options.firstSession ?? 1;
    if (!Number.isInteger(first) || first < 1 || first > 0x7fffffff) {
      throw new RangeError(`Invalid option firstSession: ${first}`);
    }
    this.#session = first;
  }

  /** Calls waiting for a response. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** The session the next request will take. */
  get nextSession(): number {
    return this.#session;
  }

  #take(): number {
    // Skip sessions still waiting (only after a wrap can one be).
    for (let i = 0; i < 0x7fffffff && this.#waiting.has(this.#session); i++) {
      this.#session = nextSkynetSession(this.#session);
    }
    const session = this.#session;
    this.#session = nextSkynetSession(session);
    return session;
  }

  /**
   * Sends a request; its response settles the call.
   *
   * @param address A service handle or a name (`"@sdb"`).
   * @param message The packed values.
   * @param trace A trace tag to send before it, if any.
   * @returns The session it took, and the response's packed values.
   * @throws {WeftError} `closed` after `close` (nothing is sent).
   * @throws {TypeError} For a bad address or a message of 4 GiB or more.
   */
  call(address: SkynetAddress, message: Uint8Array, trace?: string): SkynetCall {
    if (this.#closed !== undefined) {
      throw new WeftError("closed", `Cannot call: ${this.#closed.message}`, { mayHaveRun: false });
    }
    const session = this.#take();
    const frames = encodeSkynetRequest(address, session, message, false);
    const response = new Promise<Uint8Array>((resolve, reject) => {
      this.#waiting.set(session, { resolve, reject });
    });
    if (trace !== undefined) this.#write([encodeSkynetTrace(trace)], false);
    this.#send(frames);
    return { session, response };
  }

  /**
   * Sends a push (no response). A push of 32 KiB or more takes a session,
   * as skynet's does.
   *
   * @param address A service handle or a name.
   * @param message The packed values.
   * @throws {WeftError} `closed` after `close`.
   */
  push(address: SkynetAddress, message: Uint8Array): void {
    if (this.#closed !== undefined) {
      throw new WeftError("closed", `Cannot push: ${this.#closed.message}`, { mayHaveRun: false });
    }
    // skynet's packpush is given the current session and keeps it unless
    // the push goes in parts.
    const session = isSkynetMultipart(message.length) ? this.#take() : this.#session;
    this.#send(encodeSkynetRequest(address, session, message, true));
  }

  #send(frames: Uint8Array[]): void {
    if (frames.length === 1) this.#write(frames, false);
    else {
      this.#write(frames.slice(0, 1), false);
      this.#write(frames.slice(1), true);
    }
  }

  /**
   * Feeds bytes read from the connection (responses).
   *
   * @param chunk The bytes, split anywhere.
   * @throws {WeftError} For a malformed or over-limit response: the connection should close.
   */
  receive(chunk: Uint8Array): void {
    this.#splitter.push(chunk, (packet) => {
      const whole = this.#responses.push(decodeSkynetResponse(packet));
      if (whole === undefined) return;
      const call = this.#waiting.get(whole.session);
      // A response to nobody (a session never sent, or given up on) is dropped.
      if (call === undefined) return;
      this.#waiting.delete(whole.session);
      if (whole.ok) {
        call.resolve(whole.message);
        return;
      }
      const text = utf8Decoder.decode(whole.message);
      const refusal = AGENT_REFUSALS[text];
      call.reject(
        refusal !== undefined
          ? new WeftError(refusal, `skynet refused the request: ${text}`, { mayHaveRun: false })
          : new RemoteError(
            { name: "SkynetError", message: text },
            "Call failed on the skynet node",
            {
              mayHaveRun: true,
            },
          ),
      );
    });
  }

  /**
   * Gives up on a call (its timeout passed, it was aborted): a late
   * response is dropped. Its promise stays pending: the caller settles it.
   *
   * @param session The session `call` returned.
   * @returns True if it was waiting.
   */
  forget(session: number): boolean {
    return this.#waiting.delete(session);
  }

  /**
   * The connection closed: every call waiting rejects with `closed`
   * (`mayHaveRun` true: each was written), and later ones at once.
   *
   * @param reason Why.
   */
  close(reason: WeftError): void {
    if (this.#closed !== undefined) return;
    this.#closed = reason;
    const error = new WeftError("closed", `Connection closed: ${reason.message}`, {
      cause: reason,
      mayHaveRun: true,
    });
    const calls = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const call of calls) call.reject(error);
  }
}

/** A request for the dispatcher of a {@linkcode SkynetAgent}. */
export interface SkynetIncoming {
  /** The address: a handle, 0 for `cluster.query`, or a name (`"@sdb"`, `".local"`). */
  readonly address: SkynetAddress;
  /** The packed values (owned). */
  readonly message: Uint8Array;
  /** True for a push: the answer is dropped. */
  readonly push: boolean;
  /** The trace tag sent before it, as text. */
  readonly trace?: string;
}

/** What the dispatcher answers: packed values, or an error text. */
export type SkynetAnswer = { ok: true; message: Uint8Array } | { ok: false; text: string };

/** Options of {@linkcode SkynetAgent}. */
export interface SkynetAgentOptions extends SkynetAssemblyOptions {
  /** Where frames go. */
  write: SkynetWrite;
  /** Handles one request (may be async); a throw is answered as an error text. */
  dispatch: (request: SkynetIncoming) => SkynetAnswer | Promise<SkynetAnswer>;
  /**
   * Most requests being handled at once; over it, the connection is
   * refused (`protocol`), since skynet's sender has no flow control.
   *
   * @default {1024}
   */
  maxInFlight?: number;
}

/**
 * skynet's clusteragent without the socket: reassembles requests (a trace
 * tag goes with the next request; parts by session), hands each to the
 * dispatcher, and answers as skynet's agent does (an ok response with
 * parts over 32 KiB, an error text cut to 32 KiB, nothing for a push,
 * `Invalid large req` for parts that do not add up).
 */
export class SkynetAgent {
  readonly #write: SkynetWrite;
  readonly #dispatch: SkynetAgentOptions["dispatch"];
  readonly #splitter = new SkynetFrameSplitter();
  readonly #requests: SkynetRequestAssembler;
  readonly #maxInFlight: number;
  #inFlight = 0;
  #closed = false;

  /**
   * Creates an agent.
   *
   * @param options Where frames go, the dispatcher, the limits.
   * @throws {RangeError} For a bad limit.
   */
  constructor(options: SkynetAgentOptions) {
    this.#write = options.write;
    this.#dispatch = options.dispatch;
    this.#requests = new SkynetRequestAssembler(options);
    const max = options.maxInFlight ?? 1024;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Invalid option maxInFlight: ${max}`);
    }
    this.#maxInFlight = max;
  }

  /** Requests being handled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Feeds bytes read from the connection (requests).
   *
   * @param chunk The bytes, split anywhere.
   * @throws {WeftError} For a malformed or over-limit request: the connection should close.
   */
  receive(chunk: Uint8Array): void {
    this.#splitter.push(chunk, (packet) => {
      const whole = this.#requests.push(decodeSkynetRequest(packet));
      if (whole === undefined) return;
      if (whole.kind === "invalid") {
        if (!whole.push) this.#answer(whole.session, { ok: false, text: whole.reason });
        return;
      }
      if (this.#inFlight >= this.#maxInFlight) {
        throw new WeftError(
          "protocol",
          `skynet peer has more than maxInFlight ${this.#maxInFlight} requests in flight`,
        );
      }
      this.#inFlight++;
      const incoming: SkynetIncoming = {
        address: whole.address,
        message: whole.message,
        push: whole.push,
        ...(whole.trace === undefined ? {} : { trace: utf8Decoder.decode(whole.trace) }),
      };
      let answer: SkynetAnswer | Promise<SkynetAnswer>;
      try {
        answer = this.#dispatch(incoming);
      } catch (error) {
        answer = { ok: false, text: errorText(error) };
      }
      const done = (a: SkynetAnswer) => {
        this.#inFlight--;
        if (!whole.push && !this.#closed) this.#answer(whole.session, a);
      };
      if (answer instanceof Promise) {
        answer.then(done, (error) => done({ ok: false, text: errorText(error) }));
      } else done(answer);
    });
  }

  #answer(session: number, answer: SkynetAnswer): void {
    const frames = answer.ok
      ? encodeSkynetResponse(session, true, answer.message)
      : encodeSkynetResponse(session, false, answer.text);
    if (frames.length === 1) this.#write(frames, false);
    else this.#write(frames, true);
  }

  /** The connection closed: answers still running are dropped. */
  close(): void {
    this.#closed = true;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
