/**
 * The marshal/unmarshal hook types, exactly as silly.net.cluster's, and the
 * {@linkcode Codec} value that bundles a pair.
 *
 * @module
 */

/** Which kind of message a hook is asked about. */
export type MessageType = "request" | "response";

/**
 * Turns a body into bytes. silly's `marshal` hook.
 *
 * - For a request, `cmd` is what the caller passed (a name or a number) and
 *   the hook returns `[cmdNumber, bytes]`; the number goes on the wire.
 * - For a response, `cmd` is the number of the request being answered; the
 *   hook returns `[cmdNumber, bytes]` (the number is not sent: responses
 *   carry no cmd) or `undefined`, meaning no response is sent.
 *
 * `bytes` may be a string, written as UTF-8. Throwing (or returning
 * `undefined` for a request) fails the call with `marshal failed`.
 */
export type Marshal = (
  type: MessageType,
  cmd: string | number,
  body: unknown,
) => readonly [cmd: number, bytes: Uint8Array | string] | undefined;

/**
 * Turns bytes back into a body. silly's `unmarshal` hook.
 *
 * For a request `cmd` is the number from the wire; for a response it is the
 * `cmd` the caller passed to `call`. `bytes` is a view valid only during the
 * hook: copy what must outlive it. Throwing, or returning an `Error`, is a
 * decode failure (`unmarshal failed`).
 */
export type Unmarshal = (type: MessageType, cmd: string | number, bytes: Uint8Array) => unknown;

/** A marshal/unmarshal pair; it plugs into the cluster's options in their place. */
export interface Codec {
  /** See {@linkcode Marshal}. */
  marshal: Marshal;
  /** See {@linkcode Unmarshal}. */
  unmarshal: Unmarshal;
}
