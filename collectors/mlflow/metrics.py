"""MLflow metric writes: checking metrics, the run's points, and links to logged models.

A metric is checked as mlflow server checks it (required key, value and timestamp; MLflow's
name rules and messages, with the request path such as ``metrics[2].timestamp``) and becomes
points of the run's scalar vector. A metric that carries a ``model_id`` is also linked to
that logged model (`AppendModelMetrics`), which then lists it among its metrics.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from collectors.mlflow._context import Context, as_float, as_int
from collectors.mlflow.errors import required
from collectors.mlflow.validation import check_key
from collectors.ops import AppendModelMetrics, AppendPoints, ModelMetric, Op
from runlog import conventions as cv

_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Metric:
    """One checked MLflow metric point."""

    key: str
    value: float
    timestamp_ms: int
    step: int
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None

    def point(self) -> tuple[int, int, float | str]:
        """(step, timestamp, value) with NaN comparable to itself."""
        value: float | str = "nan" if self.value != self.value else self.value
        return self.step, self.timestamp_ms, value


def checked_metrics(items: Sequence[dict[str, Any]], batch: bool = True) -> list[Metric]:
    """*items* (request JSON) as metrics; the first problem is MLflow's 400."""
    return [_checked(item, f"metrics[{i}]." if batch else "") for i, item in enumerate(items)]


def _checked(item: dict[str, Any], path: str) -> Metric:
    for field in ("key", "value", "timestamp"):
        if item.get(field) is None or item.get(field) == "":
            raise required(f"{path}{field}")
    key = check_key("Metric name", item["key"], f"{path}name", f"{path}key")
    extras = {
        field: _optional_string(item, path, field)
        for field in ("model_id", "dataset_name", "dataset_digest")
    }
    return Metric(
        key,
        as_float(f"{path}value", item["value"]),
        as_int(f"{path}timestamp", item["timestamp"]),
        as_int(f"{path}step", item.get("step") or 0),
        **extras,
    )


def _optional_string(item: dict[str, Any], path: str, field: str) -> str | None:
    value = item.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        from collectors.mlflow.errors import invalid_value

        raise invalid_value(f"{path}{field}", value, "expected a string")
    return value


def point_ops(run_id: str, metrics: Sequence[Metric]) -> list[Op]:
    """One `AppendPoints` per metric key of the run, points in request order."""
    grouped: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for metric in metrics:
        grouped[metric.key].append((metric.step, metric.timestamp_ms * _NS_PER_MS, metric.value))
    ops: list[Op] = []
    for key, points in grouped.items():
        steps, times, values = zip(*points, strict=True)
        ops.append(
            AppendPoints(
                run_id,
                key,
                cv.KIND_SCALAR,
                cv.DTYPE_FLOAT,
                np.array(steps, dtype=np.int64),
                np.array(times, dtype=np.int64),
                np.array(values, dtype=np.float64),
            )
        )
    return ops


def model_link_ops(ctx: Context, run_id: str, metrics: Sequence[Metric]) -> list[Op]:
    """`AppendModelMetrics` for the metrics that name a logged model (404 if it is unknown).

    As mlflow server, a metric repeated within the request is linked once.
    """
    linked: dict[str, dict[tuple[Any, ...], ModelMetric]] = defaultdict(dict)
    for metric in metrics:
        if metric.model_id is None:
            continue
        if metric.model_id not in linked:
            ctx.existing_model(metric.model_id)
        point = ModelMetric(
            metric.key,
            metric.value,
            metric.step,
            metric.timestamp_ms * _NS_PER_MS,
            run_id,
            metric.dataset_name,
            metric.dataset_digest,
        )
        identity = (metric.key, *metric.point(), metric.dataset_name, metric.dataset_digest)
        linked[metric.model_id].setdefault(identity, point)
    return [
        AppendModelMetrics(model_id, tuple(points.values())) for model_id, points in linked.items()
    ]


def without_model_echoes(ctx: Context, run_id: str, metrics: Sequence[Metric]) -> list[Metric]:
    """Drop metrics that carry a ``model_id`` and repeat a point the run already has.

    MLflow 3 re-sends a run's metrics with a ``model_id`` to link them to a logged model
    (``log_model`` in autolog does). mlflow server stores the link separately and its metrics
    table ignores the exact duplicate (key, timestamp, step, value are its primary key), so
    the run's history keeps one point; so does ours (the link is kept, see `model_link_ops`).
    Only such metrics are checked: the check reads the metric's vector.
    """
    known: dict[str, set[tuple[int, int, float | str]]] = {}
    kept = []
    for metric in metrics:
        if metric.model_id is not None:
            if metric.key not in known:
                known[metric.key] = _stored_points(ctx, run_id, metric.key)
            if metric.point() in known[metric.key]:
                continue
        kept.append(metric)
    return kept


def _stored_points(ctx: Context, run_id: str, key: str) -> set[tuple[int, int, float | str]]:
    vector = ctx.store.read_metric(run_id, key) if cv.is_valid_run_id(run_id) else None
    if vector is None or not isinstance(vector.values, np.ndarray):
        return set()
    points = zip(vector.steps, vector.times, vector.values, strict=True)
    return {
        Metric(key, float(value), int(time_ns) // _NS_PER_MS, int(step)).point()
        for step, time_ns, value in points
    }


def metric_ops(ctx: Context, run_id: str, metrics: Sequence[Metric]) -> list[Op]:
    """The run's new points and the links to logged models, for a checked, active run."""
    return point_ops(run_id, without_model_echoes(ctx, run_id, metrics)) + model_link_ops(
        ctx, run_id, metrics
    )
