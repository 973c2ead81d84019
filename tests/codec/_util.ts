import { isWeftError } from "../../src/errors.ts";

/** Runs `fn` and returns the WeftError code it throws, or "no error"; rethrows anything else. */
export function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isWeftError(error)) return error.code;
    throw error;
  }
  return "no error";
}
