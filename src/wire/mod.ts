/**
 * silly's frames, byte for byte: the encoder, the incremental decoder, and
 * the constants and types of both framings (v2: u32 LE length, header
 * first; v1: u16 BE length, trailer). The cluster uses them; use them
 * directly to speak silly's frames over a bare transport. Also skynet's
 * cluster packets (2-byte big-endian length; requests, responses, parts,
 * trace tags) as pure functions: `encodeSkynetRequest`,
 * `decodeSkynetRequest`, `SkynetRequestAssembler` and the rest.
 *
 * @example Encode and decode a frame
 * ```ts
 * import { FrameDecoder, FrameEncoder } from "@weft/cluster/wire";
 *
 * const encoder = new FrameEncoder();
 * encoder.request({ session: 1, cmd: 7, traceHi: 0, traceLo: 42 }, "ping");
 * const decoder = new FrameDecoder();
 * let cmd = 0;
 * decoder.decode(encoder.take(), (frame) => (cmd = frame.cmd));
 * if (cmd !== 7) throw new Error("unexpected frame");
 * ```
 *
 * @module
 */

export * from "./frame.ts";
export * from "./frame_encoder.ts";
export * from "./frame_decoder.ts";
export * from "./skynet_packet.ts";
