// A virtualised table: only the rows in view are in the DOM, so 10,000 runs scroll smoothly.
// Keyboard: arrows/Home/End/PageUp/PageDown move, Space selects, Enter opens.

import { clear, h } from "./dom.js";

const ROW_HEIGHT = 34;
const OVERSCAN = 12;

export class VirtualTable {
  // columns: [{key, label, width, numeric, sortable, cell(row) -> Node|string, title}]
  // options: {label, sort: {key, desc}, onSort(key), selectable, isSelected(row), onToggle(row),
  //           onToggleAll(), onOpen(row), rowKey(row), rowLabel(row)}
  constructor(options) {
    this.options = options;
    this.columns = [];
    this.rows = [];
    this.active = 0;
    this.body = h("tbody");
    this.head = h("thead");
    this.table = h("table", { class: "grid-table", "aria-label": options.label, "aria-rowcount": "0" }, this.head, this.body);
    this.el = h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": options.label }, this.table);
    this.el.addEventListener("scroll", () => this.schedule());
    this.el.addEventListener("keydown", (event) => this.onKey(event));
    new ResizeObserver(() => this.schedule()).observe(this.el);
  }

  setColumns(columns) {
    this.columns = columns;
    this.renderHead();
    this.render();
  }

  setRows(rows) {
    this.rows = rows;
    this.active = Math.min(this.active, Math.max(rows.length - 1, 0));
    this.table.setAttribute("aria-rowcount", String(rows.length + 1));
    this.render();
  }

  width() {
    return (this.options.selectable ? 40 : 0) + this.columns.reduce((sum, c) => sum + (c.width || 140), 0);
  }

  renderHead() {
    const { sort, onSort, selectable } = this.options;
    const cells = [];
    if (selectable) {
      const all = h("input", { type: "checkbox", "aria-label": "Select all runs shown", onchange: () => this.options.onToggleAll() });
      this.selectAll = all;
      cells.push(h("th", { class: "select", style: { width: "40px" } }, all));
    }
    for (const column of this.columns) {
      const current = sort && sort.key === column.key;
      const label = column.sortable === false
        ? column.label
        : h("button", { type: "button", class: "sort", title: column.title || `Sort by ${column.label}`, onclick: () => onSort(column.key) },
          h("span", { class: "th-group" }, column.group || ""), column.label, h("span", { class: "arrow", "aria-hidden": "true" }, current ? (sort.desc ? " ▼" : " ▲") : ""));
      cells.push(h("th", {
        style: { width: `${column.width || 140}px` },
        class: column.numeric ? "num" : "",
        "aria-sort": current ? (sort.desc ? "descending" : "ascending") : "none",
        scope: "col",
      }, label));
    }
    clear(this.head, h("tr", null, cells));
    this.table.style.width = `${this.width()}px`;
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = 0; this.render(); });
  }

  render() {
    const total = this.rows.length;
    const viewHeight = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.el.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total, Math.ceil((this.el.scrollTop + viewHeight) / ROW_HEIGHT) + OVERSCAN);
    const span = this.columns.length + (this.options.selectable ? 1 : 0);
    const rows = [];
    if (first > 0) rows.push(h("tr", { class: "spacer", "aria-hidden": "true" }, h("td", { colspan: span, style: { height: `${first * ROW_HEIGHT}px` } })));
    for (let i = first; i < last; i++) rows.push(this.renderRow(this.rows[i], i));
    if (last < total) rows.push(h("tr", { class: "spacer", "aria-hidden": "true" }, h("td", { colspan: span, style: { height: `${(total - last) * ROW_HEIGHT}px` } })));
    clear(this.body, rows);
    this.rendered = [first, last];
    if (this.selectAll) {
      const selected = this.rows.filter((row) => this.options.isSelected(row)).length;
      this.selectAll.checked = selected > 0 && selected === total;
      this.selectAll.indeterminate = selected > 0 && selected < total;
    }
  }

  renderRow(row, index) {
    const { selectable, isSelected, onToggle, rowLabel } = this.options;
    const selected = selectable && isSelected(row);
    const cells = [];
    if (selectable) {
      cells.push(h("td", { class: "select" }, h("input", {
        type: "checkbox", checked: selected, tabindex: "-1", "aria-label": `Select ${rowLabel(row)}`,
        onchange: () => { onToggle(row); this.render(); },
      })));
    }
    for (const column of this.columns) {
      cells.push(h("td", { class: column.numeric ? "num" : "" }, column.cell(row)));
    }
    const tr = h("tr", {
      class: `${selected ? "selected" : ""} ${index === this.active ? "active" : ""}`,
      "aria-rowindex": String(index + 2),
      "aria-selected": selectable ? String(Boolean(selected)) : undefined,
      style: { height: `${ROW_HEIGHT}px` },
    }, cells);
    tr.addEventListener("click", (event) => {
      if (event.target.closest("a, button, input")) return;
      this.active = index;
      this.render();
    });
    tr.addEventListener("dblclick", (event) => { if (!event.target.closest("a, button, input")) this.options.onOpen(row); });
    return tr;
  }

  onKey(event) {
    if (!this.rows.length || event.target.closest("input[type=text], button.sort")) return;
    const page = Math.max(1, Math.floor(this.el.clientHeight / ROW_HEIGHT) - 2);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
    if (event.key in moves) {
      event.preventDefault();
      this.active = Math.max(0, Math.min(this.rows.length - 1, this.active + moves[event.key]));
      this.reveal();
    } else if (event.key === " " && this.options.selectable) {
      event.preventDefault();
      this.options.onToggle(this.rows[this.active]);
      this.render();
    } else if (event.key === "Enter") {
      event.preventDefault();
      this.options.onOpen(this.rows[this.active]);
    }
  }

  reveal() {
    const top = this.active * ROW_HEIGHT, headHeight = this.head.offsetHeight || ROW_HEIGHT;
    if (top < this.el.scrollTop) this.el.scrollTop = top;
    else if (top + ROW_HEIGHT > this.el.scrollTop + this.el.clientHeight - headHeight) {
      this.el.scrollTop = top + ROW_HEIGHT - this.el.clientHeight + headHeight;
    }
    this.render();
    const row = this.body.querySelector("tr.active");
    if (row) this.el.setAttribute("aria-activedescendant", "");
  }
}
