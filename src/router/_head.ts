// The routing head: the 16 bytes a service puts before the payload of every
// request it sends through a router, which the router reads (and forwards
// untouched) and the target reads to learn the source. Private to the router
// layer. Layout (integers little-endian):
//
//   0  u8   version (1)
//   1  u8   mode (Mode)
//   2  u8   flags (Flag)
//   3  u8   reserved, 0
//   4  u32  source service id
//   8  u32  target service id (target mode) or group (other modes)
//   12 u32  key hash (hash mode), else 0
//
// A Claim carries its fencing number after the head as a float64.

/** Bytes in a routing head. */
export const HEAD_SIZE = 16;
/** The only routing head version. */
export const HEAD_VERSION = 1;

/** Routing modes. */
export const Mode = {
  Register: 0,
  Target: 1,
  Random: 2,
  Hash: 3,
  Broadcast: 4,
  Master: 5,
  Claim: 6,
} as const;
/** A routing mode number. */
export type Mode = typeof Mode[keyof typeof Mode];

/** Routing flags. */
export const Flag = {
  /** Hash mode: luabus's fixed slots instead of rendezvous. */
  Slots: 1,
  /** Broadcast: the sender gets it too. */
  IncludeSelf: 2,
} as const;

/** Response prefix the router puts before a forwarded answer. */
export const Reply = { Single: 0, Broadcast: 1, Control: 2 } as const;

/** Outcome status in a broadcast answer. */
export const Outcome = { Ok: 0, Empty: 1, Error: 2 } as const;

/** Writes a head into `out` at 0. */
export function writeHead(
  out: Uint8Array,
  mode: number,
  flags: number,
  source: number,
  to: number,
  key: number,
): void {
  out[0] = HEAD_VERSION;
  out[1] = mode;
  out[2] = flags;
  out[3] = 0;
  putU32(out, 4, source);
  putU32(out, 8, to);
  putU32(out, 12, key);
}

function putU32(out: Uint8Array, at: number, value: number): void {
  out[at] = value;
  out[at + 1] = value >>> 8;
  out[at + 2] = value >>> 16;
  out[at + 3] = value >>> 24;
}

/** Reads a u32 LE at `at`. */
export function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>>
    0;
}

/**
 * The cmd of an INFO request carried through a router to a service
 * (`service.info(route, kind)`): its body is the kind, its answer the
 * service's (JSON), under the same rules as a direct INFO request
 * (`introspect`, `stats.remote`). The service's `authorize` sees it as
 * this cmd from the router that forwarded it.
 */
export const ROUTED_INFO_CMD = 0xfffffefe;
