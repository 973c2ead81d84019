/**
 * Every static check, in order, stopping at the first failure:
 *
 * 1. `deno fmt --check`
 * 2. `deno lint`
 * 3. the runtime-free core: src/wire, src/session, src/protocol,
 *    src/connection, src/cluster and src/codec, with their subfolders (and
 *    the shared src/errors.ts and src/_platform.ts), type-check against
 *    `lib: ["ESNext"]` alone, and none of their lines names `node:`, `Deno.`
 *    or `Bun.`
 * 4. doc examples (the code blocks in the JSDoc of mod.ts and src/) import
 *    the package by name (`@weft/cluster/json`), never a relative path, so
 *    they can be pasted (`deno test --doc` resolves the name from deno.json's
 *    `name` and `exports`)
 * 5. `deno doc --lint` over every export of deno.json
 * 6. `deno publish --dry-run`
 * 7. the tests, examples and benchmarks type-check (`deno check`: a test
 *    stub or an example left behind by an API change fails here, not in
 *    the middle of the test run)
 *
 * Run with `deno task check`.
 */

import { relativeDocImports } from "./doc_imports.ts";

const CORE_DIRS = [
  "src/wire",
  "src/session",
  "src/protocol",
  "src/connection",
  "src/cluster",
  "src/codec",
];
const CORE_SHARED = ["src/errors.ts", "src/_platform.ts"];
const FORBIDDEN = /["']node:|\bDeno\.|\bBun\./;

function step(title: string, args: string[]): void {
  console.log(`\n== ${title}: deno ${args.join(" ")}`);
  const result = new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "inherit" })
    .outputSync();
  if (!result.success) {
    console.error(`check failed at: ${title}`);
    Deno.exit(result.code || 1);
  }
}

/** The `.ts` files under `dir`, its subfolders too. */
function tsFiles(dir: string, into: string[]): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) tsFiles(path, into);
    else if (entry.isFile && entry.name.endsWith(".ts")) into.push(path);
  }
}

function coreFiles(): string[] {
  const files = [...CORE_SHARED];
  for (const dir of CORE_DIRS) tsFiles(dir, files);
  return files.sort();
}

step("format", ["fmt", "--check"]);
step("lint", ["lint"]);

const core = coreFiles();
console.log(`\n== runtime-free core: grep ${core.length} files for node:, Deno., Bun.`);
let bad = 0;
for (const file of core) {
  Deno.readTextFileSync(file).split("\n").forEach((line, i) => {
    if (FORBIDDEN.test(line)) {
      console.error(`${file}:${i + 1}: runtime-specific code in the core: ${line.trim()}`);
      bad++;
    }
  });
}
if (bad > 0) Deno.exit(1);
step("runtime-free core (lib ESNext)", ["check", "--config", "tools/core.deno.json", ...core]);

/** Every `.ts` file (not a test) under `dir`, recursively. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...sources(path));
    else if (entry.isFile && path.endsWith(".ts") && !path.endsWith("_test.ts")) out.push(path);
  }
  return out;
}

const docFiles = ["mod.ts", ...sources("src")].sort();
console.log(`\n== doc examples import by name: ${docFiles.length} files`);
let relative = 0;
for (const file of docFiles) {
  for (const { line, specifier } of relativeDocImports(Deno.readTextFileSync(file))) {
    console.error(
      `${file}:${line}: a doc example imports "${specifier}": import the package by name (@weft/cluster/...)`,
    );
    relative++;
  }
}
if (relative > 0) Deno.exit(1);

const config = JSON.parse(Deno.readTextFileSync("deno.json"));
const exportsMap: Record<string, string> = typeof config.exports === "string"
  ? { ".": config.exports }
  : config.exports;
step("doc lint", ["doc", "--lint", ...Object.values(exportsMap)]);
step("publish dry run", ["publish", "--dry-run", "--allow-dirty"]);
step("tests, examples and benchmarks", ["check", "tests/", "examples/", "bench/"]);
console.log("\nall checks passed");
