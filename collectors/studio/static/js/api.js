// Every call to the collector: the token (asked once, kept in this browser), errors, vectors,
// and the live event stream (read with fetch, so that it carries the token too).

const TOKEN_KEY = "runlog.studio.token";
const API = "/api/v1";

export class AuthError extends Error {}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const authListeners = new Set();
export function onAuthNeeded(fn) { authListeners.add(fn); }
export function askToken() { for (const fn of authListeners) fn(); }

export function token() {
  try { return localStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
}

export function setToken(value) {
  try {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage blocked: the token lasts for this page only */ }
  memoryToken = value;
}
let memoryToken = "";

function authHeaders(extra) {
  const headers = { ...extra };
  const value = token() || memoryToken;
  if (value) headers.Authorization = `Bearer ${value}`;
  return headers;
}

// quietAuth: a 401 throws AuthError without swapping the page for the sign-in form (an
// action such as Cancel says so where the user clicked instead).
export async function request(path, { method = "GET", body, signal, headers, quietAuth = false } = {}) {
  const init = { method, signal, headers: authHeaders(headers), credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    if (!quietAuth) for (const fn of authListeners) fn();
    throw new AuthError("the collector needs a token");
  }
  if (!response.ok) {
    let code = "", message = `${response.status} ${response.statusText}`;
    try {
      const data = await response.json();
      if (data && data.error) ({ code, message } = data.error);
    } catch { /* not JSON */ }
    throw new ApiError(response.status, code, message);
  }
  return response;
}

export async function getJSON(path, options) {
  return (await request(path, options)).json();
}

export const enc = encodeURIComponent;

export function runPath(runId) { return `${API}/runs/${enc(runId)}`; }

export const api = {
  experiments: () => getJSON(`${API}/studio/experiments`),
  table: (params, signal) => getJSON(`${API}/studio/table?${params}`, { signal }),
  run: (runId) => getJSON(runPath(runId)),
  children: (runId) => getJSON(`${API}/runs?${new URLSearchParams({ filter: `attributes.parent_id = '${runId.replace(/'/g, "")}'`, max_results: "1000" })}`),
  logs: (runId, afterSeq, level, limit = 5000) => {
    const q = new URLSearchParams({ after_seq: String(afterSeq), limit: String(limit) });
    if (level) q.set("level", level);
    return getJSON(`${runPath(runId)}/logs?${q}`);
  },
  spans: (runId) => getJSON(`${runPath(runId)}/spans`),
  files: (runId) => getJSON(`${runPath(runId)}/files`),
  editTags: (runId, set, del) => getJSON(`${runPath(runId)}/tags`, { method: "PATCH", body: { set, delete: del } }),
  statuses: (runId) => getJSON(`${runPath(runId)}/statuses`),
  submission: (runId) => getJSON(`${runPath(runId)}/submission`),
  targets: () => getJSON(`${API}/compute/targets`),
  queue: () => getJSON(`${API}/compute/queue`),
  finished: (limit = 20) => getJSON(`${API}/compute/finished?limit=${limit}`),
  cancel: (runId) => getJSON(`${runPath(runId)}/cancel`, { method: "POST", quietAuth: true }),
};

export function filePath(runId, path) {
  return `${runPath(runId)}/files/${path.split("/").map(enc).join("/")}`;
}

export async function fileBlob(runId, path, signal) {
  return (await request(filePath(runId, path), { signal })).blob();
}

// The first *limit* bytes of a file, as text (the rest is not downloaded).
export async function fileHead(runId, path, limit) {
  const response = await request(filePath(runId, path));
  const reader = response.body.getReader();
  const parts = [];
  let size = 0;
  while (size < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    size += value.length;
  }
  reader.cancel().catch(() => {});
  const bytes = new Uint8Array(Math.min(size, limit));
  let at = 0;
  for (const part of parts) {
    const take = Math.min(part.length, bytes.length - at);
    bytes.set(part.subarray(0, take), at);
    at += take;
  }
  return { text: new TextDecoder("utf-8", { fatal: false }).decode(bytes), truncated: size > limit };
}

export function needsToken() { return Boolean(token() || memoryToken); }

// --- metric vectors ---------------------------------------------------------------------

const NUMERIC = new Set(["f8", "i8", "bool"]);

export async function vector(runId, name, { column = "", maxPoints, x, start, end, signal } = {}) {
  const q = new URLSearchParams({ name, column, format: "binary" });
  if (maxPoints) q.set("max_points", String(maxPoints));
  if (start !== undefined && start !== null) { q.set("x", x || "step"); q.set("start", String(BigInt(Math.floor(start)))); }
  if (end !== undefined && end !== null) { q.set("x", x || "step"); q.set("end", String(BigInt(Math.ceil(end)))); }
  const response = await request(`${runPath(runId)}/metric?${q}`, { signal });
  const type = response.headers.get("content-type") || "";
  if (type.startsWith("application/vnd.runlog.vector")) return binaryVector(response, name, column);
  const data = await response.json();
  const numeric = NUMERIC.has(data.dtype);
  return {
    name, column, kind: data.kind, dtype: data.dtype, count: data.count,
    downsampled: data.downsampled,
    steps: Float64Array.from(data.steps),
    times: Float64Array.from(data.timestamps, (t) => t / 1e9),
    values: numeric ? Float64Array.from(data.values, toFloat) : data.values,
  };
}

function toFloat(value) {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return value === "Infinity" ? Infinity : value === "-Infinity" ? -Infinity : NaN;
}

async function binaryVector(response, name, column) {
  const count = Number(response.headers.get("X-Runlog-Count"));
  const dtype = response.headers.get("X-Runlog-Dtype");
  const kind = response.headers.get("X-Runlog-Kind");
  const buffer = await response.arrayBuffer();
  const steps = new Float64Array(count), times = new Float64Array(count);
  const rawSteps = new BigInt64Array(buffer, 0, count), rawTimes = new BigInt64Array(buffer, 8 * count, count);
  for (let i = 0; i < count; i++) {
    steps[i] = Number(rawSteps[i]);
    times[i] = Number(rawTimes[i]) / 1e9;
  }
  let values;
  if (dtype === "f8") values = new Float64Array(buffer, 16 * count, count);
  else if (dtype === "i8") values = Float64Array.from(new BigInt64Array(buffer, 16 * count, count), Number);
  else values = Float64Array.from(new Uint8Array(buffer, 16 * count, count));
  return {
    name, column, kind, dtype, count, steps, times, values,
    downsampled: response.headers.get("X-Runlog-Downsampled") === "true",
  };
}

// --- live events ------------------------------------------------------------------------

const liveListeners = new Set();
const stateListeners = new Set();
let liveStarted = false;
export let liveState = "connecting";

export function onLive(fn) {
  liveListeners.add(fn);
  startLive();
  return () => liveListeners.delete(fn);
}

export function onLiveState(fn) { stateListeners.add(fn); fn(liveState); }

function setLiveState(state) {
  liveState = state;
  for (const fn of stateListeners) fn(state);
}

function startLive() {
  if (liveStarted) return;
  liveStarted = true;
  connect(0);
}

async function connect(attempt) {
  try {
    const response = await request(`${API}/studio/events`, { headers: { Accept: "text/event-stream" } });
    setLiveState("live");
    attempt = 0;
    await readEvents(response.body.getReader());
  } catch (error) {
    if (error instanceof AuthError) { liveStarted = false; setLiveState("offline"); return; }
  }
  setLiveState("reconnecting");
  setTimeout(() => connect(attempt + 1), Math.min(10000, 500 * 2 ** attempt));
}

async function readEvents(reader) {
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      dispatch(block);
    }
  }
}

function dispatch(block) {
  let name = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trim();
  }
  if (name !== "change" || !data) return;
  const change = JSON.parse(data);
  for (const fn of liveListeners) {
    try { fn(change); } catch (error) { console.warn("live update failed", error); }
  }
}
