// RunDetails in a notebook: status, duration, a small chart per metric, log lines, children.
// Plain DOM and SVG; every string from the run is set as text, never as markup.

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e6 || a < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
}

function duration(s) {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${Math.round(s % 60)}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

function chart(metric) {
  const w = 260, h = 90, pad = 4;
  const box = svg("svg", { viewBox: `0 0 ${w} ${h}`, class: "rl-spark", role: "img", "aria-label": `${metric.name} over steps` });
  const xs = metric.steps || [], ys = metric.values || [];
  if (xs.length < 2) return box;
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (w - 2 * pad);
  const sy = (y) => h - pad - ((y - y0) / (y1 - y0 || 1)) * (h - 2 * pad);
  box.append(svg("polyline", { points: xs.map((x, i) => `${sx(x).toFixed(1)},${sy(ys[i]).toFixed(1)}`).join(" "), class: "rl-line" }));
  return box;
}

function render({ model, el: root }) {
  const draw = () => {
    const get = (k) => model.get(k);
    const status = get("status");
    const metrics = get("metrics") || [];
    const children = get("children") || [];
    const logs = get("logs") || [];
    const head = el("div", { class: "rl-head" },
      el("b", { class: "rl-name" }, get("name")),
      el("span", { class: `rl-status rl-${status.toLowerCase()}` }, status),
      el("span", { class: "rl-muted" }, `${get("experiment")} · ${duration(get("duration_s"))}${get("live") ? " · live" : ""}`),
      get("studio_url") ? el("a", { href: get("studio_url"), target: "_blank", rel: "noopener" }, "Open in studio") : null);
    const problem = get("problem") ? el("div", { class: "rl-problem" }, get("problem")) : null;
    const error = get("error") ? el("pre", { class: "rl-error" }, get("error")) : null;
    const series = metrics.filter((m) => m.count > 1), single = metrics.filter((m) => m.count <= 1);
    const cards = el("div", null,
      single.length ? el("div", { class: "rl-singles" }, single.map((m) => el("span", { "data-metric": m.name }, `${m.name} `, el("b", null, fmt(m.last))))) : null,
      el("div", { class: "rl-grid" }, series.map((m) => el("div", { class: "rl-card", "data-metric": m.name },
        el("div", { class: "rl-card-head" }, el("span", null, m.name), el("b", null, fmt(m.last))), chart(m)))));
    const kids = children.length ? el("table", { class: "rl-table" },
      el("thead", null, el("tr", null, el("th", null, "Child run"), el("th", null, "Status"),
        ...[...new Set(children.flatMap((c) => Object.keys(c.metrics)))].slice(0, 5).map((k) => el("th", null, k)))),
      el("tbody", null, children.map((c) => {
        const keys = [...new Set(children.flatMap((x) => Object.keys(x.metrics)))].slice(0, 5);
        return el("tr", null, el("td", null, c.name), el("td", null, c.status), ...keys.map((k) => el("td", null, fmt(c.metrics[k]))));
      }))) : null;
    const lines = logs.length ? el("pre", { class: "rl-logs" }, logs.map((l) => `${l.level ? l.level.padEnd(7) : ""} ${l.message}\n`).join("")) : null;
    root.replaceChildren(el("div", { class: "rl-run" }, head, problem, error, metrics.length ? cards : el("div", { class: "rl-muted" }, "No metrics yet."), kids, lines));
  };
  model.on("change", draw);
  draw();
}

export default { render };
