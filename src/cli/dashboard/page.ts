/**
 * The dashboard's page: HTML, a stylesheet and a script (plain browser
 * JavaScript, no build step), served by `weft dashboard` with uPlot
 * (./_uplot.ts) for the time series. The script polls `api/view` (the
 * picture `ClusterWatch` keeps, see ../cluster_view.ts) every interval and
 * redraws: the connections as a graph (registry, routers, nodes and
 * services in rows; a service's edges go to the routers it is connected
 * to), the nodes and routers table, the groups with their master and
 * fence, the routes, and charts of calls/s, errors/s and p99 latency per
 * node and per route.
 *
 * Elements carry data attributes (`data-node-id`, `data-group`,
 * `data-master`) for tests and scripts.
 *
 * @module
 */

/** The page. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>weft dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="uplot.css">
<link rel="stylesheet" href="app.css">
</head>
<body>
<header>
  <h1>weft</h1>
  <span id="registry"></span>
  <span id="status" class="status">connecting…</span>
</header>
<main>
  <section class="wide">
    <h2>Connections</h2>
    <svg id="graph" role="img" aria-label="the cluster's connections"></svg>
    <div class="legend">
      <span><i class="dot deno"></i>deno</span><span><i class="dot bun"></i>bun</span>
      <span><i class="dot node"></i>node</span><span><i class="dot down"></i>down</span>
      <span><b>★</b> master</span><span class="line route"></span>service–router
      <span class="line nodes"></span>node–node<span class="line registry"></span>registered
    </div>
  </section>
  <section class="wide">
    <h2>Nodes and routers</h2>
    <table id="nodes"><thead><tr>
      <th>kind</th><th>name</th><th>address</th><th>runtime</th><th>uptime</th>
      <th class="n">calls/s</th><th class="n">errors/s</th><th class="n">p50 ms</th>
      <th class="n">p90 ms</th><th class="n">p99 ms</th><th>state</th>
    </tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Groups</h2>
    <table id="groups"><thead><tr>
      <th>group</th><th>members</th><th>master</th><th>fence</th><th>routers' view</th>
    </tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Routes</h2>
    <table id="routes"><thead><tr>
      <th>router</th><th>group</th><th class="n">calls/s</th><th class="n">errors/s</th>
      <th class="n">p50 ms</th><th class="n">p99 ms</th>
    </tr></thead><tbody></tbody></table>
  </section>
  <section class="chart"><h3>calls/s per node</h3><div id="chart-calls"></div></section>
  <section class="chart"><h3>errors/s per node</h3><div id="chart-errors"></div></section>
  <section class="chart"><h3>p99 latency per node (ms)</h3><div id="chart-p99"></div></section>
  <section class="chart"><h3>calls/s per route</h3><div id="chart-route-calls"></div></section>
  <section class="chart"><h3>errors/s per route</h3><div id="chart-route-errors"></div></section>
  <section class="chart"><h3>p99 latency per route (ms)</h3><div id="chart-route-p99"></div></section>
</main>
<script src="uplot.js"></script>
<script src="app.js"></script>
</body>
</html>
`;

/** The page's stylesheet. */
export const PAGE_CSS = `
:root { --bg: #f7f7f5; --fg: #1d1d1f; --muted: #6b6b70; --line: #d9d9de; --card: #fff;
  --deno: #2a9d8f; --bun: #d4a373; --node: #5a9e3c; --down: #c0392b; --unknown: #9aa0a6; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
  background: var(--bg); color: var(--fg); }
header { display: flex; gap: 16px; align-items: baseline; padding: 10px 18px;
  border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { margin: 0; font-size: 18px; letter-spacing: .5px; }
#registry { color: var(--muted); }
.status { margin-left: auto; color: var(--muted); }
.status.bad { color: var(--down); font-weight: 600; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr));
  gap: 14px; padding: 14px 18px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 12px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2, h3 { margin: 0 0 8px; font-size: 13px; text-transform: uppercase; letter-spacing: .6px;
  color: var(--muted); font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line);
  white-space: nowrap; }
th { color: var(--muted); font-weight: 500; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.down td { color: var(--down); }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; color: #fff; font-size: 11px; }
.badge.deno { background: var(--deno); } .badge.bun { background: var(--bun); }
.badge.node { background: var(--node); } .badge.unknown { background: var(--unknown); }
#graph { width: 100%; height: 330px; display: block; }
#graph text { font-size: 11px; fill: var(--fg); text-anchor: middle; }
#graph text.sub { fill: var(--muted); font-size: 10px; }
#graph .edge { stroke: #8a8f98; stroke-width: 1.4; }
#graph .edge.node { stroke: #5b6cf0; stroke-width: 1.8; }
#graph .edge.registry { stroke: #c9ccd2; stroke-dasharray: 3 3; stroke-width: 1; }
#graph circle { stroke: #fff; stroke-width: 2; }
#graph .down circle { fill: var(--down) !important; opacity: .55; }
#graph .router rect { stroke: #fff; stroke-width: 2; }
#graph .master-star { fill: #e0a100; font-size: 15px; }
.legend { display: flex; gap: 14px; flex-wrap: wrap; color: var(--muted); margin-top: 4px;
  align-items: center; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px;
  vertical-align: -1px; }
.dot.deno { background: var(--deno); } .dot.bun { background: var(--bun); }
.dot.node { background: var(--node); } .dot.down { background: var(--down); }
.line { display: inline-block; width: 22px; border-top: 2px solid #8a8f98; margin-left: 6px; }
.line.nodes { border-color: #5b6cf0; } .line.registry { border-top: 1px dashed #c9ccd2; }
.empty { color: var(--muted); font-style: italic; }
.chart .u-legend { font-size: 11px; }
`;

/** The page's script. */
export const PAGE_JS = `"use strict";
(function () {
  var RUNTIME_COLOR = { deno: "#2a9d8f", bun: "#d4a373", node: "#5a9e3c" };
  var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
  var charts = {};
  var failures = 0;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fixed(v, d) { return v === null || v === undefined ? "-" : v.toFixed(d); }
  function ms(v) { return v === null || v === undefined ? "-" : "\\u2264" + v; }
  function uptime(v) {
    if (v === null || v === undefined) return "-";
    if (v < 60000) return (v / 1000).toFixed(1) + " s";
    if (v < 3600000) return (v / 60000).toFixed(1) + " min";
    if (v < 86400000) return (v / 3600000).toFixed(1) + " h";
    return (v / 86400000).toFixed(1) + " d";
  }
  function colorOf(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return PALETTE[h % PALETTE.length];
  }
  function fill(tbody, rows, empty, columns) {
    tbody.textContent = "";
    if (rows.length === 0) {
      var tr = el("tr");
      tr.appendChild(el("td", { colspan: String(columns), class: "empty" }, empty));
      tbody.appendChild(tr);
    }
    rows.forEach(function (r) { tbody.appendChild(r); });
  }

  function masters(view) {
    var m = {};
    view.groups.forEach(function (g) { if (g.master && g.master.id) m["svc:" + g.master.id] = g; });
    return m;
  }

  function renderNodes(view) {
    var rows = view.nodes.map(function (n) {
      var tr = el("tr", { "data-node-id": n.id, "data-kind": n.kind, class: n.up ? "up" : "down" });
      var rt = el("span", { class: "badge " + (n.runtime || "unknown") }, n.runtime || "?");
      var cells = [n.kind, n.label, n.address || "-", null, uptime(n.uptimeMs),
        n.rate ? fixed(n.rate.calls, 1) : "-", n.rate ? fixed(n.rate.errors, 1) : "-",
        ms(n.rate && n.rate.p50), ms(n.rate && n.rate.p90), ms(n.rate && n.rate.p99),
        n.up ? (n.stats ? "up" : "up (no stats)") : "down: " + (n.error || "?")];
      cells.forEach(function (c, i) {
        var td = el("td", i >= 5 && i <= 9 ? { class: "n" } : {});
        if (i === 3) td.appendChild(rt); else td.textContent = c;
        tr.appendChild(td);
      });
      return tr;
    });
    fill(document.querySelector("#nodes tbody"), rows, "nothing found yet", 11);
  }

  function renderGroups(view) {
    var rows = view.groups.map(function (g) {
      var tr = el("tr", { "data-group": String(g.group) });
      tr.appendChild(el("td", {}, String(g.group)));
      tr.appendChild(el("td", {}, g.members.join(" ") || "-"));
      var master = g.master && g.master.id ? g.master.id : "-";
      tr.appendChild(el("td", { class: "master", "data-master": master }, master));
      tr.appendChild(el("td", { class: "fence" },
        g.master ? g.master.fence + " (" + g.master.source + ")" : "-"));
      tr.appendChild(el("td", {}, g.routers.map(function (r) {
        return r.router + " \\u2192 " + (r.master || "-") + (r.fence === null ? "" : " @" + r.fence);
      }).join(", ") || "-"));
      return tr;
    });
    fill(document.querySelector("#groups tbody"), rows, "no groups", 5);
  }

  function renderRoutes(view) {
    var rows = view.routes.map(function (r) {
      var tr = el("tr", { "data-route-id": r.id });
      [r.router, String(r.group), r.rate ? fixed(r.rate.calls, 1) : "-",
        r.rate ? fixed(r.rate.errors, 1) : "-", ms(r.rate && r.rate.p50), ms(r.rate && r.rate.p99)]
        .forEach(function (c, i) { tr.appendChild(el("td", i >= 2 ? { class: "n" } : {}, c)); });
      return tr;
    });
    fill(document.querySelector("#routes tbody"), rows, "no routed traffic yet (routers need --stats)", 6);
  }

  function renderGraph(view) {
    var graph = document.getElementById("graph");
    var width = graph.clientWidth || 900;
    var rows = [[], [], []];
    view.nodes.forEach(function (n) {
      rows[n.kind === "registry" ? 0 : n.kind === "router" ? 1 : 2].push(n);
    });
    var used = rows.filter(function (r) { return r.length > 0; });
    var height = 330, pos = {};
    used.forEach(function (row, i) {
      var y = 40 + (used.length === 1 ? (height - 90) / 2 : i * (height - 100) / (used.length - 1));
      row.forEach(function (n, j) { pos[n.id] = { x: (j + 0.5) * width / row.length, y: y }; });
    });
    graph.setAttribute("viewBox", "0 0 " + width + " " + height);
    graph.textContent = "";
    view.edges.forEach(function (e) {
      var a = pos[e.from], b = pos[e.to];
      if (!a || !b) return;
      graph.appendChild(svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y,
        class: "edge " + (e.kind === "node" ? "node" : e.kind), "data-edge": e.from + " " + e.to }));
    });
    var m = masters(view);
    view.nodes.forEach(function (n) {
      var p = pos[n.id];
      var g = svg("g", { class: "vertex " + n.kind + (n.up ? "" : " down"), "data-node-id": n.id,
        transform: "translate(" + p.x + "," + p.y + ")" });
      var color = RUNTIME_COLOR[n.runtime] || "#9aa0a6";
      if (n.kind === "router" || n.kind === "registry") {
        g.appendChild(svg("rect", { x: -13, y: -13, width: 26, height: 26, rx: 5, fill: color }));
      } else {
        g.appendChild(svg("circle", { r: n.kind === "service" ? 11 : 13, fill: color }));
      }
      if (m[n.id]) g.appendChild(svg("text", { class: "master-star", y: -15 }, "\\u2605"));
      g.appendChild(svg("text", { y: 27 }, n.kind === "service" ? n.label : n.label));
      g.appendChild(svg("text", { y: 39, class: "sub" },
        (n.kind === "service" ? "service" : n.kind) + (n.runtime ? " \\u00b7 " + n.runtime : "")));
      var title = svg("title", {}, n.kind + " " + n.label + " " + (n.address || "") +
        (n.up ? "" : " (down: " + (n.error || "?") + ")"));
      g.appendChild(title);
      graph.appendChild(g);
    });
  }

  function chart(id, title, series, unit) {
    var box = document.getElementById(id);
    var names = series.map(function (s) { return s.name; });
    var key = names.join("|");
    var times = {};
    series.forEach(function (s) { s.points.forEach(function (p) { times[p.t] = true; }); });
    var xs = Object.keys(times).map(Number).sort(function (a, b) { return a - b; });
    var data = [xs.map(function (t) { return t / 1000; })];
    series.forEach(function (s) {
      var at = {};
      s.points.forEach(function (p) { at[p.t] = s.value(p); });
      data.push(xs.map(function (t) { return at[t] === undefined ? null : at[t]; }));
    });
    var c = charts[id];
    var width = Math.max(300, box.clientWidth || 420);
    if (!c || c.key !== key) {
      if (c) c.plot.destroy();
      box.textContent = "";
      if (series.length === 0) {
        box.appendChild(el("div", { class: "empty" }, "no data yet"));
        charts[id] = { key: key, plot: { destroy: function () {}, setData: function () {} } };
        return;
      }
      var opts = {
        width: width, height: 170,
        scales: { x: { time: true } },
        axes: [{}, { size: 46 }],
        series: [{}].concat(series.map(function (s) {
          return { label: s.name, stroke: colorOf(s.name), width: 1.5, spanGaps: true,
            value: function (u, v) { return v === null ? "-" : v.toFixed(1) + (unit || ""); } };
        })),
      };
      charts[id] = { key: key, plot: new uPlot(opts, data, box) };
    } else {
      c.plot.setData(data);
    }
  }

  function renderCharts(view) {
    var nodes = view.nodes.filter(function (n) { return n.history.length > 0; });
    function of(list, label, pick) {
      return list.map(function (x) { return { name: label(x), points: x.history, value: pick }; });
    }
    var nodeName = function (n) { return n.kind === "service" ? "svc " + n.label : n.label; };
    chart("chart-calls", "calls/s", of(nodes, nodeName, function (p) { return p.calls; }));
    chart("chart-errors", "errors/s", of(nodes, nodeName, function (p) { return p.errors; }));
    chart("chart-p99", "p99", of(nodes, nodeName, function (p) { return p.p99; }), " ms");
    var routes = view.routes.filter(function (r) { return r.history.length > 0; });
    var routeName = function (r) { return "g" + r.group + " @" + r.router.replace(/.*:/, ":"); };
    chart("chart-route-calls", "calls/s", of(routes, routeName, function (p) { return p.calls; }));
    chart("chart-route-errors", "errors/s", of(routes, routeName, function (p) { return p.errors; }));
    chart("chart-route-p99", "p99", of(routes, routeName, function (p) { return p.p99; }), " ms");
  }

  function render(view) {
    var r = view.registry;
    document.getElementById("registry").textContent = r.endpoint === null ? "no registry" :
      r.kind + " " + r.endpoint + (r.up ? "" : " (unreachable: " + (r.error || "?") + ")");
    var status = document.getElementById("status");
    var up = view.nodes.filter(function (n) { return n.up; }).length;
    status.textContent = up + " of " + view.nodes.length + " up \\u00b7 updated " +
      new Date(view.at).toLocaleTimeString();
    status.className = "status";
    document.body.setAttribute("data-updated", String(view.at));
    renderGraph(view);
    renderNodes(view);
    renderGroups(view);
    renderRoutes(view);
    renderCharts(view);
  }

  function poll() {
    fetch("api/view", { cache: "no-store" }).then(function (res) {
      if (!res.ok) throw new Error("HTTP " + res.status);
      return res.json();
    }).then(function (view) {
      failures = 0;
      render(view);
      setTimeout(poll, Math.max(250, view.interval));
    }).catch(function (error) {
      failures++;
      var status = document.getElementById("status");
      status.textContent = "the dashboard's server does not answer (" + error.message + ")";
      status.className = "status bad";
      setTimeout(poll, Math.min(10000, 1000 * failures));
    });
  }
  poll();
})();
`;
