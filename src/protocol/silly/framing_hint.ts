/**
 * Names a likely framing mismatch (silly's v2 against v1 or the reverse)
 * from the first bytes a connection received (silly's framings are weft's
 * too, so both modes give this hint).
 *
 * @module
 */

import type { Framing } from "../../wire/frame.ts";
import type { FirstBytes } from "../mode.ts";

/**
 * Returns a sentence to append to an error when the first bytes of a
 * connection would have been a complete frame in the other framing (so the
 * peer very likely uses it), or `""`.
 *
 * @param framing The framing this node reads.
 * @param first What arrived before the first frame.
 * @param hardLimit The largest body this node accepts.
 */
export function framingHint(framing: Framing, first: FirstBytes, hardLimit: number): string {
  const b = first.bytes;
  if (framing === "v2") {
    if (first.have < 2) return "";
    // v1: a u16 big-endian length; a body holds at least a 4-byte session.
    const v1 = (b[0]! << 8) | b[1]!;
    if (v1 >= 4 && 2 + v1 <= first.received) {
      return `; the first bytes read as a complete frame of silly's v1 framing: the peer likely uses framing "v1" (this node: "v2")`;
    }
    return "";
  }
  if (first.have < 4) return "";
  const v2 = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  if (v2 >= 4 && v2 <= hardLimit && 4 + v2 <= first.received) {
    return `; the first bytes read as a complete frame of silly's v2 framing: the peer likely uses framing "v2" (this node: "v1")`;
  }
  return "";
}
