"""Malformed input to every MLflow endpoint answers MLflow's error JSON with a 4xx, never a 5xx.

Each endpoint gets a valid request (a real run, experiment and logged model) with one
parameter at a time replaced by a malformed value: wrong JSON types, huge and negative
numbers, non-hex ids, paging tokens not issued by the server, ``../`` paths. A 5xx is a
server bug (and the MLflow client retries it for minutes), so every answer must be 2xx or 4xx
and every 4xx must carry an MLflow ``error_code``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

BAD_VALUES: list[Any] = [
    None,
    True,
    -1,
    0,
    1.5,
    10**30,
    -(10**30),
    "nope",
    "",
    "../../etc/passwd",
    "zz" * 16,
    "0" * 32,
    "x" * 10_000,
    [],
    ["a", 1],
    {"a": 1},
    [{"key": None, "value": 3}],
    base64.urlsafe_b64encode(b'{"offset": -5}').decode(),
    base64.urlsafe_b64encode(json.dumps({"offset": 10**30}).encode()).decode(),
    base64.urlsafe_b64encode(b'{"offset": "3"}').decode(),
    base64.urlsafe_b64encode(b"[1, 2]").decode(),
]

# (method, path, parameters to spoil). The valid base request is built by `base_request`.
ENDPOINTS: list[tuple[str, str, list[str]]] = [
    ("POST", "experiments/create", ["name", "artifact_location", "tags"]),
    ("GET", "experiments/get", ["experiment_id"]),
    ("GET", "experiments/get-by-name", ["experiment_name"]),
    (
        "POST",
        "experiments/search",
        ["max_results", "page_token", "filter", "order_by", "view_type"],
    ),
    ("GET", "experiments/search", ["max_results", "page_token", "filter", "view_type"]),
    ("POST", "experiments/update", ["experiment_id", "new_name"]),
    ("POST", "experiments/set-experiment-tag", ["experiment_id", "key", "value"]),
    ("POST", "experiments/delete-experiment-tag", ["experiment_id", "key"]),
    ("POST", "runs/create", ["experiment_id", "start_time", "tags", "user_id", "run_name"]),
    ("GET", "runs/get", ["run_id"]),
    ("POST", "runs/update", ["run_id", "status", "end_time", "run_name"]),
    (
        "POST",
        "runs/search",
        ["experiment_ids", "filter", "run_view_type", "max_results", "order_by", "page_token"],
    ),
    ("GET", "runs/search", ["experiment_ids", "max_results", "page_token", "run_view_type"]),
    ("POST", "runs/log-metric", ["run_id", "key", "value", "timestamp", "step"]),
    ("POST", "runs/log-parameter", ["run_id", "key", "value"]),
    ("POST", "runs/set-tag", ["run_id", "key", "value"]),
    ("POST", "runs/delete-tag", ["run_id", "key"]),
    ("POST", "runs/log-batch", ["run_id", "metrics", "params", "tags"]),
    ("POST", "runs/log-inputs", ["run_id", "datasets", "models"]),
    ("POST", "runs/outputs", ["run_id", "models"]),
    ("POST", "runs/log-model", ["run_id", "model_json"]),
    ("GET", "metrics/get-history", ["run_id", "metric_key", "max_results", "page_token"]),
    (
        "GET",
        "metrics/get-history-bulk-interval",
        ["run_ids", "metric_key", "max_results", "start_step", "end_step"],
    ),
    ("GET", "artifacts/list", ["run_id", "path"]),
    ("POST", "logged-models/search", ["experiment_ids", "filter", "max_results", "page_token"]),
    ("POST", "logged-models", ["experiment_id", "source_run_id", "name", "tags", "params"]),
    ("PATCH", "logged-models/{model_id}", ["status"]),
    ("PATCH", "logged-models/{model_id}/tags", ["tags"]),
    ("POST", "logged-models/{model_id}/params", ["params"]),
    ("POST", "logged-models/search", ["datasets", "order_by"]),
    ("GET", "logged-models/{model_id}/artifacts/directories", ["artifact_directory_path"]),
    ("POST", "registered-models/create", ["name", "tags", "description"]),
    ("GET", "registered-models/get", ["name"]),
    ("POST", "registered-models/rename", ["name", "new_name"]),
    ("PATCH", "registered-models/update", ["name", "description"]),
    ("DELETE", "registered-models/delete", ["name"]),
    ("GET", "registered-models/search", ["filter", "max_results", "order_by", "page_token"]),
    ("POST", "registered-models/get-latest-versions", ["name", "stages"]),
    ("POST", "registered-models/set-tag", ["name", "key", "value"]),
    ("DELETE", "registered-models/delete-tag", ["name", "key"]),
    ("POST", "registered-models/alias", ["name", "alias", "version"]),
    ("GET", "registered-models/alias", ["name", "alias"]),
    ("DELETE", "registered-models/alias", ["name", "alias"]),
    (
        "POST",
        "model-versions/create",
        ["name", "source", "run_id", "model_id", "tags", "description", "run_link"],
    ),
    ("GET", "model-versions/get", ["name", "version"]),
    ("PATCH", "model-versions/update", ["name", "version", "description"]),
    (
        "POST",
        "model-versions/transition-stage",
        ["name", "version", "stage", "archive_existing_versions"],
    ),
    ("DELETE", "model-versions/delete", ["name", "version"]),
    ("GET", "model-versions/search", ["filter", "max_results", "order_by", "page_token"]),
    ("GET", "model-versions/get-download-uri", ["name", "version"]),
    ("POST", "model-versions/set-tag", ["name", "version", "key", "value"]),
    ("DELETE", "model-versions/delete-tag", ["name", "version", "key"]),
]


@pytest.fixture(scope="module")
def api(collector: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=collector.endpoint + "/api/2.0/mlflow/", timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def ids(api: httpx.Client) -> dict[str, str]:
    """A real experiment, run (with a metric and a tag) and logged model to spoil requests of."""
    name = f"fuzz-{uuid.uuid4().hex[:8]}"
    experiment_id = api.post("experiments/create", json={"name": name}).json()["experiment_id"]
    run_id = api.post("runs/create", json={"experiment_id": experiment_id}).json()["run"]["info"][
        "run_id"
    ]
    api.post(
        "runs/log-metric",
        json={"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0},
    ).raise_for_status()
    api.post("runs/set-tag", json={"run_id": run_id, "key": "t", "value": "v"}).raise_for_status()
    model = api.post(
        "logged-models", json={"experiment_id": experiment_id, "source_run_id": run_id}
    ).json()["model"]["info"]["model_id"]
    api.post("registered-models/create", json={"name": name}).raise_for_status()
    version = {"name": name, "source": f"models:/{model}", "model_id": model}
    api.post("model-versions/create", json=version).raise_for_status()
    return {"experiment": experiment_id, "experiment_name": name, "run": run_id, "model": model}


def base_request(path: str, ids: dict[str, str]) -> dict[str, Any]:
    """A request to *path* that the server accepts."""
    run, experiment = ids["run"], ids["experiment"]
    metric = {"key": "m", "value": 2.0, "timestamp": 2, "step": 1}
    bases: dict[str, dict[str, Any]] = {
        "experiments/create": {"name": f"fuzz-{uuid.uuid4().hex}"},
        "experiments/get": {"experiment_id": experiment},
        "experiments/get-by-name": {"experiment_name": ids["experiment_name"]},
        "experiments/update": {"experiment_id": experiment, "new_name": ids["experiment_name"]},
        "experiments/set-experiment-tag": {"experiment_id": experiment, "key": "k", "value": "v"},
        "experiments/delete-experiment-tag": {"experiment_id": experiment, "key": "k"},
        "runs/create": {"experiment_id": experiment},
        "runs/update": {"run_id": run, "status": "RUNNING"},
        "runs/search": {"experiment_ids": [experiment]},
        "runs/log-metric": {"run_id": run} | metric,
        "runs/log-parameter": {"run_id": run, "key": "p", "value": "1"},
        "runs/set-tag": {"run_id": run, "key": "t", "value": "v"},
        "runs/delete-tag": {"run_id": run, "key": "gone"},
        "runs/log-batch": {"run_id": run, "metrics": [metric]},
        "runs/log-inputs": {"run_id": run, "datasets": []},
        "runs/outputs": {"run_id": run, "models": []},
        "runs/log-model": {"run_id": run, "model_json": "{}"},
        "metrics/get-history": {"run_id": run, "metric_key": "m", "max_results": 5},
        "metrics/get-history-bulk-interval": {"run_ids": [run], "metric_key": "m"},
        "artifacts/list": {"run_id": run},
        "logged-models/search": {"experiment_ids": [experiment]},
        "logged-models": {"experiment_id": experiment, "source_run_id": run},
        "logged-models/{model_id}": {"status": "LOGGED_MODEL_READY"},
        "logged-models/{model_id}/tags": {"tags": [{"key": "k", "value": "v"}]},
        "logged-models/{model_id}/params": {"params": [{"key": "k", "value": "v"}]},
        "logged-models/{model_id}/artifacts/directories": {"artifact_directory_path": "a"},
    }
    registered, gone = ids["experiment_name"], f"gone-{uuid.uuid4().hex[:8]}"
    version = {"name": registered, "version": "1"}
    bases |= {
        "registered-models/create": {"name": f"fuzz-{uuid.uuid4().hex}"},
        "registered-models/get": {"name": registered},
        "registered-models/rename": {"name": gone, "new_name": f"{gone}-2"},  # unknown: 404
        "registered-models/update": {"name": registered, "description": "d"},
        "registered-models/delete": {"name": gone},
        "registered-models/search": {"filter": f"name = '{registered}'"},
        "registered-models/get-latest-versions": {"name": registered},
        "registered-models/set-tag": {"name": registered, "key": "k", "value": "v"},
        "registered-models/delete-tag": {"name": registered, "key": "k"},
        "registered-models/alias": {"name": registered, "alias": "a", "version": "1"},
        "model-versions/create": {"name": registered, "source": f"models:/{ids['model']}"},
        "model-versions/get": version,
        "model-versions/update": version | {"description": "d"},
        "model-versions/transition-stage": version | {"stage": "Staging"},
        "model-versions/delete": {"name": registered, "version": "99"},  # unknown: 404
        "model-versions/search": {"filter": f"name = '{registered}'"},
        "model-versions/get-download-uri": version,
        "model-versions/set-tag": version | {"key": "k", "value": "v"},
        "model-versions/delete-tag": version | {"key": "k"},
    }
    return dict(bases.get(path, {}))


def send(api: httpx.Client, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
    if method == "GET":  # query string: lists repeat the key, everything else as text
        query = [
            (k, json.dumps(x) if isinstance(x, dict) else str(x))
            for k, v in body.items()
            if v is not None
            for x in (v if isinstance(v, list) else [v])
        ]
        return api.get(path, params=query)
    return api.request(method, path, json=body)


def problems(response: httpx.Response, what: str) -> list[str]:
    """Why *response* breaks the rule (a 5xx, or a 4xx without MLflow's error JSON)."""
    if response.status_code >= 500:
        return [f"{what}: {response.status_code} {response.text[:200]}"]
    if response.status_code >= 400 and "error_code" not in response.json():
        return [f"{what}: {response.status_code} without error_code: {response.text[:200]}"]
    return []


@pytest.mark.parametrize(
    ("method", "path", "names"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS]
)
def test_malformed_parameter_is_a_4xx(
    api: httpx.Client, ids: dict[str, str], method: str, path: str, names: list[str]
) -> None:
    url = path.replace("{model_id}", ids["model"])
    base = base_request(path, ids)
    assert [] == problems(send(api, method, url, base), f"valid {base}")
    found = []
    for name in names:
        for value in BAD_VALUES:
            body = base | {name: value}
            found += problems(send(api, method, url, body), f"{name}={str(value)[:60]!r}")
    assert [] == found


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'"text"', b"\xff\xfe", b'{"run_id": {"$gt": ""}}', b"null", b"1e999"],
)
def test_malformed_body_is_a_4xx(api: httpx.Client, body: bytes) -> None:
    found = []
    for method, path, _ in ENDPOINTS:
        if method != "GET" and "{" not in path:
            response = api.request(method, path, content=body)
            found += problems(response, f"{method} {path} {body!r}")
    assert [] == found


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "{exp}/{run}/artifacts/../../../etc/passwd",
        "{exp}/{run}/artifacts/%2e%2e/%2e%2e/x",
        "{exp}/nothex/artifacts/a.txt",
        "{exp}/{run}/artifacts//abs",
        "{exp}/models/m-nope/artifacts/a.txt",
        "x" * 5000,
    ],
)
def test_artifact_proxy_refuses_bad_paths(collector: Any, ids: dict[str, str], path: str) -> None:
    path = path.format(exp=ids["experiment"], run=ids["run"])
    base = collector.endpoint + "/api/2.0/mlflow-artifacts/artifacts"
    with httpx.Client(timeout=30) as http:
        answers = {
            "list": http.get(base, params={"path": path}),
            "put": http.put(f"{base}/{path}", content=b"data"),
            "get": http.get(f"{base}/{path}"),
            "run list": http.get(
                collector.endpoint + "/api/2.0/mlflow/artifacts/list",
                params={"run_id": ids["run"], "path": path},
            ),
        }
    # A ``..`` the HTTP client resolves leaves the MLflow prefix: the collector's plain 404.
    leaves_prefix = {
        what
        for what in ("put", "get")
        if not answers[what].request.url.path.startswith("/api/2.0/mlflow-artifacts/")
    }
    found = [
        p
        for what, r in answers.items()
        for p in problems(r, what)
        if not (what in leaves_prefix and r.status_code == 404)
    ]
    assert [] == found
    assert 400 <= answers["put"].status_code < 500  # nothing lands outside the run's artifacts


@pytest.mark.parametrize("token", ["nope", BAD_VALUES[-3], BAD_VALUES[-4]])
def test_foreign_page_token_is_invalid_parameter_value(
    api: httpx.Client, ids: dict[str, str], token: str
) -> None:
    """Every paged endpoint answers a token it did not issue as MLflow does: 400, not 500."""
    run, experiment = ids["run"], ids["experiment"]
    answers = {
        "runs/search": api.post(
            "runs/search", json={"experiment_ids": [experiment], "page_token": token}
        ),
        "experiments/search": api.post("experiments/search", json={"page_token": token}),
        "metrics/get-history": api.get(
            "metrics/get-history", params={"run_id": run, "metric_key": "m", "page_token": token}
        ),
        "logged-models/search": api.post(
            "logged-models/search", json={"experiment_ids": [experiment], "page_token": token}
        ),
    }
    expected = {path: (400, "INVALID_PARAMETER_VALUE") for path in answers}
    assert expected == {
        path: (r.status_code, r.json().get("error_code")) for path, r in answers.items()
    }
