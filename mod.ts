/**
 * weft: cluster RPC for TypeScript runtimes, wire-compatible with
 * silly.net.cluster.
 *
 * This entry point is runtime-free. Runtime adapters are separate subpath
 * exports.
 *
 * @example Encode and decode a frame
 * ```ts
 * import { FrameDecoder, FrameEncoder } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const encoder = new FrameEncoder();
 * encoder.request({ session: 1, cmd: 7, traceHi: 0, traceLo: 42 }, "ping");
 * const decoder = new FrameDecoder();
 * decoder.decode(encoder.take(), (frame) => {
 *   assert.equal(frame.kind, "request");
 *   assert.equal(frame.cmd, 7);
 *   assert.equal(new TextDecoder().decode(frame.payload), "ping");
 * });
 * ```
 *
 * @module
 */

export * from "./src/errors.ts";
export * from "./src/wire/frame.ts";
export * from "./src/wire/frame_encoder.ts";
export * from "./src/wire/frame_decoder.ts";
export * from "./src/transport/types.ts";
export * from "./src/transport/address.ts";
