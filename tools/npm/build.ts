/**
 * Builds the npm package `@weft/cluster` into build/npm/ (gitignored) from the
 * same TypeScript sources that JSR publishes:
 *
 * 1. `tsc -p tools/npm/tsconfig.json` (typescript pinned in package.json's
 *    devDependencies) emits ESM JavaScript and `.d.ts` next to each other,
 *    rewriting the sources' relative `.ts` imports to `.js`
 *    (`rewriteRelativeImportExtensions`);
 * 2. writes build/npm/package.json: name and version from deno.json, one
 *    `exports` entry per deno.json subpath (with `types`), the npm
 *    dependencies of deno.json's import map at the same pinned versions,
 *    `engines` (the Node versions tests/npm/ runs), `files` and the `weft`
 *    bin;
 * 3. copies README.md, LICENSE, docs/PROTOCOL_EXTENSIONS.md and
 *    docs/CONNECTION.md (the README links to them).
 *
 * Run with `deno task build:npm`; then `npm pack` in build/npm/ makes the
 * tarball (tests/npm/package_test.ts does both).
 *
 * @module
 */

/** The Node versions the package declares; tests/npm/ runs the oldest and 24. */
export const NODE_ENGINES = ">=22.0.0";

/** Where the package is built, relative to the repository root. */
export const OUT_DIR = "build/npm";

/** The command-line entry, relative to the package root. */
export const BIN = "./src/cli/weft.js";

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

function readJson(p: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(path(p)));
}

/** deno.json's `"./x": "./src/y.ts"` as npm's `"./x": { types, default }`. */
export function npmExports(
  exportsMap: Record<string, string>,
): Record<string, { types: string; default: string }> {
  const out: Record<string, { types: string; default: string }> = {};
  const keys = Object.keys(exportsMap).sort((a, b) =>
    a === "." ? -1 : b === "." ? 1 : a.localeCompare(b)
  );
  for (const key of keys) {
    const source = exportsMap[key]!;
    if (!source.endsWith(".ts")) throw new Error(`deno.json export ${key} is not a .ts file`);
    const base = source.slice(0, -3);
    out[key] = { types: `${base}.d.ts`, default: `${base}.js` };
  }
  return out;
}

/**
 * npm packages only an optional subpath imports (`@weft/cluster/otel`):
 * optional peer dependencies, so the core installs without them.
 */
export const OPTIONAL_PEERS: readonly string[] = ["@opentelemetry/api"];

/**
 * npm packages of the import map the package does not depend on: `uplot`
 * is embedded in src/cli/dashboard/_uplot.ts (tools/dashboard_assets.ts),
 * `playwright-core` drives the dashboard's browser test.
 */
export const NOT_SHIPPED: readonly string[] = ["uplot", "playwright-core"];

/**
 * deno.json's `"name": "npm:name@1.2.3"` imports as npm dependencies (or,
 * with `peers`, those of {@linkcode OPTIONAL_PEERS}).
 */
export function npmDependencies(
  imports: Record<string, string>,
  peers = false,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const target of Object.values(imports)) {
    const match = /^npm:(@?[^@]+)@(.+)$/.exec(target);
    if (match === null) throw new Error(`deno.json import ${target} is not a pinned npm: import`);
    if (NOT_SHIPPED.includes(match[1]!)) continue;
    if (OPTIONAL_PEERS.includes(match[1]!) === peers) out[match[1]!] = match[2]!;
  }
  return out;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const result = await new Deno.Command(cmd, { args, cwd: path("."), stdout: "inherit" }).output();
  if (!result.success) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${result.code})`);
}

async function build(): Promise<void> {
  const deno = readJson("deno.json") as {
    name: string;
    version: string;
    license: string;
    exports: Record<string, string>;
    imports: Record<string, string>;
  };
  const dev = (readJson("package.json").devDependencies ?? {}) as Record<string, string>;
  const tsVersion = dev.typescript;
  if (tsVersion === undefined) throw new Error("package.json has no typescript devDependency");

  await Deno.remove(path(OUT_DIR), { recursive: true }).catch(() => {});
  await run(Deno.execPath(), [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys",
    `npm:typescript@${tsVersion}/tsc`,
    "-p",
    "tools/npm/tsconfig.json",
  ]);

  const exportsMap = npmExports(deno.exports);
  const manifest = {
    name: deno.name,
    version: deno.version,
    description:
      "Cluster RPC for TypeScript runtimes (Deno, Bun, Node), wire-compatible with silly.net.cluster",
    license: deno.license,
    type: "module",
    main: exportsMap["."]!.default,
    types: exportsMap["."]!.types,
    exports: exportsMap,
    bin: { weft: BIN },
    files: ["mod.js", "mod.d.ts", "src/", "docs/", "README.md", "LICENSE"],
    engines: { node: NODE_ENGINES },
    dependencies: npmDependencies(deno.imports),
    peerDependencies: npmDependencies(deno.imports, true),
    peerDependenciesMeta: Object.fromEntries(
      OPTIONAL_PEERS.map((name) => [name, { optional: true }]),
    ),
    keywords: ["rpc", "cluster", "silly", "deno", "bun", "node"],
  };
  Deno.writeTextFileSync(
    path(`${OUT_DIR}/package.json`),
    JSON.stringify(manifest, null, 2) + "\n",
  );
  Deno.mkdirSync(path(`${OUT_DIR}/docs`), { recursive: true });
  const docs = ["README.md", "LICENSE", "docs/PROTOCOL_EXTENSIONS.md", "docs/CONNECTION.md"];
  for (const file of docs) {
    Deno.copyFileSync(path(file), path(`${OUT_DIR}/${file}`));
  }
  try {
    Deno.chmodSync(path(`${OUT_DIR}/${BIN}`), 0o755);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  console.log(`built ${deno.name}@${deno.version} in ${OUT_DIR}/`);
}

if (import.meta.main) await build();
