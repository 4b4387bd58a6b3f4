"""Metric points in flight: validation, automatic steps, summaries and chunk rows (no I/O).

A point whose step is `runlog.conventions.INT64_MIN` has an automatic step: the previous
point's step + 1 in its metric column, counting stored points and points buffered earlier
in the same transaction; a column's first automatic step is 0.

A column's *latest* point (the summary's ``last``) is the one with the highest step; ties go
to the latest time, then to the larger number, then to the later arrival. That is MLflow's
rule, and unlike "the last point to arrive" it does not depend on the order in which
asynchronous producers deliver their points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from collectors.ops import AppendPoints
from collectors.store import chunks
from collectors.store.chunks import CHUNK_POINTS, Values
from runlog import conventions as cv

MIXED = "mixed"


@dataclass(slots=True)
class Part:
    """Points of one dtype, validated and in stored form."""

    dtype: str
    steps: npt.NDArray[np.int64]
    times: npt.NDArray[np.int64]
    values: Values


@dataclass(slots=True)
class Metric:
    """A metric column's summary and the points appended to it in this transaction."""

    id: int
    kind: str
    dtype: str | None = None  # None until the first point
    count: int = 0
    last: Any = None
    last_dtype: str = ""
    last_bits: int | None = None
    last_step: int = 0
    last_time_ns: int = 0
    append_step: int = 0  # step of the point appended last: the base of automatic steps
    low: float | None = None
    high: float | None = None
    tail: tuple[int, int, str] | None = None  # (seq, n, dtype) of the stored last chunk
    pending: list[Part] = field(default_factory=list)


def validated_part(op: AppendPoints) -> Part:
    """Check an `AppendPoints` and return its points; raise ValueError saying what is wrong."""
    if op.kind not in cv.STORED_KINDS:
        raise ValueError(f"unknown kind {op.kind!r}; expected one of {sorted(cv.STORED_KINDS)}")
    for what, name in (("metric name", op.name), ("column name", op.column or "x")):
        problem = cv.check_name(what, name)
        if problem is not None:
            raise ValueError(problem)
    steps, times = chunks.as_ints("steps", op.steps), chunks.as_ints("times", op.times)
    values = chunks.as_values(op.dtype, op.values)
    if not len(steps) == len(times) == len(values):
        lengths = f"{len(steps)} steps, {len(times)} times, {len(values)} values"
        raise ValueError(f"steps, times and values differ in length ({lengths})")
    return Part(op.dtype, steps, times, values)


def add_part(metric: Metric, part: Part) -> None:
    """Give *part* its automatic steps, update the summary with it and buffer its points.

    Raises:
        ValueError: an automatic step would pass the largest int64.
    """
    part.steps = resolved_steps(part.steps, metric.append_step if metric.count else None)
    low, high = chunks.numeric_range(part.dtype, part.values)
    if low is not None and high is not None:
        metric.low = low if metric.low is None else min(metric.low, low)
        metric.high = high if metric.high is None else max(metric.high, high)
    metric.dtype = part.dtype if metric.dtype in (None, part.dtype) else MIXED
    _update_latest(metric, part)
    metric.count += len(part.steps)
    metric.append_step = int(part.steps[-1])
    metric.pending.append(part)


def _update_latest(metric: Metric, part: Part) -> None:
    """Make *part*'s latest point the column's ``last`` if it is not older than the current."""
    keys = _order_values(part.dtype, part.values)
    index = int(np.lexsort((keys, part.times, part.steps))[-1])  # stable: later arrival wins
    step, time_ns = int(part.steps[index]), int(part.times[index])
    if metric.count:
        current = (metric.last_step, metric.last_time_ns, _order_value(metric.last))
        if (step, time_ns, float(keys[index])) < current:
            return
    metric.last_dtype = part.dtype
    metric.last = chunks.python_value(part.dtype, part.values[index])
    if part.dtype == cv.DTYPE_FLOAT:
        metric.last_bits = int(np.asarray(part.values)[index : index + 1].view(np.int64)[0])
    metric.last_step, metric.last_time_ns = step, time_ns


def _order_values(dtype: str, values: Values) -> npt.NDArray[np.float64]:
    """The values as tie-breaking keys: numbers as floats (NaN as 0, as MLflow), text as 0."""
    if dtype == cv.DTYPE_STR:
        return np.zeros(len(values))
    return np.nan_to_num(
        np.asarray(values, dtype=np.float64), nan=0.0, posinf=np.inf, neginf=-np.inf
    )


def _order_value(value: Any) -> float:
    if isinstance(value, (bool, int, float)) and value == value:
        return float(value)
    return 0.0


def resolved_steps(steps: npt.NDArray[np.int64], last_step: int | None) -> npt.NDArray[np.int64]:
    """*steps* with each automatic step (`INT64_MIN`) replaced by the previous step + 1.

    The previous step of the first point is *last_step*, the column's last stored or buffered
    step (None for a column without points: its first automatic step is 0). An explicit step
    restarts the count: ``[AUTO, 10, AUTO, AUTO]`` after nothing gives ``[0, 10, 11, 12]``.

    Raises:
        ValueError: an automatic step would pass the largest int64.
    """
    auto = steps == cv.INT64_MIN
    if not auto.any():
        return steps
    start = -1 if last_step is None else last_step
    n = len(steps)
    if auto.all():
        if start > cv.INT64_MAX - n:
            raise ValueError(_PAST_MAX)
        return np.arange(start + 1, start + 1 + n, dtype=np.int64)
    index = np.arange(n, dtype=np.int64)
    anchor = np.maximum.accumulate(np.where(auto, -1, index))  # last explicit point, or -1
    base = np.where(anchor < 0, start, steps[np.maximum(anchor, 0)])
    offset = index - anchor  # points since the anchor (since before the first for -1)
    if np.any(base[auto] > cv.INT64_MAX - offset[auto]):
        raise ValueError(_PAST_MAX)
    return np.where(auto, base + offset, steps)


_PAST_MAX = (
    f"an automatic step (a point without a step) would follow step {cv.INT64_MAX}, the "
    "largest int64; give such points explicit steps"
)


def summary_values(metric: Metric) -> dict[str, Any]:
    """The metrics-table columns of the summary (see `collectors.store.schema`)."""
    dtype, last = metric.last_dtype, metric.last
    is_float = dtype == cv.DTYPE_FLOAT
    return {
        "dtype": metric.dtype,
        "count": metric.count,
        "last_dtype": dtype,
        "last_f8": last if is_float and last == last else None,  # NaN: SQLite has no NaN
        "last_bits": metric.last_bits if is_float else None,
        "last_i8": int(last) if dtype in (cv.DTYPE_INT, cv.DTYPE_BOOL) else None,
        "last_str": last if dtype == cv.DTYPE_STR else None,
        "last_step": metric.last_step,
        "last_time_ns": metric.last_time_ns,
        "append_step": metric.append_step,
        "min_value": metric.low,
        "max_value": metric.high,
    }


def merge_runs(parts: Sequence[Part]) -> list[Part]:
    """Concatenate consecutive parts of the same dtype."""
    groups: list[list[Part]] = []
    for part in parts:
        if groups and groups[-1][0].dtype == part.dtype:
            groups[-1].append(part)
        else:
            groups.append([part])
    return [_concat(group) for group in groups]


def _concat(group: list[Part]) -> Part:
    if len(group) == 1:
        return group[0]
    dtype = group[0].dtype
    steps = np.concatenate([p.steps for p in group])
    times = np.concatenate([p.times for p in group])
    return Part(dtype, steps, times, chunks.concat_values(dtype, [p.values for p in group]))


def chunk_rows(metric_id: int, first_seq: int, parts: Sequence[Part]) -> list[dict[str, Any]]:
    """metric_chunks rows for *parts*, at most `CHUNK_POINTS` points each."""
    rows, seq = [], first_seq
    for part in parts:
        for start in range(0, len(part.steps), CHUNK_POINTS):
            end = start + CHUNK_POINTS
            values = part.values[start:end]
            steps, times = part.steps[start:end], part.times[start:end]
            rows.append(
                {
                    "metric_id": metric_id,
                    "seq": seq,
                    "n": len(values),
                    "dtype": part.dtype,
                    "summary": chunks.block_summary(part.dtype, steps, times, values),
                    "steps": chunks.encode_ints(steps),
                    "times": chunks.encode_ints(times),
                    "values": chunks.encode_values(part.dtype, values),
                }
            )
            seq += 1
    return rows
