"""runlog's records as MLflow REST JSON, and MLflow's names as runlog's.

Ids: an MLflow experiment id is the store's integer experiment id as a string, except that
runlog's ``Default`` experiment is MLflow's ``"0"`` (where MLflow clients log without an
experiment). Run ids are the same string on both sides. Times: MLflow milliseconds,
runlog nanoseconds. System tags: ``mlflow.runName`` and ``mlflow.parentRunId`` are the run's
name and parent (not stored as tags); other ``mlflow.*`` tags (user, source) are tags. A run's
``user_id`` is the run property ``mlflow.user_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from collectors.encoding import json_float
from collectors.store.base import LoggedModelInfo, MetricSummary, MlflowExperiment, RunInfo
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


def mlflow_experiment_id(experiment_id: int, name: str) -> str:
    """The MLflow id of a runlog experiment (``"0"`` for ``Default``)."""
    return DEFAULT_EXPERIMENT_ID if name == cv.DEFAULT_EXPERIMENT else str(experiment_id)


def artifact_root(experiment_id: str) -> str:
    """An experiment's artifact location: served by the collector's mlflow-artifacts proxy."""
    return f"mlflow-artifacts:/{experiment_id}"


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
        "artifact_location": experiment.artifact_location or artifact_root(experiment_id),
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
                "value": json_float(float(summary.last)),
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
) -> dict[str, Any]:
    """An MLflow ``Run``: info, data (latest metrics, params, tags), inputs and outputs."""
    mlflow_id = mlflow_experiment_id(experiment_id, run.experiment)
    info: dict[str, Any] = {
        "run_id": run.run_id,
        "run_uuid": run.run_id,
        "run_name": run.name or "",
        "experiment_id": mlflow_id,
        "user_id": run.properties.get(USER_PROPERTY, run.tags.get(USER_TAG, "")),
        "status": STATUS_TO_MLFLOW.get(run.status, "RUNNING"),
        "start_time": ms(run.start_ns),
        "artifact_uri": f"{artifact_root(mlflow_id)}/{run.run_id}/artifacts",
        "lifecycle_stage": lifecycle_stage,
    }
    if run.end_ns is not None:
        info["end_time"] = ms(run.end_ns)
    inputs: list[Any] = []
    outputs: list[Any] = []
    for direction, payload in io:
        (inputs if direction == "input" else outputs).append(payload)
    data = {
        "metrics": latest_metrics(run.metrics),
        "params": key_values(sorted(run.params.items())),
        "tags": run_tags(run),
    }
    return {
        "info": info,
        "data": data,
        "inputs": {"dataset_inputs": inputs},
        "outputs": {"model_outputs": outputs},
    }


def logged_model_json(model: LoggedModelInfo, experiment_id: str) -> dict[str, Any]:
    """An MLflow 3 ``LoggedModel``."""
    info = {
        "model_id": model.model_id,
        "experiment_id": experiment_id,
        "name": model.name,
        "creation_timestamp_ms": ms(model.created_ns),
        "last_updated_timestamp_ms": ms(model.updated_ns),
        "artifact_uri": f"{artifact_root(experiment_id)}/models/{model.model_id}/artifacts",
        "status": model.status,
        "tags": key_values(sorted(model.tags.items())),
    }
    if model.source_run_id:
        info["source_run_id"] = model.source_run_id
    if model.model_type:
        info["model_type"] = model.model_type
    return {"info": info, "data": {"params": key_values(sorted(model.params.items()))}}


def tag_pairs(tags: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Tags as the sorted pairs store operations carry."""
    return tuple(sorted(tags.items()))
