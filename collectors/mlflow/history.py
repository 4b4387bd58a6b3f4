"""Metric history: every point of one metric (paged), and the sampled bulk form for charts.

Points come from the columnar vector (`Store.read_metric`), one read per request, and are
paged in memory: a 100,000-point history is one chunked read, not 100,000 rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from collectors.mlflow._context import Context, Params, page_offset, page_token
from collectors.mlflow.errors import invalid, request_check, required
from collectors.mlflow.mapping import mlflow_float
from collectors.store.base import MetricVector
from runlog import conventions as cv

MAX_BULK_RUNS = 100
MAX_HISTORY_RESULTS = 25_000
MAX_BULK_RESULTS = 2500
DEFAULT_BULK_RESULTS = 320
_NUMERIC = ("f8", "i8", "bool")


def _float_values(vector: MetricVector) -> npt.NDArray[np.float64] | None:
    if vector.dtype in _NUMERIC:
        return np.asarray(vector.values, dtype=np.float64)
    values = list(vector.values)
    if all(isinstance(v, (int, float)) for v in values):
        return np.asarray(values, dtype=np.float64)
    return None  # string metrics have no MLflow form


def points_json(
    key: str, vector: MetricVector, index: slice | npt.NDArray[np.intp], run_id: str | None = None
) -> list[dict[str, Any]]:
    """MLflow ``Metric`` objects for the points of *vector* picked by *index*."""
    values = _float_values(vector)
    if values is None:
        return []
    picked = values[index]
    if np.isfinite(picked).all():
        value_list: list[Any] = picked.tolist()
    else:
        value_list = [mlflow_float(v) for v in picked.tolist()]
    stamps = (vector.times[index] // 1_000_000).tolist()
    steps = vector.steps[index].tolist()
    if run_id is None:
        return [
            {"key": key, "value": v, "timestamp": t, "step": s}
            for v, t, s in zip(value_list, stamps, steps, strict=True)
        ]
    return [
        {"key": key, "value": v, "timestamp": t, "step": s, "run_id": run_id}
        for v, t, s in zip(value_list, stamps, steps, strict=True)
    ]


def _metric_key(params: Params) -> str:
    key = params.string("metric_key")
    if not key:  # checked before any run is looked up, as mlflow server does
        raise required("metric_key")
    return key


def get_history(ctx: Context, params: Params) -> dict[str, Any]:
    run_id = params.string("run_id", params.get("run_uuid"))
    key = _metric_key(params)
    max_results = params.optional_integer("max_results")
    if max_results is not None and max_results < 1:
        raise invalid(f"max_results must be positive, got {max_results}")
    start = page_offset(params.optional_string("page_token"))
    ctx.run_state(run_id)
    vector = ctx.store.read_metric(run_id, key)
    if vector is None:
        return {"metrics": []}
    end = len(vector.steps) if max_results is None else start + max_results
    out: dict[str, Any] = {"metrics": points_json(key, vector, slice(start, end))}
    if end < len(vector.steps):
        out["next_page_token"] = page_token(end)
    return out


def get_history_bulk_interval(ctx: Context, params: Params) -> dict[str, Any]:
    run_ids = params.strings("run_ids")
    if not run_ids:
        raise required("run_ids")
    if len(run_ids) > MAX_BULK_RUNS:
        raise request_check(
            f"GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_RUNS} "
            f"run_ids. Received {len(run_ids)} run_ids."
        )
    key = _metric_key(params)
    max_results = params.integer("max_results", DEFAULT_BULK_RESULTS)
    if not 1 <= max_results <= MAX_BULK_RESULTS:
        raise request_check(f"max_results must be between 1 and {MAX_BULK_RESULTS}.")
    start, end = params.optional_integer("start_step"), params.optional_integer("end_step")
    if (start is None) != (end is None):
        raise invalid("If either start step or end step are specified, both must be specified.")
    if start is not None and end is not None and start > end:
        raise invalid(
            "end_step must be greater than start_step. "
            f"Found start_step={start} and end_step={end}."
        )
    vectors = {}
    for run_id in run_ids:
        ctx.run_state(run_id)
        vector = ctx.store.read_metric(run_id, key)
        if vector is not None:
            vectors[run_id] = vector
    steps = _sampled_steps([v.steps for v in vectors.values()], start, end, max_results)
    metrics: list[dict[str, Any]] = []
    for run_id, vector in vectors.items():  # in request order, as MLflow answers
        index = np.flatnonzero(np.isin(vector.steps, steps))
        metrics += points_json(key, vector, index, run_id)
    return {"metrics": metrics}


def get_history_bulk(ctx: Context, params: Params) -> dict[str, Any]:
    """The charts' older bulk form: every point of a metric for up to 100 runs, by run id,
    each run's points by (timestamp, step, value), at most ``max_results`` in all."""
    run_ids = params.strings("run_id")
    if not run_ids:
        raise invalid("GetMetricHistoryBulk request must specify at least one run_id.")
    if len(run_ids) > MAX_BULK_RUNS:
        raise invalid(
            f"GetMetricHistoryBulk request cannot specify more than {MAX_BULK_RUNS} run_ids. "
            f"Received {len(run_ids)} run_ids."
        )
    key = params.get("metric_key")
    if not isinstance(key, str):
        raise invalid("GetMetricHistoryBulk request must specify a metric_key.")
    max_results = min(params.integer("max_results", MAX_HISTORY_RESULTS), MAX_HISTORY_RESULTS)
    metrics: list[dict[str, Any]] = []
    for run_id in sorted(set(run_ids)):
        vector = ctx.store.read_metric(run_id, key) if cv.is_valid_run_id(run_id) else None
        if vector is not None:
            points = points_json(key, vector, slice(None), run_id)
            metrics += sorted(points, key=lambda m: (m["timestamp"], m["step"], _rank(m["value"])))
    return {"metrics": metrics[: max(max_results, 0)]}


def _rank(value: Any) -> float:
    return value if isinstance(value, float | int) else 0.0  # NaN/inf strings rank as 0


def _sampled_steps(
    all_steps: list[npt.NDArray[np.int64]], start: int | None, end: int | None, max_results: int
) -> npt.NDArray[np.int64]:
    """At most *max_results* steps, evenly spread, always keeping the first and last."""
    if not all_steps:
        return np.array([], dtype=np.int64)
    steps = np.unique(np.concatenate(all_steps))
    if start is not None and end is not None:
        steps = steps[(steps >= start) & (steps <= end)]
    if len(steps) <= max_results:
        return steps
    picked = np.unique(np.linspace(0, len(steps) - 1, max_results).round().astype(np.intp))
    sampled: npt.NDArray[np.int64] = steps[picked]
    return sampled


ROUTES = {
    ("GET", "/metrics/get-history"): get_history,
    ("GET", "/metrics/get-history-bulk-interval"): get_history_bulk_interval,
    ("GET", "/metrics/get-history-bulk"): get_history_bulk,
}
