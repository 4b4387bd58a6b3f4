// Every experiment: runs by status, last activity, search by name.

import { api, onLive } from "../api.js";
import { clear, emptyState, fmtAgo, fmtFullTime, h, statusBadge, throttle } from "../dom.js";
import { experimentHref, firstRunHelp } from "../shared.js";
import { mark, setCrumbs } from "../shell.js";

const STATUS_ORDER = ["Running", "Queued", "Preparing", "NotStarted", "Finalizing", "NotResponding", "Completed", "Failed", "Canceled"];

export async function experimentsPage(params) {
  setCrumbs({ label: "Experiments" });
  let experiments = (await api.experiments()).experiments;
  const search = h("input", {
    type: "search", class: "search", placeholder: "Search experiments by name", "aria-label": "Search experiments by name",
    value: params.get("q") || "",
  });
  const list = h("div", { class: "card" });
  const count = h("span", { class: "muted" });
  const el = h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", null, "Experiments"), count, h("div", { class: "spacer" }), search),
    list);

  function draw() {
    const query = search.value.trim().toLowerCase();
    const shown = experiments.filter((e) => e.name.toLowerCase().includes(query));
    count.textContent = experiments.length ? `${experiments.length} experiment${experiments.length === 1 ? "" : "s"}` : "";
    if (!experiments.length) {
      clear(list, firstRunHelp());
      return;
    }
    if (!shown.length) {
      clear(list, emptyState(`No experiment matches “${search.value}”`, h("p", null, "Clear the search to see all experiments.")));
      return;
    }
    const rows = shown.map((e) => h("tr", null,
      h("td", null, h("a", { href: experimentHref(e), class: "strong" }, e.name)),
      h("td", { class: "num" }, String(e.run_count)),
      h("td", null, h("div", { class: "badges" }, STATUS_ORDER.filter((st) => e.status_counts[st]).map((st) =>
        h("span", { class: "count-badge" }, statusBadge(st), h("b", null, String(e.status_counts[st])))))),
      h("td", { title: fmtFullTime(e.last_run_ns) }, fmtAgo(e.last_run_ns)),
      h("td", { title: fmtFullTime(e.created_ns) }, fmtAgo(e.created_ns))));
    clear(list, h("table", { class: "plain" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Name"), h("th", { scope: "col", class: "num" }, "Runs"),
        h("th", { scope: "col" }, "By status"), h("th", { scope: "col" }, "Last run started"), h("th", { scope: "col" }, "Created"))),
      h("tbody", null, rows)));
  }

  search.addEventListener("input", () => {
    const q = search.value.trim();
    history.replaceState(null, "", q ? `#/?q=${encodeURIComponent(q)}` : "#/");
    draw();
  });
  draw();
  mark("experiments");
  const reload = throttle(async () => { experiments = (await api.experiments()).experiments; draw(); }, 1000);
  const stop = onLive((change) => {
    const touched = Object.values(change.runs || {}).some((r) => r.what.includes("status") || r.what.includes("run"));
    if (change.resync || change.experiments || touched || Object.keys(change.experiments_of || {}).length) reload();
  });
  return { el, dispose: stop, mounted: () => search.focus() };
}
