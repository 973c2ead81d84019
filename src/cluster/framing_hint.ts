/**
 * The channel's hint at what sent the first bytes (kept for channel.ts and
 * reaper.ts; the recognition itself is peer_recognition.ts).
 *
 * @module
 */

import type { Framing } from "../wire/frame.ts";
import { FirstBytes, firstBytesHint } from "./peer_recognition.ts";

export { FirstBytes };

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
