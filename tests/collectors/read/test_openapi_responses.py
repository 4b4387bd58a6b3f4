"""Live answers of the query, files and models API hold to the schemas of ``/openapi.json``.

Handlers encode their JSON themselves (`collectors.read.encoding`: fast, with the non-finite
rule), so FastAPI does not check them against the routes' ``response_model``; this test does,
on a store with every kind of data, so the served schema cannot drift from what is served.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_client import PROTOBUF, make_client
from fastapi.testclient import TestClient
from otlp_builders import event, logs_request, metric, span, traces_request

from runlog import conventions as c

jsonschema = pytest.importorskip("jsonschema")

RUN = "r1"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app holding one finished run with a metric (NaN included), a row metric, a param, a
    tag, a log line, a span, a file and a child run."""
    for app in make_client(Path(tmp_path_factory.mktemp("openapi"))):
        resource: dict[str, Any] = {c.RUN_ID: RUN, c.EXPERIMENT: "schema"}
        log = event(None, {"code.function": "train"}, time_ns=5)
        log.body.string_value = "epoch done"
        records = [
            metric("loss", 0.5, step=0),
            metric("loss", float("nan"), step=1, time_ns=2),
            metric("acc", 1, step=0, **{c.METRIC_KIND: c.KIND_ROW, c.METRIC_COLUMN: "top1"}),
            event(c.EVENT_PARAM, {c.KEY: "alpha", c.VALUE: "0.5"}),
            event(c.EVENT_TAG, {c.KEY: "team", c.VALUE: "ml"}),
            log,
            event(c.EVENT_RUN_END),
        ]
        for request in (
            logs_request(*records, resource=resource),
            logs_request(metric("x", 1), resource={c.RUN_ID: "kid", c.PARENT_RUN_ID: RUN}),
        ):
            sent = app.post("/v1/logs", content=request.SerializeToString(), headers=PROTOBUF)
            assert 200 == sent.status_code, sent.text
        spans = traces_request(span("fit", attributes={"k": 1}), resource=resource)
        sent = app.post("/v1/traces", content=spans.SerializeToString(), headers=PROTOBUF)
        assert 200 == sent.status_code, sent.text
        put = app.put(f"/api/v1/runs/{RUN}/files/outputs/a.txt", content=b"hello")
        assert 201 == put.status_code, put.text
        yield app


def _schema_of(document: dict[str, Any], path: str, status: str) -> dict[str, Any]:
    """The JSON schema of *path*'s *status* answer, with the document's components."""
    answer = document["paths"][path]["get"]["responses"][status]
    return {**answer["content"]["application/json"]["schema"], "components": document["components"]}


@pytest.mark.parametrize(
    ("template", "url"),
    [
        ("/healthz", "/healthz"),
        ("/api/v1/experiments", "/api/v1/experiments"),
        ("/api/v1/experiments/{name}", "/api/v1/experiments/schema"),
        ("/api/v1/runs", "/api/v1/runs"),
        ("/api/v1/runs", "/api/v1/runs?filter=metrics.loss IS NOT NULL or params.alpha = '0.5'"),
        ("/api/v1/runs/{run_id}", f"/api/v1/runs/{RUN}"),
        ("/api/v1/runs/{run_id}/metrics", f"/api/v1/runs/{RUN}/metrics"),
        ("/api/v1/runs/{run_id}/metric", f"/api/v1/runs/{RUN}/metric?name=loss"),
        ("/api/v1/runs/{run_id}/metric", f"/api/v1/runs/{RUN}/metric?name=acc&column=top1"),
        ("/api/v1/runs/{run_id}/logs", f"/api/v1/runs/{RUN}/logs"),
        ("/api/v1/runs/{run_id}/spans", f"/api/v1/runs/{RUN}/spans"),
        ("/api/v1/runs/{run_id}/files", f"/api/v1/runs/{RUN}/files"),
        ("/api/v1/models", "/api/v1/models"),
    ],
)
def test_answers_match_the_served_schema(client: TestClient, template: str, url: str) -> None:
    document = client.get("/openapi.json").json()
    answer = client.get(url)

    assert 200 == answer.status_code, answer.text
    jsonschema.validate(answer.json(), _schema_of(document, template, "200"))


@pytest.mark.parametrize(
    ("template", "url", "status"),
    [
        ("/api/v1/runs/{run_id}", "/api/v1/runs/missing", "404"),
        ("/api/v1/runs", "/api/v1/runs?filter=metrics.x <", "400"),
    ],
)
def test_errors_match_the_served_schema(
    client: TestClient, template: str, url: str, status: str
) -> None:
    document = client.get("/openapi.json").json()
    answer = client.get(url)

    assert int(status) == answer.status_code, answer.text
    jsonschema.validate(answer.json(), _schema_of(document, template, status))
