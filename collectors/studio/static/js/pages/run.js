// One run: details, tags (editable), params and properties, a chart per metric by kind,
// images, logs, the span timeline and files. Updates live while the run is active.

import { api, ApiError, AuthError, enc, fileBlob, fileHead, filePath, needsToken, onLive, vector } from "../api.js";
import { gantt, LineChart } from "../charts.js";
import { runColor, seriesColor } from "../colors.js";
import {
  clear, copyButton, emptyState, fmtBytes, fmtDuration, fmtFullTime, fmtNum, fmtTime, h,
  isActive, runDuration, statusBadge, throttle,
} from "../dom.js";
import { experimentHref, imageViewer } from "../shared.js";
import { mark, setCrumbs } from "../shell.js";

const TABS = [["overview", "Overview"], ["metrics", "Metrics"], ["images", "Images"], ["logs", "Logs"], ["timeline", "Timeline"], ["files", "Files"]];
const DETAIL_PROPERTIES = {
  "runlog.command": "Command", "runlog.cwd": "Working directory", "runlog.python.version": "Python",
  "runlog.python.executable": "Interpreter", "runlog.git.commit": "Git commit", "runlog.git.branch": "Git branch",
  "runlog.git.dirty": "Uncommitted changes", "runlog.exit_code": "Exit code",
};
const PACKAGE_PREFIX = "runlog.package.";
const WAITING = new Set(["NotStarted", "Queued"]);
const IMAGE_TYPES = /\.(png|jpe?g|gif|webp|bmp|avif)$/i;
const TEXT_TYPES = /\.(txt|log|json|jsonl|csv|tsv|ya?ml|toml|ini|cfg|md|rst|py|sh|js|ts|html?|xml|svg|css|ipynb|out|err)$/i;

export async function runPage(runId, params) {
  let run;
  try {
    run = await api.run(runId);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 400)) {
      throw new ApiError(404, "NOT_FOUND", `There is no run “${runId}” in this collector. It may have been logged to another collector, or the id is mistyped.`);
    }
    throw error;
  }
  const experiments = (await api.experiments()).experiments;
  const experiment = experiments.find((e) => e.name === run.experiment) || { name: run.experiment, experiment_id: "" };
  const base = `#/runs/${enc(runId)}`;
  let tab = TABS.some(([k]) => k === params.get("tab")) ? params.get("tab") : "overview";

  const header = h("div", { class: "run-head" });
  const tabBar = h("div", { class: "tabs", role: "tablist", "aria-label": "Run sections" });
  const panel = h("div", { class: "tab-panel", role: "tabpanel" });
  const el = h("section", { class: "page" }, header, tabBar, panel);
  const sections = {
    overview: overviewSection, metrics: metricsSection, images: imagesSection,
    logs: logsSection, timeline: timelineSection, files: filesSection,
  };
  let section = null;

  function drawHeader() {
    setCrumbs({ label: "Experiments", href: "#/" }, { label: run.experiment, href: experimentHref(experiment) }, { label: run.name || run.run_id });
    const duration = runDuration(run);
    clear(header,
      h("div", { class: "run-title" }, h("span", { class: "swatch big", style: { background: runColor(run.run_id) } }), h("h1", null, run.name || run.run_id), statusBadge(run.status)),
      h("div", { class: "run-meta" },
        h("span", null, "Run ", h("code", { class: "run-id" }, run.run_id), copyButton(run.run_id, "Copy run id")),
        h("span", { title: fmtFullTime(run.start_ns) }, `Started ${fmtTime(run.start_ns)}`),
        duration !== null ? h("span", null, `${isActive(run.status) ? (WAITING.has(run.status) ? "Waiting for" : "Running for") : "Took"} ${fmtDuration(duration)}`) : null,
        run.parent_id ? h("span", null, "Child of ", h("a", { href: `#/runs/${enc(run.parent_id)}` }, run.parent_id)) : null),
      run.error ? h("details", { class: "run-error" }, h("summary", null, `Error: ${run.error.split("\n").filter(Boolean).pop() || "failed"}`), h("pre", null, run.error)) : null);
  }

  function drawTabs() {
    const hasImages = run.metrics.some((m) => m.kind === "image");
    clear(tabBar, TABS.filter(([key]) => key !== "images" || hasImages || tab === "images").map(([key, label]) => {
      const count = key === "metrics" ? new Set(run.metrics.filter((m) => m.kind !== "image").map((m) => m.name)).size : null;
      return h("a", {
        role: "tab", href: key === "overview" ? base : `${base}?tab=${key}`, "aria-selected": String(tab === key),
        class: tab === key ? "tab active" : "tab", id: `tab-${key}`,
      }, label, count ? h("span", { class: "tab-count" }, String(count)) : null);
    }));
    panel.setAttribute("aria-labelledby", `tab-${tab}`);
  }

  async function showSection() {
    if (section && section.dispose) section.dispose();
    section = await sections[tab](run);
    clear(panel, section.el);
    if (section.mounted) section.mounted();
  }

  async function refreshRun() {
    run = await api.run(runId);
    drawHeader();
    if (section && section.onRun) section.onRun(run);
  }

  drawHeader();
  drawTabs();
  await showSection();
  mark("run");
  const refresh = throttle(refreshRun, 1000);
  const stop = onLive((change) => {
    const mine = change.runs && change.runs[runId];
    if (change.resync || (mine && mine.what.some((w) => ["status", "tags", "params", "properties", "metrics", "run"].includes(w)))) refresh();
    if (mine && section && section.onChange) section.onChange(mine);
  });
  const tick = setInterval(() => { if (isActive(run.status)) drawHeader(); }, 1000);
  return { el, dispose: () => { stop(); clearInterval(tick); if (section && section.dispose) section.dispose(); } };
}

// --- overview ---------------------------------------------------------------------------

function keyValueTable(entries, label, empty) {
  if (!entries.length) return h("p", { class: "muted" }, empty);
  return h("table", { class: "plain kv", "aria-label": label },
    h("tbody", null, entries.map(([k, v]) => h("tr", null, h("th", { scope: "row" }, k), h("td", null, v)))));
}

async function overviewSection(initial) {
  let run = initial;
  const details = h("div", { class: "card" });
  const tags = h("div", { class: "card" });
  const params = h("div", { class: "card" });
  const scalars = h("div", { class: "card" });
  const children = h("div", { class: "card wide", hidden: true });
  const props = h("div", { class: "card" });
  const lifecycle = h("div", { class: "card lifecycle-card" });
  const el = h("div", { class: "overview-grid" },
    h("div", { class: "overview-col" }, details, props), h("div", { class: "overview-col" }, lifecycle, tags, scalars, params), children);

  function draw() {
    const p = run.properties;
    const rows = [["Run id", h("span", null, h("code", null, run.run_id), " ", copyButton(run.run_id, "Copy run id"))],
      ["Experiment", run.experiment], ["Status", statusBadge(run.status)],
      ["Started", fmtFullTime(run.start_ns)], ["Ended", run.end_ns ? fmtFullTime(run.end_ns) : "—"],
      ["Duration", fmtDuration(runDuration(run)) || "—"]];
    if (run.parent_id) rows.push(["Parent", h("a", { href: `#/runs/${enc(run.parent_id)}` }, run.parent_id)]);
    for (const [key, label] of Object.entries(DETAIL_PROPERTIES)) {
      if (p[key] !== undefined) rows.push([label, key === "runlog.command" || key === "runlog.git.commit" ? h("code", { class: "wrap" }, p[key]) : p[key]]);
    }
    const packages = Object.entries(p).filter(([k]) => k.startsWith(PACKAGE_PREFIX)).map(([k, v]) => `${k.slice(PACKAGE_PREFIX.length)} ${v}`);
    if (packages.length) rows.push(["Packages", h("details", null, h("summary", null, `${packages.length} packages`), h("ul", { class: "packages" }, packages.map((x) => h("li", null, x))))]);
    clear(details, h("h2", null, "Details"), keyValueTable(rows, "Details"));
    drawTags();
    clear(params, h("h2", null, "Params"), keyValueTable(Object.entries(run.params), "Params", "No params. Log them with run.log_params({...})."));
    const others = Object.entries(p).filter(([k]) => !(k in DETAIL_PROPERTIES) && !k.startsWith(PACKAGE_PREFIX));
    clear(props, h("h2", null, "Properties"), keyValueTable(others, "Properties", "No other properties."));
    const single = run.metrics.filter((m) => m.kind === "scalar" && m.column === "");
    clear(scalars, h("h2", null, "Metrics"), single.length ? h("table", { class: "plain", "aria-label": "Metric summaries" },
      h("thead", null, h("tr", null, ["Name", "Last", "Min", "Max", "Points", "Last step"].map((x, i) => h("th", { scope: "col", class: i ? "num" : "" }, x)))),
      h("tbody", null, single.map((m) => h("tr", null, h("td", null, m.name), h("td", { class: "num strong" }, fmtNum(m.last)),
        h("td", { class: "num" }, fmtNum(m.min)), h("td", { class: "num" }, fmtNum(m.max)), h("td", { class: "num" }, fmtNum(m.count)), h("td", { class: "num" }, fmtNum(m.last_step))))))
      : h("p", { class: "muted" }, "No scalar metrics yet. run.log(\"loss\", 0.5) makes one."));
  }

  function drawTags() {
    const key = h("input", { type: "text", placeholder: "key", "aria-label": "New tag key", required: true, maxlength: "255" });
    const value = h("input", { type: "text", placeholder: "value", "aria-label": "New tag value", maxlength: "8192" });
    const error = h("p", { class: "filter-error", role: "alert" });
    const edit = async (set, del) => {
      try {
        run.tags = (await api.editTags(run.run_id, set, del)).tags;
        drawTags();
      } catch (e) { error.textContent = e.message; }
    };
    const list = Object.entries(run.tags).map(([k, v]) => h("li", { class: "tag" }, h("span", { class: "tag-key" }, k), h("span", { class: "tag-value" }, v),
      h("button", { type: "button", class: "icon-button", "aria-label": `Remove tag ${k}`, title: "Remove tag", onclick: () => edit({}, [k]) }, "×")));
    const form = h("form", { class: "tag-form", onsubmit: (event) => { event.preventDefault(); if (key.value.trim()) edit({ [key.value.trim()]: value.value }, []); } },
      key, value, h("button", { type: "submit" }, "Add tag"));
    clear(tags, h("h2", null, "Tags"), list.length ? h("ul", { class: "tags" }, list) : h("p", { class: "muted" }, "No tags yet."), form, error);
  }

  async function drawChildren() {
    const found = (await api.children(run.run_id)).runs;
    children.hidden = !found.length;
    if (!found.length) return;
    const names = [...new Set(found.flatMap((c) => c.metrics.filter((m) => m.kind === "scalar" && m.column === "").map((m) => m.name)))].slice(0, 6);
    clear(children, h("h2", null, `Child runs (${found.length})`), h("table", { class: "plain", "aria-label": "Child runs" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Duration"), names.map((n) => h("th", { scope: "col", class: "num" }, n)))),
      h("tbody", null, found.map((c) => {
        const last = Object.fromEntries(c.metrics.filter((m) => m.column === "").map((m) => [m.name, m.last]));
        return h("tr", null, h("td", null, h("a", { href: `#/runs/${enc(c.run_id)}` }, c.name || c.run_id)), h("td", null, statusBadge(c.status)),
          h("td", null, fmtDuration(runDuration(c))), names.map((n) => h("td", { class: "num" }, fmtNum(last[n]))));
      }))));
  }

  let history = null, submission = null;
  async function loadHistory() {
    try {
      history = (await api.statuses(run.run_id)).statuses;
      // Only submitted runs start NotStarted; asking others would be a 404 in the console.
      if (history.length && history[0].status === "NotStarted") submission = await api.submission(run.run_id);
    } catch (error) {
      if (error instanceof AuthError) throw error;
      history = history || null;
    }
    drawLifecycle(lifecycle, run, history, submission);
  }

  draw();
  await Promise.all([drawChildren(), loadHistory()]);
  const refreshChildren = throttle(drawChildren, 2000);
  const refreshHistory = throttle(loadHistory, 500);
  const tick = setInterval(() => { if (isActive(run.status)) drawLifecycle(lifecycle, run, history, submission); }, 1000);
  return {
    el,
    onRun: (next) => { run = next; draw(); refreshChildren(); refreshHistory(); },
    dispose: () => clearInterval(tick),
  };
}

// The run's statuses in order, with when each began and how long it lasted: a bar of the
// phases in proportion, then one row per status.
export function drawLifecycle(host, run, history, submission) {
  const head = h("h2", null, "Lifecycle");
  if (!history) {
    clear(host, head, h("p", { class: "muted" }, "This collector does not report status histories."));
    return;
  }
  if (!history.length) {
    clear(host, head, h("p", { class: "muted" }, "No status change recorded yet."));
    return;
  }
  const now = Date.now() * 1e6;
  const phases = history.map((entry, i) => {
    const next = history[i + 1];
    const last = !next;
    const end = next ? next.time_ns : isActive(entry.status) ? now : null;
    return { ...entry, end, last, seconds: end === null ? null : Math.max(0, (end - entry.time_ns) / 1e9) };
  });
  const total = phases.reduce((sum, p) => sum + (p.seconds || 0), 0);
  const timed = phases.filter((p) => p.seconds !== null);
  const bar = total > 0 ? h("div", { class: "phase-bar", role: "img", "aria-label": timed.map((p) => `${p.status} ${fmtDuration(p.seconds)}`).join(", ") },
    timed.map((p) => h("span", {
      class: `phase status-${p.status.toLowerCase()}`, title: `${p.status}: ${fmtDuration(p.seconds)}`,
      style: { flexGrow: String(Math.max(p.seconds / total, 0.02)) },
    }))) : null;
  const first = history[0].time_ns;
  const rows = phases.map((p) => h("tr", { "data-status": p.status },
    h("td", null, h("span", { class: `status status-${p.status.toLowerCase()}${p.last && p.end !== null ? "" : " quiet"}` }, p.status)),
    h("td", { title: fmtFullTime(p.time_ns) }, fmtClock(p.time_ns)),
    h("td", { class: "num muted" }, p.time_ns === first ? "" : `+${fmtDuration((p.time_ns - first) / 1e9)}`),
    h("td", { class: "num" }, p.seconds === null ? "—" : `${fmtDuration(p.seconds)}${p.last ? " so far" : ""}`)));
  clear(host, h("div", { class: "card-head" }, head, h("span", { class: "muted small" }, `${history.length} status${history.length === 1 ? "" : "es"} since ${fmtTime(first)}`)),
    submission ? submittedLine(submission) : null,
    bar,
    h("table", { class: "plain compact lifecycle", "aria-label": "Status history" },
      h("thead", null, h("tr", null, ["Status", "Began", "After start", "Lasted"].map((x, i) => h("th", { scope: "col", class: i > 1 ? "num" : "" }, x)))),
      h("tbody", null, rows)));
}

// Where and what a submitted run runs: its target (to the Compute page), script and
// arguments as a shell would take them, its place while it waits.
function submittedLine(sub) {
  const command = [sub.script, ...sub.arguments].map(shellQuote).join(" ");
  return h("p", { class: "submitted small" }, "Submitted to ", h("a", { href: "#/compute" }, sub.target), ": ",
    h("code", { class: "wrap" }, command),
    sub.position ? h("span", { class: "muted" }, ` · #${sub.position} in its queue`) : null);
}

function shellQuote(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

function fmtClock(ns) {
  const d = new Date(ns / 1e6);
  return `${d.toLocaleTimeString("en-GB", { hour12: false })}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

// --- metrics ----------------------------------------------------------------------------

function groupMetrics(metrics) {
  const groups = new Map();
  for (const m of metrics) {
    if (m.kind === "image") continue;
    if (!groups.has(m.name)) groups.set(m.name, []);
    groups.get(m.name).push(m);
  }
  return [...groups.entries()].map(([name, columns]) => ({ name, columns, kind: columns[0].kind }));
}

async function metricsSection(initial) {
  let run = initial;
  let xKind = "step";
  const xSelect = h("select", { "aria-label": "Horizontal axis of the series charts" },
    [["step", "step"], ["time", "time"], ["relative", "relative time"]].map(([v, label]) => h("option", { value: v }, label)));
  const grid = h("div", { class: "metric-grid" });
  const singles = h("div", { class: "card wide", hidden: true });
  const el = h("div", { class: "section" }, h("div", { class: "toolbar" }, h("label", null, "Series against ", xSelect), h("span", { class: "muted small" }, "Drag across a chart to zoom in, double-click to zoom out.")), singles, grid);
  const cards = new Map();

  function build() {
    const groups = groupMetrics(run.metrics);
    const single = groups.filter((g) => g.kind === "scalar" && g.columns[0].count === 1);
    singles.hidden = !single.length;
    clear(singles, h("h2", null, "Single values"), h("div", { class: "single-values" }, single.map((g) => h("div", { class: "single" }, h("span", { class: "muted" }, g.name), h("b", null, fmtNum(g.columns[0].last))))));
    const charted = groups.filter((g) => !(g.kind === "scalar" && g.columns[0].count === 1));
    if (!charted.length && !single.length) {
      clear(grid, emptyState("No metrics yet", h("p", null, "Log one with ", h("code", null, "run.log(\"loss\", 0.5)"), "; it appears here as it arrives.")));
      return;
    }
    for (const g of charted) {
      if (!cards.has(g.name)) {
        const card = metricCard(run, g, () => xKind);
        cards.set(g.name, card);
        grid.append(card.el);
        card.load();
      } else cards.get(g.name).update(g);
    }
  }

  xSelect.addEventListener("change", () => { xKind = xSelect.value; for (const card of cards.values()) card.setX(xKind); });
  build();
  return {
    el,
    onRun: (next) => { run = next; build(); },
    onChange: (change) => { for (const name of change.metrics) if (cards.has(name)) cards.get(name).refresh(); },
    dispose: () => { for (const card of cards.values()) card.destroy(); },
  };
}

function metricCard(run, group, getX) {
  const { name, kind, columns } = group;
  const body = h("div", { class: "chart-body" });
  const info = h("span", { class: "muted small" });
  const toggle = h("button", { type: "button", class: "link-button small", hidden: true }, "Table");
  const el = h("div", { class: "card chart-card", "data-metric": name }, h("div", { class: "card-head" }, h("h2", { title: name }, name), h("span", { class: "kind" }, kind), info, h("div", { class: "spacer" }), toggle), body);
  const stringValued = columns.every((c) => c.dtype === "str");
  let chart = null, zoom = null, showTable = false;

  async function loadSeries() {
    const x = getX();
    const axis = x === "step" || kind === "list" ? "step" : "time";
    const width = Math.max(body.clientWidth || 500, 300);
    const origin = run.start_ns / 1e9;
    const bounds = zoom ? (axis === "step" ? { start: zoom[0], end: zoom[1] } : { start: (zoom[0] + (x === "relative" ? origin : 0)) * 1e9, end: (zoom[1] + (x === "relative" ? origin : 0)) * 1e9 }) : {};
    const vectors = await Promise.all(columns.map((c) => vector(run.run_id, name, { column: c.column, maxPoints: Math.round(width * 2), x: axis, ...bounds })));
    const series = vectors.map((v, i) => ({
      id: `${name}/${v.column}`, label: v.column || name, color: columns.length === 1 ? runColor(run.run_id) : seriesColor(i),
      x: axis === "step" ? v.steps : x === "relative" ? v.times.map((t) => t - origin) : v.times, y: v.values,
    }));
    const total = columns.reduce((sum, c) => sum + c.count, 0);
    info.textContent = `${fmtNum(total)} points${vectors.some((v) => v.downsampled) ? " · min/max per pixel" : ""}`;
    if (!chart) {
      chart = new LineChart({ title: name, xKind: axis === "step" ? "step" : x, onZoom: (range) => { zoom = range; loadSeries(); } });
      clear(body, chart.el);
    }
    chart.options.xKind = axis === "step" ? "step" : x;
    chart.setSeries(series);
    if (columns.length > 1) {
      const old = body.querySelector(".legend");
      const legendEl = h("div", { class: "legend" }, series.map((s) => h("span", { class: "legend-item" }, h("span", { class: "swatch", style: { background: s.color } }), s.label)));
      old ? old.replaceWith(legendEl) : body.append(legendEl);
    }
  }

  async function loadTable() {
    // rows and tables: one line per column against the first column, and a table view.
    const vectors = await Promise.all(columns.map((c) => vector(run.run_id, name, { column: c.column })));
    const [first, ...rest] = vectors;
    toggle.hidden = false;
    toggle.textContent = showTable ? "Chart" : "Table";
    info.textContent = `${fmtNum(first.count)} rows · ${columns.length} columns`;
    if (showTable || !rest.length || first.dtype === "str") {
      const shown = Math.min(first.count, 500);
      const rows = [];
      for (let i = 0; i < shown; i++) rows.push(h("tr", null, vectors.map((v) => h("td", { class: "num" }, fmtNum(v.values[i])))));
      clear(body, h("div", { class: "table-wrap" }, h("table", { class: "plain compact", "aria-label": `${name} table` },
        h("thead", null, h("tr", null, vectors.map((v) => h("th", { scope: "col", class: "num" }, v.column)))), h("tbody", null, rows))),
      first.count > shown ? h("p", { class: "muted small" }, `First ${shown} of ${fmtNum(first.count)} rows.`) : null);
      if (chart) { chart.destroy(); chart = null; }
      return;
    }
    const numericRest = rest.filter((v) => v.dtype !== "str");
    const series = numericRest.map((v, i) => ({ id: v.column, label: v.column, color: seriesColor(i), x: first.values, y: v.values }));
    if (!chart) { chart = new LineChart({ title: name, xKind: "number", xLabel: first.column }); }
    clear(body, chart.el, h("div", { class: "legend" }, series.map((s) => h("span", { class: "legend-item" }, h("span", { class: "swatch", style: { background: s.color } }), `${s.label} vs ${first.column}`))));
    chart.setSeries(series);
  }

  async function loadStrings() {
    const v = await vector(run.run_id, name, { column: columns[0].column });
    const count = v.values.length;
    const from = Math.max(0, count - 200);
    const rows = [];
    for (let i = count - 1; i >= from; i--) rows.push(h("tr", null, h("td", { class: "num" }, fmtNum(v.steps[i])), h("td", null, fmtTime(v.times[i] * 1e9)), h("td", null, String(v.values[i]))));
    info.textContent = `${fmtNum(count)} values${count > 200 ? " · the last 200" : ""}`;
    clear(body, h("div", { class: "table-wrap" }, h("table", { class: "plain compact", "aria-label": `${name} values` },
      h("thead", null, h("tr", null, h("th", { scope: "col", class: "num" }, "Step"), h("th", { scope: "col" }, "Time"), h("th", { scope: "col" }, "Value"))), h("tbody", null, rows))));
  }

  async function load() {
    try {
      if (kind === "row" || kind === "table") await loadTable();
      else if (stringValued) await loadStrings();
      else await loadSeries();
    } catch (error) {
      clear(body, h("p", { class: "error" }, `Could not load ${name}: ${error.message}`));
    }
  }

  toggle.addEventListener("click", () => { showTable = !showTable; load(); });
  const refresh = throttle(() => { if (!zoom) load(); }, 500);
  return {
    el, load, refresh,
    update: (next) => { if (next.columns.length !== columns.length) { columns.splice(0, columns.length, ...next.columns); } },
    setX: () => { zoom = null; if (chart) chart.setXKind(getX()); if (kind !== "row" && kind !== "table" && !stringValued) load(); },
    destroy: () => { if (chart) chart.destroy(); },
  };
}

// --- images -----------------------------------------------------------------------------

async function imagesSection(run) {
  const names = [...new Set(run.metrics.filter((m) => m.kind === "image").map((m) => m.name))];
  if (!names.length) return { el: emptyState("No images", h("p", null, "Log one with ", h("code", null, "run.log_image(\"ROC\", plot=plt)"), ".")) };
  const viewers = names.map((name) => imageViewer(run.run_id, name, { label: name }));
  await Promise.all(viewers.map((v) => v.load()));
  return {
    el: h("div", { class: "gallery-grid" }, viewers.map((v) => v.el)),
    onChange: (change) => { if (change.metrics.some((n) => names.includes(n))) viewers.forEach((v) => v.load()); },
    dispose: () => viewers.forEach((v) => v.dispose()),
  };
}

// --- logs -------------------------------------------------------------------------------

const LEVELS = ["", "DEBUG", "INFO", "WARN", "ERROR"];
const MAX_LOG_LINES = 20000;

async function logsSection(run) {
  let lines = [], lastSeq = 0, level = "";
  const levelSelect = h("select", { "aria-label": "Lowest level shown" }, LEVELS.map((l) => h("option", { value: l }, l ? `${l} and above` : "All levels")));
  const search = h("input", { type: "search", placeholder: "Search log lines", "aria-label": "Search log lines" });
  const follow = h("input", { type: "checkbox", checked: true, id: "follow" });
  const count = h("span", { class: "muted small" });
  const list = h("div", { class: "log-view", tabindex: "0", role: "log", "aria-label": "Log lines", "aria-live": "off" });
  const el = h("div", { class: "card" }, h("div", { class: "toolbar" }, levelSelect, search, h("label", { class: "check" }, follow, "Follow new lines"), h("div", { class: "spacer" }), count), list);

  async function fetchMore(reset) {
    if (reset) { lines = []; lastSeq = 0; }
    for (let i = 0; i < 20; i++) {
      const page = await api.logs(run.run_id, lastSeq, level, 5000);
      lines.push(...page.lines);
      lastSeq = page.next_seq;
      if (page.lines.length < 5000) break;
    }
    if (lines.length > MAX_LOG_LINES) lines = lines.slice(-MAX_LOG_LINES);
    draw();
  }

  function draw() {
    const query = search.value.trim().toLowerCase();
    const shown = query ? lines.filter((l) => `${l.logger} ${l.message} ${l.exception || ""}`.toLowerCase().includes(query)) : lines;
    const visible = shown.slice(-2000);
    count.textContent = `${shown.length.toLocaleString("en-US")} line${shown.length === 1 ? "" : "s"}${shown.length > visible.length ? ` · showing the last ${visible.length}` : ""}`;
    if (!lines.length) {
      clear(list, h("p", { class: "muted empty-inline" }, level ? `No lines at ${level} or above.` : "No log lines yet. Standard logging reaches the run after runlog.install_logging(); `runlog run` records stdout and stderr."));
      return;
    }
    clear(list, visible.map((l) => h("div", { class: `log-line level-${(l.level || "").toLowerCase()}` },
      h("span", { class: "log-time", title: fmtFullTime(l.time_ns) }, new Date(l.time_ns / 1e6).toLocaleTimeString("en-GB", { hour12: false })),
      h("span", { class: "log-level" }, l.level || l.stream || ""),
      h("span", { class: "log-logger" }, l.logger),
      h("span", { class: "log-message" }, l.message, l.exception ? h("pre", { class: "log-exception" }, l.exception) : null))));
    if (follow.checked) list.scrollTop = list.scrollHeight;
  }

  levelSelect.addEventListener("change", () => { level = levelSelect.value; fetchMore(true); });
  search.addEventListener("input", draw);
  await fetchMore(true);
  const more = throttle(() => fetchMore(false), 300);
  return { el, onChange: (change) => { if (change.what.includes("logs")) more(); }, mounted: () => { list.scrollTop = list.scrollHeight; } };
}

// --- timeline ---------------------------------------------------------------------------

const MAX_SPANS = 1500;

async function timelineSection(run) {
  const host = h("div", { class: "card timeline" });
  async function draw() {
    const { spans } = await api.spans(run.run_id);
    if (!spans.length) {
      clear(host, emptyState("No spans", h("p", null, "Spans appear here as a timeline: OpenTelemetry spans sent with the run's resource (",
        h("code", null, "runlog.configure_otel(run)"), "), and the fits and epochs recorded by autolog.")));
      return;
    }
    const shown = spans.slice(0, MAX_SPANS);
    const width = Math.max(host.clientWidth - 32, 700);
    clear(host, h("div", { class: "card-head" }, h("h2", null, "Timeline"), h("span", { class: "muted small" }, `${spans.length} spans${spans.length > shown.length ? `, the first ${shown.length} shown` : ""} · hover a bar for its attributes`)),
      h("div", { class: "gantt-wrap" }, gantt(shown, run.start_ns, { width })));
  }
  await draw();
  const redraw = throttle(draw, 1000);
  return { el: host, onChange: (change) => { if (change.what.includes("spans")) redraw(); }, mounted: () => draw() };
}

// --- files ------------------------------------------------------------------------------

const PREVIEW_BYTES = 256 * 1024;

async function filesSection(run) {
  const listHost = h("div", { class: "card file-list" });
  const preview = h("div", { class: "card file-preview" }, h("p", { class: "muted" }, "Choose a file to preview it."));
  const el = h("div", { class: "files-grid" }, listHost, preview);
  let previewUrl = null;

  async function draw() {
    const { files } = await api.files(run.run_id);
    if (!files.length) {
      clear(listHost, emptyState("No files", h("p", null, "Upload with ", h("code", null, "run.upload_file(name=\"outputs/model.pkl\", path_or_stream=\"model.pkl\")"), "; ", h("code", null, "runlog run"), " uploads ./outputs at the end.")));
      preview.hidden = true;
      return;
    }
    preview.hidden = false;
    const folders = new Map();
    for (const file of files) {
      const cut = file.path.lastIndexOf("/");
      const folder = cut < 0 ? "" : file.path.slice(0, cut);
      if (!folders.has(folder)) folders.set(folder, []);
      folders.get(folder).push(file);
    }
    clear(listHost, h("h2", null, `Files (${files.length})`), [...folders.entries()].sort().map(([folder, items]) => h("details", { open: true, class: "folder" },
      h("summary", null, folder ? `${folder}/` : "(top level)"),
      h("ul", { class: "files" }, items.map((file) => h("li", null,
        h("button", { type: "button", class: "link-button file-name", onclick: () => showPreview(file) }, file.path.slice(folder ? folder.length + 1 : 0)),
        h("span", { class: "muted small" }, fmtBytes(file.size))))))));
    if (!shownFile) showPreview(files.find((f) => IMAGE_TYPES.test(f.path) || TEXT_TYPES.test(f.path)) || files[0]);
  }

  let shownFile = null;
  async function showPreview(file) {
    shownFile = file;
    if (previewUrl) { URL.revokeObjectURL(previewUrl); previewUrl = null; }
    const download = downloadLink(run.run_id, file.path);
    const head = h("div", { class: "card-head" }, h("h2", { class: "wrap" }, file.path), h("div", { class: "spacer" }), download);
    const meta = h("p", { class: "muted small" }, `${fmtBytes(file.size)} · uploaded ${fmtTime(file.created_ns)} · sha256 `, h("code", { class: "wrap" }, file.sha256));
    clear(preview, head, meta, h("p", { class: "muted" }, "Loading…"));
    let body;
    try {
      if (IMAGE_TYPES.test(file.path)) {
        previewUrl = URL.createObjectURL(await fileBlob(run.run_id, file.path));
        body = h("img", { class: "preview-image", src: previewUrl, alt: file.path });
      } else if (TEXT_TYPES.test(file.path) || file.size === 0) {
        const { text, truncated } = await fileHead(run.run_id, file.path, PREVIEW_BYTES);
        body = h("div", null, h("pre", { class: "preview-text" }, text), truncated ? h("p", { class: "muted small" }, `The first ${fmtBytes(PREVIEW_BYTES)}; download for the rest.`) : null);
      } else {
        body = h("p", { class: "muted" }, "No preview for this kind of file. Download it instead.");
      }
    } catch (error) {
      body = h("p", { class: "error" }, error.message);
    }
    clear(preview, head, meta, body);
  }

  await draw();
  return { el, onRun: () => draw(), dispose: () => { if (previewUrl) URL.revokeObjectURL(previewUrl); } };
}

function downloadLink(runId, path) {
  const name = path.split("/").pop();
  const href = filePath(runId, path);
  if (!needsToken()) return h("a", { class: "button", href, download: name }, "Download");
  // With a token the request needs its header: fetch, then hand the bytes to the browser.
  const button = h("button", { type: "button", class: "button" }, "Download");
  button.addEventListener("click", async () => {
    const url = URL.createObjectURL(await fileBlob(runId, path));
    const a = h("a", { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
  return button;
}
