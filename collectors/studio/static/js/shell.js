// The frame every page writes to: breadcrumbs and timing marks. A leaf module (main.js and
// the pages import it; it imports only dom.js), so imports flow one way.

import { clear, h } from "./dom.js";

const crumbs = document.getElementById("crumbs");

// Tests and benchmarks read the marks, and wait for `ready` (main.js sets it).
window.__runlog = { marks: {}, ready: false };

export function mark(name) {
  window.__runlog.marks[name] = performance.now();
}

export function setCrumbs(...items) {
  const parts = [];
  items.forEach((item, i) => {
    if (i) parts.push(h("span", { class: "sep", "aria-hidden": "true" }, "›"));
    parts.push(item.href ? h("a", { href: item.href }, item.label) : h("span", { "aria-current": "page" }, item.label));
  });
  clear(crumbs, parts);
  document.title = items.length ? `${items[items.length - 1].label} · runlog studio` : "runlog studio";
}
