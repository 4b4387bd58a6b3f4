"""The collector's HTTP app in-process: OTLP/HTTP, files, query API, errors and auth."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from app_client import BASE_URL, JSON, MAX_BODY, PROTOBUF, make_client
from fastapi.testclient import TestClient
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from otlp_builders import event, logs_request, metric, span, traces_request

from collectors.app import create_app
from collectors.ops import EnsureRun
from collectors.settings import Settings
from collectors.store import LocalFileStore, open_store
from collectors.writer import Writer
from runlog import conventions as c


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from make_client(tmp_path)


def send_logs(client: TestClient, *records: Any, run_id: str = "r1", **kw: Any) -> Any:
    body = logs_request(*records, resource={c.RUN_ID: run_id, **kw}).SerializeToString()
    response = client.post("/v1/logs", content=body, headers=PROTOBUF)
    assert 200 == response.status_code, response.text
    return ExportLogsServiceResponse.FromString(response.content)


def test_a_runs_status_history_is_served_without_a_compute_service(client: TestClient) -> None:
    """Every run has a lifecycle; the studio's run page reads it from the query API."""
    send_logs(client, metric("loss", 0.5, step=1))

    history = client.get("/api/v1/runs/r1/statuses")
    missing = client.get("/api/v1/runs/nope/statuses")

    assert (200, 404) == (history.status_code, missing.status_code), history.text
    assert ["Running"] == [s["status"] for s in history.json()["statuses"]]


# --- OTLP/HTTP -----------------------------------------------------------------------------------


def test_protobuf_logs_are_kept_before_the_answer(client: TestClient) -> None:
    reply = send_logs(client, metric("loss", 0.5, step=1), metric("loss", 0.25, step=2))

    assert not reply.HasField("partial_success")
    vector = client.get("/api/v1/runs/r1/metric", params={"name": "loss"}).json()
    assert ([1, 2], [0.5, 0.25], "f8") == (vector["steps"], vector["values"], vector["dtype"])


def test_rejected_records_are_reported_as_partial_success(client: TestClient) -> None:
    reply = send_logs(client, metric("", 1.0), metric("ok", 1.0, step=0))

    assert 1 == reply.partial_success.rejected_log_records
    assert "metric name" in reply.partial_success.error_message
    assert 1 == client.get("/api/v1/runs/r1/metric", params={"name": "ok"}).json()["count"]


def test_points_without_a_step_get_the_next_step(client: TestClient) -> None:
    def steps(name: str) -> list[int]:
        return client.get("/api/v1/runs/r1/metric", params={"name": name}).json()["steps"]

    send_logs(client, metric("loss", 0.5), metric("loss", 0.4), metric("loss", 0.3))
    first = steps("loss")
    send_logs(client, metric("loss", 0.2), metric("acc", 0.9, step=10), metric("acc", 0.95))

    assert ([0, 1, 2], [0, 1, 2, 3]) == (first, steps("loss"))
    assert [10, 11] == steps("acc")


def test_the_reserved_automatic_step_is_refused_as_an_explicit_step(client: TestClient) -> None:
    attributes = {
        c.METRIC_NAME: "w",
        c.METRIC_DTYPE: "f8",
        c.METRIC_STEPS: np.array([0, c.INT64_MIN], "<i8").tobytes(),
        c.METRIC_TIMESTAMPS: np.full(2, 10, "<i8").tobytes(),
        c.METRIC_VALUES: np.zeros(2, "<f8").tobytes(),
    }
    packed = event(c.EVENT_METRIC_PACKED, attributes)

    reply = send_logs(client, metric("loss", 0.5, step=c.INT64_MIN), packed)

    assert 2 == reply.partial_success.rejected_log_records
    assert "reserved" in reply.partial_success.error_message
    assert 404 == client.get("/api/v1/runs/r1").status_code  # rejected records leave no trace


def test_json_logs_with_gzip(client: TestClient) -> None:
    request = logs_request(metric("acc", 0.9, step=7), resource={c.RUN_ID: "rj"})
    body = gzip.compress(json_format.MessageToJson(request).encode())

    response = client.post("/v1/logs", content=body, headers={**JSON, "Content-Encoding": "gzip"})

    assert (200, {}) == (response.status_code, response.json())
    assert [7] == client.get("/api/v1/runs/rj/metric", params={"name": "acc"}).json()["steps"]


def test_json_traces_with_hex_ids_create_a_run(client: TestClient) -> None:
    request = traces_request(span("fit"), resource={"service.name": "svc"})
    document = json_format.MessageToDict(request)
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[0]["traceId"], spans[0]["spanId"] = bytes(range(16)).hex(), "01" * 8

    response = client.post("/v1/traces", content=json.dumps(document), headers=JSON)

    assert 200 == response.status_code, response.text
    run = client.get(f"/api/v1/runs/{bytes(range(16)).hex()}").json()
    assert ("svc", "Completed", "fit") == (run["experiment"], run["status"], run["name"])


def test_other_content_types_get_415(client: TestClient) -> None:
    response = client.post("/v1/logs", content=b"x", headers={"Content-Type": "text/plain"})

    assert 415 == response.status_code


def test_malformed_protobuf_gets_400_with_a_status_body(client: TestClient) -> None:
    response = client.post("/v1/logs", content=b"\xff\xff\xff", headers=PROTOBUF)

    assert 400 == response.status_code
    status = status_pb2.Status.FromString(response.content)
    assert 3 == status.code  # INVALID_ARGUMENT
    assert "ExportLogsServiceRequest" in status.message


def test_malformed_json_gets_400_json_status(client: TestClient) -> None:
    response = client.post("/v1/logs", content=b"{nope", headers=JSON)

    assert 400 == response.status_code
    assert "message" in response.json()


def test_a_body_over_the_limit_gets_413(client: TestClient) -> None:
    response = client.post("/v1/logs", content=b"\x00" * (MAX_BODY + 1), headers=PROTOBUF)

    assert 413 == response.status_code


def test_a_gzip_bomb_gets_413(client: TestClient) -> None:
    bomb = gzip.compress(b"\x00" * (MAX_BODY * 8))
    assert len(bomb) < MAX_BODY

    response = client.post(
        "/v1/logs", content=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )

    assert 413 == response.status_code


def test_broken_gzip_gets_400(client: TestClient) -> None:
    headers = {**PROTOBUF, "Content-Encoding": "gzip"}

    assert 400 == client.post("/v1/logs", content=b"not gzip", headers=headers).status_code


def test_packed_points_with_non_finite_values_round_trip(client: TestClient) -> None:
    values = np.array([1.0, math.nan, math.inf, -math.inf], "<f8")
    attributes = {
        c.METRIC_NAME: "w",
        c.METRIC_DTYPE: "f8",
        c.METRIC_STEPS: np.arange(4, dtype="<i8").tobytes(),
        c.METRIC_TIMESTAMPS: np.full(4, 10, "<i8").tobytes(),
        c.METRIC_VALUES: values.tobytes(),
    }
    send_logs(client, event(c.EVENT_METRIC_PACKED, attributes))

    vector = client.get("/api/v1/runs/r1/metric", params={"name": "w"}).json()
    assert [1.0, "NaN", "Infinity", "-Infinity"] == vector["values"]

    binary = client.get("/api/v1/runs/r1/metric", params={"name": "w", "format": "binary"})
    assert ("4", "f8") == (binary.headers["X-Runlog-Count"], binary.headers["X-Runlog-Dtype"])
    steps, times, got = np.split(np.frombuffer(binary.content, "<i8").view(np.uint8), 3)
    assert [0, 1, 2, 3] == steps.view("<i8").tolist()
    assert [10] * 4 == times.view("<i8").tolist()
    np.testing.assert_array_equal(values, got.view("<f8"))


def send_long(client: TestClient, values: np.ndarray) -> None:
    """Metric ``long``: one point per value at steps 0, 1, … and times 1, 2, …"""
    count = len(values)
    attributes = {
        c.METRIC_NAME: "long",
        c.METRIC_DTYPE: "f8",
        c.METRIC_STEPS: np.arange(count, dtype="<i8").tobytes(),
        c.METRIC_TIMESTAMPS: np.arange(1, count + 1, dtype="<i8").tobytes(),
        c.METRIC_VALUES: values.astype("<f8").tobytes(),
    }
    send_logs(client, event(c.EVENT_METRIC_PACKED, attributes))


def test_downsampled_vector(client: TestClient) -> None:
    count = 10_000
    send_long(client, np.sin(np.arange(count) / 100))

    params = {"name": "long", "max_points": 100}
    vector = client.get("/api/v1/runs/r1/metric", params=params).json()

    assert vector["downsampled"] is True
    assert vector["count"] <= 100
    assert (0, count - 1) == (vector["steps"][0], vector["steps"][-1])
    assert max(vector["values"]) == pytest.approx(1.0, abs=1e-3)


def test_a_window_of_a_vector_by_step_or_time(client: TestClient) -> None:
    count = 10_000
    send_long(client, np.arange(count, dtype=np.float64))

    by_step = client.get("/api/v1/runs/r1/metric", params={"name": "long", "start": 10, "end": 12})
    by_time = client.get(
        "/api/v1/runs/r1/metric",
        params={"name": "long", "x": "time", "start": 101, "max_points": 10, "format": "binary"},
    )
    missing = client.get("/api/v1/runs/r1/metric", params={"name": "nope", "start": 1})

    assert ([10, 11, 12], [10.0, 11.0, 12.0]) == (by_step.json()["steps"], by_step.json()["values"])
    assert ("10", "true") == (
        by_time.headers["x-runlog-count"],
        by_time.headers["x-runlog-downsampled"],
    )
    steps = np.frombuffer(by_time.content[:80], dtype="<i8")
    assert (100, count - 1) == (steps[0], steps[-1])
    assert 404 == missing.status_code


def test_str_vectors_answer_json_even_when_binary_is_asked(client: TestClient) -> None:
    send_logs(client, metric("phase", "warmup", step=0), metric("phase", "train", step=1))

    response = client.get("/api/v1/runs/r1/metric", params={"name": "phase", "format": "binary"})

    assert response.headers["content-type"].startswith("application/json")
    assert ["warmup", "train"] == response.json()["values"]


# --- query API -----------------------------------------------------------------------------------


def test_runs_experiments_and_search(client: TestClient) -> None:
    param = event(c.EVENT_PARAM, {c.KEY: "alpha", c.VALUE: "0.5"})
    send_logs(client, metric("mse", 10.0, step=0), param, run_id="a", **{c.EXPERIMENT: "e1"})
    send_logs(client, metric("mse", 2000.0, step=0), run_id="b", **{c.EXPERIMENT: "e1"})
    send_logs(client, event(c.EVENT_RUN_END), run_id="b")

    experiments = client.get("/api/v1/experiments").json()["experiments"]
    assert {"e1": 2} == {e["name"]: e["run_count"] for e in experiments}
    assert "e1" == client.get("/api/v1/experiments/e1").json()["name"]
    found = client.get("/api/v1/runs", params={"filter": "metrics.mse < 100"}).json()
    assert ["a"] == [r["run_id"] for r in found["runs"]]
    assert {"alpha": "0.5"} == found["runs"][0]["params"]
    ordered = client.get("/api/v1/runs", params={"order_by": "metrics.mse DESC"}).json()
    assert ["b", "a"] == [r["run_id"] for r in ordered["runs"]]
    assert "Completed" == client.get("/api/v1/runs/b").json()["status"]
    summaries = client.get("/api/v1/runs/a/metrics").json()["metrics"]
    assert [("mse", 1, 10.0)] == [(m["name"], m["count"], m["last"]) for m in summaries]


def test_paging(client: TestClient) -> None:
    for run_id in ("p1", "p2", "p3"):
        send_logs(client, event(c.EVENT_RUN_START), run_id=run_id)

    first = client.get("/api/v1/runs", params={"max_results": 2}).json()
    second = client.get(
        "/api/v1/runs", params={"max_results": 2, "page_token": first["next_page_token"]}
    ).json()

    assert 3 == len(first["runs"]) + len(second["runs"])
    assert second["next_page_token"] is None


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/runs", {"filter": "metrics.mse <"}, 400),
        ("/api/v1/runs", {"max_results": 0}, 400),
        ("/api/v1/runs/nope", {}, 404),
        ("/api/v1/runs/bad id!", {}, 400),
        ("/api/v1/experiments/nope", {}, 404),
        ("/api/v1/runs/r1/metric", {"name": "missing"}, 404),
        ("/api/v1/runs/r1/metric", {}, 400),
        ("/api/v1/runs/r1/metric", {"name": "loss", "format": "xml"}, 400),
        ("/api/v1/runs/r1/files/nothing.txt", {}, 404),
        ("/api/v1/no/such/route", {}, 404),
    ],
)
def test_errors_have_the_documented_body(
    client: TestClient, path: str, params: dict[str, Any], status: int
) -> None:
    send_logs(client, metric("loss", 1.0, step=0))

    response = client.get(path, params=params)

    assert status == response.status_code
    error = response.json()["error"]
    assert error["code"] and error["message"]


def test_healthz(client: TestClient) -> None:
    assert "ok" == client.get("/healthz").json()["status"]


def test_health_and_version_answer_as_mlflow_server(client: TestClient) -> None:
    """Load balancers and MLflow tooling probe ``/health`` and ``/version``: the same status,
    body and content type as MLflow's own server (its Flask app, in-process)."""
    mlflow_server = pytest.importorskip("mlflow.server")
    mlflow = mlflow_server.app.test_client()
    from collectors.app import version

    for path, body in (("/health", "OK"), ("/version", None)):
        theirs, ours = mlflow.get(path), client.get(path)
        assert (200, theirs.content_type) == (ours.status_code, ours.headers["content-type"])
        if body is not None:
            assert theirs.get_data(as_text=True) == ours.text == body
    assert version() == client.get("/version").text


def test_openapi_documents_the_query_api(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert {"/api/v1/runs", "/api/v1/runs/{run_id}/metric", "/v1/logs"} <= set(schema["paths"])
    assert "MetricVector" in schema["components"]["schemas"]


# --- files ---------------------------------------------------------------------------------------


def test_files_upload_download_and_list(client: TestClient) -> None:
    body = b"hello " * 100_000
    headers = {c.HEADER_EXPERIMENT: "uploads"}

    created = client.put("/api/v1/runs/f1/files/outputs/a b.txt", content=body, headers=headers)

    assert 201 == created.status_code, created.text
    assert len(body) == created.json()["size"]
    assert body == client.get("/api/v1/runs/f1/files/outputs/a b.txt").content
    listed = client.get("/api/v1/runs/f1/files").json()["files"]
    assert [("outputs/a b.txt", len(body))] == [(f["path"], f["size"]) for f in listed]
    assert "uploads" == client.get("/api/v1/runs/f1").json()["experiment"]


@pytest.mark.parametrize(
    "path",  # percent-encoded: HTTP clients normalise a literal '..' away before sending
    ["%2E%2E/escape.txt", "a/%2E%2E/%2E%2E/b", "a//b", "a%5Cb", "%2Fetc%2Fpasswd", "x" * 1100],
)
def test_bad_file_paths_get_400(client: TestClient, path: str) -> None:
    response = client.put(f"/api/v1/runs/f1/files/{path}", content=b"x")

    assert 400 == response.status_code, response.text
    assert "INVALID_ARGUMENT" == response.json()["error"]["code"]


def test_the_experiment_header_is_percent_decoded(client: TestClient) -> None:
    """Header values are Latin-1; clients percent-encode experiment names (docs/api.md)."""
    headers = {c.HEADER_EXPERIMENT: quote("my sweep ü/1")}

    created = client.put("/api/v1/runs/f2/files/a.txt", content=b"x", headers=headers)

    assert 201 == created.status_code, created.text
    assert "my sweep ü/1" == client.get("/api/v1/runs/f2").json()["experiment"]


def test_files_over_the_limit_get_413(tmp_path: Path) -> None:
    for small in make_client(tmp_path, max_file_bytes=1000):
        response = small.put("/api/v1/runs/f1/files/big.bin", content=b"x" * 5000)
        assert 413 == response.status_code
        assert 404 == small.get("/api/v1/runs/f1/files/big.bin").status_code


# --- auth ----------------------------------------------------------------------------------------


def test_a_token_is_required_except_for_healthz(tmp_path: Path) -> None:
    for guarded in make_client(tmp_path, token="s3cret"):
        assert 200 == guarded.get("/healthz").status_code
        assert 401 == guarded.get("/api/v1/runs").status_code
        wrong = {"Authorization": "Bearer nope"}
        assert 401 == guarded.get("/api/v1/runs", headers=wrong).status_code
        right = {"Authorization": "Bearer s3cret"}
        assert 200 == guarded.get("/api/v1/runs", headers=right).status_code
        otlp = guarded.post("/v1/logs", content=b"", headers=PROTOBUF)
        assert 401 == otlp.status_code
        assert 16 == status_pb2.Status.FromString(otlp.content).code  # UNAUTHENTICATED


def test_a_full_write_queue_answers_503_with_retry_after(tmp_path: Path) -> None:
    store = open_store(tmp_path / "runlog.db")
    writer = Writer(store, max_queue=1)  # not started yet: the queue stays full
    writer.submit([EnsureRun("filler", "E", 1)])
    app = create_app(store, LocalFileStore(tmp_path / "files"), writer, Settings(tmp_path))
    body = logs_request(metric("m", 1.0)).SerializeToString()
    try:
        with TestClient(app, base_url=BASE_URL) as client:
            response = client.post("/v1/logs", content=body, headers=PROTOBUF)
    finally:
        writer.start()
        writer.stop()
        store.close()

    assert 503 == response.status_code
    assert "1" == response.headers["Retry-After"]
    assert 14 == status_pb2.Status.FromString(response.content).code  # UNAVAILABLE
