"""MLflow 3 logged models, minimally: create, get, finalize, tags, params, delete, search.

``mlflow.<flavor>.log_model`` creates a logged model, uploads its files to the model's
artifact location and finalizes it. The files are kept with the model's source run (under
``models/<model_id>/``), so a model logged outside a run is refused with a clear 400.
Logged-model search filters on name, source_run_id, status, model_type and tags.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from collectors.mlflow._context import Context, Params, page_offset, page_token
from collectors.mlflow.errors import invalid, missing
from collectors.mlflow.mapping import logged_model_json, mlflow_experiment_id
from collectors.mlflow.search import logged_model_filter
from collectors.mlflow.validation import check_param, check_tag
from collectors.ops import CreateLoggedModel, UpdateLoggedModel
from collectors.store.base import LoggedModelInfo

_STATUSES = frozenset({"LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"})


def _model(ctx: Context, model_id: str, allow_deleted: bool = False) -> LoggedModelInfo:
    found = ctx.store.logged_models(model_ids=[model_id])
    if not found or (found[0].lifecycle_stage != "active" and not allow_deleted):
        raise missing(f"Logged model with ID '{model_id}' not found.")
    return found[0]


def model_source_run(ctx: Context, model_id: str) -> str:
    """The run that holds the model's files."""
    model = _model(ctx, model_id, allow_deleted=True)
    if model.source_run_id is None:
        raise invalid(f"logged model {model_id!r} has no source run to keep its files in")
    return model.source_run_id


def _json(ctx: Context, model: LoggedModelInfo) -> dict[str, Any]:
    experiment = ctx.store.mlflow_experiments(ids=[model.experiment_id])
    name = experiment[0].name if experiment else ""
    return logged_model_json(model, mlflow_experiment_id(model.experiment_id, name))


def _pairs(params: Params, name: str, check: Any) -> tuple[tuple[str, str], ...]:
    return tuple(check(item.get("key"), item.get("value", "")) for item in params.objects(name))


def create(ctx: Context, params: Params) -> dict[str, Any]:
    experiment = ctx.active_experiment(params.string("experiment_id"))
    source_run = params.optional_string("source_run_id")
    if not source_run:
        raise invalid(
            "this server keeps a logged model's files with its source run: log the model "
            "inside an active run (mlflow.start_run())"
        )
    ctx.active_run(source_run)
    model_id = f"m-{uuid.uuid4().hex}"
    name = params.optional_string("name") or model_id
    op = CreateLoggedModel(
        model_id,
        experiment.experiment_id,
        name,
        time.time_ns(),
        source_run,
        params.optional_string("model_type"),
        _pairs(params, "tags", check_tag),
        _pairs(params, "params", check_param),
    )
    ctx.submit([op])
    return {"model": _json(ctx, _model(ctx, model_id))}


def get(ctx: Context, params: Params) -> dict[str, Any]:
    allow_deleted = str(params.get("allow_deleted", "")).lower() == "true"
    return {"model": _json(ctx, _model(ctx, params.string("model_id"), allow_deleted))}


def finalize(ctx: Context, params: Params) -> dict[str, Any]:
    model_id, status = params.string("model_id"), params.string("status")
    if status not in _STATUSES:
        raise invalid(
            f"Invalid logged model status {status!r}; expected one of {sorted(_STATUSES)}"
        )
    _model(ctx, model_id)
    ctx.submit([UpdateLoggedModel(model_id, time.time_ns(), status=status)])
    return {"model": _json(ctx, _model(ctx, model_id))}


def set_tags(ctx: Context, params: Params) -> dict[str, Any]:
    model_id = params.string("model_id")
    _model(ctx, model_id)
    tags = _pairs(params, "tags", check_tag)
    ctx.submit([UpdateLoggedModel(model_id, time.time_ns(), set_tags=tags)])
    return {}


def delete_tag(ctx: Context, params: Params) -> dict[str, Any]:
    model_id, key = params.string("model_id"), params.string("tag_key")
    _model(ctx, model_id)
    ctx.submit([UpdateLoggedModel(model_id, time.time_ns(), delete_tags=(key,))])
    return {}


def log_params(ctx: Context, params: Params) -> dict[str, Any]:
    model_id = params.string("model_id")
    _model(ctx, model_id)
    pairs = _pairs(params, "params", check_param)
    ctx.submit([UpdateLoggedModel(model_id, time.time_ns(), params=pairs)])
    return {}


def delete(ctx: Context, params: Params) -> dict[str, Any]:
    model_id = params.string("model_id")
    _model(ctx, model_id)
    ctx.submit([UpdateLoggedModel(model_id, time.time_ns(), lifecycle_stage="deleted")])
    return {}


def search(ctx: Context, params: Params) -> dict[str, Any]:
    matches = logged_model_filter(params.string("filter", ""))
    ids = [ctx.experiment(e).experiment_id for e in params.strings("experiment_ids")]
    max_results = params.integer("max_results", 100)
    if not 1 <= max_results <= 1000:
        raise invalid(f"max_results must be between 1 and 1000, got {max_results}")
    models = [
        m
        for m in ctx.store.logged_models(experiment_ids=ids)
        if m.lifecycle_stage == "active" and matches(m)
    ]
    offset = page_offset(params.optional_string("page_token"))
    page = models[offset : offset + max_results]
    out: dict[str, Any] = {"models": [_json(ctx, m) for m in page]}
    if offset + max_results < len(models):
        out["next_page_token"] = page_token(offset + max_results)
    return out


ROUTES = {
    ("POST", "/logged-models"): create,
    ("POST", "/logged-models/search"): search,
    ("GET", "/logged-models/{model_id}"): get,
    ("PATCH", "/logged-models/{model_id}"): finalize,
    ("DELETE", "/logged-models/{model_id}"): delete,
    ("PATCH", "/logged-models/{model_id}/tags"): set_tags,
    ("DELETE", "/logged-models/{model_id}/tags/{tag_key}"): delete_tag,
    ("POST", "/logged-models/{model_id}/params"): log_params,
}
