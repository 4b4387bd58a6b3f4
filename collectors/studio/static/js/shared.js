// Pieces more than one page shows: links to an experiment, the first-run help, the image
// viewer. A leaf module (pages import it; it imports only api.js and dom.js), so pages do not
// import each other.

import { fileBlob, vector } from "./api.js";
import { emptyState, fmtNum, h } from "./dom.js";

export function experimentHref(experiment) {
  return `#/experiments/${experiment.name === "Default" ? 0 : experiment.experiment_id}`;
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

export function imageViewer(runId, name, { label } = {}) {
  const img = h("img", { alt: `${name}`, class: "gallery-image" });
  const caption = h("p", { class: "muted small" });
  const slider = h("input", { type: "range", min: "0", max: "0", value: "0", "aria-label": `Step of ${name}` });
  const el = h("figure", { class: "gallery", "data-image": name }, label ? h("figcaption", null, label) : null, h("div", { class: "gallery-frame" }, img), slider, caption);
  let entries = [], url = null;

  async function show(index) {
    const entry = entries[index];
    if (!entry) return;
    caption.textContent = `step ${fmtNum(entry.step)} · ${index + 1} of ${entries.length} · ${entry.path}`;
    try {
      const blob = await fileBlob(runId, entry.path);
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(blob);
      img.src = url;
      img.alt = `${name} at step ${entry.step}`;
    } catch (error) {
      caption.textContent = `${entry.path}: ${error.message}`;
    }
  }

  async function load(step) {
    const v = await vector(runId, name);
    entries = Array.from(v.values, (path, i) => ({ path: String(path), step: v.steps[i] }));
    slider.max = String(Math.max(entries.length - 1, 0));
    slider.hidden = entries.length < 2;
    let index = entries.length - 1;
    if (step !== undefined) {
      const found = entries.findIndex((e) => e.step >= step);
      index = found < 0 ? entries.length - 1 : found;
    }
    slider.value = String(index);
    await show(index);
    return entries;
  }

  slider.addEventListener("input", () => show(Number(slider.value)));
  return { el, load, slider, dispose: () => { if (url) URL.revokeObjectURL(url); } };
}
