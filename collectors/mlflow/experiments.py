"""MLflow experiment endpoints: create, get, get-by-name, search, update, delete, restore, tags."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Any

from collectors.mlflow._context import Context, Params, page_offset, page_token
from collectors.mlflow.errors import (
    INVALID_STATE,
    RESOURCE_ALREADY_EXISTS,
    MlflowError,
    invalid,
    missing,
    required,
)
from collectors.mlflow.mapping import experiment_json, mlflow_experiment_id, tag_pairs
from collectors.mlflow.search import experiment_filter, experiment_sort_key
from collectors.mlflow.validation import check_experiment_tag
from collectors.ops import (
    CreateExperiment,
    DeleteExperimentTag,
    SetExperimentTag,
    UpdateExperiment,
)
from runlog import conventions as cv

MAX_SEARCH_RESULTS = 50_000
MAX_NAME_LENGTH = 500
MAX_LOCATION_LENGTH = 2048
_VIEW_STAGES = {
    "ACTIVE_ONLY": ("active",),
    "DELETED_ONLY": ("deleted",),
    "ALL": ("active", "deleted"),
    1: ("active",),
    2: ("deleted",),
    3: ("active", "deleted"),
}


def _tags(params: Params) -> dict[str, str]:
    tags = {}
    for tag in params.objects("tags"):
        key, value = check_experiment_tag(tag.get("key"), tag.get("value", ""))
        tags[key] = value
    return tags


def create(ctx: Context, params: Params) -> dict[str, Any]:
    name = params.string("name")
    if not name:
        raise required("name")
    if not name.strip():
        raise invalid(f"Invalid experiment name: '{name}'. Expected a non-blank name.")
    if len(name) > MAX_NAME_LENGTH:
        raise invalid(f"'name' exceeds the maximum length of {MAX_NAME_LENGTH} characters")
    location = artifact_location(params.optional_string("artifact_location") or None)
    if ctx.store.mlflow_experiments(names=[name]):
        raise MlflowError(RESOURCE_ALREADY_EXISTS, f"Experiment(name={name}) already exists.")
    ctx.submit([CreateExperiment(name, time.time_ns(), location, tag_pairs(_tags(params)))])
    created = ctx.store.mlflow_experiments(names=[name])[0]
    return {"experiment_id": mlflow_experiment_id(created.experiment_id, created.name)}


def artifact_location(location: str | None) -> str | None:
    """A checked experiment artifact location; a local path is made absolute (against the
    collector's working directory), as mlflow server does."""
    if location is None:
        return None
    parsed = urllib.parse.urlsplit(location)
    if parsed.fragment or "?" in location or ";" in parsed.path:
        raise invalid("'artifact_location' URL can't include fragments or params.")
    if parsed.scheme == "runs":
        raise invalid(f"Artifact location cannot be a runs:/ URI. Given: '{location}'")
    if len(location) > MAX_LOCATION_LENGTH:
        raise invalid(
            "Invalid artifact path length. The length of the artifact path cannot be greater "
            f"than {MAX_LOCATION_LENGTH} characters."
        )
    if parsed.scheme == "" and not PurePosixPath(location).is_absolute():
        return (Path.cwd() / location).as_posix()
    if parsed.scheme == "file" and not PurePosixPath(parsed.path).is_absolute():
        return urllib.parse.urlunsplit(("file", "", (Path.cwd() / parsed.path).as_posix(), "", ""))
    return location


def get(ctx: Context, params: Params) -> dict[str, Any]:
    return {"experiment": experiment_json(ctx.experiment(params.string("experiment_id")))}


def get_by_name(ctx: Context, params: Params) -> dict[str, Any]:
    name = params.string("experiment_name")
    found = ctx.store.mlflow_experiments(names=[name])
    if not found and name == cv.DEFAULT_EXPERIMENT:
        found = [ctx.ensure_default()]
    if not found:
        raise missing(f"Could not find experiment with name '{name}'")
    return {"experiment": experiment_json(found[0])}


def search(ctx: Context, params: Params) -> dict[str, Any]:
    max_results = params.integer("max_results", 1000)
    if not 1 <= max_results <= MAX_SEARCH_RESULTS:
        raise invalid(f"max_results must be between 1 and {MAX_SEARCH_RESULTS}, got {max_results}")
    view_type = params.get("view_type", "ACTIVE_ONLY")
    stages = _VIEW_STAGES.get(view_type) if isinstance(view_type, str | int) else None
    if stages is None:
        raise invalid("view_type must be ACTIVE_ONLY, DELETED_ONLY or ALL")
    matches = experiment_filter(params.string("filter", ""))
    stored = ctx.store.mlflow_experiments()
    if not any(e.name == cv.DEFAULT_EXPERIMENT for e in stored):
        stored.append(ctx.ensure_default())  # mlflow server always has it, even when fresh
    experiments = [e for e in stored if e.lifecycle_stage in stages and matches(e)]
    orders = [experiment_sort_key(c) for c in params.strings("order_by")]
    experiments.sort(key=lambda e: -e.experiment_id)  # MLflow's tie-break
    experiments.sort(key=lambda e: e.created_ns, reverse=True)  # default: newest first
    for key, descending in reversed(orders):
        experiments.sort(key=key, reverse=descending)
    offset = page_offset(params.optional_string("page_token"))
    page = experiments[offset : offset + max_results]
    out: dict[str, Any] = {"experiments": [experiment_json(e) for e in page]}
    if offset + max_results < len(experiments):
        out["next_page_token"] = page_token(offset + max_results)
    return out


def update(ctx: Context, params: Params) -> dict[str, Any]:
    experiment = ctx.experiment(params.string("experiment_id"))
    if experiment.lifecycle_stage != "active":  # MLflow's code and message for a rename
        raise MlflowError(INVALID_STATE, "Cannot rename a non-active experiment.")
    new_name = params.optional_string("new_name")
    if new_name is None or not new_name.strip():
        raise invalid("The experiment's new name must be a non-empty string")
    if experiment.name == cv.DEFAULT_EXPERIMENT:
        raise invalid("The Default experiment (id 0) cannot be renamed")
    ctx.submit([UpdateExperiment(experiment.experiment_id, time.time_ns(), name=new_name)])
    return {}


def _set_stage(ctx: Context, params: Params, stage: str) -> dict[str, Any]:
    experiment = ctx.experiment(params.string("experiment_id"))
    if stage == "deleted" and experiment.name == cv.DEFAULT_EXPERIMENT:
        raise invalid("Cannot delete the default experiment '0'. This is an internal experiment.")
    ctx.submit([UpdateExperiment(experiment.experiment_id, time.time_ns(), lifecycle_stage=stage)])
    return {}


def delete(ctx: Context, params: Params) -> dict[str, Any]:
    return _set_stage(ctx, params, "deleted")


def restore(ctx: Context, params: Params) -> dict[str, Any]:
    return _set_stage(ctx, params, "active")


def set_tag(ctx: Context, params: Params) -> dict[str, Any]:
    experiment = ctx.active_experiment(params.string("experiment_id"))
    key, value = check_experiment_tag(params.string("key"), params.string("value", ""))
    ctx.submit([SetExperimentTag(experiment.experiment_id, key, value)])
    return {}


def delete_tag(ctx: Context, params: Params) -> dict[str, Any]:
    experiment_id, key = params.string("experiment_id"), params.string("key")
    experiment = ctx.active_experiment(experiment_id)
    if key not in experiment.tags:  # MLflow's code and message
        raise missing(f"No tag with name: {key} in experiment with id {experiment_id}")
    ctx.submit([DeleteExperimentTag(experiment.experiment_id, key)])
    return {}


ROUTES = {
    ("POST", "/experiments/create"): create,
    ("GET", "/experiments/get"): get,
    ("GET", "/experiments/get-by-name"): get_by_name,
    ("POST", "/experiments/search"): search,
    ("GET", "/experiments/search"): search,
    ("POST", "/experiments/update"): update,
    ("POST", "/experiments/delete"): delete,
    ("POST", "/experiments/restore"): restore,
    ("POST", "/experiments/set-experiment-tag"): set_tag,
    ("POST", "/experiments/delete-experiment-tag"): delete_tag,
}
