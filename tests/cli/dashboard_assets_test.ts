// The dashboard's embedded uPlot (src/cli/dashboard/_uplot.ts, written by
// tools/dashboard_assets.ts) is byte for byte the pinned npm package's.

import assert from "node:assert/strict";
import { UPLOT_CSS, UPLOT_JS, UPLOT_VERSION } from "../../src/cli/dashboard/_uplot.ts";
import { UPLOT_FILES, uplotDir } from "../../tools/dashboard_assets.ts";

Deno.test("dashboard assets: the embedded uPlot is the pinned package's files", async () => {
  const dir = uplotDir();
  const pkg = JSON.parse(await Deno.readTextFile(new URL("package.json", dir)));
  const pinned = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)))
    .imports.uplot;
  assert.equal(pinned, `npm:uplot@${UPLOT_VERSION}`, "deno.json pins the embedded version");
  const npm = JSON.parse(await Deno.readTextFile(new URL("../../package.json", import.meta.url)));
  assert.equal(npm.devDependencies.uplot, UPLOT_VERSION, "package.json pins it too");
  assert.equal(pkg.version, UPLOT_VERSION);
  assert.equal(UPLOT_JS, await Deno.readTextFile(new URL(UPLOT_FILES.js, dir)));
  assert.equal(UPLOT_CSS, await Deno.readTextFile(new URL(UPLOT_FILES.css, dir)));
});
