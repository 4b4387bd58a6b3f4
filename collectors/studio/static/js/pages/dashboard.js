// One experiment: the runs table (filter, sort, columns, selection, child runs; state in the
// URL) and charts across the selected runs (metric lines, scatter, parallel coordinates).

import { api, ApiError, onLive, vector } from "../api.js";
import { bars, LineChart, legend, parallel, scatter } from "../charts.js";
import { assignColors } from "../colors.js";
import { clear, fmtDuration, fmtFullTime, fmtNum, fmtTime, h, isActive, statusBadge, throttle, toNumber } from "../dom.js";
import { firstRunHelp } from "../shared.js";
import { mark, setCrumbs } from "../shell.js";
import { VirtualTable } from "../table.js";

const LINE_RUNS = 10;
const FIRST_PAGE = 300;
const MAX_RUNS = 10000;
const BASE_COLUMNS = ["status", "name", "start", "duration"];

export async function findExperiment(id) {
  const { experiments } = await api.experiments();
  const found = experiments.find((e) => (id === "0" ? e.name === "Default" : String(e.experiment_id) === id));
  if (!found) throw new ApiError(404, "NOT_FOUND", `Experiment ${id} does not exist in this collector.`);
  return found;
}

export function runHref(run) { return `#/runs/${encodeURIComponent(run.id)}`; }

function rowsOf(table) {
  return table.run_ids.map((id, i) => {
    const pick = (group) => Object.fromEntries(Object.entries(group).filter(([, v]) => v[i] !== null).map(([k, v]) => [k, v[i]]));
    return {
      id, name: table.names[i] || id, status: table.statuses[i], start: table.start_ns[i], end: table.end_ns[i],
      parent: table.parent_ids[i], tags: pick(table.tags), params: pick(table.params), metrics: pick(table.metrics),
    };
  });
}

function duration(row) {
  const end = row.end || (isActive(row.status) ? Date.now() * 1e6 : null);
  return end ? (end - row.start) / 1e9 : null;
}

function valueOf(row, key) {
  if (key === "status") return row.status;
  if (key === "name") return row.name;
  if (key === "start") return row.start;
  if (key === "duration") return duration(row);
  const [group, ...rest] = key.split(".");
  const name = rest.join(".");
  return (row[group] || {})[name] ?? null;
}

function numericValue(row, key) {
  const value = valueOf(row, key);
  return key.startsWith("metrics.") || key.startsWith("params.") ? toNumber(value) : value;
}

function compare(a, b) {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  const na = toNumber(a), nb = toNumber(b);
  if (na !== null && nb !== null && typeof a !== "boolean") return na - nb;
  return String(a).localeCompare(String(b));
}

class State {
  constructor(params) {
    this.filter = params.get("filter") || "";
    const sort = params.get("sort") || "start";
    this.sort = { key: sort, desc: params.has("desc") ? params.get("desc") === "1" : sort === "start" };
    this.hidden = new Set((params.get("hide") || "").split(",").filter(Boolean));
    this.selected = new Set((params.get("sel") || "").split(",").filter(Boolean));
    this.children = params.get("children") !== "0";
    this.metric = params.get("metric") || "";
    this.x = params.get("x") || "step";
    this.sx = params.get("sx") || "";
    this.sy = params.get("sy") || "";
  }

  query() {
    const q = new URLSearchParams();
    if (this.filter) q.set("filter", this.filter);
    if (this.sort.key !== "start" || !this.sort.desc) { q.set("sort", this.sort.key); q.set("desc", this.sort.desc ? "1" : "0"); }
    if (this.hidden.size) q.set("hide", [...this.hidden].join(","));
    if (this.selected.size) q.set("sel", [...this.selected].join(","));
    if (!this.children) q.set("children", "0");
    if (this.metric) q.set("metric", this.metric);
    if (this.x !== "step") q.set("x", this.x);
    if (this.sx) q.set("sx", this.sx);
    if (this.sy) q.set("sy", this.sy);
    return q;
  }
}

export async function dashboardPage(id, params) {
  const experiment = await findExperiment(id);
  setCrumbs({ label: "Experiments", href: "#/" }, { label: experiment.name });
  const state = new State(params);
  const base = `#/experiments/${id}`;
  const saveUrl = () => {
    const q = state.query().toString();
    history.replaceState(null, "", q ? `${base}?${q}` : base);
  };

  let rows = [], byId = new Map(), keys = { tags: [], params: [], metrics: [] };
  let runColor = assignColors([]);
  const summary = h("span", { class: "muted" });
  const filterInput = h("input", {
    type: "text", class: "filter-input", value: state.filter, spellcheck: "false",
    placeholder: "metrics.mse < 3000 and params.alpha = '0.5'", "aria-label": "Filter runs", "aria-describedby": "filter-error",
  });
  const filterError = h("p", { class: "filter-error", id: "filter-error", role: "alert" });
  const childrenBox = h("input", { type: "checkbox", id: "children", checked: state.children });
  const columnsMenu = h("details", { class: "menu" }, h("summary", null, "Columns"));
  const compareLink = h("a", { class: "button primary", href: "#" }, "Compare");
  const selectionInfo = h("span", { class: "muted selection-info" });
  const clearSelection = h("button", { type: "button", class: "link-button" }, "Clear selection");
  const tableHost = h("div", { class: "card table-card" });
  const lineHost = h("div", { class: "chart-body" });
  const lineNote = h("p", { class: "muted small" });
  const metricSelect = h("select", { "aria-label": "Metric to chart" });
  const xSelect = h("select", { "aria-label": "Horizontal axis" },
    ["step", "time", "relative"].map((v) => h("option", { value: v, selected: state.x === v }, v === "relative" ? "relative time" : v)));
  const sxSelect = h("select", { "aria-label": "Scatter: horizontal axis" });
  const sySelect = h("select", { "aria-label": "Scatter: vertical axis" });
  const scatterHost = h("div", { class: "chart-body" });
  const parallelHost = h("div", { class: "chart-body" });
  const chartsSection = h("section", { class: "charts-grid", "aria-label": "Charts across runs" },
    h("div", { class: "card chart-card" }, h("div", { class: "card-head" }, h("h2", null, "Metric"), metricSelect, h("span", { class: "muted" }, "vs"), xSelect), lineHost, lineNote),
    h("div", { class: "card chart-card" }, h("div", { class: "card-head" }, h("h2", null, "Scatter"), sySelect, h("span", { class: "muted" }, "vs"), sxSelect), scatterHost),
    h("div", { class: "card chart-card wide" }, h("div", { class: "card-head" }, h("h2", null, "Parallel coordinates"), h("span", { class: "muted small" }, "over the params and metrics shown in the table")), parallelHost));

  const table = new VirtualTable({
    label: `Runs of ${experiment.name}`,
    sort: state.sort,
    selectable: true,
    onSort: (key) => {
      state.sort = { key, desc: state.sort.key === key ? !state.sort.desc : key === "start" };
      table.options.sort = state.sort;
      sortRows();
      table.renderHead();
      table.setRows(rows);
      saveUrl();
      mark("sorted");
    },
    isSelected: (row) => state.selected.has(row.id),
    onToggle: (row) => { state.selected.has(row.id) ? state.selected.delete(row.id) : state.selected.add(row.id); selectionChanged(); },
    onToggleAll: () => {
      const all = rows.every((row) => state.selected.has(row.id));
      for (const row of rows) all ? state.selected.delete(row.id) : state.selected.add(row.id);
      selectionChanged();
    },
    onOpen: (row) => { location.hash = runHref(row); },
    rowLabel: (row) => `run ${row.name}`,
  });

  const lineChart = new LineChart({ title: "metric across runs", xKind: state.x, onZoom: (range) => drawLines(range) });
  lineHost.append(lineChart.el);

  const el = h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", null, experiment.name), summary, h("div", { class: "spacer" }), selectionInfo, clearSelection, compareLink),
    h("form", { class: "toolbar", role: "search", onsubmit: (event) => { event.preventDefault(); applyFilter(); } },
      h("div", { class: "filter-box" }, filterInput, h("button", { type: "submit" }, "Filter"), filterError),
      h("label", { class: "check" }, childrenBox, "Child runs"),
      columnsMenu),
    tableHost, chartsSection);

  function applyFilter() {
    state.filter = filterInput.value.trim();
    saveUrl();
    load();
  }
  childrenBox.addEventListener("change", () => { state.children = childrenBox.checked; saveUrl(); load(); });
  clearSelection.addEventListener("click", () => { state.selected.clear(); table.render(); selectionChanged(); });
  metricSelect.addEventListener("change", () => { state.metric = metricSelect.value; saveUrl(); drawLines(); });
  xSelect.addEventListener("change", () => { state.x = xSelect.value; lineChart.setXKind(state.x); saveUrl(); drawLines(); });
  sxSelect.addEventListener("change", () => { state.sx = sxSelect.value; saveUrl(); drawScatter(); });
  sySelect.addEventListener("change", () => { state.sy = sySelect.value; saveUrl(); drawScatter(); });

  function sortRows() {
    // Each row's key is computed once (not in every comparison): 10,000 runs sort in ms.
    const { key, desc } = state.sort;
    const keyed = rows.map((row) => {
      const value = valueOf(row, key);
      const number = typeof value === "boolean" ? null : toNumber(value);
      return { row, missing: value === null || value === undefined, number, text: number === null ? String(value) : "" };
    });
    const numeric = keyed.every((k) => k.missing || k.number !== null);
    keyed.sort((a, b) => {
      if (a.missing || b.missing) return a.missing - b.missing;
      const order = numeric ? a.number - b.number : a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
      return desc ? -order : order;
    });
    rows = keyed.map((k) => k.row);
  }

  function columns() {
    const all = [
      { key: "status", label: "Status", width: 118, cell: (r) => statusBadge(r.status) },
      { key: "name", label: "Name", width: 220, cell: (r) => h("span", { class: "run-name" }, h("span", { class: "swatch", style: { background: runColor(r.id) } }),
        r.parent && byId.has(r.parent) ? h("span", { class: "child-mark", title: `child of ${byId.get(r.parent).name}` }, "↳ ") : null,
        h("a", { href: runHref(r), title: r.id }, r.name)) },
      { key: "start", label: "Started", width: 150, cell: (r) => h("span", { title: fmtFullTime(r.start) }, fmtTime(r.start)) },
      { key: "duration", label: "Duration", width: 96, numeric: true, cell: (r) => fmtDuration(duration(r)) },
      ...keys.tags.map((k) => ({ key: `tags.${k}`, label: k, group: "tag", width: 120, cell: (r) => r.tags[k] ?? "" })),
      ...keys.params.map((k) => ({ key: `params.${k}`, label: k, group: "param", width: 110, numeric: true, cell: (r) => r.params[k] ?? "" })),
      ...keys.metrics.map((k) => ({ key: `metrics.${k}`, label: k, group: "metric", width: 110, numeric: true, cell: (r) => fmtNum(r.metrics[k]) })),
    ];
    return all.filter((c) => !state.hidden.has(c.key));
  }

  function drawColumnsMenu() {
    const groups = [["Run", BASE_COLUMNS.map((k) => [k, k === "start" ? "Started" : k[0].toUpperCase() + k.slice(1)])],
      ["Tags", keys.tags.map((k) => [`tags.${k}`, k])], ["Params", keys.params.map((k) => [`params.${k}`, k])],
      ["Metrics", keys.metrics.map((k) => [`metrics.${k}`, k])]].filter(([, items]) => items.length);
    clear(columnsMenu, h("summary", null, "Columns"), h("div", { class: "menu-body" }, groups.map(([title, items]) => h("fieldset", null, h("legend", null, title),
      items.map(([key, label]) => h("label", { class: "check" }, h("input", {
        type: "checkbox", checked: !state.hidden.has(key),
        onchange: (event) => {
          event.target.checked ? state.hidden.delete(key) : state.hidden.add(key);
          saveUrl(); table.setColumns(columns()); drawParallel();
        },
      }), label))))));
  }

  function chartRuns() {
    const chosen = rows.filter((row) => state.selected.has(row.id));
    return chosen.length ? chosen : rows;
  }

  function selectionChanged() {
    const n = state.selected.size;
    selectionInfo.textContent = n ? `${n} selected` : "";
    clearSelection.hidden = !n;
    compareLink.hidden = n < 2;
    compareLink.href = `#/compare?runs=${[...state.selected].map(encodeURIComponent).join(",")}`;
    saveUrl();
    drawLines();
    drawScatter();
    drawParallel();
  }

  let lineRequest = 0;
  async function drawLines(range) {
    const metric = state.metric;
    const chosen = chartRuns().slice(0, LINE_RUNS);
    const ticket = ++lineRequest;
    if (!metric) {
      lineChart.options.emptyText = "This experiment has no metrics yet";
      lineChart.setSeries([]);
      return;
    }
    lineNote.textContent = state.selected.size ? "" : rows.length > LINE_RUNS ? `The first ${LINE_RUNS} runs of the table; select runs to choose others.` : "";
    const width = Math.max(lineHost.clientWidth, 400);
    const axis = state.x === "step" ? "step" : "time";
    const results = await Promise.all(chosen.map(async (row) => {
      let bounds = {};
      if (range) {
        const offset = state.x === "relative" ? row.start / 1e9 : 0;
        bounds = axis === "step" ? { start: range[0], end: range[1] } : { start: (range[0] + offset) * 1e9, end: (range[1] + offset) * 1e9 };
      }
      try {
        const v = await vector(row.id, metric, { maxPoints: Math.round(width * 2), x: axis, ...bounds });
        return { row, v };
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
    }));
    if (ticket !== lineRequest) return;
    const series = results.filter(Boolean).map(({ row, v }) => ({
      id: row.id, label: row.name, color: runColor(row.id), y: v.values,
      x: state.x === "step" ? v.steps : state.x === "time" ? v.times : v.times.map((t) => t - row.start / 1e9),
    }));
    const old = lineHost.querySelector(".legend, svg.bars");
    if (old) old.remove();
    if (series.length && series.every((one) => one.x.length <= 1)) {
      // One value per run (a sweep's result): bars say more than a column of dots.
      lineChart.el.hidden = true;
      lineHost.append(bars(series.map((one) => ({ id: one.id, label: one.label, color: one.color, value: one.y[0], href: runHref({ id: one.id }) })), { label: metric }));
      lineNote.textContent = `${metric} has one value per run${state.selected.size ? "" : rows.length > LINE_RUNS ? `; the first ${LINE_RUNS} runs of the table` : ""}.`;
      return;
    }
    lineChart.el.hidden = false;
    lineChart.options.emptyText = `None of these runs has points of ${metric}`;
    lineChart.options.xLabel = state.x === "relative" ? "relative time" : state.x;
    lineChart.setSeries(series);
    lineHost.append(legend(series));
  }

  function axisChoices() {
    return [...keys.params.map((k) => [`params.${k}`, `param ${k}`]), ...keys.metrics.map((k) => [`metrics.${k}`, `metric ${k}`]),
      ["duration", "duration"], ["start", "start time"]];
  }

  function drawScatter() {
    const chosen = chartRuns();
    const label = (key) => key.replace(/^params\./, "").replace(/^metrics\./, "");
    const points = chosen.map((row) => ({
      id: row.id, label: row.name, color: runColor(row.id), href: runHref(row),
      x: scatterValue(row, state.sx), y: scatterValue(row, state.sy),
    }));
    clear(scatterHost, scatter(points, { xLabel: label(state.sx), yLabel: label(state.sy), width: 560, height: 300 }));
  }

  function scatterValue(row, key) {
    if (!key) return null;
    const v = numericValue(row, key);
    if (key === "start" && v) return v / 1e9;
    return v === undefined ? null : v;
  }

  function drawParallel() {
    const chosen = chartRuns().slice(0, 2000);
    const shown = columns().map((c) => c.key).filter((k) => k.startsWith("params.") || k.startsWith("metrics.")).slice(0, 10);
    const axes = shown.map((key) => ({ key, label: key.replace(/^params\./, "param ").replace(/^metrics\./, "metric "), values: chosen.map((row) => numericValue(row, key)) }))
      .filter((axis) => axis.values.some((v) => v !== null));
    const runs = chosen.map((row) => ({ id: row.id, label: row.name, color: runColor(row.id), href: runHref(row) }));
    clear(parallelHost, parallel(axes, runs, { width: 1180, height: 300 }));
  }

  function fillSelectors() {
    if (!keys.metrics.includes(state.metric)) {
      // A metric that is not also a param (a sweep logs its alpha both ways) charts best.
      state.metric = keys.metrics.find((k) => !keys.params.includes(k)) || keys.metrics[0] || "";
    }
    clear(metricSelect, keys.metrics.length ? keys.metrics.map((k) => h("option", { value: k, selected: k === state.metric }, k)) : h("option", { value: "" }, "no metrics"));
    const choices = axisChoices().map(([k]) => k);
    if (!choices.includes(state.sx)) state.sx = choices[0] || "";
    if (!choices.includes(state.sy)) {
      const xName = state.sx.split(".").slice(1).join(".");
      state.sy = choices.find((k) => k.startsWith("metrics.") && k !== `metrics.${xName}`) || choices.find((k) => k !== state.sx) || "";
    }
    clear(sxSelect, axisChoices().map(([k, label]) => h("option", { value: k, selected: k === state.sx }, label)));
    clear(sySelect, axisChoices().map(([k, label]) => h("option", { value: k, selected: k === state.sy }, label)));
  }

  // The server's name for the table's sort, so that a first page arrives in table order.
  function serverOrder() {
    const { key, desc } = state.sort;
    const attribute = { start: "attributes.start_time", name: "attributes.name", status: "attributes.status" }[key];
    const name = attribute || (/^(params|metrics|tags)\./.test(key) ? `${key.split(".")[0]}.\`${key.split(".").slice(1).join(".")}\`` : null);
    return name ? `${name} ${desc ? "DESC" : "ASC"}` : null;
  }

  let loading = null;
  async function fetchPage(size, token, signal) {
    const q = new URLSearchParams({ experiment: experiment.name, max_results: String(size) });
    if (state.filter) q.set("filter", state.filter);
    if (!state.children) q.set("children", "false");
    const order = serverOrder();
    if (order) q.append("order_by", order);
    if (token) q.set("page_token", token);
    return api.table(q, signal);
  }

  // The first FIRST_PAGE runs come at once (the table is usable in well under a second even
  // for 10,000 runs); the rest follow in one more request and join them.
  async function load() {
    if (loading) loading.abort();
    const controller = loading = new AbortController();
    let data;
    try {
      data = await fetchPage(FIRST_PAGE, null, controller.signal);
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error instanceof ApiError && error.status === 400) {
        filterError.textContent = error.message;
        filterInput.setAttribute("aria-invalid", "true");
        return;
      }
      throw error;
    }
    filterError.textContent = "";
    filterInput.removeAttribute("aria-invalid");
    let found = rowsOf(data), token = data.next_page_token;
    show(found, Boolean(token));
    mark("table");
    // The table first; the charts (thousands of marks for thousands of runs) a frame later.
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    if (token) {
      try {
        const rest = await fetchPage(MAX_RUNS - FIRST_PAGE, token, controller.signal);
        found = found.concat(rowsOf(rest));
        token = rest.next_page_token;
      } catch (error) {
        if (error.name === "AbortError") return;
        throw error;
      }
      if (controller !== loading) return;
      show(found, false, Boolean(token));
      mark("all-runs");
    }
    selectionChanged();
    mark("charts");
  }

  function show(found, partial, truncated = false) {
    rows = found;
    byId = new Map(rows.map((row) => [row.id, row]));
    runColor = assignColors(rows.map((row) => row.id));
    const union = (group) => [...new Set(rows.flatMap((row) => Object.keys(row[group])))].sort();
    keys = { tags: union("tags"), params: union("params"), metrics: union("metrics") };
    sortRows();
    const count = `${rows.length.toLocaleString("en-US")}${partial ? "+" : ""} run${rows.length === 1 ? "" : "s"}${state.filter ? " match" : ""}`;
    summary.textContent = partial ? `${count} · loading the rest…` : `${count}${truncated ? ` (the first ${MAX_RUNS.toLocaleString("en-US")})` : ""}`;
    if (!rows.length && !state.filter && experiment.run_count === 0) {
      clear(tableHost, firstRunHelp(experiment.name));
      chartsSection.hidden = true;
    } else {
      chartsSection.hidden = false;
      clear(tableHost, table.el);
      table.setColumns(columns());
      table.setRows(rows);
      table.el.style.height = `${Math.min(Math.max(rows.length, 3) * 34 + 40, 380)}px`;
      if (!rows.length) tableHost.append(h("p", { class: "empty-inline" }, `No run matches this filter. `, h("button", { type: "button", class: "link-button", onclick: () => { filterInput.value = ""; applyFilter(); } }, "Clear the filter")));
    }
    drawColumnsMenu();
    fillSelectors();
  }

  await load();
  const reload = throttle(() => load(), 1500);
  const refreshLines = throttle(() => { if (!lineChart.view) drawLines(); }, 700);
  const stop = onLive((change) => {
    if (change.resync) { reload(); return; }
    const mine = Object.entries(change.experiments_of || {}).some(([run, name]) => name === experiment.name && !byId.has(run));
    const touched = Object.entries(change.runs || {}).filter(([run]) => byId.has(run));
    if (mine || touched.some(([, c]) => c.what.some((w) => w !== "logs" && w !== "spans"))) reload();
    const shown = new Set(chartRuns().slice(0, LINE_RUNS).map((row) => row.id));
    if (touched.some(([run, c]) => shown.has(run) && c.metrics.includes(state.metric))) refreshLines();
  });
  const tick = setInterval(() => { if (rows.some((row) => isActive(row.status))) table.render(); }, 5000);
  return { el, dispose: () => { stop(); clearInterval(tick); lineChart.destroy(); }, mounted: () => table.render() };
}
