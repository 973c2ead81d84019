/**
 * Trace ids as silly builds them: 64 bits, carried in every request, whose
 * low 16 bits name the node that sent the request. A call made while
 * handling a request keeps the upper 48 bits (the root) and puts its own node
 * id in the low 16: `(root & ~0xFFFF) | nodeId`.
 *
 * Ids are kept as two unsigned 32-bit halves so that no BigInt is made per
 * call.
 *
 * @module
 */

/** The two halves of a 64-bit trace id. */
export interface TraceId {
  /** High 32 bits, unsigned. */
  traceHi: number;
  /** Low 32 bits, unsigned; the low 16 bits name the sending node. */
  traceLo: number;
}

/** The largest node id: node ids are 16 bits. */
export const MAX_NODE_ID = 0xffff;

/**
 * Validates a node id option.
 *
 * @throws {TypeError} If not a number.
 * @throws {RangeError} If not an integer from 0 to 65535.
 */
export function checkNodeId(value: unknown, option = "nodeId"): number {
  if (typeof value !== "number") {
    throw new TypeError(`Invalid option ${option}: expected a number, got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < 0 || value > MAX_NODE_ID) {
    throw new RangeError(
      `Invalid option ${option}: expected an integer from 0 to 65535, got ${value}`,
    );
  }
  return value;
}

/** A random unsigned 32-bit integer (not cryptographic: trace ids only need spread). */
export function random32(): number {
  return (Math.random() * 0x100000000) >>> 0;
}

/**
 * Writes a fresh root trace id for `nodeId` into `out`: 48 random bits and
 * the node id in the low 16.
 *
 * @example
 * ```ts
 * import { freshTraceId } from "@weft/cluster";
 *
 * const id = freshTraceId(7, { traceHi: 0, traceLo: 0 });
 * if ((id.traceLo & 0xffff) !== 7) throw new Error("unexpected result");
 * ```
 */
export function freshTraceId(nodeId: number, out: TraceId): TraceId {
  out.traceHi = random32();
  out.traceLo = ((random32() & 0xffff0000) | nodeId) >>> 0;
  return out;
}

/**
 * Writes into `out` the id a call carries when made under `parent`: the
 * parent's root (upper 48 bits) with this node's id in the low 16.
 *
 * @example
 * ```ts
 * import { propagateTraceId } from "@weft/cluster";
 *
 * const out = propagateTraceId({ traceHi: 0x11223344, traceLo: 0x55660001 }, 2, { traceHi: 0, traceLo: 0 });
 * if (out.traceHi !== 0x11223344 || out.traceLo !== 0x55660002) throw new Error("unexpected result");
 * ```
 */
export function propagateTraceId(parent: TraceId, nodeId: number, out: TraceId): TraceId {
  out.traceHi = parent.traceHi >>> 0;
  out.traceLo = ((parent.traceLo & 0xffff0000) | nodeId) >>> 0;
  return out;
}
