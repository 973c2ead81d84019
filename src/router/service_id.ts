/**
 * Service ids as luabus has them: `(group << 16) | index`, group 0 to 255,
 * index 0 to 65535. {@linkcode serviceId} makes one, {@linkcode splitServiceId}
 * takes one apart, and both check their ranges.
 *
 * @example
 * ```ts
 * import { serviceId, splitServiceId } from "@weft/cluster/router";
 *
 * const mail = serviceId(2, 1); // luabus writes it 2.1
 * if (mail !== 0x20001) throw new Error("unexpected id");
 * const { group, index } = splitServiceId(mail);
 * if (group !== 2 || index !== 1) throw new Error("unexpected parts");
 * ```
 *
 * @module
 */

/** The largest group number (groups are 0 to 255). */
export const MAX_GROUP = 255;
/** The largest index within a group (indexes are 0 to 65535). */
export const MAX_INDEX = 0xffff;
/** The largest service id: group 255, index 65535. */
export const MAX_SERVICE_ID = (MAX_GROUP << 16) | MAX_INDEX;

/** A service id's two parts. */
export interface ServiceIdParts {
  /** The group (service type), 0 to 255. */
  group: number;
  /** The instance within the group, 0 to 65535. */
  index: number;
}

/** True when `value` is an integer from `min` to `max`. */
function within(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Makes the id `(group << 16) | index`.
 *
 * @param group 0 to 255.
 * @param index 0 to 65535.
 * @returns The service id.
 * @throws {RangeError} Naming the part out of range.
 */
export function serviceId(group: number, index: number): number {
  checkGroup(group);
  if (!within(index, 0, MAX_INDEX)) {
    throw new RangeError(`Invalid index: expected an integer from 0 to ${MAX_INDEX}, got ${index}`);
  }
  return (group << 16) | index;
}

/**
 * Splits a service id into its group and index.
 *
 * @param id A service id.
 * @returns `{ group, index }`.
 * @throws {RangeError} If `id` is not a service id.
 */
export function splitServiceId(id: number): ServiceIdParts {
  checkServiceId(id);
  return { group: id >>> 16, index: id & 0xffff };
}

/**
 * The group of a service id.
 *
 * @param id A service id.
 * @returns Its group.
 * @throws {RangeError} If `id` is not a service id.
 */
export function groupOf(id: number): number {
  checkServiceId(id);
  return id >>> 16;
}

/**
 * Checks a service id.
 *
 * @param id The value to check.
 * @param what How to name it in the error.
 * @returns The id.
 * @throws {RangeError} If it is not an integer from 0 to {@linkcode MAX_SERVICE_ID}.
 */
export function checkServiceId(id: number, what = "service id"): number {
  if (!within(id, 0, MAX_SERVICE_ID)) {
    throw new RangeError(
      `Invalid ${what}: expected an integer from 0 to ${MAX_SERVICE_ID} ((group << 16) | index), got ${id}`,
    );
  }
  return id;
}

/**
 * Checks a group number.
 *
 * @param group The value to check.
 * @returns The group.
 * @throws {RangeError} If it is not an integer from 0 to 255.
 */
export function checkGroup(group: number): number {
  if (!within(group, 0, MAX_GROUP)) {
    throw new RangeError(`Invalid group: expected an integer from 0 to ${MAX_GROUP}, got ${group}`);
  }
  return group;
}

/** `group.index`, as luabus writes ids, for messages. */
export function formatServiceId(id: number): string {
  return `${id >>> 16}.${id & 0xffff}`;
}
