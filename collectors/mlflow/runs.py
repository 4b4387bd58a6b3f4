"""MLflow run endpoints: lifecycle, get, search, and logging metrics, params, tags, inputs."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from collectors.mlflow._context import (
    Context,
    Params,
    page_offset,
    random_name,
)
from collectors.mlflow.batches import check_unique_keys, checked_params, param_ops, submit_batch
from collectors.mlflow.errors import invalid, missing
from collectors.mlflow.mapping import (
    DERIVED_TAGS,
    PARENT_RUN_TAG,
    RUN_NAME_TAG,
    STATUS_TO_RUNLOG,
    USER_PROPERTY,
    experiment_root,
    run_json,
)
from collectors.mlflow.metrics import checked_metrics, metric_ops
from collectors.mlflow.search import run_filter, run_order_by
from collectors.mlflow.validation import check_batch_sizes, check_tag
from collectors.ops import (
    DeleteTag,
    EnsureRun,
    Op,
    SetProperty,
    SetRunIO,
    SetRunLifecycle,
    SetRunName,
    SetStatus,
    SetTag,
)
from collectors.store.base import RunInfo
from collectors.store.paging import MAX_RESULTS
from runlog import conventions as cv
from runlog.filters import FilterError

_NS_PER_MS = 1_000_000
LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"


def load_json(ctx: Context, runs: Sequence[RunInfo]) -> list[dict[str, Any]]:
    """MLflow ``Run`` objects for *runs* (states, experiments and inputs/outputs read once)."""
    ids = [run.run_id for run in runs]
    states, io = ctx.store.run_states(ids), ctx.store.run_io(ids)
    experiment_ids = sorted({state.experiment_id for state in states.values()})
    roots = {
        e.experiment_id: experiment_root(e)
        for e in ctx.store.mlflow_experiments(ids=experiment_ids)
    }
    out = []
    for run in runs:
        state = states.get(run.run_id)
        if state is not None:
            out.append(
                run_json(
                    run,
                    state.experiment_id,
                    state.lifecycle_stage,
                    io.get(run.run_id, ()),
                    roots.get(state.experiment_id),
                )
            )
    return out


def _run(ctx: Context, run_id: str) -> dict[str, Any]:
    ctx.run_state(run_id)
    run = ctx.store.get_run(run_id)
    if run is None:
        raise invalid(f"Run with id={run_id} not found")
    return load_json(ctx, [run])[0]


def create(ctx: Context, params: Params) -> dict[str, Any]:
    experiment = ctx.active_experiment(params.string("experiment_id", "0"))
    start_ms = params.optional_integer("start_time")
    start_ns = time.time_ns() if start_ms is None else start_ms * _NS_PER_MS
    tags = dict(check_tag(t.get("key"), t.get("value", "")) for t in params.objects("tags"))
    user = params.optional_string("user_id")
    name = params.optional_string("run_name") or tags.get(RUN_NAME_TAG) or random_name()
    parent = tags.get(PARENT_RUN_TAG)
    if parent is not None and not cv.is_valid_run_id(parent):
        raise invalid(f"Invalid parent run id {parent[:80]!r}")
    run_id = uuid.uuid4().hex
    ops: list[Op] = [EnsureRun(run_id, experiment.name, start_ns, parent_id=parent, name=name)]
    ops += [SetTag(run_id, k, v) for k, v in tags.items() if k not in DERIVED_TAGS]
    if user:  # MLflow keeps user_id in the run info only, not as an mlflow.user tag
        ops.append(SetProperty(run_id, USER_PROPERTY, user))
    ctx.submit(ops)
    return {"run": _run(ctx, run_id)}


def get(ctx: Context, params: Params) -> dict[str, Any]:
    return {"run": _run(ctx, _run_id(params))}


def _run_id(params: Params) -> str:
    return params.string("run_id", params.get("run_uuid"))


def update(ctx: Context, params: Params) -> dict[str, Any]:
    run_id = _run_id(params)
    ctx.active_run(run_id)
    ops: list[Op] = []
    name = params.optional_string("run_name")
    if name:
        ops.append(SetRunName(run_id, name))
    status = params.optional_string("status")
    if status is not None:
        if status not in STATUS_TO_RUNLOG:
            raise invalid(
                f"Invalid run status {status!r}; expected one of {sorted(STATUS_TO_RUNLOG)}"
            )
        end_ms = params.optional_integer("end_time")
        end_ns = time.time_ns() if end_ms is None else end_ms * _NS_PER_MS
        ops.append(SetStatus(run_id, STATUS_TO_RUNLOG[status], end_ns))
    ctx.submit(ops)
    return {"run_info": _run(ctx, run_id)["info"]}


def delete(ctx: Context, params: Params) -> dict[str, Any]:
    run_id = _run_id(params)
    ctx.run_state(run_id)
    ctx.submit([SetRunLifecycle(run_id, "deleted")])
    return {}


def restore(ctx: Context, params: Params) -> dict[str, Any]:
    run_id = _run_id(params)
    ctx.run_state(run_id)
    ctx.submit([SetRunLifecycle(run_id, "active")])
    return {}


def search(ctx: Context, params: Params) -> dict[str, Any]:
    ids = params.strings("experiment_ids")
    names = [ctx.experiment(experiment_id).name for experiment_id in ids]
    max_results = params.integer("max_results", 1000)
    if not 1 <= max_results <= 50_000:
        raise invalid(f"Invalid value {max_results} for parameter 'max_results' supplied.")
    filter_text = run_filter(params.string("filter", ""), params.get("run_view_type"))
    order_by = run_order_by(params.strings("order_by"))
    token = params.optional_string("page_token") or None
    page_offset(token)  # a token the store would not take is the client's error, a 400
    try:
        page = ctx.store.search_runs(
            names or None if ids else None,
            filter_text,
            order_by,
            min(max_results, MAX_RESULTS),
            token,
        )
    except FilterError as exc:
        raise invalid(str(exc)) from None
    out: dict[str, Any] = {"runs": load_json(ctx, page.runs)}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


# --- logging ---------------------------------------------------------------------------------


def log_metric(ctx: Context, params: Params) -> dict[str, Any]:
    run_id = _run_id(params)
    fields = ("key", "value", "timestamp", "step", "model_id", "dataset_name", "dataset_digest")
    metrics = checked_metrics([{k: params.get(k) for k in fields}], batch=False)
    ctx.active_run(run_id)
    submit_batch(ctx, run_id, {}, metric_ops(ctx, run_id, metrics))
    return {}


def _tag_ops(run_id: str, tags: Sequence[dict[str, Any]], batch: bool = False) -> list[Op]:
    ops: list[Op] = []
    for index, tag in enumerate(tags):
        key, value = check_tag(tag.get("key"), tag.get("value", ""), index if batch else None)
        if key == RUN_NAME_TAG:
            ops.append(SetRunName(run_id, value))
        elif key == PARENT_RUN_TAG:
            ops.append(EnsureRun(run_id, cv.DEFAULT_EXPERIMENT, 0, parent_id=value))
        else:
            ops.append(SetTag(run_id, key, value))
    return ops


def log_param(ctx: Context, params: Params) -> dict[str, Any]:
    run_id = _run_id(params)
    checked = checked_params([{"key": params.get("key"), "value": params.get("value")}], False)
    ctx.active_run(run_id)
    submit_batch(ctx, run_id, checked, param_ops(run_id, checked), single=True)
    return {}


def set_tag(ctx: Context, params: Params) -> dict[str, Any]:
    run_id = _run_id(params)
    ops = _tag_ops(run_id, [{"key": params.get("key"), "value": params.get("value")}])
    ctx.active_run(run_id)
    ctx.submit(ops)
    return {}


def delete_tag(ctx: Context, params: Params) -> dict[str, Any]:
    run_id, key = _run_id(params), params.string("key")
    ctx.active_run(run_id)
    run = ctx.store.get_run(run_id)
    if run is None or key not in run.tags:  # MLflow's code and message
        raise missing(f"No tag with name: {key} in run with id {run_id}")
    ctx.submit([DeleteTag(run_id, key)])
    return {}


def log_batch(ctx: Context, params: Params) -> dict[str, Any]:
    """Everything is checked (in mlflow server's order) before anything is stored."""
    run_id = _run_id(params)
    raw_metrics, raw_params, raw_tags = (params.objects(n) for n in ("metrics", "params", "tags"))
    metrics = checked_metrics(raw_metrics)
    checked = checked_params(raw_params)
    tag_ops = _tag_ops(run_id, raw_tags, batch=True)
    check_batch_sizes(len(raw_metrics), len(raw_params), len(raw_tags))
    check_unique_keys(raw_params)
    ctx.active_run(run_id)
    ops = param_ops(run_id, checked) + metric_ops(ctx, run_id, metrics) + tag_ops
    submit_batch(ctx, run_id, checked, ops)
    return {}


def log_inputs(ctx: Context, params: Params) -> dict[str, Any]:
    run_id = _run_id(params)
    ops: list[Op] = []
    for dataset_input in params.objects("datasets"):
        dataset = dataset_input.get("dataset")
        if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
            raise invalid("Each dataset input needs a 'dataset' object with a 'name'.")
        key = f"{dataset['name']}:{dataset.get('digest', '')}"
        ops.append(SetRunIO(run_id, "input", key, json.dumps(dataset_input)))
    ops += _model_outputs(run_id, params.objects("models"), "input")
    ctx.active_run(run_id)
    ctx.submit(ops)
    return {}


def _model_outputs(run_id: str, models: Sequence[dict[str, Any]], direction: str) -> list[Op]:
    ops: list[Op] = []
    for model in models:
        model_id = model.get("model_id")
        if not isinstance(model_id, str) or not model_id:
            raise invalid("Each model needs a 'model_id'.")
        ops.append(SetRunIO(run_id, direction, f"model:{model_id}", json.dumps(model)))
    return ops


def log_outputs(ctx: Context, params: Params) -> dict[str, Any]:
    run_id = _run_id(params)
    ops = _model_outputs(run_id, params.objects("models"), "output")
    ctx.active_run(run_id)
    ctx.submit(ops)
    return {}


def log_model(ctx: Context, params: Params) -> dict[str, Any]:
    """MLflow 2's log-model: append the model's JSON to the run's model history tag."""
    run_id = _run_id(params)
    try:
        model = json.loads(params.string("model_json"))
    except ValueError:
        raise invalid("model_json must be a JSON object") from None
    ctx.active_run(run_id)
    run = ctx.store.get_run(run_id)
    history = json.loads(run.tags.get(LOG_MODEL_HISTORY_TAG, "[]")) if run else []
    history.append(model)
    ctx.submit([SetTag(run_id, LOG_MODEL_HISTORY_TAG, json.dumps(history))])
    return {}


ROUTES = {
    ("POST", "/runs/create"): create,
    ("GET", "/runs/get"): get,
    ("POST", "/runs/update"): update,
    ("POST", "/runs/delete"): delete,
    ("POST", "/runs/restore"): restore,
    ("POST", "/runs/search"): search,
    ("GET", "/runs/search"): search,
    ("POST", "/runs/log-metric"): log_metric,
    ("POST", "/runs/log-parameter"): log_param,
    ("POST", "/runs/set-tag"): set_tag,
    ("POST", "/runs/delete-tag"): delete_tag,
    ("POST", "/runs/log-batch"): log_batch,
    ("POST", "/runs/log-inputs"): log_inputs,
    ("POST", "/runs/outputs"): log_outputs,
    ("POST", "/runs/log-model"): log_model,
}
