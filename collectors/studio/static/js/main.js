// The studio's entry point: hash routes, the sign-in form, the live indicator.
// Pages never import this module; what they share with it lives in shell.js and shared.js.

import { AuthError, needsToken, onAuthNeeded, onLiveState, setToken } from "./api.js";
import { clear, h } from "./dom.js";
import { mark, setCrumbs } from "./shell.js";
import { comparePage } from "./pages/compare.js";
import { computePage } from "./pages/compute.js";
import { dashboardPage } from "./pages/dashboard.js";
import { experimentsPage } from "./pages/experiments.js";
import { runPage } from "./pages/run.js";

const main = document.getElementById("main");
let current = null;
let signInShown = false;

function parse() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  return { parts, params: new URLSearchParams(query) };
}

function route({ parts, params }) {
  if (!parts.length) return () => experimentsPage(params);
  if (parts[0] === "experiments" && parts.length === 2) return () => dashboardPage(parts[1], params);
  if (parts[0] === "experiments" && parts.length === 4 && parts[2] === "runs") return () => runPage(parts[3], params);
  if (parts[0] === "runs" && parts.length === 2) return () => runPage(parts[1], params);
  if (parts[0] === "compare" && parts.length === 1) return () => comparePage(params);
  if (parts[0] === "compute" && parts.length === 1) return () => computePage(params);
  return null;
}

async function render() {
  if (current && current.dispose) current.dispose();
  current = null;
  signInShown = false;
  const where = parse();
  const page = route(where);
  markNav(where.parts[0] === "compute" ? "compute" : "");
  setReady(false);
  mark("route");
  if (!page) {
    setCrumbs({ label: "Not found" });
    clear(main, notFound("There is no such page", `The address “#${location.hash.slice(1)}” is not one the studio knows.`));
    setReady(true);
    return;
  }
  clear(main, h("div", { class: "loading", role: "status" }, "Loading…"));
  try {
    current = await page();
    if (current && current.el) clear(main, current.el);
    if (current && current.mounted) current.mounted();
  } catch (error) {
    if (error instanceof AuthError) return;
    if (error && error.status === 404) {
      setCrumbs({ label: "Experiments", href: "#/" }, { label: "Not found" });
      clear(main, notFound("Not found", error.message));
    } else {
      console.warn(error);
      clear(main, notFound("Something went wrong", String(error && error.message || error)));
    }
  }
  setReady(true);
  mark("ready");
}

function markNav(section) {
  for (const link of document.querySelectorAll(".topnav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// Tests and benchmarks wait for body[data-ready="1"] (a selector: the page's CSP forbids eval).
function setReady(ready) {
  window.__runlog.ready = ready;
  document.body.dataset.ready = ready ? "1" : "0";
}

function notFound(title, detail) {
  return h("section", { class: "notfound" },
    h("h1", null, title),
    h("p", null, detail),
    h("p", null, "Check the address, or find the run from the list of experiments; ", h("code", null, "runlog runs"), " lists runs in a terminal."),
    h("p", null, h("a", { class: "button", href: "#/" }, "All experiments")));
}

function showSignIn(refused) {
  if (signInShown) return;
  signInShown = true;
  if (current && current.dispose) current.dispose();
  current = null;
  setCrumbs({ label: "Sign in" });
  const input = h("input", { type: "password", id: "token", autocomplete: "current-password", required: true, "aria-describedby": "token-help" });
  const form = h("form", { class: "signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", { id: "token-help" }, "This collector requires its token (the value of ", h("code", null, "--token"), " or ", h("code", null, "RUNLOG_TOKEN"),
      "). It is kept in this browser and sent with every request."),
    refused ? h("p", { class: "error", role: "alert" }, "That token was refused. Try again.") : null,
    h("label", { for: "token" }, "Token"), input,
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    updateSignOut();
    render();
  });
  clear(main, form);
  input.focus();
  setReady(true);
}

function updateSignOut() {
  document.getElementById("signout").hidden = !needsToken();
}

onAuthNeeded(() => showSignIn(needsToken()));
document.getElementById("signout").addEventListener("click", () => { setToken(""); updateSignOut(); location.reload(); });
onLiveState((state) => {
  const el = document.getElementById("live");
  el.className = `live live-${state}`;
  el.textContent = state === "live" ? "Live" : state === "connecting" ? "" : state === "offline" ? "Offline" : "Reconnecting…";
  el.title = state === "live" ? "Updates arrive as the collector commits them" : "";
});

window.addEventListener("hashchange", render);
updateSignOut();
render();
