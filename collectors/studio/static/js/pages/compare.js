// Two or more runs side by side: what differs in params and tags, metrics overlaid, images.

import { api, ApiError, enc, onLive, vector } from "../api.js";
import { LineChart, legend } from "../charts.js";
import { assignColors } from "../colors.js";
import { clear, emptyState, fmtDuration, fmtNum, h, runDuration, statusBadge, throttle } from "../dom.js";
import { imageViewer } from "../shared.js";
import { mark, setCrumbs } from "../shell.js";

export async function comparePage(params) {
  const ids = (params.get("runs") || "").split(",").map((x) => x.trim()).filter(Boolean);
  setCrumbs({ label: "Experiments", href: "#/" }, { label: "Compare runs" });
  if (ids.length < 2) {
    return { el: h("section", { class: "page" }, h("h1", null, "Compare runs"), emptyState("Choose at least two runs",
      h("p", null, "Select runs in an experiment's table (the checkboxes), then press Compare."), h("p", null, h("a", { class: "button", href: "#/" }, "Experiments")))) };
  }
  const runs = await Promise.all(ids.map(async (id) => {
    try { return await api.run(id); } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 400)) throw new ApiError(404, "NOT_FOUND", `There is no run “${id}” in this collector, so it cannot be compared.`);
      throw error;
    }
  }));
  let showAll = params.get("all") === "1";
  const runColor = assignColors(runs.map((run) => run.run_id));
  const diffHost = h("div", { class: "card wide" });
  const chartsHost = h("div", { class: "metric-grid" });
  const imagesHost = h("div");
  const el = h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", null, `Compare ${runs.length} runs`)),
    h("div", { class: "compare-chips" }, runs.map((run) => h("a", { class: "chip", href: `#/runs/${enc(run.run_id)}` },
      h("span", { class: "swatch", style: { background: runColor(run.run_id) } }), run.name || run.run_id, statusBadge(run.status)))),
    diffHost, chartsHost, imagesHost);

  function drawDiff() {
    const rows = [];
    const section = (title, pick) => {
      const keys = [...new Set(runs.flatMap((run) => Object.keys(pick(run))))].sort();
      const shown = keys.filter((k) => showAll || new Set(runs.map((run) => JSON.stringify(pick(run)[k] ?? null))).size > 1);
      if (!shown.length) return;
      rows.push(h("tr", { class: "group" }, h("th", { colspan: runs.length + 1, scope: "colgroup" }, title)));
      for (const key of shown) {
        const values = runs.map((run) => pick(run)[key]);
        rows.push(h("tr", null, h("th", { scope: "row" }, key), values.map((v) => h("td", { class: v === undefined ? "missing" : "" }, v === undefined ? "—" : fmtNum(v)))));
      }
    };
    section("Params", (run) => run.params);
    section("Metrics (last value)", (run) => Object.fromEntries(run.metrics.filter((m) => m.kind === "scalar" && m.column === "").map((m) => [m.name, m.last])));
    section("Tags", (run) => run.tags);
    section("Run", (run) => ({ status: run.status, duration: fmtDuration(runDuration(run)), experiment: run.experiment }));
    const toggle = h("label", { class: "check" }, h("input", { type: "checkbox", checked: showAll, onchange: (event) => {
      showAll = event.target.checked;
      const q = new URLSearchParams({ runs: ids.join(",") });
      if (showAll) q.set("all", "1");
      history.replaceState(null, "", `#/compare?${q}`);
      drawDiff();
    } }), "Show values that are the same");
    clear(diffHost, h("div", { class: "card-head" }, h("h2", null, showAll ? "Params, metrics and tags" : "What differs"), h("div", { class: "spacer" }), toggle),
      rows.length ? h("div", { class: "table-wrap" }, h("table", { class: "plain diff" },
        h("thead", null, h("tr", null, h("th", null, ""), runs.map((run) => h("th", { scope: "col" }, h("span", { class: "swatch", style: { background: runColor(run.run_id) } }), run.name || run.run_id)))),
        h("tbody", null, rows)))
        : h("p", { class: "muted" }, "These runs have the same params, metrics and tags."));
  }

  const charts = [];
  async function drawCharts() {
    const names = [...new Set(runs.flatMap((run) => run.metrics.filter((m) => (m.kind === "scalar" || m.kind === "list") && m.column === "" && m.count > 1 && m.dtype !== "str").map((m) => m.name)))].sort();
    charts.forEach((c) => c.destroy());
    charts.length = 0;
    clear(chartsHost, names.length ? [] : h("p", { class: "card muted wide" }, "No metric has more than one point in these runs, so there is nothing to overlay; the table above has their values."));
    for (const name of names) {
      const chart = new LineChart({ title: name, xKind: "step" });
      charts.push(chart);
      const body = h("div", { class: "chart-body" }, chart.el);
      chartsHost.append(h("div", { class: "card chart-card", "data-metric": name }, h("div", { class: "card-head" }, h("h2", null, name)), body));
      const series = (await Promise.all(runs.map(async (run) => {
        if (!run.metrics.some((m) => m.name === name)) return null;
        const v = await vector(run.run_id, name, { maxPoints: 1200 });
        return { id: run.run_id, label: run.name || run.run_id, color: runColor(run.run_id), x: v.steps, y: v.values };
      }))).filter(Boolean);
      chart.setSeries(series);
      body.append(legend(series));
    }
  }

  async function drawImages() {
    const names = [...new Set(runs.flatMap((run) => run.metrics.filter((m) => m.kind === "image").map((m) => m.name)))].sort();
    if (!names.length) { clear(imagesHost); return; }
    const blocks = [];
    for (const name of names) {
      const holders = runs.filter((run) => run.metrics.some((m) => m.name === name));
      const viewers = holders.map((run) => imageViewer(run.run_id, name, { label: run.name || run.run_id }));
      await Promise.all(viewers.map((v) => v.load()));
      const steps = viewers.map((v) => Number(v.slider.max));
      const shared = h("input", { type: "range", min: "0", max: String(Math.max(...steps)), value: String(Math.max(...steps)), "aria-label": `Step of ${name} in every run` });
      shared.addEventListener("input", () => viewers.forEach((v) => { v.slider.value = String(Math.min(Number(shared.value), Number(v.slider.max))); v.slider.dispatchEvent(new Event("input")); }));
      blocks.push(h("div", { class: "card wide" }, h("div", { class: "card-head" }, h("h2", null, name), h("span", { class: "muted small" }, "one slider for all runs:"), shared),
        h("div", { class: "gallery-grid" }, viewers.map((v) => v.el))));
    }
    clear(imagesHost, blocks);
  }

  drawDiff();
  await drawCharts();
  await drawImages();
  mark("compare");
  const reload = throttle(async () => {
    const fresh = await Promise.all(ids.map((id) => api.run(id)));
    runs.splice(0, runs.length, ...fresh);
    drawDiff();
    drawCharts();
  }, 1500);
  const stop = onLive((change) => { if (ids.some((id) => change.runs && change.runs[id])) reload(); });
  return { el, dispose: () => { stop(); charts.forEach((c) => c.destroy()); } };
}
