"""The query API's log lines and spans, in-process: OTLP in, `/logs` and `/spans` out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_client import PROTOBUF, make_client
from fastapi.testclient import TestClient
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from otlp_builders import any_value, kvs, logs_request, span, traces_request

from runlog import conventions as c


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from make_client(tmp_path)


def record(message: str, severity: int = 9, text: str = "INFO", **attributes: Any) -> LogRecord:
    out = LogRecord(time_unix_nano=1_700_000_000_000_000_000, severity_text=text)
    out.severity_number = severity  # type: ignore[assignment]  # protobuf enum takes an int
    out.body.CopyFrom(any_value(message))
    out.attributes.extend(kvs(attributes))
    return out


def post_logs(client: TestClient, *records: LogRecord, run_id: str = "r1") -> None:
    request = logs_request(*records, resource={c.RUN_ID: run_id})
    request.resource_logs[0].scope_logs[0].scope.name = "train"
    response = client.post("/v1/logs", content=request.SerializeToString(), headers=PROTOBUF)
    assert 200 == response.status_code, response.text


def get_logs(client: TestClient, run_id: str = "r1", **params: Any) -> Any:
    response = client.get(f"/api/v1/runs/{run_id}/logs", params=params)
    assert 200 == response.status_code, response.text
    return response.json()


def test_log_lines_come_back_with_every_field(client: TestClient) -> None:
    post_logs(client, record("boom", 17, "ERROR", **{"exception.type": "ValueError"}))

    assert {
        "lines": [
            {
                "seq": 1,
                "time_ns": 1_700_000_000_000_000_000,
                "level_number": 17,
                "level": "ERROR",
                "logger": "train",
                "message": "boom",
                "exception": "ValueError",
                "stream": None,
            }
        ],
        "next_seq": 1,
    } == get_logs(client)


def test_paging_with_after_seq_and_limit(client: TestClient) -> None:
    post_logs(client, *(record(f"m{i}") for i in range(5)))

    first = get_logs(client, limit=2)
    second = get_logs(client, after_seq=first["next_seq"], limit=2)
    rest = get_logs(client, after_seq=second["next_seq"])
    done = get_logs(client, after_seq=rest["next_seq"])

    pages = [[line["message"] for line in page["lines"]] for page in (first, second, rest, done)]
    assert [["m0", "m1"], ["m2", "m3"], ["m4"], []] == pages
    assert 5 == done["next_seq"]


@pytest.mark.parametrize(
    ("level", "expected"),
    [("INFO", ["i", "w", "e"]), ("warning", ["w", "e"]), ("Error", ["e"]), ("FATAL", [])],
)
def test_the_level_parameter_filters(client: TestClient, level: str, expected: list[str]) -> None:
    post_logs(client, record("d", 5, "DEBUG"), record("i"), record("w", 13, "WARN"))
    post_logs(client, record("e", 17, "ERROR"))

    assert expected == [line["message"] for line in get_logs(client, level=level)["lines"]]


@pytest.mark.parametrize(
    ("params", "needle"),
    [({"level": "LOUD"}, "unknown level"), ({"limit": 0}, "limit"), ({"after_seq": -1}, "seq")],
)
def test_bad_parameters_get_400(client: TestClient, params: dict[str, Any], needle: str) -> None:
    post_logs(client, record("x"))

    response = client.get("/api/v1/runs/r1/logs", params=params)

    assert 400 == response.status_code
    assert needle in response.json()["error"]["message"]


@pytest.mark.parametrize("what", ["logs", "spans"])
def test_an_unknown_run_gets_404(client: TestClient, what: str) -> None:
    response = client.get(f"/api/v1/runs/nope/{what}")

    assert (404, "NOT_FOUND") == (response.status_code, response.json()["error"]["code"])


def test_a_run_without_lines_has_an_empty_page(client: TestClient) -> None:
    post_logs(client, record("elsewhere"), run_id="other")

    assert {"lines": [], "next_seq": 0} == get_logs(client, "other", after_seq=0, level="ERROR")


def test_spans_are_listed_by_start(client: TestClient) -> None:
    late = span("late", attributes={"epoch": 2})
    late.span_id, late.start_time_unix_nano, late.end_time_unix_nano = b"\x02" * 8, 30, 40
    request = traces_request(late, span("early", error="bad"), resource={c.RUN_ID: "r1"})
    response = client.post("/v1/traces", content=request.SerializeToString(), headers=PROTOBUF)
    assert 200 == response.status_code

    spans = client.get("/api/v1/runs/r1/spans").json()["spans"]

    fields = ("name", "start_ns", "end_ns", "status_code", "status_message", "attributes")
    assert [
        ("early", 10, 20, "ERROR", "bad", {}),
        ("late", 30, 40, "UNSET", "", {"epoch": 2}),
    ] == [tuple(s[f] for f in fields) for s in spans]
    assert {bytes(range(16)).hex()} == {s["trace_id"] for s in spans}


def test_the_openapi_schema_names_the_new_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert {"/api/v1/runs/{run_id}/logs", "/api/v1/runs/{run_id}/spans"} <= set(paths)
