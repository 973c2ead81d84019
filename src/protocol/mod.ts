/**
 * The protocol modes, by name: the one place that knows which exist. A
 * cluster names its mode once (the `protocol` option); everything past
 * {@linkcode createMode} sees only the {@linkcode ProtocolMode} interface
 * of ./mode.ts.
 *
 * - `silly` (./silly/): silly.net.cluster's frames, byte for byte.
 * - `weft` (./weft/): silly's frames plus weft's extensions.
 * - `skynet` (./skynet/): skynet's cluster protocol, byte for byte.
 *
 * A new mode is a folder beside these, one entry in {@linkcode MODES} and
 * one case in {@linkcode createMode}; see docs/CONNECTION.md.
 *
 * @module
 */

import type { KeyRing } from "./weft/handshake_auth.ts";
import type { ModeInfo, ProtocolMode } from "./mode.ts";
import type { PartLimits } from "./weft/parts.ts";
import { SILLY, sillyMode } from "./silly/silly_mode.ts";
import { WEFT, weftMode } from "./weft/weft_mode.ts";
import { SKYNET, skynetMode } from "./skynet/skynet_mode.ts";
import type { Framing } from "../wire/frame.ts";

/**
 * Which protocol a cluster speaks:
 *
 * - `"weft"`: silly's frames plus weft's extensions (errors that travel
 *   back, cancellation, deadlines, heartbeats). Both ends must be weft.
 * - `"silly"`: byte-exact with silly.net.cluster, for talking to silly nodes.
 * - `"skynet"`: byte-exact with skynet's cluster (`cluster.call`/`send`), for
 *   talking to skynet nodes; bodies are skynet's values (use the `skynet()`
 *   codec of `@weft/cluster/skynet`).
 */
export type Protocol = "weft" | "silly" | "skynet";

/** The default protocol. */
export const DEFAULT_PROTOCOL: Protocol = "weft";

/** Every mode's fixed info, by name. */
export const MODES: Readonly<Record<Protocol, ModeInfo>> = {
  weft: WEFT,
  silly: SILLY,
  skynet: SKYNET,
};

/**
 * Validates the `protocol` option.
 *
 * @throws {TypeError} If it names no mode.
 */
export function checkProtocol(value: unknown): Protocol {
  if (value === undefined) return DEFAULT_PROTOCOL;
  if (typeof value !== "string" || !Object.hasOwn(MODES, value)) {
    throw new TypeError(
      `Invalid option protocol: expected ${
        Object.keys(MODES).map((name) => `"${name}"`).join(" or ")
      }, got ${String(value)}`,
    );
  }
  return value as Protocol;
}

/** What the cluster's options give a mode (each mode takes what it uses). */
export interface ModeSettings {
  /** silly's framing in use. */
  readonly framing: Framing;
  /** The largest frame body read or written. */
  readonly hardLimit: number;
  /** Frame bodies over this are logged as a warning. */
  readonly softLimit: number;
  /** This node's handshake fields (its node name), if any. */
  readonly helloFields: ReadonlyMap<number, Uint8Array> | undefined;
  /** Large messages in parts. */
  readonly parts: PartLimits;
  /** Key authentication, or undefined. */
  readonly keys: KeyRing | undefined;
}

/**
 * The mode named `protocol`, configured with `settings`.
 *
 * @param protocol The mode's name (checked by {@linkcode checkProtocol}).
 * @param settings What the cluster's options say.
 */
export function createMode(protocol: Protocol, settings: ModeSettings): ProtocolMode {
  switch (protocol) {
    case "weft":
      return weftMode(settings);
    case "skynet":
      return skynetMode(settings);
    default:
      return sillyMode(settings);
  }
}
