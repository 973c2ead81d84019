/**
 * Finds doc examples that import by a relative path: tools/check.ts fails
 * on any, so every example in the JSDoc imports the package by name
 * (`@weft/cluster/json`) and can be pasted into a user's project.
 *
 * @module
 */

/**
 * The relative (or absolute-path) imports in the doc examples of `text`:
 * its code blocks inside comments, as `line: specifier` (1-based lines).
 */
export function relativeDocImports(text: string): { line: number; specifier: string }[] {
  const found: { line: number; specifier: string }[] = [];
  let inBlock = false;
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/^\s*\*\s?/, "");
    if (!/^\s*\*/.test(raw) && !inBlock) return;
    if (/^```/.test(line.trim())) {
      inBlock = !inBlock;
      return;
    }
    if (!inBlock) return;
    for (const m of line.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)) {
      if (/^(\.{1,2}\/|\/)/.test(m[1]!)) found.push({ line: i + 1, specifier: m[1]! });
    }
  });
  return found;
}
