// One colour per run, the same on every chart and page: picked from the run id's hash.

const PALETTE = [
  "#2f6fdf", "#e4572e", "#17a673", "#9c4fd6", "#d4a017",
  "#0fa3b1", "#d6459b", "#6b8e23", "#8c5a3c", "#5c6bc0",
  "#ef8a17", "#2a9d8f",
];

function hash(text) {
  let value = 2166136261;
  for (let i = 0; i < text.length; i++) {
    value ^= text.charCodeAt(i);
    value = Math.imul(value, 16777619);
  }
  return value >>> 0;
}

export function runColor(runId) {
  return PALETTE[hash(String(runId)) % PALETTE.length];
}

// Colours for the runs shown on one page: each run gets its own colour where it can (the
// preferred one from its id, else the next free one), the same on every chart of the page.
export function assignColors(runIds) {
  const colors = new Map();
  let used = new Set();
  for (const id of [...new Set(runIds)].sort()) {
    if (used.size === PALETTE.length) used = new Set();
    let index = hash(String(id)) % PALETTE.length;
    while (used.has(index)) index = (index + 1) % PALETTE.length;
    used.add(index);
    colors.set(id, PALETTE[index]);
  }
  return (id) => colors.get(id) || runColor(id);
}

export function seriesColor(index) {
  return PALETTE[index % PALETTE.length];
}
