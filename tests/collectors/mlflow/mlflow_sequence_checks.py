"""The detail checks of the differential sequence: a fresh server, path checks, locations,
validation wording, input order, the latest metric, and the request checks of MLflow's own
``test_rest_tracking.py``.

Run by `mlflow_sequence.mlflow_sequence`; see that module for how outcomes are recorded and
normalized.
"""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import httpx
import mlflow
from mlflow import MlflowClient
from mlflow.entities import LoggedModelInput
from mlflow_sequence import (
    MISSING_RUN,
    T0,
    Recorder,
    artifact_view,
    tree_digest,
)
from mlflow_sequence_models import logged_model_view


# --- a fresh server, and the details MLflow's own tests check ---------------------------------
def fresh_part(rec: Recorder, client: MlflowClient) -> None:
    """Before anything is created: mlflow server always lists the Default experiment."""
    rec.step(
        "fresh.search_experiments",
        lambda: [e.name for e in client.search_experiments(filter_string="name = 'Default'")],
    )


def details_part(
    rec: Recorder,
    client: MlflowClient,
    uri: str,
    runs: dict[str, str],
    sources: Path,
    work: Path,
) -> None:
    api = httpx.Client(base_url=uri, timeout=30)
    parent = runs["parent"]
    for name, path in (("parent", "../x"), ("absolute", "/etc"), ("dot", ".")):
        rec.step(
            f"details.artifacts_list.{name}",
            lambda p=path: rest_message(api, "artifacts/list", {"run_id": parent, "path": p}),
        )
    rec.step(
        "details.list_artifacts.dot", lambda: artifact_view(client.list_artifacts(parent, "."))
    )
    rec.step(
        "details.download_artifacts.dot",
        lambda: tree_digest(Path(client.download_artifacts(parent, ".", str(work / "dl-dot")))),
    )
    locations_part(rec, client, sources, work)
    metric = {"key": "m", "value": 1.0, "step": 0}
    rec.step(
        "details.log_batch.no_timestamp",
        lambda: rest_message(
            api, "runs/log-batch", {"run_id": runs["manual"], "metrics": [metric]}, post=True
        ),
    )
    for name, key in (("parent_dir", "../up"), ("inner", "a/../b"), ("dots", ".."), ("bad", "a*b")):
        rec.step(
            f"details.log_metric.{name}",
            lambda k=key: client.log_metric(runs["manual"], k, 1.0),
            message=True,
        )
    rec.step(
        "details.log_param.bad_key",
        lambda: client.log_param(runs["manual"], "bad*key", "1"),
        message=True,
    )
    rec.step(
        "details.set_tag.bad_key",
        lambda: client.set_tag(runs["manual"], "../tag", "1"),
        message=True,
    )
    rec.step(
        "details.log_param.changed",
        lambda: client.log_param(runs["parent"], "alpha", "0.5"),
        message=True,
    )
    rec.step("details.create_experiment.empty", lambda: client.create_experiment(""), message=True)
    rec.step(
        "details.bulk_interval.empty_key",
        lambda: rest_message(
            api,
            "metrics/get-history-bulk-interval",
            {"run_ids": MISSING_RUN, "metric_key": ""},
        ),
    )
    inputs_order(rec, client)
    latest_metric(rec, client)


def rest_message(
    api: httpx.Client, path: str, payload: dict[str, Any], post: bool = False
) -> dict[str, Any]:
    """Status, error code and message of one raw call."""
    url = f"/api/2.0/mlflow/{path}"
    response = api.post(url, json=payload) if post else api.get(url, params=payload)
    body = response.json() if response.content else {}
    out = {"status": response.status_code, "error_code": body.get("error_code")}
    if "message" in body:
        out["message"] = body["message"]
    elif response.is_success:
        out["body"] = sorted(body)
    return out


def locations_part(rec: Recorder, client: MlflowClient, sources: Path, work: Path) -> None:
    """An experiment's artifact_location is honoured (and a relative one made absolute)."""
    p = rec.prefix
    for name, location in (
        ("relative", f"{p}-relative/loc"),
        ("proxied", f"mlflow-artifacts:/{p}-custom/prefix"),
    ):
        exp = rec.label(
            client.create_experiment(f"{p}-{name}-location", artifact_location=location),
            f"exp:{name}-location",
        )
        rec.step(
            f"details.location.{name}", lambda e=exp: client.get_experiment(e).artifact_location
        )
        run = client.create_run(exp).info.run_id
        rec.label(run, f"run:{name}-location")
        rec.step(f"details.location.{name}.run", lambda r=run: client.get_run(r).info.artifact_uri)
    proxied = client.search_runs(
        [client.get_experiment_by_name(f"{p}-proxied-location").experiment_id]
    )[0]
    run_id = proxied.info.run_id
    client.log_artifact(run_id, str(sources / "notes.txt"), "docs")
    rec.step(
        "details.location.proxied.list",
        lambda: artifact_view(client.list_artifacts(run_id, "docs")),
    )
    rec.step(
        "details.location.proxied.download",
        lambda: tree_digest(Path(client.download_artifacts(run_id, "docs", str(work / "dl-loc")))),
    )


def inputs_order(rec: Recorder, client: MlflowClient) -> None:
    """Dataset inputs come back in the order they were logged."""
    import pandas as pd

    run = client.create_run(client.get_experiment_by_name(f"{rec.prefix}-main").experiment_id)
    rec.label(run.info.run_id, "run:inputs")
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with mlflow.start_run(run_id=run.info.run_id):
        for name in ("charlie", "alpha", "bravo"):
            mlflow.log_input(mlflow.data.from_pandas(frame, name=name), "training")
    rec.step(
        "details.inputs.order",
        lambda: [d.dataset.name for d in client.get_run(run.info.run_id).inputs.dataset_inputs],
    )


def latest_metric(rec: Recorder, client: MlflowClient) -> None:
    """The latest value: the highest step, then the newest timestamp, then the larger value
    (whatever the order in which the points were logged); +-inf is clamped."""
    run = client.create_run(client.get_experiment_by_name(f"{rec.prefix}-main").experiment_id)
    run_id = rec.label(run.info.run_id, "run:latest") or ""
    points = [
        ("step", 7.0, T0 + 50, 1),
        ("step", 5.0, T0, 3),
        ("time", 1.0, T0 + 9, 2),
        ("time", 2.0, T0 + 1, 2),
        ("value", 8.0, T0, 4),
        ("value", 2.0, T0, 4),
        ("inf", math.inf, T0, 0),
    ]
    for key, value, timestamp, step in points:
        client.log_metric(run_id, key, value, timestamp, step)
    rec.step("details.latest_metric", lambda: dict(client.get_run(run_id).data.metrics))


# --- request checks from MLflow's own REST tracking tests --------------------------------------
def suite_part(rec: Recorder, client: MlflowClient, uri: str, runs: dict[str, str]) -> None:
    """The request validation MLflow's test_rest_tracking.py asserts (status, code, wording)."""
    api = httpx.Client(base_url=uri, timeout=30)
    run = runs["manual"]
    metric = {"run_id": run, "key": "m", "value": 41, "timestamp": 59, "step": 26}
    bad_posts: dict[str, tuple[str, dict[str, Any]]] = {
        "log_metric.run_id_type": ("runs/log-metric", metric | {"run_id": 31}),
        "log_metric.key_type": ("runs/log-metric", metric | {"key": 31}),
        "log_metric.step_type": ("runs/log-metric", metric | {"step": "foo"}),
        "log_metric.timestamp_type": ("runs/log-metric", metric | {"timestamp": "foo"}),
        "log_metric.run_id_none": ("runs/log-metric", metric | {"run_id": None}),
        "log_metric.key_none": ("runs/log-metric", metric | {"key": None}),
        "log_param.run_id_type": ("runs/log-parameter", {"run_id": 31, "key": "p", "value": "v"}),
        "log_param.key_type": ("runs/log-parameter", {"run_id": run, "key": 31, "value": "v"}),
        "set_tag.value_type": ("runs/set-tag", {"run_id": run, "key": "t", "value": 41}),
        "set_tag.no_key": ("runs/set-tag", {"run_id": run, "value": "v"}),
        "set_tag.run_uuid": ("runs/set-tag", {"run_uuid": run, "key": "k", "value": "v"}),
        "create_experiment.name_type": ("experiments/create", {"name": 123}),
        "create_experiment.location_type": (
            "experiments/create",
            {"name": f"{rec.prefix}-loc-type", "artifact_location": 9.0},
        ),
        "create_experiment.tags_type": (
            "experiments/create",
            {"name": f"{rec.prefix}-tags-type", "tags": "5"},
        ),
        "log_batch.no_step": (
            "runs/log-batch",
            {"run_id": run, "metrics": [{"key": "mae", "value": 2.5, "timestamp": 123456789}]},
        ),
    }
    for what in ("metrics", "params", "tags"):
        bad_posts[f"log_batch.{what}_type"] = ("runs/log-batch", {"run_id": run, what: "foo"})
    for name, (path, payload) in bad_posts.items():
        rec.step(f"suite.{name}", lambda u=path, p=payload: rest_message(api, u, p, post=True))
    history_checks(rec, api, run, runs)
    rec.step(
        "suite.get_artifact.path",
        lambda: raw_status(api.get("/get-artifact", params={"run_id": run, "path": "../path"})),
    )
    rec.step(
        "suite.model_version_artifact.path",
        lambda: raw_status(
            api.get(
                "/model-versions/get-artifact",
                params={"name": "model", "version": 1, "path": "../path"},
            )
        ),
    )
    model_links(rec, client)
    rec.step("suite.search_pagination", lambda: paging_by_run_id(client))


def raw_status(response: httpx.Response) -> dict[str, Any]:
    body = response.json() if "json" in response.headers.get("content-type", "") else {}
    return {"status": response.status_code, "body": body}


def history_checks(rec: Recorder, api: httpx.Client, run: str, runs: dict[str, str]) -> None:
    interval = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
    bulk = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
    many = [f"id_{i}" for i in range(101)]
    queries: dict[str, tuple[str, dict[str, Any]]] = {
        "interval.no_run_ids": (interval, {"metric_key": "key"}),
        "interval.too_many": (interval, {"run_ids": many, "metric_key": "key"}),
        "interval.max_results": (interval, {"run_ids": [run], "metric_key": "k", "max_results": 0}),
        "interval.no_key": (interval, {"run_ids": [run], "max_results": 5}),
        "interval.end_before_start": (
            interval,
            {"run_ids": [run], "metric_key": "k", "start_step": 1, "end_step": 0},
        ),
        "interval.start_only": (interval, {"run_ids": [run], "metric_key": "k", "start_step": 1}),
        "bulk.no_run_id": (bulk, {"metric_key": "key"}),
        "bulk.too_many": (bulk, {"run_id": many, "metric_key": "key"}),
        "bulk.no_key": (bulk, {"run_id": [run]}),
        "bulk.two_runs": (bulk, {"run_id": [runs["parent"], runs["r1"]], "metric_key": "loss"}),
        "bulk.max_results": (
            bulk,
            {"run_id": [runs["parent"]], "metric_key": "loss", "max_results": 3},
        ),
    }
    for name, (path, query) in queries.items():
        rec.step(f"suite.{name}", lambda u=path, q=query: raw_status(api.get(u, params=q)))
    # mlflow server's message shows the token's decoded bytes: compare status and code only.
    token = {"run_id": run, "metric_key": "m", "page_token": "invalid_token"}
    rec.step(
        "suite.history.bad_token",
        lambda: {
            k: v
            for k, v in rest_message(api, "metrics/get-history", token).items()
            if k != "message"
        },
    )


def model_links(rec: Recorder, client: MlflowClient) -> None:
    """A metric linked to a model with its dataset; a model logged as a run input."""
    experiment = client.get_experiment_by_name(f"{rec.prefix}-main").experiment_id
    run = client.create_run(experiment).info.run_id
    rec.label(run, "run:links")
    model = client.create_logged_model(experiment).model_id
    rec.label(model, "model:links")
    client.log_metric(
        run,
        "metric",
        0.5,
        123456789,
        1,
        dataset_name="name",
        dataset_digest="digest",
        model_id=model,
    )
    client.log_inputs(run, models=[LoggedModelInput(model_id=model)])
    rec.step(
        "suite.model_metric", lambda: logged_model_view(client.get_logged_model(model))["metrics"]
    )
    rec.step(
        "suite.model_inputs",
        lambda: [m.model_id for m in client.get_run(run).inputs.model_inputs],
    )


def paging_by_run_id(client: MlflowClient) -> list[bool]:
    """Runs with the same start time come back by run id, in pages."""
    experiment = client.create_experiment(f"pagination-{uuid.uuid4().hex[:8]}")
    ids = sorted(client.create_run(experiment, start_time=1).info.run_id for _ in range(10))
    pages, token = [], None
    for _ in range(3):
        page = client.search_runs([experiment], max_results=4, page_token=token)
        pages.append([r.info.run_id for r in page])
        token = page.token
    return [pages[0] == ids[:4], pages[1] == ids[4:8], pages[2] == ids[8:], token is None]
