/**
 * One validator for options that are a count or a size: a positive integer,
 * or `Infinity` for none. Shared by every layer that takes such an option
 * (codec limits, node-wide budgets), so that each refuses a bad value with
 * the same coded message naming the option. Internal.
 *
 * @module
 */

/**
 * `value` if it is a positive integer or `Infinity`, `fallback` if it is
 * undefined.
 *
 * @throws {TypeError} If `value` is not a number (the message names `option`).
 * @throws {RangeError} If it is not a positive integer or `Infinity`.
 */
export function limitOption(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`Invalid option ${option}: expected a number, got ${typeof value}`);
  }
  if (!(value === Infinity || (Number.isInteger(value) && value >= 1))) {
    throw new RangeError(
      `Invalid option ${option}: expected a positive integer or Infinity, got ${value}`,
    );
  }
  return value;
}
