"""runlog's records as MLflow REST JSON, and MLflow's names as runlog's.

Ids: an MLflow experiment id is the store's integer experiment id as a string, except that
runlog's ``Default`` experiment is MLflow's ``"0"`` (where MLflow clients log without an
experiment). Run ids are the same string on both sides. Times: MLflow milliseconds,
runlog nanoseconds. System tags: ``mlflow.runName`` and ``mlflow.parentRunId`` are the run's
name and parent (not stored as tags); other ``mlflow.*`` tags (user, source) are tags. A run's
``user_id`` is the run property ``mlflow.user_id``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from collectors.read.encoding import json_float
from collectors.read.registry import PROXY_SCHEME
from collectors.store.base import (
    LoggedModelInfo,
    MetricSummary,
    MlflowExperiment,
    ModelMetricInfo,
    ModelVersionInfo,
    RegisteredModelInfo,
    RunInfo,
)
from runlog import conventions as cv

DEFAULT_EXPERIMENT_ID: Final = "0"
RUN_NAME_TAG: Final = "mlflow.runName"
PARENT_RUN_TAG: Final = "mlflow.parentRunId"
USER_TAG: Final = "mlflow.user"
#: The run property that keeps create-run's ``user_id`` (MLflow's run-info column), so
#: the user is not added as an ``mlflow.user`` tag MLflow never set. Not shown as a tag.
USER_PROPERTY: Final = "mlflow.user_id"
#: Tags MLflow derives from run columns: never stored, always answered.
DERIVED_TAGS: Final = frozenset({RUN_NAME_TAG, PARENT_RUN_TAG})

STATUS_TO_RUNLOG: Final = {
    "RUNNING": cv.STATUS_RUNNING,
    "SCHEDULED": cv.STATUS_RUNNING,  # runlog has no queued state for MLflow runs
    "FINISHED": cv.STATUS_COMPLETED,
    "FAILED": cv.STATUS_FAILED,
    "KILLED": cv.STATUS_CANCELED,
}
STATUS_TO_MLFLOW: Final = {
    cv.STATUS_RUNNING: "RUNNING",
    cv.STATUS_COMPLETED: "FINISHED",
    cv.STATUS_FAILED: "FAILED",
    cv.STATUS_CANCELED: "KILLED",
}
_NUMERIC: Final = frozenset({cv.DTYPE_FLOAT, cv.DTYPE_INT, cv.DTYPE_BOOL})


def ms(ns: int | None) -> int | None:
    """Unix nanoseconds as MLflow's milliseconds."""
    return None if ns is None else ns // 1_000_000


def mlflow_float(value: float) -> float | str:
    """A metric value as mlflow server answers it: +-inf clamped to +-float max.

    MLflow's SQL store clamps infinite metric values when it stores them; runlog keeps
    them (its own API answers ``Infinity``) and clamps only in MLflow's answers, so MLflow
    clients see what their own server would show.
    """
    if math.isinf(value):
        return math.copysign(sys.float_info.max, value)
    return json_float(value)


def mlflow_experiment_id(experiment_id: int, name: str) -> str:
    """The MLflow id of a runlog experiment (``"0"`` for ``Default``)."""
    return DEFAULT_EXPERIMENT_ID if name == cv.DEFAULT_EXPERIMENT else str(experiment_id)


def artifact_root(experiment_id: str) -> str:
    """An experiment's default artifact location: the collector's mlflow-artifacts proxy."""
    return f"{PROXY_SCHEME}/{experiment_id}"


def experiment_root(experiment: MlflowExperiment) -> str:
    """Where an experiment's artifacts go: its ``artifact_location``, else the proxy."""
    mlflow_id = mlflow_experiment_id(experiment.experiment_id, experiment.name)
    return experiment.artifact_location or artifact_root(mlflow_id)


def join_uri(root: str, *parts: str) -> str:
    """*root* with path segments appended (MLflow's ``append_to_uri_path``, for our roots)."""
    return "/".join([root.rstrip("/"), *parts])


def key_values(items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """``[{"key": k, "value": v}, ...]``, MLflow's shape for params and tags."""
    return [{"key": key, "value": value} for key, value in items]


def experiment_json(experiment: MlflowExperiment) -> dict[str, Any]:
    """An MLflow ``Experiment``."""
    experiment_id = mlflow_experiment_id(experiment.experiment_id, experiment.name)
    last = experiment.last_update_ns or experiment.created_ns
    return {
        "experiment_id": experiment_id,
        "name": experiment.name,
        "artifact_location": experiment_root(experiment),
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": ms(experiment.created_ns),
        "last_update_time": ms(last),
        "tags": key_values(sorted(experiment.tags.items())),
    }


def latest_metrics(summaries: Iterable[MetricSummary]) -> list[dict[str, Any]]:
    """MLflow ``Metric`` objects for the numeric scalar metrics of a run (latest point)."""
    out = []
    for summary in summaries:
        if summary.column or not isinstance(summary.last, (int, float)):
            continue  # rows, tables and string metrics have no MLflow form
        out.append(
            {
                "key": summary.name,
                "value": mlflow_float(float(summary.last)),
                "timestamp": ms(summary.last_time_ns),
                "step": summary.last_step,
            }
        )
    return out


def run_tags(run: RunInfo) -> list[dict[str, str]]:
    """The run's tags as MLflow shows them: properties, tags, then the derived system tags."""
    tags: dict[str, str] = {k: v for k, v in run.properties.items() if k != USER_PROPERTY}
    tags.update(run.tags)
    if run.name is not None:
        tags[RUN_NAME_TAG] = run.name
    if run.parent_id is not None:
        tags[PARENT_RUN_TAG] = run.parent_id
    return key_values(sorted(tags.items()))


def run_json(
    run: RunInfo,
    experiment_id: int,
    lifecycle_stage: str,
    io: Iterable[tuple[str, Any]] = (),
    root: str | None = None,
) -> dict[str, Any]:
    """An MLflow ``Run``: info, data (latest metrics, params, tags), inputs and outputs.

    *root* is the experiment's artifact location (default: the collector's proxy).
    """
    mlflow_id = mlflow_experiment_id(experiment_id, run.experiment)
    info: dict[str, Any] = {
        "run_id": run.run_id,
        "run_uuid": run.run_id,
        "run_name": run.name or "",
        "experiment_id": mlflow_id,
        "user_id": run.properties.get(USER_PROPERTY, run.tags.get(USER_TAG, "")),
        "status": STATUS_TO_MLFLOW.get(run.status, "RUNNING"),
        "start_time": ms(run.start_ns),
        "artifact_uri": join_uri(root or artifact_root(mlflow_id), run.run_id, "artifacts"),
        "lifecycle_stage": lifecycle_stage,
    }
    if run.end_ns is not None:
        info["end_time"] = ms(run.end_ns)
    datasets: list[Any] = []
    model_inputs: list[Any] = []
    outputs: list[Any] = []
    for direction, payload in io:
        if direction != "input":
            outputs.append(payload)
        elif isinstance(payload, dict) and "dataset" not in payload:
            model_inputs.append(payload)  # a LoggedModelInput: {"model_id": ...}
        else:
            datasets.append(payload)
    data = {
        "metrics": latest_metrics(run.metrics),
        "params": key_values(sorted(run.params.items())),
        "tags": run_tags(run),
    }
    return {
        "info": info,
        "data": data,
        "inputs": {"dataset_inputs": datasets, "model_inputs": model_inputs},
        "outputs": {"model_outputs": outputs},
    }


def model_artifact_uri(root: str, model_id: str) -> str:
    """Where a logged model's files are: ``<experiment root>/models/<id>/artifacts``."""
    return join_uri(root, "models", model_id, "artifacts")


def logged_model_json(
    model: LoggedModelInfo,
    experiment_id: str,
    root: str,
    metrics: Sequence[ModelMetricInfo] = (),
) -> dict[str, Any]:
    """An MLflow 3 ``LoggedModel`` (*root*: its experiment's artifact location)."""
    info = {
        "model_id": model.model_id,
        "experiment_id": experiment_id,
        "name": model.name,
        "creation_timestamp_ms": ms(model.created_ns),
        "last_updated_timestamp_ms": ms(model.updated_ns),
        "artifact_uri": model_artifact_uri(root, model.model_id),
        "status": model.status,
        "tags": key_values(sorted(model.tags.items())),
    }
    if model.source_run_id:
        info["source_run_id"] = model.source_run_id
    if model.model_type:
        info["model_type"] = model.model_type
    data = {
        "params": key_values(sorted(model.params.items())),
        "metrics": [model_metric_json(model.model_id, m) for m in metrics],
    }
    return {"info": info, "data": data}


def model_metric_json(model_id: str, metric: ModelMetricInfo) -> dict[str, Any]:
    """An MLflow ``Metric`` linked to a logged model."""
    out: dict[str, Any] = {
        "key": metric.name,
        "value": mlflow_float(metric.value),
        "timestamp": ms(metric.time_ns),
        "step": metric.step,
        "model_id": model_id,
    }
    for field in ("run_id", "dataset_name", "dataset_digest"):
        if getattr(metric, field):
            out[field] = getattr(metric, field)
    return out


def model_version_json(version: ModelVersionInfo) -> dict[str, Any]:
    """An MLflow registry ``ModelVersion`` (runlog properties are shown as tags)."""
    tags = {**version.properties, **version.tags}
    out: dict[str, Any] = {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": ms(version.created_ns),
        "last_updated_timestamp": ms(version.updated_ns),
        "current_stage": version.stage,
        "source": version.source,
        "status": version.status,
        "tags": key_values(sorted(tags.items())),
        "aliases": list(version.aliases),
    }
    for field in ("description", "user_id", "run_id", "run_link"):
        if getattr(version, field) is not None:
            out[field] = getattr(version, field)
    return out


def registered_model_json(
    model: RegisteredModelInfo, versions: Iterable[ModelVersionInfo]
) -> dict[str, Any]:
    """An MLflow ``RegisteredModel``: its latest version in each stage, tags and aliases."""
    latest: dict[str, ModelVersionInfo] = {}
    for version in versions:
        if not version.deleted and version.version > getattr(
            latest.get(version.stage), "version", 0
        ):
            latest[version.stage] = version
    out: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": ms(model.created_ns),
        "last_updated_timestamp": ms(model.updated_ns),
        "latest_versions": [model_version_json(v) | {"aliases": []} for v in latest.values()],
        "tags": key_values(sorted(model.tags.items())),
        "aliases": [{"alias": a, "version": str(v)} for a, v in model.aliases.items()],
    }
    if model.description:
        out["description"] = model.description
    return out


def tag_pairs(tags: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Tags as the sorted pairs store operations carry."""
    return tuple(sorted(tags.items()))
