"""A window of a metric vector, by step or time: what a chart reads when it zooms in.

A chart first shows a whole vector downsampled from the chunks' block summaries
(`SQLStore.read_metric_downsampled`). Zoomed in, it asks for ``[start, end]`` of steps or
times. The summaries tell which chunks can hold points there: with steps (or times)
increasing in append order, chunk *i* lies between the largest summary step of chunk
*i - 1* and the smallest of chunk *i + 1*, so only those chunks are read. A window that
still spans more than `RAW_LIMIT` points is built from the summaries' points in it instead
(min and max of every 100-point block), so zooming a 10-million-point vector never reads it
whole. Where steps go backwards a chunk's bounds are unknown and it is always read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from collectors.store import chunks, schema
from collectors.store.base import MetricVector

#: Most points read raw for one window; beyond, the window comes from block summaries.
RAW_LIMIT: Final = 500_000
AXES: Final = ("step", "time")
_IN_CHUNK: Final = 500

_m, _c = schema.metrics, schema.metric_chunks
_HEAD = sa.select(_m.c.id, _m.c.kind, _m.c.dtype).where(
    _m.c.run_id == sa.bindparam("r"),
    _m.c.name == sa.bindparam("n"),
    _m.c.column == sa.bindparam("c"),
)
_SUMMARIES = (
    sa.select(_c.c.seq, _c.c.n, _c.c.summary)
    .where(_c.c.metric_id == sa.bindparam("i"))
    .order_by(_c.c.seq)
)

Arrays = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[Any]]


def read_window(
    conn: sa.Connection,
    key: tuple[str, str, str],
    axis: str,
    bounds: tuple[int, int],
    max_points: int | None,
) -> tuple[MetricVector, bool] | None:
    """Points of metric *key* (run id, name, column) with *axis* value within *bounds*.

    Args:
        conn: an open connection.
        key: run id, metric name and column.
        axis: ``step`` or ``time`` (Unix ns).
        bounds: inclusive ``(start, end)`` on that axis.
        max_points: downsample to at most this many (min/max per bucket); None for all.

    Returns:
        The window and whether it was downsampled, or None when there is no such metric.

    Raises:
        ValueError: the metric is not numeric (read it whole and use `sliced`).
    """
    run_id, name, column = key
    head = conn.execute(_HEAD, {"r": run_id, "n": name, "c": column}).first()
    if head is None:
        return None
    if head.dtype not in chunks.NUMPY_DTYPES:
        raise ValueError(f"metric {name!r} has dtype {head.dtype!r}: not numeric")
    rows = conn.execute(_SUMMARIES, {"i": head.id}).all()
    which = AXES.index(axis)
    seqs = candidate_chunks(head.dtype, [row.summary for row in rows], which, bounds)
    estimate = sum(rows[i].n for i in seqs)
    summarized = max_points is not None and estimate > RAW_LIMIT
    if summarized:
        arrays = _summary_points(head.dtype, [rows[i].summary for i in seqs])
    else:
        arrays = _raw_points(conn, head.id, head.dtype, [rows[i].seq for i in seqs])
    steps, times, values = _within(arrays, which, bounds)
    count = len(steps)
    if max_points is not None:
        picked = chunks.downsample_indices(values, max_points)
        steps, times, values = steps[picked], times[picked], values[picked]
    downsampled = summarized or len(steps) < count
    vector = MetricVector(name, column, head.kind, head.dtype, steps, times, values)
    return vector, downsampled


def candidate_chunks(
    dtype: str, summaries: Sequence[bytes | None], which: int, bounds: tuple[int, int]
) -> list[int]:
    """Indices of the chunks that may hold points within *bounds* on axis *which*."""
    lows, highs = [], []
    for blob in summaries:
        if blob is None:  # a chunk without a summary: unknown bounds
            lows.append(np.iinfo(np.int64).min)
            highs.append(np.iinfo(np.int64).max)
            continue
        axis_values = chunks.split_summary(dtype, blob)[which]
        lows.append(int(axis_values.min()))
        highs.append(int(axis_values.max()))
    start, end = bounds
    picked = []
    last = len(summaries) - 1
    for i in range(len(summaries)):
        below = highs[i - 1] if i > 0 else None
        above = lows[i + 1] if i < last else None
        unordered = (below is not None and below > lows[i]) or (
            above is not None and above < highs[i]
        )
        beyond = (below is not None and below > end) or (above is not None and above < start)
        if unordered or not beyond:
            picked.append(i)
    return picked


def sliced(vector: MetricVector, axis: str, bounds: tuple[int, int]) -> MetricVector:
    """*vector* cut to the points with *axis* value within *bounds* (any dtype)."""
    along = vector.steps if axis == "step" else vector.times
    keep = (along >= bounds[0]) & (along <= bounds[1])
    values = vector.values
    kept: Any = values[keep] if isinstance(values, np.ndarray) else _pick(values, keep)
    return MetricVector(
        vector.name, vector.column, vector.kind, vector.dtype,
        vector.steps[keep], vector.times[keep], kept,
    )  # fmt: skip


def _pick(values: list[Any], keep: npt.NDArray[np.bool_]) -> list[Any]:
    return [value for value, kept in zip(values, keep.tolist(), strict=True) if kept]


def _within(arrays: Arrays, which: int, bounds: tuple[int, int]) -> Arrays:
    along = arrays[which]
    keep = (along >= bounds[0]) & (along <= bounds[1])
    return arrays[0][keep], arrays[1][keep], arrays[2][keep]


def _summary_points(dtype: str, blobs: Sequence[bytes | None]) -> Arrays:
    """The block extremes of *blobs*, each block's pair in time order."""
    parts = [chunks.split_summary(dtype, blob) for blob in blobs if blob is not None]
    if not parts:
        return _empty(dtype)
    steps, times, values = (np.concatenate([p[i] for p in parts]) for i in range(3))
    pairs = np.arange(len(steps)).reshape(-1, 2)
    swap = times[pairs[:, 0]] > times[pairs[:, 1]]
    pairs[swap] = pairs[swap][:, ::-1]
    order = pairs.ravel()
    return steps[order], times[order], _as_stored(dtype, values[order])


def _raw_points(conn: sa.Connection, metric_id: int, dtype: str, seqs: Sequence[int]) -> Arrays:
    if not seqs:
        return _empty(dtype)
    steps, times, values = [], [], []
    for start in range(0, len(seqs), _IN_CHUNK):
        query = (
            sa.select(_c.c.steps, _c.c.times, _c.c["values"])
            .where(_c.c.metric_id == metric_id, _c.c.seq.in_(list(seqs[start : start + _IN_CHUNK])))
            .order_by(_c.c.seq)
        )
        for row in conn.execute(query):
            steps.append(row[0])
            times.append(row[1])
            values.append(row[2])
    value_type = chunks.NUMPY_DTYPES[dtype]
    joined = np.frombuffer(b"".join(values), dtype=value_type)
    return chunks.join_ints(steps), chunks.join_ints(times), _as_stored(dtype, joined)


def _as_stored(dtype: str, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return values.view(np.bool_) if values.dtype == np.uint8 else values


def _empty(dtype: str) -> Arrays:
    empty = np.empty(0, np.int64)
    return empty, empty, _as_stored(dtype, np.empty(0, chunks.NUMPY_DTYPES[dtype]))
