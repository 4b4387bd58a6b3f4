"""Accumulates the operations of one request in apply order (used by `collectors.convert`).

Single metric points are buffered per (run, name, column, kind) and turned into one
`AppendPoints` per group when something that must come after them arrives (a status change,
a packed chunk of the same metric) or at the end, so that interleaved series (``loss``,
``acc``, ``loss``, …) still make one operation each. Log lines and spans are buffered per
run the same way: one `AppendLogLines` / `AppendSpans` per run and stretch, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from collectors.ops import (
    AppendLogLines,
    AppendPoints,
    AppendSpans,
    Converted,
    EnsureRun,
    LogLine,
    Op,
    SpanRecord,
)
from runlog import conventions as c

_NUMPY_DTYPES = {c.DTYPE_FLOAT: np.float64, c.DTYPE_INT: np.int64, c.DTYPE_BOOL: np.bool_}

SeriesKey = tuple[str, str, str, str]  # run id, metric name, column, kind


class Rejected(ValueError):
    """A record cannot be used; the message says why (it reaches the producer)."""


def time_of(*candidates: int) -> int:
    """The first non-zero of *candidates* (OTLP times in Unix ns, most specific first).

    Raises:
        Rejected: that time does not fit the store's int64 (it is past the year 2262).
    """
    for time_ns in candidates:
        if time_ns:
            if time_ns > c.INT64_MAX:
                raise Rejected(f"time {time_ns} ns is past the int64 range (the year 2262)")
            return time_ns
    return 0


@dataclass(frozen=True, slots=True)
class Identity:
    """Which run a record belongs to, as the producer named it."""

    run_id: str
    experiment: str
    parent_id: str | None
    name: str | None


@dataclass(slots=True)
class _Points:
    dtype: str
    steps: list[int] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def to_op(self, key: SeriesKey) -> AppendPoints:
        run_id, name, column, kind = key
        values: Any = self.values
        if self.dtype != c.DTYPE_STR:
            values = np.array(self.values, dtype=_NUMPY_DTYPES[self.dtype])
        steps = np.array(self.steps, dtype=np.int64)
        times = np.array(self.times, dtype=np.int64)
        return AppendPoints(run_id, name, kind, self.dtype, steps, times, values, column)


class Builder:
    """Collects operations in order; `finish` returns them as a `Converted`."""

    def __init__(self) -> None:
        self.out = Converted()
        self._ensured: set[Identity] = set()
        self._last_ensured: Identity | None = None
        self._pending: dict[SeriesKey, _Points] = {}
        self._lines: dict[str, list[LogLine]] = {}
        self._spans: dict[str, list[SpanRecord]] = {}
        #: Validated (name, column, kind) by raw attribute strings; see `_events._series`.
        self.series_cache: dict[
            tuple[str | None, str | None, str | None], tuple[str, str, str]
        ] = {}

    def ensure(self, identity: Identity, time_ns: int) -> None:
        """Emit an `EnsureRun` the first time this request names *identity*."""
        if identity is self._last_ensured:
            return  # the common case: record after record of the same run
        self._last_ensured = identity
        if identity not in self._ensured:
            self._ensured.add(identity)
            self.out.ops.append(
                EnsureRun(
                    identity.run_id,
                    identity.experiment,
                    time_ns,
                    identity.parent_id,
                    identity.name,
                )
            )

    def add(self, op: Op) -> None:
        """Append an operation that must follow every point buffered so far."""
        self.flush()
        self.out.ops.append(op)

    def add_series_op(self, key: SeriesKey, op: Op) -> None:
        """Append an operation on one series, after that series' buffered points only."""
        self._flush_key(key)
        self.out.ops.append(op)

    def add_point(
        self,
        run_id: str,
        name: str,
        column: str,
        kind: str,
        dtype: str,
        step: int,
        time_ns: int,
        value: Any,
    ) -> None:
        """Buffer one point; a dtype change within the series starts a new operation."""
        key = (run_id, name, column, kind)
        points = self._pending.get(key)
        if points is None or points.dtype != dtype:
            self._flush_key(key)
            points = self._pending[key] = _Points(dtype)
        points.steps.append(step)
        points.times.append(time_ns)
        points.values.append(value)

    def add_log_line(self, run_id: str, line: LogLine) -> None:
        """Buffer one log line of *run_id* (lines of a run keep their order)."""
        lines = self._lines.get(run_id)
        if lines is None:
            lines = self._lines[run_id] = []
        lines.append(line)

    def add_span(self, run_id: str, span: SpanRecord) -> None:
        """Buffer one span of *run_id*'s timeline."""
        self._spans.setdefault(run_id, []).append(span)

    def flush(self) -> None:
        """Turn every buffered series, log lines and spans into operations, in first-seen order."""
        for key, points in self._pending.items():
            self.out.ops.append(points.to_op(key))
        self._pending.clear()
        for run_id, lines in self._lines.items():
            self.out.ops.append(AppendLogLines(run_id, tuple(lines)))
        self._lines.clear()
        for run_id, spans in self._spans.items():
            self.out.ops.append(AppendSpans(run_id, tuple(spans)))
        self._spans.clear()

    def finish(self) -> Converted:
        """Flush and return the result."""
        self.flush()
        return self.out

    def _flush_key(self, key: SeriesKey) -> None:
        points = self._pending.pop(key, None)
        if points is not None:
            self.out.ops.append(points.to_op(key))
