"""Hostile and malformed input found by fuzzing answers a 4xx, fast, never a 5xx.

One test per finding (issue 9, item 15 and 16), in-process through the app. A 5xx is the
worst answer to bad input: OTLP exporters and MLflow clients retry it, so a request the
collector can never take (a "poison batch") would be sent again forever.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_client import JSON, PROTOBUF, make_client
from fastapi.testclient import TestClient
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)
from otlp_builders import event, logs_request, metric, span, traces_request

from collectors.settings import Settings
from runlog import conventions as c
from runlog.exceptions import ConfigError

PAST_INT64 = 2**64 - 1


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from make_client(tmp_path, max_body_bytes=64 * 1024 * 1024)


# --- OTLP ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"null", b"true", b"3", b'"x"', b"[]"])
@pytest.mark.parametrize("path", [c.OTLP_LOGS_PATH, c.OTLP_TRACES_PATH, c.OTLP_METRICS_PATH])
def test_otlp_json_that_is_not_an_object_is_400(client: TestClient, path: str, body: bytes) -> None:
    response = client.post(path, content=body, headers=JSON)

    assert 400 == response.status_code
    assert "expected a JSON object" in response.json()["message"]


def test_otlp_json_with_a_lone_surrogate_is_400(client: TestClient) -> None:
    document = json_format.MessageToDict(logs_request(event(None, {"msg": "x"})))
    document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["body"] = {"stringValue": "\ud800"}
    body = json.dumps(document).encode()  # ensure_ascii: "\\ud800", valid JSON

    response = client.post(c.OTLP_LOGS_PATH, content=body, headers=JSON)

    assert 400 == response.status_code
    assert "lone surrogate" in response.json()["message"]


def test_otlp_json_nested_too_deep_is_400(client: TestClient) -> None:
    depth = 500  # a kvlist AnyValue inside a kvlist ...: 1,500 levels of JSON
    value = '{"kvlistValue": {"values": [{"key": "k", "value": ' * depth
    value += '{"stringValue": "leaf"}' + "}]}}" * depth
    record = '{"body": ' + value + "}"
    body = '{"resourceLogs": [{"scopeLogs": [{"logRecords": [' + record + "]}]}]}"

    response = client.post(c.OTLP_LOGS_PATH, content=body, headers=JSON)

    assert 400 == response.status_code
    assert "nested deeper" in response.json()["message"]


def test_a_log_record_time_past_int64_is_rejected_and_the_rest_kept(client: TestClient) -> None:
    request = logs_request(
        metric("m", 1.0, step=1, time_ns=PAST_INT64), metric("m", 2.0, step=2), resource={}
    )
    for resource_logs in request.resource_logs:
        resource_logs.resource.attributes.add(key=c.RUN_ID).value.string_value = "late"

    response = client.post(c.OTLP_LOGS_PATH, content=request.SerializeToString(), headers=PROTOBUF)

    assert 200 == response.status_code
    reply = ExportLogsServiceResponse.FromString(response.content)
    assert 1 == reply.partial_success.rejected_log_records
    assert [2] == client.get("/api/v1/runs/late/metric", params={"name": "m"}).json()["steps"]


def test_a_span_time_past_int64_is_rejected_not_retried(client: TestClient) -> None:
    bad = span("fit")
    bad.start_time_unix_nano = PAST_INT64
    body = traces_request(bad, resource={c.RUN_ID: "t1"}).SerializeToString()

    response = client.post(c.OTLP_TRACES_PATH, content=body, headers=PROTOBUF)

    assert 200 == response.status_code  # not a 503: the exporter would retry it forever
    reply = ExportTraceServiceResponse.FromString(response.content)
    assert 1 == reply.partial_success.rejected_spans


def test_a_span_of_kind_99_is_kept(client: TestClient) -> None:
    odd = span("fit")
    odd.kind = 99  # type: ignore[assignment]  # an open enum on the wire
    body = traces_request(odd, resource={c.RUN_ID: "t2"}).SerializeToString()

    response = client.post(c.OTLP_TRACES_PATH, content=body, headers=PROTOBUF)

    assert 200 == response.status_code
    assert ["UNSPECIFIED"] == [
        s["kind"] for s in client.get("/api/v1/runs/t2/spans").json()["spans"]
    ]


@pytest.mark.timeout(60)  # before the fix: 129-144 s of CPU
def test_ten_megabytes_of_empty_gzip_members_is_a_fast_400(client: TestClient) -> None:
    member = gzip.compress(b"")
    body = member * (10_000_000 // len(member))

    response = client.post(
        c.OTLP_LOGS_PATH, content=body, headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )

    assert 400 == response.status_code
    assert "members" in status_pb2.Status.FromString(response.content).message


def test_a_few_gzip_members_are_still_accepted(client: TestClient) -> None:
    first, second = (
        logs_request(metric("m", float(i), step=i), resource={c.RUN_ID: "gz"}).SerializeToString()
        for i in (1, 2)
    )
    body = gzip.compress(first) + gzip.compress(b"") + gzip.compress(second)

    response = client.post(
        c.OTLP_LOGS_PATH, content=body, headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )

    assert 200 == response.status_code  # concatenated messages merge: both points are kept
    assert [1, 2] == client.get("/api/v1/runs/gz/metric", params={"name": "m"}).json()["steps"]


def test_a_batch_id_reused_for_other_content_is_409_and_nothing_is_kept(
    client: TestClient,
) -> None:
    def body(value: float) -> bytes:
        resource = {c.RUN_ID: "b1", c.BATCH_ID: "batch-7"}
        return logs_request(metric("m", value, step=1), resource=resource).SerializeToString()

    first = client.post(c.OTLP_LOGS_PATH, content=body(1.0), headers=PROTOBUF)
    replay = client.post(c.OTLP_LOGS_PATH, content=body(1.0), headers=PROTOBUF)
    reused = client.post(c.OTLP_LOGS_PATH, content=body(2.0), headers=PROTOBUF)

    assert [200, 200, 409] == [first.status_code, replay.status_code, reused.status_code]
    assert "already used" in status_pb2.Status.FromString(reused.content).message
    assert [1.0] == client.get("/api/v1/runs/b1/metric", params={"name": "m"}).json()["values"]


# --- MLflow ---------------------------------------------------------------------------------------


def test_mlflow_json_nested_deeply_is_400(client: TestClient) -> None:
    body = b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    response = client.post("/api/2.0/mlflow/experiments/create", content=body, headers=JSON)

    assert (400, "MALFORMED_REQUEST") == (response.status_code, response.json()["error_code"])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("experiments/create", {"name": "\ud800"}),
        ("experiments/search", {"filter": "name = '\udfff'"}),
        ("runs/search", {"experiment_ids": ["0"], "filter": "tags.x = '\ud800'"}),
    ],
)
def test_a_lone_surrogate_in_mlflow_json_is_400(
    client: TestClient, path: str, body: dict[str, object]
) -> None:
    content = json.dumps(body).encode()  # "\\ud800": valid JSON, no valid text

    response = client.post(f"/api/2.0/mlflow/{path}", content=content, headers=JSON)

    assert 400 == response.status_code
    assert "lone surrogate" in response.json()["message"]


def test_a_store_refusal_caused_by_the_input_is_400_not_a_retried_503(client: TestClient) -> None:
    body = {"experiment_id": "0", "start_time": 2**62}  # ms: past int64 as ns

    response = client.post("/api/2.0/mlflow/runs/create", json=body)

    assert 400 == response.status_code, response.text
    assert "do not retry" in response.json()["message"]


# --- query API ------------------------------------------------------------------------------------


def test_after_seq_past_int64_is_400(client: TestClient) -> None:
    response = client.get("/api/v1/runs/r1/logs", params={"after_seq": 2**63})

    assert 400 == response.status_code


@pytest.mark.parametrize("offset", [2**63, 2**64, True])
def test_page_tokens_past_int64_are_400(client: TestClient, offset: object) -> None:
    token = base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()

    query = client.get("/api/v1/runs", params={"page_token": token})
    mlflow = client.post("/api/2.0/mlflow/runs/search", json={"page_token": token})

    assert (400, 400) == (query.status_code, mlflow.status_code)


@pytest.mark.parametrize(
    "text",
    [
        "attributes.start_time > 99999999999999999999",
        "attributes.end_time < -99999999999999999999",
        "metrics.m IN (1, 99999999999999999999)",
    ],
)
def test_numbers_past_int64_in_filters_still_compare(client: TestClient, text: str) -> None:
    query = client.get("/api/v1/runs", params={"filter": text})
    mlflow = client.post("/api/2.0/mlflow/runs/search", json={"filter": text})

    assert (200, 200) == (query.status_code, mlflow.status_code), query.text + mlflow.text


# --- tokens ---------------------------------------------------------------------------------------


def test_a_non_ascii_authorization_header_is_a_wrong_token(tmp_path: Path) -> None:
    for guarded in make_client(tmp_path, token="s3cret"):
        headers = {"Authorization": "Bearer sécret".encode("latin-1")}
        assert 401 == guarded.get("/api/v1/runs", headers=headers).status_code  # type: ignore[arg-type]  # raw bytes
        utf8 = {"Authorization": "Bearer sécret".encode()}
        assert 401 == guarded.get("/api/v1/runs", headers=utf8).status_code  # type: ignore[arg-type]  # raw bytes


def test_a_non_ascii_token_works_when_sent_as_utf8(tmp_path: Path) -> None:
    for guarded in make_client(tmp_path, token="sécret"):
        headers = {"Authorization": "Bearer sécret".encode()}
        assert 200 == guarded.get("/api/v1/runs", headers=headers).status_code  # type: ignore[arg-type]  # raw bytes


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
def test_the_api_docs_need_the_token(tmp_path: Path, path: str) -> None:
    for guarded in make_client(tmp_path, token="s3cret"):
        assert 401 == guarded.get(path).status_code
        assert 200 == guarded.get(path, headers={"Authorization": "Bearer s3cret"}).status_code


@pytest.mark.parametrize("token", ["   ", "\t\n", " s3cret", "s3cret\n"])
def test_a_token_of_or_around_whitespace_is_refused_at_start(token: str) -> None:
    with pytest.raises(ConfigError, match="whitespace"):
        Settings(host="0.0.0.0", token=token).check()
