// fetchStats: one weft-mode STATS request on a connection of its own (no
// cluster needed): HELLO, STATS, wait for HELLO_ACK and STATS_REPLY, close.
// Exported from @weft/cluster/stats (stats.ts).

import { startRefTimer, stopTimer, strictUtf8Decoder } from "../_platform.ts";
import { WeftError } from "../errors.ts";
import { defaultTransport } from "../transport/detect.ts";
import type { Connection, Transport } from "../transport/types.ts";
import type { Frame, Framing } from "../wire/frame.ts";
import { FrameDecoder } from "../wire/frame_decoder.ts";
import { FrameEncoder } from "../wire/frame_encoder.ts";
import { ControlCmd, HELLO_PAYLOAD, helloVersion, isHello, WEFT_VERSION } from "./protocol.ts";
import type { StatsSnapshot } from "./stats.ts";

/** Options of {@linkcode fetchStats}. */
export interface FetchStatsOptions {
  /** The transport; by default the runtime's. */
  transport?: Transport;
  /** The node's framing. @default {"v2"} */
  framing?: Framing;
  /** Milliseconds for connecting and the answer together. @default {5000} */
  timeout?: number;
  /** Largest answer accepted, in bytes. @default {16777216} */
  hardLimit?: number;
}

/**
 * Reads the stats of the weft-mode node at `address` over a connection of
 * its own. The node must allow it (`stats: { remote: true }`).
 *
 * @throws {WeftError} `connect failed` family, `timeout`, `closed`, `protocol` (not a weft node),
 *   `remote` (the node does not allow it).
 */
export async function fetchStats(
  address: string,
  options: FetchStatsOptions = {},
): Promise<StatsSnapshot> {
  const timeout = options.timeout ?? 5000;
  if (typeof timeout !== "number" || !(timeout > 0)) {
    throw new RangeError(`Invalid option timeout: expected more than 0 ms, got ${timeout}`);
  }
  const framing = options.framing ?? "v2";
  const hardLimit = options.hardLimit ?? 16 * 1024 * 1024;
  const transport = options.transport ?? await defaultTransport();
  const conn: Connection = await transport.connect(address, { timeout });
  const decoder = new FrameDecoder({ framing, hardLimit });
  const answer = Promise.withResolvers<StatsSnapshot>();
  let acked = false;
  const onFrame = (frame: Frame) => {
    if (frame.kind !== "request") return;
    if (!acked) {
      if (frame.cmd !== ControlCmd.HelloAck || !isHello(frame.payload)) {
        throw new WeftError("protocol", `${address} did not answer weft's HELLO: not in weft mode`);
      }
      if (helloVersion(frame.payload) !== WEFT_VERSION) {
        throw new WeftError("protocol", `${address} speaks another weft protocol version`);
      }
      acked = true;
      return;
    }
    if (frame.cmd !== ControlCmd.StatsReply || frame.session !== 1) return;
    const reply = JSON.parse(strictUtf8Decoder.decode(frame.payload));
    if (typeof reply?.error === "string") {
      answer.reject(new WeftError("remote", `${address}: ${reply.error}`));
    } else answer.resolve(reply as StatsSnapshot);
  };
  const timer = startRefTimer(
    () => answer.reject(new WeftError("timeout", `No stats from ${address} in ${timeout} ms`)),
    timeout,
  );
  conn.start({
    data: (chunk) => {
      try {
        decoder.decode(chunk, onFrame);
      } catch (error) {
        answer.reject(
          error instanceof WeftError
            ? error
            : new WeftError("protocol", `Bad stats answer from ${address}`, { cause: error }),
        );
      }
    },
    close: (info) =>
      answer.reject(
        new WeftError(
          "closed",
          `${address} closed the connection before answering (a node in silly mode, or stats not understood)`,
          info.error === undefined ? undefined : { cause: info.error },
        ),
      ),
  });
  const encoder = new FrameEncoder({ framing });
  const header = { session: 0, cmd: ControlCmd.Hello as number, traceHi: 0, traceLo: 0 };
  encoder.request(header, HELLO_PAYLOAD);
  header.session = 1;
  header.cmd = ControlCmd.Stats;
  encoder.request(header);
  conn.write(encoder.take());
  try {
    return await answer.promise;
  } finally {
    stopTimer(timer);
    await conn.close();
  }
}
