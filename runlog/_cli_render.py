"""Rendering for the CLI: rich tables of runs, metrics and files, and value formatting.

Kept apart from `runlog.cli` so the commands read as what they do; rich is imported only
when something is printed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from runlog import conventions as c
from runlog._api_decode import Series, jsonable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

_Found = TypeVar("_Found")
_KEY_RE = re.compile(r"\b(metrics|params|tags)\.(`[^`]+`|[A-Za-z0-9_\-]+)")


def console() -> Console:
    from rich.console import Console

    # Not a terminal (a pipe, a test): no colour codes, and COLUMNS or 200 columns rather
    # than rich's 80.
    if sys.stdout.isatty():
        return Console(highlight=False)
    columns = os.environ.get("COLUMNS", "")
    return Console(width=int(columns) if columns.isdigit() else 200, highlight=False)


def new_table(*columns: str, title: str | None = None) -> Table:
    from rich.table import Table

    table = Table(*columns, title=title, title_justify="left", show_edge=False, pad_edge=False)
    return table


def print_json(obj: Any) -> None:
    click.echo(json.dumps(jsonable(obj), indent=2, ensure_ascii=False))


#: The ``--json`` flag of a command that prints a table: JSON instead.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def print_found(found: _Found, as_json: bool, table: Callable[[_Found], Table]) -> None:
    """Print what a command found: as JSON with ``--json``, else as the table *table* makes."""
    if as_json:
        print_json(found)
    else:
        console().print(table(found))


def fmt_time(ns: int | None) -> str:
    """Local time of a Unix-nanosecond timestamp, to the second."""
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(seconds: float | None) -> str:
    """A short duration: ``0.42s``, ``12.3s``, ``4m 05s``, ``2h 03m``."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def run_duration(run: Mapping[str, Any]) -> float | None:
    """Seconds from start to end, or to now while the run is still going."""
    start, end = run.get("start_ns"), run.get("end_ns")
    if start is None:
        return None
    if end is None:
        return time.time() - start / 1e9 if run.get("status") == c.STATUS_RUNNING else None
    return float(max(0, end - start)) / 1e9


def fmt_value(value: Any) -> str:
    """A metric, param or tag value for a table cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def fmt_size(size: int) -> str:
    """Bytes as ``512 B``, ``3.4 KiB``, ``12.0 MiB``."""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{size} B"


def marked_deleted(text: str, record: Mapping[str, Any]) -> str:
    """*text*, followed by ``(deleted)`` for a run or experiment deleted through MLflow."""
    return f"{text} (deleted)" if record.get("deleted") else text


def experiments_table(found: Sequence[Mapping[str, Any]]) -> Table:
    """A table of experiments: name, run count, created, last run."""
    table = new_table("experiment", "runs", "created", "last run")
    for exp in found:
        table.add_row(
            marked_deleted(exp["name"], exp),
            str(exp.get("run_count", "")),
            fmt_time(exp.get("created_ns")),
            fmt_time(exp.get("last_run_ns")),
        )
    return table


def pick_columns(
    found: Sequence[Mapping[str, Any]], mentioned: Iterable[str], metrics: int = 4, params: int = 3
) -> list[str]:
    """Choose extra run columns: keys the order/filter mention, then the most common ones."""
    from runlog.client import run_row

    rows = [run_row(r) for r in found]
    chosen = [f"{m[1]}.{m[2].strip('`')}" for text in mentioned for m in _KEY_RE.finditer(text)]
    counts = Counter(k for row in rows for k in row if "." in k)
    params_ = {k.partition(".")[2] for k in counts if k.startswith("params.")}
    for prefix, limit in (("metrics.", metrics), ("params.", params)):
        common = [k for k, _ in counts.most_common() if k.startswith(prefix)]
        # a metric that repeats a param of the same name (a sweep logging alpha) comes last
        common.sort(key=lambda k: prefix == "metrics." and k.partition(".")[2] in params_)
        chosen += [k for k in common if k not in chosen][:limit]
    return list(dict.fromkeys(chosen))


def fmt_when(ns: int | None, now: float | None = None) -> str:
    """A compact local start time: ``14:03`` today, ``12-03 14:03`` this year, else the date."""
    if ns is None:
        return "-"
    when = datetime.fromtimestamp(ns / 1e9)
    today = datetime.fromtimestamp(time.time() if now is None else now)
    if when.date() == today.date():
        return when.strftime("%H:%M")
    if when.year == today.year:
        return when.strftime("%m-%d %H:%M")
    return when.strftime("%Y-%m-%d")


def runs_table(
    found: Sequence[Mapping[str, Any]],
    extra: Sequence[str],
    show_experiment: bool = True,
    width: int | None = None,
) -> tuple[Table, list[str]]:
    """A table of runs: id (never cut), experiment (unless one was asked for), name, status,
    started, duration, then the *extra* keys that fit in *width* columns.

    Returns the table and the extra keys left out for lack of room.
    """
    from runlog.client import run_row

    rows = [run_row(run) for run in found]
    base: list[tuple[str, list[str]]] = [("run id", [r["run_id"] for r in found])]
    if show_experiment:
        base.append(("experiment", [r.get("experiment", "") for r in found]))
    base += [
        ("name", [r.get("name") or "" for r in found]),
        ("status", [marked_deleted(r.get("status", ""), r) for r in found]),
        ("started", [fmt_when(r.get("start_ns")) for r in found]),
        ("duration", [fmt_duration(run_duration(r)) for r in found]),
    ]
    columns = base[:]
    left_out: list[str] = []
    used = sum(_width(head, cells) + 3 for head, cells in base)
    for key in extra:
        cells = [fmt_value(row.get(key)) for row in rows]
        need = _width(key, cells) + 3
        if width is not None and used + need > width:
            left_out.append(key)
            continue
        used += need
        columns.append((key, cells))
    table = new_table()
    for head, _cells in columns:
        table.add_column(head, no_wrap=True, overflow="fold" if head == "name" else "ellipsis")
    for i in range(len(found)):
        table.add_row(*(cells[i] for _head, cells in columns))
    return table, left_out


def _width(head: str, cells: Sequence[str]) -> int:
    return max([len(head), *map(len, cells)])


def left_out_note(left_out: Sequence[str]) -> str:
    """Says which columns did not fit and how to see them."""
    shown = ", ".join(left_out[:3]) + (", ..." if len(left_out) > 3 else "")
    return f"(+{len(left_out)} more: {shown}; show them with --columns KEYS)"


def details_grid(run: Mapping[str, Any]) -> Table:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    fields = [
        ("run id", run["run_id"]),
        ("experiment", run.get("experiment")),
        ("name", run.get("name")),
        ("parent", run.get("parent_id")),
        ("status", marked_deleted(run.get("status") or "", run)),
        ("started", fmt_time(run.get("start_ns"))),
        ("ended", fmt_time(run.get("end_ns"))),
        ("duration", fmt_duration(run_duration(run))),
        ("error", run.get("error")),
    ]
    for key, value in fields:
        if value:
            grid.add_row(f"{key}:", str(value))
    return grid


def key_values_table(title: str, values: Mapping[str, Any]) -> Table:
    table = new_table("key", "value", title=title)
    for key, value in values.items():
        table.add_row(key, fmt_value(value))
    return table


def metrics_table(summaries: Sequence[Mapping[str, Any]]) -> Table:
    """A table of metric summaries."""
    table = new_table(
        "metric", "column", "kind", "dtype", "count", "last", "min", "max", title="metrics"
    )
    for m in summaries:
        table.add_row(
            m["name"],
            m.get("column") or "",
            m.get("kind", ""),
            m.get("dtype", ""),
            str(m.get("count", "")),
            fmt_value(m.get("last")),
            fmt_value(m.get("min")),
            fmt_value(m.get("max")),
        )
    return table


def files_table(files: Sequence[Mapping[str, Any]]) -> Table:
    """A table of a run's files."""
    table = new_table("path", "size", "sha256", "uploaded", title="files")
    for f in files:
        table.add_row(
            f["path"],
            fmt_size(int(f.get("size", 0))),
            str(f.get("sha256", ""))[:12],
            fmt_time(f.get("created_ns")),
        )
    return table


def points_table(series: Sequence[Series]) -> Table:
    """One column: step, time, value. Several (a row/table metric): step and one per column."""
    if len(series) == 1:
        table = new_table("step", "time", series[0].name)
        one = series[0]
        for step, ts, value in zip(one.steps, one.timestamps, one.values, strict=True):
            table.add_row(str(step), fmt_time(ts), fmt_value(value))
        return table
    table = new_table("step", *(s.column for s in series), title=series[0].name)
    by_step = [dict(zip(s.steps, s.values, strict=True)) for s in series]
    for step in sorted({step for s in series for step in s.steps}):  # a row per step, aligned
        table.add_row(str(step), *(fmt_value(col[step]) if step in col else "" for col in by_step))
    return table


def fmt_clock(ns: int) -> str:
    """Local time of day to the millisecond: ``14:03:27.120``."""
    return datetime.fromtimestamp(ns / 1e9).strftime("%H:%M:%S.%f")[:-3]


def log_line_text(line: Mapping[str, Any]) -> str:
    """``HH:MM:SS.mmm LEVEL logger: message``, then the exception text indented."""
    level = line.get("level") or "-"
    source = line.get("logger") or line.get("stream") or ""
    text = f"{fmt_clock(int(line['time_ns']))} {level:<5} {source}: {line.get('message', '')}"
    exception = line.get("exception")
    if exception:
        text += "\n" + "\n".join(f"    {row}" for row in str(exception).splitlines())
    return text


def spans_table(spans: Sequence[Mapping[str, Any]]) -> Table:
    """A run's timeline: name (indented under its parent), start, duration, status."""
    depth = _span_depths(spans)
    table = new_table("span", "start", "duration", "status", title="spans")
    for span in spans:
        duration = max(0, int(span["end_ns"]) - int(span["start_ns"])) / 1e9
        status = span.get("status_code", "")
        if span.get("status_message"):
            status = f"{status}: {span['status_message']}"
        table.add_row(
            "  " * depth.get(span["span_id"], 0) + str(span["name"]),
            fmt_clock(int(span["start_ns"])),
            fmt_duration(duration),
            status,
        )
    return table


def _span_depths(spans: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    parents = {s["span_id"]: s.get("parent_span_id") for s in spans}
    depths: dict[str, int] = {}
    for span_id in parents:
        depth, parent, seen = 0, parents[span_id], {span_id}
        while parent in parents and parent not in seen:
            depth, seen = depth + 1, seen | {parent}
            parent = parents[parent]
        depths[span_id] = depth
    return depths


_BLOCKS = " ▁▂▃▄▅▆▇█"
_LABEL_ROOM = 12


def chart(series: Series, width: int, height: int = 8) -> str:
    """A terminal chart of one numeric column: block bars by step, y labels, step range.

    Each of the chart's columns shows the mean of the points whose step falls in it (the
    y labels are the lowest and highest of these means); NaN and infinite values are left
    out. Returns ``""`` when there is nothing numeric to draw.
    """
    import math

    points = [
        (int(step), float(value))
        for step, value in zip(series.steps, series.values, strict=True)
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        if math.isfinite(value)
    ]
    if not points:
        return ""
    first, last = points[0][0], points[-1][0]
    cols = max(8, width - _LABEL_ROOM - 3)  # a y label (%.6g) is 12 characters at most
    sums, counts = [0.0] * cols, [0] * cols
    for step, value in points:
        i = (step - first) * cols // (last - first + 1) if last > first else 0
        sums[min(cols - 1, max(0, i))] += value
        counts[min(cols - 1, max(0, i))] += 1
    means: list[float] = []
    for total, count in zip(sums, counts, strict=True):  # empty columns repeat the last value
        means.append(total / count if count else means[-1] if means else points[0][1])
    lo, hi = min(means), max(means)
    labels = [fmt_value(hi), fmt_value(lo)]
    label_width = max(map(len, labels))
    levels: list[float | None] = [
        (m - lo) / (hi - lo) * height * 8 if hi > lo else height * 4 for m in means
    ]
    lines = []
    for row in range(height):
        base, bottom = (height - 1 - row) * 8, row == height - 1
        cells = "".join(_cell(level, base, bottom) for level in levels)
        label = labels[0] if row == 0 else labels[1] if bottom else ""
        lines.append(f"{label:>{label_width}} ┤{cells}")
    axis = f"{'':>{label_width}} └{'─' * cols}"
    left = f"{'':>{label_width}}  step {first}"
    right = f"step {last}"
    if len(left) + len(right) < label_width + 2 + cols:
        steps_line = left + right.rjust(label_width + 2 + cols - len(left))
    else:
        steps_line = f"{'':>{label_width}}  steps {first}-{last}"
    return "\n".join([*lines, axis, steps_line])


def _cell(level: float | None, base: int, bottom: bool) -> str:
    """The block for one chart cell: eighths above *base*; the bottom row is never empty."""
    import math

    if level is None:
        return " "
    eighths = max(0, min(8, math.ceil(level - base)))
    return _BLOCKS[max(1, eighths) if bottom else eighths]


def metric_summary_grid(summary: Mapping[str, Any]) -> Table:
    """One metric column's summary: count, last (at its step), min, max, kind and dtype."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    name = summary["name"] + (f" [{summary['column']}]" if summary.get("column") else "")
    fields = [
        ("metric", name),
        ("points", str(summary.get("count", ""))),
        ("last", f"{fmt_value(summary.get('last'))} (step {summary.get('last_step', '-')})"),
        ("min / max", f"{fmt_value(summary.get('min'))} / {fmt_value(summary.get('max'))}"),
        ("kind", f"{summary.get('kind', '')}, {summary.get('dtype', '')}"),
    ]
    for key, value in fields:
        grid.add_row(f"{key}:", value)
    return grid


def print_csv(series: Sequence[Series]) -> None:
    """Every point as CSV: ``step,time_ns,<column>...`` (one row per step, aligned)."""
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["step", "time_ns", *(s.column or s.name for s in series)])
    by_step = [
        dict(zip(s.steps, zip(s.timestamps, s.values, strict=True), strict=True)) for s in series
    ]
    for step in sorted({step for s in series for step in s.steps}):
        cells = [col.get(step) for col in by_step]
        time_ns = next(cell[0] for cell in cells if cell is not None)
        writer.writerow([step, time_ns, *("" if cell is None else cell[1] for cell in cells)])


def comparison(runs: Sequence[Mapping[str, Any]], show_all: bool = False) -> list[dict[str, Any]]:
    """Rows ``{"key", "values": [a, b], "differs"}``: params (those that differ unless
    *show_all*), then the last value of every metric column either run has."""
    rows: list[dict[str, Any]] = []
    params = [run.get("params") or {} for run in runs]
    for key in sorted(set().union(*params)):
        values = [p.get(key) for p in params]
        if show_all or len(set(values)) > 1:
            rows.append({"key": f"params.{key}", "values": values, "differs": len(set(values)) > 1})
    lasts = [
        {
            m["name"] + (f".{m['column']}" if m.get("column") else ""): m.get("last")
            for m in run.get("metrics") or []
        }
        for run in runs
    ]
    for key in sorted(set().union(*lasts)):
        values = [last.get(key) for last in lasts]
        rows.append({"key": f"metrics.{key}", "values": values, "differs": values[0] != values[1]})
    return rows


def comparison_table(runs: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]) -> Table:
    """The two runs' values side by side, with the change of numbers (second - first)."""
    # Ids are long: they head the table whole (A, B), not cut in narrow column headers.
    title = "\n".join(f"{mark}: {run['run_id']}" for mark, run in zip("AB", runs, strict=False))
    table = new_table("", "A", "B", "change (B - A)", title=title)
    table.add_row("name", *(str(run.get("name") or "") for run in runs), "")
    table.add_row("status", *(str(run.get("status") or "") for run in runs), "")
    for row in rows:
        a, b = row["values"]
        change = ""
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
            change = f"{b - a:+.6g}" if a != b else "="
        cells = ["-" if v is None else fmt_value(v) for v in (a, b)]
        table.add_row(row["key"], *cells, change)
    return table
