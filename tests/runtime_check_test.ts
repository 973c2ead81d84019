/**
 * checkRuntime() (src/_platform.ts): Node.js before 22 is refused at import
 * with the version found and the one needed; Deno, Bun and newer Node pass.
 * The npm package on a real Node 20 is tested in tests/npm/package_test.ts.
 */

import assert from "node:assert/strict";
import { checkRuntime, MIN_NODE_MAJOR } from "../src/_platform.ts";

const node = (version: string) => ({ process: { versions: { node: version } } });

Deno.test("checkRuntime(): Node before 22 throws naming the version found and the one needed", () => {
  for (const version of ["18.20.4", "20.20.2", "21.7.3"]) {
    assert.throws(
      () => checkRuntime(node(version)),
      (e: Error) =>
        e.message.includes(`needs Node.js ${MIN_NODE_MAJOR} or newer`) &&
        e.message.includes(`this is Node.js ${version}`),
      version,
    );
  }
});

Deno.test("checkRuntime(): Node 22 and later, Deno, Bun and runtimes without process pass", () => {
  for (const version of ["22.0.0", "22.7.0", "24.21.0", "25.0.0"]) checkRuntime(node(version));
  checkRuntime({ ...node("20.0.0"), Deno: {} });
  checkRuntime({ ...node("20.0.0"), Bun: {} });
  checkRuntime({});
  checkRuntime(globalThis);
});
