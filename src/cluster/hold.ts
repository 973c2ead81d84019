/**
 * {@linkcode holdReading}: stop reading from one peer for a while, the
 * mechanism a node uses to push back on a peer whose requests it cannot
 * pass on yet (a router whose target is congested stops reading from the
 * callers of that target, so its memory stays bounded and nothing is
 * dropped).
 *
 * @example Hold a peer's connection while work for it waits
 * ```ts
 * import { Cluster } from "@weft/cluster";
 * import { holdReading } from "@weft/cluster";
 * import { transport } from "@weft/cluster/memory";
 *
 * const codec = {
 *   marshal: (_type: string, cmd: string | number, body: unknown) =>
 *     [Number(cmd), String(body)] as const,
 *   unmarshal: (_type: string, _cmd: string | number, bytes: Uint8Array) =>
 *     new TextDecoder().decode(bytes),
 * };
 * let release = () => {};
 * await using server = new Cluster({
 *   ...codec,
 *   transport,
 *   call: (peer, _cmd, body) => {
 *     release = holdReading(peer); // no more requests from this peer for now
 *     return body;
 *   },
 * });
 * const listener = await server.listen("127.0.0.1:0");
 * await using client = new Cluster({ ...codec, transport });
 * const peer = client.connect(`127.0.0.1:${listener.address.port}`);
 * if ((await client.call(peer, 1, "a")) !== "a") throw new Error("unexpected reply");
 * const second = client.call(peer, 1, "b", { timeout: 200 });
 * setTimeout(() => release(), 20); // read again: the second call is answered
 * if ((await second) !== "b") throw new Error("unexpected reply");
 * ```
 *
 * @module
 */

import type { Channel } from "../connection/channel.ts";
import { Peer, peerState } from "../connection/peer.ts";

/**
 * Stops reading from `peer`'s current connection until the returned
 * function is called. Holds are counted: reading resumes when every hold is
 * released (and the connection is not paused by its own congestion).
 * Frames already received are still handled; writes go on. A hold ends with
 * its connection: a peer that reconnects reads again. Releasing twice is
 * harmless.
 *
 * @param peer A peer of a cluster.
 * @returns The release function.
 * @throws {TypeError} If `peer` is not a {@linkcode Peer}.
 */
export function holdReading(peer: Peer): () => void {
  if (!(peer instanceof Peer)) throw new TypeError("Invalid peer: expected a Peer");
  const channel = peerState<Channel>(peer).channel;
  if (channel === null || channel.closed) return () => {};
  channel.hold();
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    channel.release();
  };
}
