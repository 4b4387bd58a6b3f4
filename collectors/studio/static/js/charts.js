// Charts drawn with our own code: a canvas line chart (thousands of points per run, zoom),
// and SVG scatter, parallel coordinates and span timeline (few marks, each with a tooltip).

import { clear, fmtDuration, fmtNum, h, s } from "./dom.js";

// --- ticks and scales -------------------------------------------------------------------

export function niceTicks(min, max, count = 6) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((m) => m >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function timeTicks(min, max, count = 6) {
  if (max - min < count) return niceTicks(min, max, count); // under a few seconds: ms ticks
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
  const raw = (max - min) / count;
  const step = steps.find((x) => x >= raw) || Math.ceil(raw / 86400) * 86400;
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max; v += step) ticks.push(v);
  return ticks;
}

export function formatX(kind, value) {
  if (kind === "time") {
    return new Date(value * 1000).toLocaleTimeString("en-GB", { hour12: false });
  }
  if (kind === "relative") return fmtDuration(value).replace(".0 s", " s");
  return fmtNum(value);
}

function paddedRange(min, max) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 1;
    return [min - pad, max + pad];
  }
  const pad = (max - min) * 0.05;
  return [min - pad, max + pad];
}

function cssVar(el, name, fallback) {
  const value = getComputedStyle(el).getPropertyValue(name).trim();
  return value || fallback;
}

// --- line chart -------------------------------------------------------------------------

const PAD = { left: 60, right: 14, top: 10, bottom: 30 };

export class LineChart {
  // options: {title, xKind: "step"|"time"|"relative"|"number", xLabel, onZoom(range|null), height}
  constructor(options = {}) {
    this.options = options;
    this.series = [];
    this.view = null; // [x0, x1] while zoomed
    this.hover = null;
    this.canvas = h("canvas", { role: "img", "aria-label": options.title ? `Line chart: ${options.title}` : "Line chart" });
    this.tooltip = h("div", { class: "chart-tooltip", hidden: true });
    this.reset = h("button", { class: "chart-reset", type: "button", hidden: true, onclick: () => this.zoom(null) }, "Reset zoom");
    this.el = h("div", { class: "linechart", style: { height: `${options.height || 220}px` } }, this.canvas, this.tooltip, this.reset);
    this.el.dataset.points = "0";
    this.el.dataset.series = "0";
    this.observer = new ResizeObserver(() => this.draw());
    this.observer.observe(this.el);
    this.listen();
  }

  // series: [{id, label, color, x: Float64Array, y: Float64Array}]
  setSeries(series) {
    this.series = series;
    let points = 0, lastX = -Infinity;
    for (const one of series) {
      points += one.x.length;
      if (one.x.length) lastX = Math.max(lastX, one.x[one.x.length - 1]);
    }
    this.el.dataset.points = String(points);
    this.el.dataset.series = String(series.length);
    this.el.dataset.lastX = Number.isFinite(lastX) ? String(lastX) : "";
    this.el.dataset.drawnAt = String(Date.now());
    this.draw();
    const marks = window.__runlog && window.__runlog.marks;
    if (marks && points && marks.firstChart === undefined) marks.firstChart = performance.now();
  }

  setXKind(kind) { this.options.xKind = kind; this.view = null; this.reset.hidden = true; }

  destroy() { this.observer.disconnect(); }

  bounds() {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const one of this.series) {
      for (let i = 0; i < one.x.length; i++) {
        const x = one.x[i], y = one.y[i];
        if (this.view && (x < this.view[0] || x > this.view[1])) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (Number.isFinite(y)) { if (y < y0) y0 = y; if (y > y1) y1 = y; }
      }
    }
    if (this.view) [x0, x1] = this.view;
    else if (Number.isFinite(x0)) {
      const pad = x0 === x1 ? Math.abs(x0) * 0.1 || 1 : (x1 - x0) * 0.02;
      [x0, x1] = [x0 - pad, x1 + pad];
    }
    if (!Number.isFinite(x0)) [x0, x1] = [0, 1];
    return { x0, x1, y: paddedRange(y0, y1) };
  }

  draw() {
    const width = this.el.clientWidth, height = this.el.clientHeight;
    if (!width || !height) return;
    const ratio = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(width * ratio) || this.canvas.height !== Math.round(height * ratio)) {
      this.canvas.width = Math.round(width * ratio);
      this.canvas.height = Math.round(height * ratio);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const b = this.bounds();
    const plotW = width - PAD.left - PAD.right, plotH = height - PAD.top - PAD.bottom;
    const sx = (x) => PAD.left + ((x - b.x0) / (b.x1 - b.x0)) * plotW;
    const sy = (y) => PAD.top + (1 - (y - b.y[0]) / (b.y[1] - b.y[0])) * plotH;
    this.scale = { b, sx, plotW, plotH, width, height };
    this.drawAxes(ctx, b, sx, sy, plotW, plotH);
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top, plotW, plotH);
    ctx.clip();
    for (const one of this.series) this.drawSeries(ctx, one, sx, sy, plotW);
    this.drawHover(ctx, sx, sy, plotH);
    if (this.drag) {
      ctx.fillStyle = cssVar(this.el, "--select", "rgba(47,111,223,0.15)");
      const [a, c] = [Math.min(this.drag.from, this.drag.to), Math.max(this.drag.from, this.drag.to)];
      ctx.fillRect(a, PAD.top, c - a, plotH);
    }
    ctx.restore();
    if (!this.series.length || this.series.every((one) => !one.x.length)) {
      ctx.fillStyle = cssVar(this.el, "--muted", "#777");
      ctx.font = "13px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(this.options.emptyText || "No points yet", PAD.left + plotW / 2, PAD.top + plotH / 2);
    }
  }

  drawAxes(ctx, b, sx, sy, plotW, plotH) {
    const grid = cssVar(this.el, "--grid", "#e5e7eb"), text = cssVar(this.el, "--muted", "#6b7280");
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = text;
    ctx.strokeStyle = grid;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of niceTicks(b.y[0], b.y[1], Math.max(2, Math.floor(plotH / 40)))) {
      const y = Math.round(sy(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(PAD.left, y); ctx.lineTo(PAD.left + plotW, y); ctx.stroke();
      ctx.fillText(fmtNum(t), PAD.left - 6, y);
    }
    const kind = this.options.xKind || "step";
    const count = Math.max(2, Math.floor(plotW / 90));
    const xticks = kind === "time" || kind === "relative" ? timeTicks(b.x0, b.x1, count) : niceTicks(b.x0, b.x1, count);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of xticks) {
      const x = Math.round(sx(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, PAD.top); ctx.lineTo(x, PAD.top + plotH); ctx.stroke();
      ctx.fillText(formatX(kind, t), x, PAD.top + plotH + 6);
    }
    ctx.strokeStyle = cssVar(this.el, "--axis", "#9ca3af");
    ctx.strokeRect(PAD.left + 0.5, PAD.top + 0.5, plotW, plotH);
  }

  drawSeries(ctx, one, sx, sy, plotW) {
    const n = one.x.length;
    if (!n) return;
    ctx.strokeStyle = one.color;
    ctx.fillStyle = one.color;
    ctx.lineWidth = one.highlight ? 2.5 : 1.5;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < n; i++) {
      const y = one.y[i];
      if (!Number.isFinite(y)) { pen = false; continue; }
      const px = sx(one.x[i]), py = sy(y);
      if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      pen = true;
    }
    ctx.stroke();
    if (n <= plotW / 6) {
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(one.y[i])) continue;
        ctx.beginPath();
        ctx.arc(sx(one.x[i]), sy(one.y[i]), n === 1 ? 4 : 2.5, 0, Math.PI * 2);
        ctx.fill();
      }
    }
  }

  drawHover(ctx, sx, sy, plotH) {
    if (!this.hover) return;
    const x = sx(this.hover.x);
    ctx.strokeStyle = cssVar(this.el, "--axis", "#9ca3af");
    ctx.setLineDash([3, 3]);
    ctx.beginPath(); ctx.moveTo(x, PAD.top); ctx.lineTo(x, PAD.top + plotH); ctx.stroke();
    ctx.setLineDash([]);
    for (const point of this.hover.points) {
      if (!Number.isFinite(point.y)) continue;
      ctx.fillStyle = point.color;
      ctx.beginPath(); ctx.arc(sx(point.x), sy(point.y), 4, 0, Math.PI * 2); ctx.fill();
    }
  }

  valueAt(px) {
    const { b, plotW } = this.scale;
    return b.x0 + ((px - PAD.left) / plotW) * (b.x1 - b.x0);
  }

  listen() {
    this.canvas.addEventListener("mousemove", (event) => {
      if (!this.scale) return;
      const rect = this.canvas.getBoundingClientRect();
      const px = event.clientX - rect.left;
      if (this.drag) { this.drag.to = Math.max(PAD.left, Math.min(px, PAD.left + this.scale.plotW)); this.draw(); return; }
      this.showHover(px, event.clientY - rect.top);
    });
    this.canvas.addEventListener("mouseleave", () => { this.hover = null; this.tooltip.hidden = true; this.draw(); });
    this.canvas.addEventListener("mousedown", (event) => {
      const rect = this.canvas.getBoundingClientRect();
      const px = event.clientX - rect.left;
      if (px < PAD.left) return;
      this.drag = { from: px, to: px };
    });
    window.addEventListener("mouseup", () => {
      if (!this.drag) return;
      const { from, to } = this.drag;
      this.drag = null;
      if (Math.abs(to - from) > 6) this.zoom([this.valueAt(Math.min(from, to)), this.valueAt(Math.max(from, to))]);
      else this.draw();
    });
    this.canvas.addEventListener("dblclick", () => this.zoom(null));
  }

  zoom(range) {
    this.view = range;
    this.reset.hidden = !range;
    this.draw();
    if (this.options.onZoom) this.options.onZoom(range);
  }

  showHover(px, py) {
    const x = this.valueAt(px);
    const points = [];
    for (const one of this.series) {
      const i = nearest(one.x, x);
      if (i >= 0) points.push({ label: one.label, color: one.color, x: one.x[i], y: one.y[i] });
    }
    if (!points.length) return;
    this.hover = { x: points.reduce((best, p) => (Math.abs(p.x - x) < Math.abs(best - x) ? p.x : best), points[0].x), points };
    const kind = this.options.xKind || "step";
    const rows = points.slice(0, 12).map((p) => h("div", { class: "tip-row" },
      h("span", { class: "swatch", style: { background: p.color } }), h("span", { class: "tip-label" }, p.label), h("b", null, fmtNum(p.y))));
    clear(this.tooltip, h("div", { class: "tip-x" }, `${this.options.xLabel || kind}: ${formatX(kind, this.hover.x)}`), rows,
      points.length > 12 ? h("div", { class: "tip-more" }, `… ${points.length - 12} more`) : null);
    this.tooltip.hidden = false;
    const left = px + 16 + 220 > this.scale.width ? px - 16 - 220 : px + 16;
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${Math.max(0, py - 10)}px`;
    this.draw();
  }
}

function nearest(xs, x) {
  const n = xs.length;
  if (!n) return -1;
  let lo = 0, hi = n - 1;
  if (xs[0] <= xs[n - 1]) {
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < x) lo = mid; else hi = mid;
    }
    return Math.abs(xs[lo] - x) <= Math.abs(xs[hi] - x) ? lo : hi;
  }
  let best = 0;
  for (let i = 1; i < n; i++) if (Math.abs(xs[i] - x) < Math.abs(xs[best] - x)) best = i;
  return best;
}

export function legend(series) {
  return h("div", { class: "legend" }, series.map((one) =>
    h("span", { class: "legend-item" }, h("span", { class: "swatch", style: { background: one.color } }), one.label)));
}

// --- scatter (SVG) ------------------------------------------------------------------------

function axisScale(values, length, reverse) {
  const numeric = values.every((v) => v === null || typeof v === "number");
  if (numeric) {
    const finite = values.filter((v) => Number.isFinite(v));
    const [lo, hi] = paddedRange(Math.min(...finite), Math.max(...finite));
    const map = (v) => (reverse ? length - ((v - lo) / (hi - lo)) * length : ((v - lo) / (hi - lo)) * length);
    return { map, ticks: niceTicks(lo, hi, Math.max(2, Math.floor(length / 70))).filter((t) => t >= lo && t <= hi), format: fmtNum };
  }
  const categories = [...new Set(values.filter((v) => v !== null).map(String))].sort();
  const step = length / Math.max(categories.length, 1);
  const map = (v) => {
    const at = (categories.indexOf(String(v)) + 0.5) * step;
    return reverse ? length - at : at;
  };
  return { map, ticks: categories, format: (v) => String(v) };
}

// points: [{id, label, color, x, y, href}], x/y numbers or strings (categories)
export function scatter(points, { xLabel, yLabel, width = 520, height = 300 } = {}) {
  const pad = { left: 64, right: 16, top: 12, bottom: 40 };
  const usable = points.filter((p) => p.x !== null && p.y !== null && p.x !== undefined && p.y !== undefined
    && !(typeof p.x === "number" && !Number.isFinite(p.x)) && !(typeof p.y === "number" && !Number.isFinite(p.y)));
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  const svg = s("svg", { class: "scatter", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `Scatter plot of ${yLabel} against ${xLabel}, ${usable.length} runs`, "data-points": usable.length });
  if (!usable.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty-text" }, "No run has both values"));
    return svg;
  }
  const xs = axisScale(usable.map((p) => p.x), plotW, false), ys = axisScale(usable.map((p) => p.y), plotH, true);
  const g = s("g", { transform: `translate(${pad.left},${pad.top})` });
  for (const t of ys.ticks) {
    const y = ys.map(t);
    g.append(s("line", { class: "grid", x1: 0, x2: plotW, y1: y, y2: y }), s("text", { class: "tick", x: -6, y, "text-anchor": "end", "dominant-baseline": "middle" }, ys.format(t)));
  }
  for (const t of xs.ticks) {
    const x = xs.map(t);
    g.append(s("line", { class: "grid", x1: x, x2: x, y1: 0, y2: plotH }), s("text", { class: "tick", x, y: plotH + 16, "text-anchor": "middle" }, xs.format(t)));
  }
  g.append(s("rect", { class: "frame", x: 0, y: 0, width: plotW, height: plotH }));
  const many = usable.length > 500; // past that, no tab stop or tooltip element per point
  for (const p of usable) {
    const title = many ? null : s("title", null, `${p.label}\n${xLabel}: ${fmtNum(p.x)}\n${yLabel}: ${fmtNum(p.y)}`);
    const dot = s("circle", { class: "pt", cx: xs.map(p.x), cy: ys.map(p.y), r: many ? 3 : 5, fill: p.color, "data-run": p.id, tabindex: p.href && !many ? 0 : undefined }, title);
    if (p.href) {
      dot.addEventListener("click", () => { location.hash = p.href; });
      dot.addEventListener("keydown", (event) => { if (event.key === "Enter") location.hash = p.href; });
    }
    g.append(dot);
  }
  g.append(s("text", { class: "axis-label", x: plotW / 2, y: plotH + 34, "text-anchor": "middle" }, xLabel));
  g.append(s("text", { class: "axis-label", transform: `translate(${-50},${plotH / 2}) rotate(-90)`, "text-anchor": "middle" }, yLabel));
  svg.append(g);
  return svg;
}

// --- one value per run: bars (SVG) ----------------------------------------------------------

// items: [{id, label, color, value, href}]
export function bars(items, { width = 560, label = "" } = {}) {
  const shown = items.filter((x) => Number.isFinite(x.value)).sort((a, b) => a.value - b.value).slice(0, 40);
  const row = 22, labelWidth = 150, valueWidth = 80;
  const height = Math.max(shown.length * row + 8, 60);
  const svg = s("svg", { class: "bars", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${label}: one value per run` });
  if (!shown.length) {
    svg.append(s("text", { x: width / 2, y: 30, "text-anchor": "middle", class: "empty-text" }, "No values"));
    return svg;
  }
  const low = Math.min(0, ...shown.map((x) => x.value)), high = Math.max(0, ...shown.map((x) => x.value));
  const plot = width - labelWidth - valueWidth;
  const sx = (v) => labelWidth + ((v - low) / (high - low || 1)) * plot;
  shown.forEach((item, i) => {
    const y = 4 + i * row;
    const x0 = sx(Math.min(0, item.value)), x1 = sx(Math.max(0, item.value));
    const g = s("g", { class: "bar-row", "data-run": item.id },
      s("title", null, `${item.label}: ${fmtNum(item.value)}`),
      s("text", { class: "bar-label", x: labelWidth - 8, y: y + row / 2, "text-anchor": "end", "dominant-baseline": "middle" }, truncate(item.label, 22)),
      s("rect", { x: x0, y: y + 3, width: Math.max(x1 - x0, 1), height: row - 6, rx: 2, fill: item.color }),
      s("text", { class: "bar-value", x: x1 + 6, y: y + row / 2, "dominant-baseline": "middle" }, fmtNum(item.value)));
    if (item.href) g.addEventListener("click", () => { location.hash = item.href; });
    svg.append(g);
  });
  return svg;
}

// --- parallel coordinates (SVG) -----------------------------------------------------------

// axes: [{key, label, values: [...one per run]}]; runs: [{id, label, color, href}]
export function parallel(axes, runs, { width = 1000, height = 300 } = {}) {
  const pad = { left: 40, right: 40, top: 28, bottom: 24 };
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  const svg = s("svg", { class: "parallel", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `Parallel coordinates over ${axes.map((a) => a.label).join(", ")}` });
  if (axes.length < 2 || !runs.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty-text" }, "Needs at least two params or metrics with values"));
    return svg;
  }
  const gap = plotW / (axes.length - 1);
  const scales = axes.map((axis) => axisScale(axis.values.map((v) => (v === undefined ? null : v)), plotH, true));
  const g = s("g", { transform: `translate(${pad.left},${pad.top})` });
  runs.forEach((run, r) => {
    let d = "";
    axes.forEach((axis, a) => {
      const v = axis.values[r];
      if (v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v))) return;
      d += `${d ? "L" : "M"}${(a * gap).toFixed(1)},${scales[a].map(v).toFixed(1)}`;
    });
    if (!d) return;
    const path = s("path", { class: "line", d, stroke: run.color, "data-run": run.id }, s("title", null, run.label));
    if (run.href) path.addEventListener("click", () => { location.hash = run.href; });
    g.append(path);
  });
  axes.forEach((axis, a) => {
    const x = a * gap;
    const ax = s("g", { class: "axis" }, s("line", { x1: x, x2: x, y1: 0, y2: plotH }));
    const ticks = scales[a].ticks;
    const shown = ticks.length > 8 ? ticks.filter((_, i) => i % Math.ceil(ticks.length / 8) === 0) : ticks;
    for (const t of shown) ax.append(s("text", { class: "tick", x: x + 5, y: scales[a].map(t), "dominant-baseline": "middle" }, scales[a].format(t)));
    ax.append(s("text", { class: "axis-label", x, y: -12, "text-anchor": a === 0 ? "start" : a === axes.length - 1 ? "end" : "middle" }, axis.label));
    g.append(ax);
  });
  svg.append(g);
  return svg;
}

// --- span timeline (SVG) --------------------------------------------------------------------

// spans: the run's spans (ns); origin: the run's start (ns)
export function gantt(spans, origin, { width = 1100, rowHeight = 24, labelWidth = 260 } = {}) {
  const byId = new Map(spans.map((span) => [span.span_id, span]));
  const depth = (span) => {
    let d = 0, at = span;
    while (at.parent_span_id && byId.has(at.parent_span_id) && d < 20) { at = byId.get(at.parent_span_id); d++; }
    return d;
  };
  const ordered = treeOrder(spans, byId);
  const start = Math.min(...spans.map((x) => x.start_ns));
  const runStart = origin || start;
  const end = Math.max(...spans.map((x) => x.end_ns));
  const total = Math.max(end - start, 1);
  const plotW = width - labelWidth - 70;
  const height = ordered.length * rowHeight + 30;
  const svg = s("svg", { class: "gantt", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": `Timeline of ${spans.length} spans` });
  const sx = (ns) => labelWidth + ((ns - start) / total) * plotW;
  for (const t of timeTicks(0, total / 1e9, Math.max(2, Math.floor(plotW / 100)))) {
    const x = sx(start + t * 1e9);
    svg.append(s("line", { class: "grid", x1: x, x2: x, y1: 18, y2: height }), s("text", { class: "tick", x, y: 12, "text-anchor": "middle" }, formatX("relative", t)));
  }
  ordered.forEach((span, i) => {
    const y = 22 + i * rowHeight;
    const x0 = sx(span.start_ns), x1 = Math.max(sx(span.end_ns), x0 + 2);
    const seconds = (span.end_ns - span.start_ns) / 1e9;
    const attributes = Object.entries(span.attributes || {}).slice(0, 12).map(([k, v]) => `\n${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("");
    const title = `${span.name} — ${fmtDuration(seconds)} (${span.status_code})${span.status_message ? `: ${span.status_message}` : ""}\nstarts ${fmtDuration((span.start_ns - runStart) / 1e9)} after the run started${attributes}`;
    const row = s("g", { class: `span-row ${span.status_code === "ERROR" ? "error" : ""}`, "data-span": span.span_id },
      s("title", null, title),
      s("rect", { class: "row-bg", x: 0, y, width, height: rowHeight }),
      s("text", { class: "span-name", x: 8 + depth(span) * 14, y: y + rowHeight / 2, "dominant-baseline": "middle" }, truncate(span.name, 34 - depth(span) * 2)),
      s("rect", { class: "bar", x: x0, y: y + 5, width: x1 - x0, height: rowHeight - 10, rx: 3 }),
      s("text", { class: "span-time", x: x1 + 6, y: y + rowHeight / 2, "dominant-baseline": "middle" }, fmtDuration(seconds)));
    svg.append(row);
  });
  return svg;
}

function truncate(text, length) {
  return text.length > length ? `${text.slice(0, Math.max(length - 1, 4))}…` : text;
}

function treeOrder(spans, byId) {
  const children = new Map();
  const roots = [];
  for (const span of spans) {
    if (span.parent_span_id && byId.has(span.parent_span_id)) {
      if (!children.has(span.parent_span_id)) children.set(span.parent_span_id, []);
      children.get(span.parent_span_id).push(span);
    } else roots.push(span);
  }
  const out = [];
  const visit = (span) => {
    out.push(span);
    for (const child of (children.get(span.span_id) || []).sort((a, b) => a.start_ns - b.start_ns)) visit(child);
  };
  roots.sort((a, b) => a.start_ns - b.start_ns).forEach(visit);
  return out;
}
