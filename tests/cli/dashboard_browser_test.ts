/**
 * `weft dashboard` in a real browser: Debian's chromium, headless, driven
 * by the pinned playwright-core (which downloads no browser), against a
 * live cluster: a registry node (`weft registry`, Node), two routers (Bun
 * and Node), services 1.1-1.3 and 2.1 on Deno, Bun and Node campaigning
 * for their group's master (examples/_demo_part.ts), a named node
 * (`weft node`, Bun) and a client calling through the routers. The page
 * must show every node with its runtime, follow the master of group 1 to
 * another service within a few seconds of a kill -9, drop a service killed
 * with kill -9, and log no console error. With WEFT_UPDATE_SCREENSHOT=1 it
 * writes the README's screenshot, docs/dashboard.png.
 *
 * Chromium: on PATH as `chromium` (`.ci/run` installs it); without it the
 * test is skipped, except under CI.
 */

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { json } from "../../src/codec/json.ts";
import { hash, master, random, Service, serviceId } from "../../src/router/mod.ts";
import { type RuntimeName, type ScriptChild, spawnScript } from "../_runtimes.ts";
import { start, type Started } from "./_weft.ts";
import { waitLimit } from "../_wait.ts";

const PART = new URL("../../examples/_demo_part.ts", import.meta.url).pathname;
const SCREENSHOT = new URL("../../docs/dashboard.png", import.meta.url).pathname;

function findChromium(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const path = `${dir}/chromium`;
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

const browserPath = findChromium();

/**
 * Polls `check` every 100 ms until it returns a value, for at most `ms`
 * raised to tests/_wait.ts's floor (a hang guard).
 */
async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  ms = waitLimit(ms);
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms} ms${last === undefined ? "" : ` (${last})`}`);
}

Deno.test({
  name:
    "weft dashboard in chromium: every node, the master after a kill -9, a killed service gone, no console errors",
  ignore: browserPath === undefined && Deno.env.get("CI") !== "true",
  // playwright keeps its own pipes and timers alive between pages.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    assert.ok(browserPath, "chromium on PATH (.ci/run installs it)");
    const namespace = `dash-${Date.now()}/`;
    const processes: ScriptChild[] = [];
    const started: Started[] = [];
    let client: Service | undefined;
    let traffic: ReturnType<typeof setInterval> | undefined;
    const profile = await Deno.makeTempDir({ prefix: "weft-chromium-" });
    let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
    try {
      const registry = await start("node", ["registry", "--listen", "127.0.0.1:0"]);
      started.push(registry);
      const part = async (runtime: RuntimeName, args: string[], ready: RegExp) => {
        const child = await spawnScript(runtime, PART, [
          args[0]!,
          registry.address,
          namespace,
          ...args.slice(1),
        ]);
        processes.push(child);
        return { child, match: (await child.waitFor(ready, 60_000))[1]! };
      };
      const routers = await Promise.all(
        (["bun", "node"] as const).map(async (runtime) =>
          (await part(runtime, ["router", "1,2"], /^listening (\S+)$/m)).match
        ),
      );
      const services = new Map<string, ScriptChild>();
      await Promise.all(
        ([[1, 1, "deno"], [1, 2, "bun"], [1, 3, "node"], [2, 1, "node"]] as const).map(
          async ([group, index, runtime]) => {
            const { child } = await part(
              runtime,
              ["service", String(serviceId(group, index)), routers.join(",")],
              /^(started)$/m,
            );
            services.set(`${group}.${index}`, child);
          },
        ),
      );
      started.push(
        await start("bun", [
          "node",
          "--name",
          "alpha",
          "--registry",
          registry.address,
          "--namespace",
          namespace,
          "--listen",
          "127.0.0.1:0",
          "--stats",
        ]),
      );
      // Traffic, so the rates and charts have something to show.
      client = new Service({
        id: serviceId(9, 1),
        routers,
        ...json({ commands: { whoami: 1 } }),
        logger: { error() {}, warn() {} },
        timeout: 1000,
        retryInterval: 200,
      });
      await client.start();
      const c = client;
      let n = 0;
      traffic = setInterval(() => {
        for (const route of [master(1), random(1), hash(2, `k${n++ % 5}`)]) {
          c.call(route, "whoami", {}).catch(() => {});
        }
      }, 50);

      const dashboard = await start("deno", [
        "dashboard",
        "--registry",
        registry.address,
        "--namespace",
        namespace,
        "--interval",
        "500",
        "--listen",
        "127.0.0.1:0",
      ], /^dashboard (http:\/\/127\.0\.0\.1:\d+\/)$/m);
      started.push(dashboard);

      context = await chromium.launchPersistentContext(profile, {
        executablePath: browserPath,
        headless: true,
        viewport: { width: 1400, height: 1250 },
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
        ],
      });
      const page = context.pages()[0] ?? await context.newPage();
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      await page.goto(dashboard.address);

      // Every node, with its runtime.
      const want: [string, string][] = [
        ["registry", "node"],
        [`router:${routers[0]}`, "bun"],
        [`router:${routers[1]}`, "node"],
        ["svc:1.1", "deno"],
        ["svc:1.2", "bun"],
        ["svc:1.3", "node"],
        ["svc:2.1", "node"],
        ["node:alpha", "bun"],
      ];
      for (const [id, runtime] of want) {
        await until(`${id} shown up on ${runtime}`, 30_000, async () => {
          const row = page.locator(`#nodes tr[data-node-id="${id}"]`);
          if ((await row.count()) !== 1) return undefined;
          const text = await row.innerText();
          return text.includes(runtime) && /\bup\b/.test(text) ? true : undefined;
        });
        assert.equal(
          await page.locator(`#graph g[data-node-id="${id}"]`).count(),
          1,
          `${id} drawn`,
        );
      }
      // Rates and a route: numbers arrive once two polls saw traffic.
      await until("a route with calls/s", 20_000, async () => {
        const cells = await page.locator("#routes tbody tr td.n").allInnerTexts();
        return cells.some((t) => Number(t) > 0) ? true : undefined;
      });
      const masterCell = page.locator('#groups tr[data-group="1"] td.master');
      const first = await until("a master of group 1", 30_000, async () => {
        const m = await masterCell.getAttribute("data-master");
        return m !== null && m !== "-" ? m : undefined;
      });
      await until(
        "charts drawn",
        10_000,
        async () => (await page.locator("#chart-calls canvas").count()) > 0 ? true : undefined,
      );
      if (Deno.env.get("WEFT_UPDATE_SCREENSHOT") === "1") {
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      }

      // kill -9 the master: the page shows another within a few seconds.
      const killedAt = Date.now();
      services.get(first)!.signal("SIGKILL");
      const second = await until("another master on the page", 15_000, async () => {
        const m = await masterCell.getAttribute("data-master");
        return m !== null && m !== "-" && m !== first ? m : undefined;
      });
      const took = Date.now() - killedAt;
      console.log(`master ${first} -> ${second} on the page ${took} ms after kill -9`);

      // kill -9 service 2.1: it leaves the page.
      services.get("2.1")!.signal("SIGKILL");
      await until(
        "service 2.1 gone from the page",
        20_000,
        async () =>
          (await page.locator('#nodes tr[data-node-id="svc:2.1"]').count()) === 0
            ? true
            : undefined,
      );
      assert.equal(await page.locator('#graph g[data-node-id="svc:2.1"]').count(), 0);
      assert.deepEqual(problems, [], "no console errors");
    } finally {
      if (traffic !== undefined) clearInterval(traffic);
      await context?.close();
      await client?.close();
      for (const s of started.reverse()) await s.child.stop();
      for (const p of processes) await p.stop();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
