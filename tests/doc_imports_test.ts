/**
 * The doc-example import check of tools/check.ts (tools/doc_imports.ts):
 * it finds relative imports in JSDoc code blocks and nothing else (the
 * check itself runs it over mod.ts and src/).
 */

import assert from "node:assert/strict";
import { relativeDocImports } from "../tools/doc_imports.ts";

Deno.test("relativeDocImports(): relative and absolute paths in doc examples, not package names or code", () => {
  const text = [
    'import { json } from "./src/codec/json.ts";', // code, not an example
    "/**",
    ' * Text mentioning "./json.ts" outside a block.',
    " *",
    " * ```ts",
    ' * import { json } from "@weft/cluster/json";',
    ' * import { raw } from "./raw.ts";',
    ' * import type { Peer } from "../cluster/peer.ts";',
    ' * const m = await import("/abs/path.ts");',
    ' * export { x } from "./x.ts";',
    " * ```",
    " */",
  ].join("\n");
  assert.deepEqual(relativeDocImports(text), [
    { line: 7, specifier: "./raw.ts" },
    { line: 8, specifier: "../cluster/peer.ts" },
    { line: 9, specifier: "/abs/path.ts" },
    { line: 10, specifier: "./x.ts" },
  ]);
});
