// DOM building without markup strings: every user string becomes a text node.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked" || key === "disabled" || key === "hidden") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// --- formatting -------------------------------------------------------------------------

export function fmtNum(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") {
    if (value === "NaN" || value === "Infinity" || value === "-Infinity") return value === "Infinity" ? "∞" : value === "-Infinity" ? "−∞" : "NaN";
    return value;
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "∞" : "−∞";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return value.toLocaleString("en-US");
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(3);
  return String(Number(value.toPrecision(5)));
}

export function fmtTime(ns) {
  if (!ns) return "";
  const d = new Date(ns / 1e6);
  const today = new Date();
  const time = d.toLocaleTimeString("en-GB", { hour12: false });
  if (d.toDateString() === today.toDateString()) return `today ${time}`;
  return `${d.toLocaleDateString("en-CA")} ${time}`;
}

export function fmtFullTime(ns) {
  if (!ns) return "";
  return new Date(ns / 1e6).toISOString().replace("T", " ").replace("Z", " UTC");
}

export function fmtAgo(ns) {
  if (!ns) return "never";
  const seconds = (Date.now() - ns / 1e6) / 1000;
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60), s2 = Math.round(seconds % 60);
  if (m < 60) return `${m}m ${String(s2).padStart(2, "0")}s`;
  const hours = Math.floor(m / 60);
  return `${hours}h ${String(m % 60).padStart(2, "0")}m`;
}

export function runDuration(run) {
  const end = run.end_ns || (isActive(run.status) ? Date.now() * 1e6 : null);
  return end ? (end - run.start_ns) / 1e9 : null;
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024, i = 0;
  while (value >= 1024 && i < units.length - 1) { value /= 1024; i++; }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[i]}`;
}

const ACTIVE = new Set(["Running", "NotStarted", "Queued", "Preparing", "Starting", "Finalizing", "NotResponding"]);
export function isActive(status) { return ACTIVE.has(status); }

export function statusBadge(status) {
  return h("span", { class: `status status-${String(status).toLowerCase()}` }, status);
}

export function copyButton(text, label) {
  const button = h("button", { class: "copy", type: "button", title: "Copy", "aria-label": label || "Copy to clipboard" }, "Copy");
  button.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(text); button.textContent = "Copied"; }
    catch { button.textContent = "Select and copy"; }
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  });
  return button;
}

export function emptyState(title, ...body) {
  return h("div", { class: "empty" }, h("h3", null, title), ...body);
}

export function toNumber(value) {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value);
    if (!Number.isNaN(n)) return n;
  }
  return null;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

export function throttle(fn, ms) {
  let last = 0, timer = null;
  return (...args) => {
    const wait = last + ms - Date.now();
    if (wait <= 0 && !timer) { last = Date.now(); fn(...args); return; }
    if (!timer) timer = setTimeout(() => { timer = null; last = Date.now(); fn(...args); }, Math.max(wait, 0));
  };
}
