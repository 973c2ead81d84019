/**
 * weft's version, as deno.json and the npm package give it (a test checks
 * they agree): `weft --version` prints it and a node's `describe` answer
 * carries it.
 *
 * @module
 */

/** weft's version. */
export const VERSION = "0.1.0";
