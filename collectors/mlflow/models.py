"""MLflow 3 logged models: create, get, finalize, tags, params, metrics, search, artifacts.

A logged model is its own entity, as in MLflow 3: it belongs to an experiment, may name a
source run (it does not need one: ``mlflow.initialize_logged_model``,
``create_external_model``, ``log_model`` outside a run), and keeps its own files in the
collector's model file store (uploaded through the ``mlflow-artifacts`` proxy under
``<experiment root>/models/<model_id>/artifacts``). Metrics linked to a model (a ``model_id``
on a run's metric) are kept with it too. The active model (``set_active_model``) lives in
the client; the server only finds it by name.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Response

from collectors.mlflow._context import (
    Context,
    Params,
    as_int,
    page_offset,
    page_token,
    random_name,
)
from collectors.mlflow.artifacts import children, file_response, safe_path
from collectors.mlflow.errors import BAD_REQUEST, MlflowError, invalid, missing
from collectors.mlflow.mapping import (
    experiment_root,
    logged_model_json,
    mlflow_experiment_id,
    model_artifact_uri,
)
from collectors.mlflow.search import (
    LOGGED_MODEL_KEYS,
    logged_model_filter,
    logged_model_sort_key,
    ordered,
)
from collectors.mlflow.validation import check_param, check_tag
from collectors.ops import CreateLoggedModel, UpdateLoggedModel
from collectors.store.base import LoggedModelInfo, ModelMetricInfo

#: MLflow's ``LoggedModelStatus`` enum: JSON clients send names, proto clients numbers.
STATUSES = {
    0: "LOGGED_MODEL_STATUS_UNSPECIFIED",
    1: "LOGGED_MODEL_PENDING",
    2: "LOGGED_MODEL_READY",
    3: "LOGGED_MODEL_UPLOAD_FAILED",
}
MAX_SEARCH_RESULTS = 1000
_BAD_NAME_CHARACTERS = ("/", ":", ".", "%", '"', "'")


def model_json(ctx: Context, model: LoggedModelInfo) -> dict[str, Any]:
    """The MLflow JSON of one logged model, with its metrics."""
    return models_json(ctx, [model])[0]


def models_json(ctx: Context, models: list[LoggedModelInfo]) -> list[dict[str, Any]]:
    """The MLflow JSON of logged models (their experiments and metrics read once)."""
    ids = sorted({m.experiment_id for m in models})
    experiments = {e.experiment_id: e for e in ctx.store.mlflow_experiments(ids=ids)}
    metrics = ctx.store.logged_model_metrics([m.model_id for m in models])
    out = []
    for model in models:
        experiment = experiments[model.experiment_id]
        mlflow_id = mlflow_experiment_id(experiment.experiment_id, experiment.name)
        root = experiment_root(experiment)
        out.append(logged_model_json(model, mlflow_id, root, metrics.get(model.model_id, ())))
    return out


def _pairs(params: Params, name: str, check: Any) -> tuple[tuple[str, str], ...]:
    return tuple(check(item.get("key"), item.get("value", "")) for item in params.objects(name))


def _checked_name(name: str | None) -> str | None:
    if name is not None and (not name or any(c in name for c in _BAD_NAME_CHARACTERS)):
        raise invalid(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
            f"and cannot contain the following characters: {_BAD_NAME_CHARACTERS}"
        )
    return name


def create(ctx: Context, params: Params) -> dict[str, Any]:
    name = _checked_name(params.optional_string("name") or None)
    experiment = ctx.active_experiment(params.string("experiment_id"))
    source_run = params.optional_string("source_run_id") or None
    if source_run is not None:
        ctx.run_state(source_run)
    model_id = f"m-{uuid.uuid4().hex}"
    op = CreateLoggedModel(
        model_id,
        experiment.experiment_id,
        name or random_name(),
        time.time_ns(),
        source_run,
        params.optional_string("model_type") or None,
        _pairs(params, "tags", check_tag),
        _pairs(params, "params", check_param),
    )
    ctx.submit([op])
    return {"model": model_json(ctx, ctx.existing_model(model_id))}


def get(ctx: Context, params: Params) -> dict[str, Any]:
    allow_deleted = str(params.get("allow_deleted", "")).lower() == "true"
    model = ctx.existing_model(params.string("model_id"), allow_deleted)
    return {"model": model_json(ctx, model)}


def _status(value: Any) -> str:
    if isinstance(value, str) and value in STATUSES.values():
        return value
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return STATUSES[as_int("status", value)]
        except KeyError:
            pass
    raise invalid(
        f"Invalid logged model status {value!r}; expected one of {sorted(STATUSES.values())}"
    )


def _update(ctx: Context, model_id: str, **change: Any) -> None:
    """Apply *change* (`UpdateLoggedModel`'s fields) to a logged model; 404 if there is none."""
    ctx.existing_model(model_id)
    ctx.submit([UpdateLoggedModel(model_id, time.time_ns(), **change)])


def finalize(ctx: Context, params: Params) -> dict[str, Any]:
    model_id = params.string("model_id")
    if params.get("status") is None:
        raise invalid("Missing value for required parameter 'status'.")
    status = _status(params.get("status"))
    _update(ctx, model_id, status=status)
    return {"model": model_json(ctx, ctx.existing_model(model_id))}


def set_tags(ctx: Context, params: Params) -> dict[str, Any]:
    model_id = params.string("model_id")
    tags = _pairs(params, "tags", check_tag)
    _update(ctx, model_id, set_tags=tags)
    return {}


def delete_tag(ctx: Context, params: Params) -> dict[str, Any]:
    model_id, key = params.string("model_id"), params.string("tag_key")
    model = ctx.existing_model(model_id)
    if key not in model.tags:  # MLflow's code and message
        raise missing(f"No tag with key {key!r} found for model with ID {model_id!r}.")
    ctx.submit([UpdateLoggedModel(model_id, time.time_ns(), delete_tags=(key,))])
    return {}


def log_params(ctx: Context, params: Params) -> dict[str, Any]:
    model_id = params.string("model_id")
    pairs = _pairs(params, "params", check_param)
    _update(ctx, model_id, params=pairs)
    return {}


def delete(ctx: Context, params: Params) -> dict[str, Any]:
    model_id = params.string("model_id")
    _update(ctx, model_id, lifecycle_stage="deleted")
    return {}


def search(ctx: Context, params: Params) -> dict[str, Any]:
    ids = [ctx.experiment(e).experiment_id for e in params.strings("experiment_ids")]
    if not ids:
        raise invalid("Missing value for required parameter 'experiment_ids'.")
    max_results = params.integer("max_results", 0) or 100
    if not 1 <= max_results <= MAX_SEARCH_RESULTS:
        raise invalid(f"max_results must be between 1 and {MAX_SEARCH_RESULTS}, got {max_results}")
    datasets = _datasets(params.objects("datasets"))
    matches = logged_model_filter(params.string("filter", ""), datasets)
    clauses = _order_by(params.objects("order_by"))
    models = [
        m for m in ctx.store.logged_models(experiment_ids=ids) if m.lifecycle_stage == "active"
    ]
    metrics = ctx.store.logged_model_metrics([m.model_id for m in models])
    found = [(m, metrics.get(m.model_id, [])) for m in models]
    found = ordered([item for item in found if matches(*item)], clauses)
    offset = page_offset(params.optional_string("page_token"))
    page = [model for model, _ in found[offset : offset + max_results]]
    out: dict[str, Any] = {"models": models_json(ctx, page) if page else []}
    if offset + max_results < len(found):
        out["next_page_token"] = page_token(offset + max_results)
    return out


def _datasets(items: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    out = []
    for item in items:
        name = item.get("dataset_name")
        if not isinstance(name, str) or not name:
            raise invalid("`dataset_name` in the `datasets` clause must be specified.")
        out.append((name, item.get("dataset_digest") or None))
    return out


_Found = tuple[LoggedModelInfo, list[ModelMetricInfo]]


def _found_key(
    key: Callable[[LoggedModelInfo, list[ModelMetricInfo]], Any],
) -> Callable[[_Found], Any]:
    return lambda found: key(*found)


def _order_by(items: list[dict[str, Any]]) -> list[tuple[Callable[[_Found], Any], bool]]:
    """The requested clauses, then MLflow's default: newest first, then by model id."""
    clauses: list[tuple[Callable[[_Found], Any], bool]] = []
    named = set()
    for item in items:
        field = item.get("field_name")
        if not isinstance(field, str) or not field:
            raise invalid("Each order_by clause needs a 'field_name'.")
        dataset = (item.get("dataset_name") or None, item.get("dataset_digest") or None)
        clauses.append(
            (
                _found_key(logged_model_sort_key(field, dataset)),
                item.get("ascending", True) is False,
            )
        )
        named.add(LOGGED_MODEL_KEYS.aliases.get(field, field))
    if "creation_timestamp" not in named:
        clauses.append((lambda found: found[0].created_ns, True))
    if "model_id" not in named:
        clauses.append((lambda found: found[0].model_id, False))
    return clauses


def list_artifacts(ctx: Context, params: Params) -> dict[str, Any]:
    """``GET /logged-models/{id}/artifacts/directories``: the model's files under a path."""
    model = ctx.existing_model(params.string("model_id"))
    path = safe_path(params.string("artifact_directory_path", "")).strip("/")
    found, _ = children(ctx.store.logged_model_files(model.model_id), path)
    for child in found:
        child["path"] = f"{path}/{child['path']}" if path else child["path"]
    root = experiment_root(ctx.experiment_by_id(model.experiment_id))
    return {"root_uri": model_artifact_uri(root, model.model_id), "files": found}


def download_artifact(ctx: Context, model_id: str, path: str | None) -> Response:
    """``GET /ajax-api/.../logged-models/{id}/artifacts/files?artifact_file_path=``."""
    if not path:
        raise MlflowError(
            BAD_REQUEST, 'Request must include the "artifact_file_path" query parameter.'
        )
    ctx.existing_model(model_id)
    return file_response(ctx.model_files, model_id, safe_path(path), path)


def linked_metrics(ctx: Context, metrics: list[dict[str, Any]]) -> list[str]:
    """The logged models that *metrics* link to; 404 for one that does not exist."""
    model_ids = sorted({m["model_id"] for m in metrics if isinstance(m.get("model_id"), str)})
    for model_id in model_ids:
        ctx.existing_model(model_id)
    return model_ids


ROUTES = {
    ("POST", "/logged-models"): create,
    ("POST", "/logged-models/search"): search,
    ("GET", "/logged-models/{model_id}"): get,
    ("PATCH", "/logged-models/{model_id}"): finalize,
    ("DELETE", "/logged-models/{model_id}"): delete,
    ("PATCH", "/logged-models/{model_id}/tags"): set_tags,
    ("DELETE", "/logged-models/{model_id}/tags/{tag_key}"): delete_tag,
    ("POST", "/logged-models/{model_id}/params"): log_params,
    ("GET", "/logged-models/{model_id}/artifacts/directories"): list_artifacts,
}
