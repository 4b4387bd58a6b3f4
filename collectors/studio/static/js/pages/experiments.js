// Every experiment: runs by status, last activity, search by name.

import { api, onLive } from "../api.js";
import { clear, emptyState, fmtAgo, fmtFullTime, h, statusBadge, throttle } from "../dom.js";
import { mark, setCrumbs } from "../main.js";

export function experimentHref(experiment) {
  return `#/experiments/${experiment.name === "Default" ? 0 : experiment.experiment_id}`;
}

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

export function firstRunHelp(experiment) {
  const origin = location.origin;
  const name = experiment || "my-first-experiment";
  return emptyState(experiment ? "No runs in this experiment yet" : "No experiments yet",
    h("p", null, "Log a run into this collector from Python:"),
    h("pre", { class: "code" }, `import runlog\n\nwith runlog.start_run(experiment="${name}") as run:\n    run.log("loss", 0.5)`),
    h("p", null, "or record a script you do not change:"),
    h("pre", { class: "code" }, `runlog run -e ${name} -- python train.py`),
    h("p", { class: "muted" }, "Both send to ", h("code", null, origin), " (set ", h("code", null, `RUNLOG_ENDPOINT=${origin}`),
      " if this is not the default). The page updates by itself when the run arrives."));
}
