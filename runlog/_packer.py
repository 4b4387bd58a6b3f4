"""Turn buffered calls into packed segments and events (in the exporter thread).

Buffered items are tuples whose first element is an op code; `runlog._recorder.RunRecorder`
builds every kind but OP_FLUSH (the pipeline's own):

=============  =====================================================
OP_SERIES      (op, handle, name, deque) — a metric's own deque of (value, step, time_ns),
               filled by `run.log` and drained by the exporter each cycle
OP_POINTS      (op, handle, name, kind, {column: [values]}, time_ns) — list, row, table, image
OP_EVENT       (op, handle, event_name, attributes, time_ns)
OP_LOG         (op, handle, time_ns, severity_number, severity_text, logger_name, message,
               exception[, stream]) — one log line; exception is None or (type, message,
               stacktrace); the optional stream is "stdout"/"stderr" for captured output
OP_UPLOAD      (op, Upload)            — sent after the records of the same cycle
OP_FLUSH       (op, threading.Event)   — set once everything before it was sent or spooled
=============  =====================================================

Validation happens here, off the training thread: a bad name, value or step is dropped
with one warning per metric and reason.
"""

from __future__ import annotations

import logging
from collections import deque
from itertools import repeat, starmap
from operator import itemgetter
from typing import Any

from runlog import conventions as c
from runlog._records import Event, LogLine, RunKey, Segment
from runlog._values import Invalid, check_step, dtype_of

_log = logging.getLogger("runlog.internal")

OP_SERIES, OP_POINTS, OP_EVENT, OP_UPLOAD, OP_FLUSH, OP_LOG = range(6)
#: Longest packed record; longer stretches are split (keeps requests near 4 MiB).
MAX_SEGMENT = 100_000
_ROW = "\x00row"
_VALUE, _STEP, _TIME = itemgetter(0), itemgetter(1), itemgetter(2)
_FLOAT_ONLY, _NO_STEP = (
    {float},
    {None},
)  # key of a row/table's row counter (not a valid column name)


class RunHandle:
    """A run as the exporter sees it: its resource and its per-metric counters.

    Only the exporter thread touches the counters.
    """

    __slots__ = ("_warned", "appenders", "key", "kinds", "next_step", "valid")

    def __init__(self, key: RunKey) -> None:
        self.key = key
        #: The run's own metric appenders by name (what `run.log` calls): the pipeline
        #: swaps an over-full series' entry for a throttled one while memory is over its bound.
        self.appenders: dict[str, Any] = {}
        self.next_step: dict[tuple[str, str], int] = {}
        self.kinds: dict[str, str] = {}
        self.valid: dict[str, bool] = {}
        self._warned: set[tuple[str, str]] = set()

    def warn(self, name: str, reason: str) -> None:
        """Log *reason* once per metric name."""
        if (name, reason) not in self._warned:
            self._warned.add((name, reason))
            _log.warning("run %s: %r not logged: %s", self.key.run_id, name, reason)


class Packer:
    """Stateless between cycles except through the `RunHandle` counters."""

    def __init__(self) -> None:
        self.series: list[tuple[RunHandle, str, deque[tuple[Any, Any, int]]]] = []

    def buffered(self) -> int:
        """Points waiting in the registered metric deques."""
        return sum(len(queue) for _, _, queue in self.series)

    def forget_buffered(self) -> None:
        """Drop points waiting in the metric deques (after a fork: they are the parent's)."""
        for _, _, queue in self.series:
            queue.clear()

    def pack(
        self, items: list[tuple[Any, ...]]
    ) -> tuple[list[Segment | Event | LogLine], list[tuple[Any, ...]]]:
        """Records, and the side operations (uploads, flush barriers) in order.

        *items* come from the pipeline's queue (events and log lines keep its order);
        scalar points come from the registered
        per-metric deques, drained after the queue so that everything logged before a flush
        barrier is included. Each metric's points are checked and packed in bulk.
        """
        state = _Cycle()
        for item in items:
            if item[0] == OP_SERIES:
                self.series.append((item[1], item[2], item[3]))
            else:
                state.other(item)
        for handle, name, queue in self.series:
            if queue:
                state.out.extend(state.scalars(handle, name, _drain(queue)))
        return state.out, state.side


def _drain(queue: deque[tuple[Any, Any, int]]) -> list[tuple[Any, Any, int]]:
    # The points there now (more may arrive meanwhile), popped in C: ~2x the comprehension.
    return list(starmap(queue.popleft, repeat((), len(queue))))


class _Cycle:
    __slots__ = ("open", "out", "side")

    def __init__(self) -> None:
        self.out: list[Segment | Event | LogLine] = []
        self.side: list[tuple[Any, ...]] = []
        self.open: dict[tuple[RunHandle, str, str], Segment] = {}

    def _accept_name(self, handle: RunHandle, name: Any, kind: str) -> bool:
        valid = handle.valid.get(name) if isinstance(name, str) else None
        if valid is None:
            reason = c.check_name("metric name", name)
            valid = reason is None
            if isinstance(name, str):
                handle.valid[name] = valid
            if reason:
                handle.warn(str(name)[:80], reason)
        if not valid:
            return False
        known = handle.kinds.setdefault(name, kind)
        if known != kind:
            handle.warn(name, f"it was logged as {known} before; a name keeps its first kind")
            return False
        return True

    def _segment(self, handle: RunHandle, name: str, column: str, kind: str, dtype: str) -> Segment:
        key = (handle, name, column)
        segment = self.open.get(key)
        if segment is None or segment.dtype != dtype or len(segment.steps) >= MAX_SEGMENT:
            segment = Segment(handle.key, name, column, kind, dtype)
            self.open[key] = segment
            self.out.append(segment)
        return segment

    def other(self, item: tuple[Any, ...]) -> None:
        op = item[0]
        if op == OP_LOG:
            self.out.append(LogLine(item[1].key, *item[2:]))
        elif op == OP_POINTS:
            self.points(item[1], item[2], item[3], item[4], item[5])
        elif op == OP_EVENT:
            self.out.append(Event(item[1].key, item[2], item[4], item[3]))
        else:
            self.side.append(item)

    def scalars(
        self, handle: RunHandle, name: str, group: list[tuple[Any, Any, int]]
    ) -> list[Segment]:
        if not self._accept_name(handle, name, c.KIND_SCALAR):
            return []
        values = list(map(_VALUE, group))
        times = list(map(_TIME, group))
        key = (name, "")
        first = handle.next_step.get(key, 0)
        if set(map(type, values)) == _FLOAT_ONLY and set(map(_STEP, group)) == _NO_STEP:
            # The common case (floats, automatic steps) stays in C-level loops.
            handle.next_step[key] = first + len(values)
            steps: Any = range(first, first + len(values))  # packed as is; no list needed
            return _split(
                Segment(handle.key, name, "", c.KIND_SCALAR, c.DTYPE_FLOAT, steps, times, values)
            )
        return self._mixed(handle, name, values, list(map(_STEP, group)), times)

    def _mixed(
        self, handle: RunHandle, name: str, values: list[Any], steps: list[Any], times: list[int]
    ) -> list[Segment]:
        segments: list[Segment] = []
        key = (name, "")
        for value, step, time_ns in zip(values, steps, times, strict=True):
            dtype = _dtype(handle, name, value)
            if dtype is None:
                continue
            if step is None:
                step = handle.next_step.get(key, 0)
            else:
                step = check_step(step)
                if isinstance(step, Invalid):
                    handle.warn(name, step.reason)
                    continue
            handle.next_step[key] = step + 1
            if (
                not segments
                or segments[-1].dtype != dtype
                or len(segments[-1].steps) >= MAX_SEGMENT
            ):
                segments.append(Segment(handle.key, name, "", c.KIND_SCALAR, dtype))
            segment = segments[-1]
            segment.steps.append(step)
            segment.times.append(time_ns)
            segment.values.append(float(value) if dtype == c.DTYPE_FLOAT else value)
        return segments

    def points(
        self, handle: RunHandle, name: str, kind: str, columns: dict[str, list[Any]], time_ns: int
    ) -> None:
        if not self._accept_name(handle, name, kind):
            return
        first = handle.next_step.get((name, _ROW), 0)
        longest = 0
        for column, values in columns.items():
            longest = max(longest, len(values))
            for offset, value in enumerate(values):
                self._point(handle, name, column, kind, first + offset, value, time_ns)
        handle.next_step[(name, _ROW)] = first + longest

    def _point(
        self,
        handle: RunHandle,
        name: str,
        column: str,
        kind: str,
        step: int,
        value: Any,
        time_ns: int,
    ) -> None:
        dtype = _dtype(handle, name, value)
        if dtype is None:
            return
        segment = self._segment(handle, name, column, kind, dtype)
        segment.steps.append(step)
        segment.times.append(time_ns)
        segment.values.append(float(value) if dtype == c.DTYPE_FLOAT else value)


def _split(segment: Segment) -> list[Segment]:
    """Cut a segment into pieces of at most `MAX_SEGMENT` points."""
    if len(segment.steps) <= MAX_SEGMENT:
        return [segment]
    return [
        Segment(
            segment.run,
            segment.name,
            segment.column,
            segment.kind,
            segment.dtype,
            segment.steps[i : i + MAX_SEGMENT],
            segment.times[i : i + MAX_SEGMENT],
            segment.values[i : i + MAX_SEGMENT],
        )
        for i in range(0, len(segment.steps), MAX_SEGMENT)
    ]


def _dtype(handle: RunHandle, name: str, value: Any) -> str | None:
    if isinstance(value, Invalid):
        handle.warn(name, value.reason)
        return None
    dtype = dtype_of(value)
    if dtype == c.DTYPE_STR and len(value) > c.MAX_VALUE_LENGTH:
        handle.warn(name, f"string values are limited to {c.MAX_VALUE_LENGTH} characters")
        return None
    if dtype == c.DTYPE_STR and not c.is_utf8(value):
        handle.warn(name, f"a string value {c.NOT_UTF8}")
        return None
    return dtype
