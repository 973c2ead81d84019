/**
 * Names what sent a connection's first bytes when they are not this
 * node's frames: silly's other framing (v2 against v1 or the reverse),
 * HTTP, TLS, weft of another version (silly's framings are weft's too, so
 * both modes give this hint). The recognition itself is
 * src/protocol/peer_recognition.ts.
 *
 * @module
 */

import type { Framing } from "../../wire/frame.ts";
import type { FirstBytes } from "../mode.ts";
import { firstBytesHint } from "../peer_recognition.ts";

/**
 * Returns a sentence to append to an error when the first bytes of a
 * connection say what the peer is (another framing, HTTP, TLS, another
 * weft version), or `""`.
 *
 * @param framing The framing this node reads.
 * @param first What arrived before the first frame.
 * @param hardLimit The largest body this node accepts.
 */
export function framingHint(framing: Framing, first: FirstBytes, hardLimit: number): string {
  return firstBytesHint(framing, first, hardLimit);
}
