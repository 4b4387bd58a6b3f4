"""The record of one scikit-learn fit, what a param value is logged as, and how an
autolog run ends: shared by the fit recorder and the search logger."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runlog import conventions as c
from runlog._objects import Run

#: Longest text kept for one param value (a repr of a grid, an array, …).
MAX_PARAM_CHARS = 250


@dataclass(slots=True)
class FitRecord:
    """One recorded fit: the run it writes to, and what it logged there (for a sweep)."""

    run: Run
    owns_run: bool
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    logged: dict[str, Any] = field(default_factory=dict)
    #: Lists logged (a cross-validation's fold scores).
    lists: dict[str, list[float]] = field(default_factory=dict)
    #: Params logged after the fit (a search's ``best_<param>``).
    results: dict[str, Any] = field(default_factory=dict)
    #: The id of the shared run this fit was recorded under (None for an own run).
    home: str | None = None

    def log_metric(self, name: str, value: Any) -> None:
        """Log metric *name* into this fit's run."""
        self.logged[name] = value
        self.run.log(name, value)


def finish(run: Run, error: str | None = None, status: str = c.STATUS_COMPLETED) -> None:
    """End *run* with *status* now, without waiting for the collector.

    This is ``Run.complete`` / ``fail`` / ``cancel`` minus their flush: a sweep of fits
    would otherwise pay one collector round trip per fit, where the exporter sends the end
    events with everything else within its interval (and at exit).
    """
    run.finish(status, None if error is None else error[-c.MAX_VALUE_LENGTH :], wait=False)


def loggable(value: Any) -> Any:
    """A param value a run can store: plain values as they are, estimators by class name."""
    if value is None:
        return "None"
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalar
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_PARAM_CHARS else value[: MAX_PARAM_CHARS - 1] + "…"
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value).__name__
    if callable(value) and hasattr(value, "__name__"):
        return str(value.__name__)
    return loggable(repr(value))
