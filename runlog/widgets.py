"""`RunDetails`: a run in a notebook, live while it runs (the Azure ML SDK's widget).

::

    from runlog.widgets import RunDetails
    RunDetails(run).show()       # or just RunDetails(run) as the cell's last expression

In Jupyter (Lab, Notebook 7, VS Code) it shows the run's status, duration, a chart per
metric, the latest log lines and, for a parent, its children with their status and key
metrics; a background thread refreshes it every couple of seconds until the run ends,
then stops. It is an anywidget (``pip install 'runlog-ml[widgets]'``). Where it cannot render
(a terminal, or anywidget missing) ``show()`` prints a text summary and the run's studio URL.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from importlib import resources
from typing import TYPE_CHECKING, Any

from runlog import conventions as c
from runlog.filters import children_of

if TYPE_CHECKING:
    from runlog.client import Client
    from runlog.run import Run

__all__ = ["RunDetails"]

_log = logging.getLogger("runlog.internal")
REFRESH_SECONDS = 2.0
CHART_POINTS = 300
LOG_LINES = 20
MAX_CHARTS = 12


def _in_notebook() -> bool:
    """Tell whether a Jupyter kernel (which can show widgets) runs this code."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


class RunDetails:
    """The details of *run*, shown as a live notebook widget or as text.

    Args:
        run: a `runlog.Run` (started here or fetched with ``Workspace.get_run``).
        refresh_seconds: how often the widget asks the collector while the run is active.
    """

    def __init__(self, run: Run, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.run = run
        self.refresh_seconds = refresh_seconds
        self._widget: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- what is shown ----------------------------------------------------------------------
    def _client(self) -> Client:
        return self.run.experiment.workspace.client()

    def studio_url(self) -> str:
        """The run's page in the collector's studio."""
        return self.run.get_portal_url()

    def snapshot(self) -> dict[str, Any]:
        """Everything the widget shows, read from the collector now."""
        self.run.flush(5)
        client = self._client()
        info = client.get_run(self.run.id)
        end = info.get("end_ns") or time.time_ns()
        return {
            "run_id": info["run_id"],
            "name": info.get("name") or info["run_id"],
            "experiment": info["experiment"],
            "status": info["status"],
            "error": info.get("error") or "",
            "duration_s": (end - info["start_ns"]) / 1e9,
            "metrics": self._metrics(client, info),
            "logs": self._logs(client),
            "children": self._children(client),
            "studio_url": self.studio_url(),
        }

    def _metrics(self, client: Client, info: dict[str, Any]) -> list[dict[str, Any]]:
        charts = []
        for summary in info.get("metrics", [])[: MAX_CHARTS * 4]:
            if summary["kind"] not in (c.KIND_SCALAR, c.KIND_LIST) or summary["dtype"] == "str":
                continue
            entry = {
                "name": summary["name"],
                "last": _number(summary.get("last")),
                "count": summary["count"],
            }
            if summary["count"] > 1:
                series = client.get_metric(self.run.id, summary["name"], max_points=CHART_POINTS)
                points = [(s, _number(v)) for s, v in zip(series.steps, series.values, strict=True)]
                entry["steps"] = [s for s, v in points if v is not None]
                entry["values"] = [v for _, v in points if v is not None]
            charts.append(entry)
            if len(charts) == MAX_CHARTS:
                break
        return charts

    def _logs(self, client: Client) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        after = 0
        while True:  # the last LOG_LINES of the run: page to the end (runs rarely log a lot)
            page = client.get_logs(self.run.id, after_seq=after, limit=10000)
            lines = (lines + page)[-LOG_LINES:]
            if len(page) < 10000:
                break
            after = page[-1]["seq"]
        return [
            {"time_ns": x["time_ns"], "level": x.get("level") or "", "message": x["message"]}
            for x in lines
        ]

    def _children(self, client: Client) -> list[dict[str, Any]]:
        found = client.search_runs(filter=children_of(self.run.id), max_results=200)
        out = []
        for child in found:
            last = {
                m["name"]: _number(m.get("last"))
                for m in child.get("metrics", [])
                if not m.get("column")
            }
            out.append(
                {
                    "run_id": child["run_id"],
                    "name": child.get("name") or child["run_id"],
                    "status": child["status"],
                    "metrics": {k: v for k, v in last.items() if v is not None},
                }
            )
        return out

    def summary(self) -> str:
        """A text summary: status, duration, last metric values, children and the studio URL."""
        try:
            shown = self.snapshot()
        except Exception as exc:  # the collector is down: say so, still give the URL
            unreachable = f"Run {self.run.id}: cannot reach the collector ({exc})"
            return f"{unreachable}\nStudio: {self.studio_url()}"
        lines = [
            f"Run {shown['name']} ({shown['run_id']}) in {shown['experiment']}: {shown['status']}, "
            f"{shown['duration_s']:.1f} s",
        ]
        for metric in shown["metrics"]:
            lines.append(f"  {metric['name']}: {metric['last']} ({metric['count']} points)")
        for child in shown["children"]:
            lines.append(f"  child {child['name']}: {child['status']}")
        if shown["error"]:
            lines.append(
                f"  error: {shown['error'].splitlines()[-1] if shown['error'].strip() else ''}"
            )
        lines.append(f"Studio: {shown['studio_url']}")
        return "\n".join(lines)

    # --- showing ------------------------------------------------------------------------------
    @property
    def widget(self) -> Any:
        """The anywidget model (made on first use; raises ImportError without anywidget)."""
        if self._widget is None:
            self._widget = _widget_class()()
            self._update()
            self._start()
        return self._widget

    def show(self) -> None:
        """Display the live widget in a notebook; elsewhere print the text summary."""
        if _in_notebook():
            try:
                from IPython.display import display

                display(self.widget)  # type: ignore[no-untyped-call]  # IPython is untyped
                return
            except ImportError:
                pass
        print(self.summary())

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if _in_notebook():
            try:
                return self.widget._repr_mimebundle_(**kwargs)
            except ImportError:
                pass
        return {"text/plain": self.summary()}

    def __repr__(self) -> str:
        return f"RunDetails(run_id={self.run.id!r})"

    def stop(self) -> None:
        """Stop refreshing (the widget keeps what it shows)."""
        self._stop.set()

    # --- live updates -----------------------------------------------------------------------
    def _update(self) -> bool:
        """Refresh the widget once; return whether the run is still active."""
        widget = self._widget
        try:
            shown = self.snapshot()
        except Exception as exc:
            widget.problem = f"cannot reach the collector: {exc}"
            return True
        active = shown["status"] not in c.TERMINAL_STATUSES
        with widget.hold_sync():
            widget.problem = ""
            for key, value in shown.items():
                setattr(widget, key, value)
            widget.live = active
        return active

    def _start(self) -> None:
        if self._widget.status in c.TERMINAL_STATUSES:
            return
        self._thread = threading.Thread(target=self._follow, name="runlog-widget", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            while not self._stop.wait(self.refresh_seconds):
                if not self._update():
                    return
        except Exception:  # a widget must never take the kernel down
            _log.exception("RunDetails stopped refreshing")


_WIDGET_CLASS: Any = None


def _widget_class() -> Any:
    """The anywidget class, defined on first use so that importing this module is light."""
    global _WIDGET_CLASS
    if _WIDGET_CLASS is not None:
        return _WIDGET_CLASS
    import anywidget
    import traitlets

    assets = resources.files("runlog") / "_widget"

    class RunDetailsWidget(anywidget.AnyWidget):
        _esm = (assets / "widget.js").read_text()
        _css = (assets / "widget.css").read_text()
        run_id = traitlets.Unicode("").tag(sync=True)
        name = traitlets.Unicode("").tag(sync=True)
        experiment = traitlets.Unicode("").tag(sync=True)
        status = traitlets.Unicode("").tag(sync=True)
        error = traitlets.Unicode("").tag(sync=True)
        duration_s = traitlets.Float(0.0).tag(sync=True)
        metrics: Any = traitlets.List([]).tag(sync=True)
        logs: Any = traitlets.List([]).tag(sync=True)
        children: Any = traitlets.List([]).tag(sync=True)
        studio_url = traitlets.Unicode("").tag(sync=True)
        live = traitlets.Bool(False).tag(sync=True)
        problem = traitlets.Unicode("").tag(sync=True)

    _WIDGET_CLASS = RunDetailsWidget
    return _WIDGET_CLASS
