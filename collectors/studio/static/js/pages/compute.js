// Compute: each compute target with its limit and counts, its running and queued runs (in
// the order they start) with Cancel, and the submitted runs that ended last.

import { api, ApiError, askToken, AuthError, enc, needsToken, onLive } from "../api.js";
import {
  clear, emptyState, fmtDuration, fmtFullTime, fmtTime, h, isActive, statusBadge, throttle,
} from "../dom.js";
import { experimentHref } from "../shared.js";
import { mark, setCrumbs } from "../shell.js";

const FINISHED_SHOWN = 20;
const POLL_MS = 5000;

export async function computePage() {
  setCrumbs({ label: "Compute" });
  const summary = h("span", { class: "muted" });
  const notice = h("div", { class: "notice", role: "status", "aria-live": "polite", hidden: true });
  const targetsHost = h("div", { class: "targets" });
  const finishedHost = h("div", { class: "card", hidden: true });
  const helpHost = h("div", { class: "card", hidden: true });
  const el = h("section", { class: "page compute" },
    h("div", { class: "page-head" }, h("h1", null, "Compute"), summary),
    notice, targetsHost, helpHost, finishedHost);
  let data;
  try {
    data = await load();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    return { el: h("section", { class: "page" }, h("div", { class: "page-head" }, h("h1", null, "Compute")),
      h("div", { class: "card" }, emptyState("This collector has no compute targets",
        h("p", null, "It was started without its compute service, so it cannot run submitted scripts. ",
          h("code", null, "runlog collector"), " starts one with the ", h("code", null, "local"), " target.")))) };
  }
  const pending = new Set(); // run ids whose cancel is in flight
  let refused = false; // the collector refused the page's token: wait for the user to sign in

  async function load() {
    const [targets, queue, finished, experiments] = await Promise.all(
      [api.targets(), api.queue(), api.finished(FINISHED_SHOWN), api.experiments()]);
    const ids = new Map(experiments.experiments.map((e) => [e.name, e]));
    return { targets: targets.targets, runs: queue.runs, finished: finished.runs, ids };
  }

  function experimentLink(name) {
    const found = data.ids.get(name);
    return found ? h("a", { href: experimentHref(found), title: name }, name) : h("span", { title: name }, name);
  }

  function draw() {
    const { targets, runs, finished } = data;
    const running = runs.filter((r) => r.state === "active").length;
    const queued = runs.length - running;
    summary.textContent = `${targets.length} target${targets.length === 1 ? "" : "s"} · ${running} running · ${queued} queued`;
    clear(targetsHost, targets.map((t) => targetCard(t, runs.filter((r) => r.target === t.name))));
    const orphans = runs.filter((r) => !targets.some((t) => t.name === r.target));
    if (orphans.length) targetsHost.append(targetCard({ name: "other targets", kind: "", max_running: null, unknown: true }, orphans));
    helpHost.hidden = runs.length > 0 || finished.length > 0;
    if (!helpHost.hidden) clear(helpHost, submitHelp(targets));
    finishedHost.hidden = !finished.length;
    clear(finishedHost, h("div", { class: "card-head" }, h("h2", null, "Recently finished"),
      h("span", { class: "muted small" }, `the last ${finished.length} submitted run${finished.length === 1 ? "" : "s"} that ended`)),
    finishedTable(finished));
  }

  function targetCard(target, runs) {
    const active = runs.filter((r) => r.state === "active");
    const waiting = runs.filter((r) => r.state === "queued");
    const off = Boolean(target.disabled);
    const stats = off ? [] : [
      stat("Runs at a time", target.max_running ?? "—"),
      stat("Running", target.running ?? active.length),
      stat("Queued", target.queued ?? waiting.length),
    ];
    const head = h("div", { class: "card-head target-head" },
      h("h2", null, target.name),
      target.kind ? h("span", { class: "kind" }, target.kind) : null,
      target.unknown ? h("span", { class: "target-state off" }, "Not served by this collector")
        : h("span", { class: off ? "target-state off" : "target-state on" }, off ? "Switched off" : "Accepting runs"),
      target.address ? h("span", { class: "muted small" }, target.kind === "local" ? "on " : "at ", h("span", { class: "target-address" }, target.address)) : null,
      h("div", { class: "spacer" }),
      h("div", { class: "target-stats" }, stats));
    const body = [];
    if (off) body.push(h("p", { class: "target-off" }, target.disabled));
    if (runs.length) body.push(queueTable(runs));
    else if (!off) body.push(h("p", { class: "muted target-empty" }, `Nothing running or queued on ${target.name}.`));
    return h("div", { class: "card target", "data-target": target.name }, head, body);
  }

  function queueTable(runs) {
    const now = Date.now() * 1e6;
    return h("table", { class: "plain queue-table", "aria-label": `Running and queued runs` },
      columns(["72px", "", "22%", "112px", "128px", "128px", "76px", "96px"]),
      h("thead", null, h("tr", null,
        ["Place", "Run", "Experiment", "Status", "Queued", "Started", "For", ""].map((x, i) =>
          h("th", { scope: "col", class: i === 6 ? "num" : i === 7 ? "actions" : "" }, x)))),
      h("tbody", null, runs.map((r) => {
        const since = r.claimed_ns || r.queued_ns;
        const canceling = Boolean(r.cancel_ns) || pending.has(r.run_id);
        return h("tr", { "data-run": r.run_id },
          h("td", { class: "position" }, r.state === "queued" ? `#${r.position}` : h("span", { class: "muted" }, "running")),
          h("td", null, runCell(r)),
          h("td", { class: "clip" }, experimentLink(r.experiment)),
          h("td", null, statusBadge(r.status)),
          h("td", { class: "nowrap", title: fmtFullTime(r.queued_ns) }, fmtTime(r.queued_ns)),
          h("td", { class: "nowrap", title: fmtFullTime(r.claimed_ns) }, r.claimed_ns ? fmtTime(r.claimed_ns) : "—"),
          h("td", { class: "num nowrap", title: r.state === "queued" ? "waiting for" : "running for", "data-since": String(since) }, fmtDuration((now - since) / 1e9)),
          h("td", { class: "actions" }, canceling
            ? h("span", { class: "muted small" }, "Canceling…")
            : h("button", { type: "button", class: "danger-button", "aria-label": `Cancel run ${r.run_id}`, onclick: () => cancel(r) }, "Cancel")));
      })));
  }

  function finishedTable(runs) {
    return h("table", { class: "plain queue-table", "aria-label": "Recently finished runs" },
      columns(["", "22%", "88px", "112px", "128px", "128px", "76px"]),
      h("thead", null, h("tr", null,
        ["Run", "Experiment", "Target", "Status", "Queued", "Ended", "Took"].map((x, i) =>
          h("th", { scope: "col", class: i === 6 ? "num" : "" }, x)))),
      h("tbody", null, runs.map((r) => h("tr", { "data-run": r.run_id },
        h("td", null, runCell(r)),
        h("td", { class: "clip" }, experimentLink(r.experiment)),
        h("td", { class: "clip" }, r.target),
        h("td", null, statusBadge(r.status)),
        h("td", { class: "nowrap", title: fmtFullTime(r.queued_ns) }, fmtTime(r.queued_ns)),
        h("td", { class: "nowrap", title: fmtFullTime(r.done_ns) }, fmtTime(r.done_ns)),
        r.claimed_ns && r.done_ns
          ? h("td", { class: "num nowrap", title: "from its start to its end" }, fmtDuration((r.done_ns - r.claimed_ns) / 1e9))
          : h("td", { class: "num nowrap muted", title: "it ended before it started" }, "—")))));
  }

  async function cancel(r) {
    const what = r.state === "queued" ? "It will not start." : "Its process is stopped (SIGTERM, then SIGKILL after the grace period).";
    if (!window.confirm(`Cancel run ${r.run_id} (${r.name || r.experiment})? ${what}`)) return;
    pending.add(r.run_id);
    draw();
    try {
      const result = await api.cancel(r.run_id);
      if (!isActive(result.status)) { // ended at once (it was queued): show it there now
        data.runs = data.runs.filter((x) => x.run_id !== r.run_id);
        data.finished = [{ ...r, status: result.status, state: "done", position: null, done_ns: Date.now() * 1e6 }, ...data.finished];
        pending.delete(r.run_id);
        draw();
      }
      say(isActive(result.status)
        ? `Cancel of ${r.run_id} requested: the run is being stopped (status ${result.status} for now).`
        : `Run ${r.run_id} is ${result.status}.`, result.status === "Canceled" ? "ok" : "");
    } catch (error) {
      if (error instanceof AuthError) {
        refused = true;
        pending.delete(r.run_id);
        draw();
        const why = needsToken() ? "the collector refused this page's token" : "the collector requires a token and this page has none";
        say(`Not canceled: ${why}. Sign in with the collector's token (the value of its --token or RUNLOG_TOKEN), then cancel again.`, "error", true);
        return;
      } else if (error instanceof ApiError) {
        say(`Not canceled: ${error.message}`, "error");
      } else throw error;
    } finally {
      pending.delete(r.run_id);
    }
    await reload();
  }

  function say(text, kind, signIn) {
    notice.hidden = false;
    notice.className = `notice ${kind ? `notice-${kind}` : ""}`;
    clear(notice, h("span", null, text), signIn ? h("button", { type: "button", onclick: askToken }, "Sign in") : null,
      h("button", { type: "button", class: "icon-button", "aria-label": "Dismiss", onclick: () => { notice.hidden = true; } }, "×"));
  }

  async function reload() {
    if (refused) return;
    try {
      data = await load();
      draw();
    } catch (error) {
      if (!(error instanceof AuthError)) console.warn("compute reload failed", error);
    }
  }

  draw();
  mark("compute");
  const refresh = throttle(reload, 500);
  const stop = onLive((change) => {
    const touched = Object.values(change.runs || {}).some((r) => r.what.includes("status") || r.what.includes("run"));
    if (change.resync || touched) refresh();
  });
  // The durations tick, and a short poll covers changes the live stream does not carry.
  const tick = setInterval(() => {
    const now = Date.now() * 1e6;
    for (const cell of el.querySelectorAll("td[data-since]")) cell.textContent = fmtDuration((now - Number(cell.dataset.since)) / 1e9);
  }, 1000);
  const poll = setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
  return { el, dispose: () => { stop(); clearInterval(tick); clearInterval(poll); } };
}

// A run's name, linking to its page, above its id (whole: people copy it).
function runCell(r) {
  return h("div", { class: "run-cell" },
    h("a", { href: `#/runs/${enc(r.run_id)}`, class: "strong clip", title: r.name || r.run_id }, r.name || r.run_id),
    h("code", { class: "run-id" }, r.run_id));
}

function columns(widths) {
  return h("colgroup", null, widths.map((w) => h("col", { style: w ? { width: w } : {} })));
}

function stat(label, value) {
  return h("span", { class: "stat" }, h("span", { class: "muted small" }, label), h("b", null, String(value)));
}

export function submitHelp(targets) {
  const open = targets.find((t) => !t.disabled);
  if (!open) {
    return emptyState("This collector runs no submitted scripts",
      h("p", null, "Every compute target is switched off. Start the collector without ", h("code", null, "--no-local-execution"),
        " to run them on its host, or with ", h("code", null, "--ray-address URL"), " to hand them to a Ray cluster."),
      h("p", { class: "muted" }, "Interactive runs and ", h("code", null, "runlog run"), " log into it as before."));
  }
  const name = open.name;
  return emptyState("No submitted runs yet",
    h("p", null, "Submit a script folder as a run from a terminal, in the folder that holds it:"),
    h("pre", { class: "code" }, `runlog submit -e my-experiment --target ${name} -- train.py --alpha 0.5`),
    h("p", null, "or from Python:"),
    h("pre", { class: "code" }, `from runlog import Experiment, ScriptRunConfig, Workspace

src = ScriptRunConfig(source_directory=".", script="train.py",
                      arguments=["--alpha", 0.5], compute_target="${name}")
run = Experiment(Workspace(), "my-experiment").submit(src)`),
    h("p", { class: "muted" }, "Queued and running runs appear here as they are submitted, with a Cancel button each."));
}
