"""`runlog logs` and `runlog spans` against a real collector."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import _otlp_json as otlp
import httpx
import pytest
from click.testing import CliRunner, Result
from opentelemetry._logs import SeverityNumber
from test_client_logs import emit_lines

from runlog import conventions as c
from runlog._cli_render import log_line_text
from runlog.cli import cli

T0 = 1_700_000_000_123_000_000


def invoke(*args: str, endpoint: str) -> Result:
    env = {c.ENV_ENDPOINT: endpoint, c.ENV_TOKEN: None}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def clock(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9).strftime("%H:%M:%S.%f")[:-3]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            {"time_ns": T0, "level": "INFO", "logger": "app", "message": "hi"},
            f"{clock(T0)} INFO  app: hi",
        ),
        (
            {"time_ns": T0, "level": "", "logger": "", "stream": "stdout", "message": "out"},
            f"{clock(T0)} -     stdout: out",
        ),
        (
            {
                "time_ns": T0,
                "level": "ERROR",
                "logger": "a",
                "message": "m",
                "exception": "T\nE",
            },
            f"{clock(T0)} ERROR a: m\n    T\n    E",
        ),
    ],
    ids=["plain", "stream", "exception"],
)
def test_a_log_line_prints_as_time_level_logger_message(
    line: dict[str, Any], expected: str
) -> None:
    assert expected == log_line_text(line)


def test_logs_prints_every_line_and_follow_stops_when_the_run_has_ended(collector: Any) -> None:
    run_id = f"cli-logs-{uuid.uuid4().hex[:8]}"
    emit_lines(
        collector.endpoint,
        run_id,
        (SeverityNumber.INFO, "INFO", "first"),
        (SeverityNumber.ERROR, "ERROR", "second"),
    )
    otlp.send(collector.endpoint, run_id, "logs", [otlp.end()])

    plain = invoke("logs", run_id, endpoint=collector.endpoint)
    followed = invoke("logs", run_id, "-f", "--level", "ERROR", endpoint=collector.endpoint)
    as_json = invoke("logs", run_id, "--json", endpoint=collector.endpoint)

    assert 0 == plain.exit_code, plain.output
    assert ["INFO  trainer: first", "ERROR trainer: second"] == [
        row.split(" ", 1)[1] for row in plain.output.splitlines()
    ]
    assert (0, 1) == (followed.exit_code, len(followed.output.splitlines()))
    assert ["first", "second"] == [json.loads(r)["message"] for r in as_json.output.splitlines()]


def test_logs_of_an_unknown_run_fails_with_exit_code_1(collector: Any) -> None:
    result = invoke("logs", "no-such-run", endpoint=collector.endpoint)

    assert 1 == result.exit_code
    assert "does not exist" in result.output


def test_spans_prints_the_timeline(collector: Any) -> None:
    trace_id = uuid.uuid4().hex
    run_id = f"cli-spans-{trace_id[:8]}"
    request = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": c.RUN_ID, "value": {"stringValue": run_id}}]},
                "scopeSpans": [{"spans": [_span(trace_id, "01" * 8, None, "fit", 0, 2_500)]}],
            }
        ]
    }
    request["resourceSpans"][0]["scopeSpans"][0]["spans"].append(
        _span(trace_id, "02" * 8, "01" * 8, "epoch", 100, 1_100)
    )
    assert 200 == httpx.post(f"{collector.endpoint}/v1/traces", json=request).status_code

    table = invoke("spans", run_id, endpoint=collector.endpoint)
    as_json = invoke("spans", run_id, "--json", endpoint=collector.endpoint)

    assert 0 == table.exit_code, table.output
    rows = [
        [cell for cell in row.split() if cell != "│"]
        for row in table.output.splitlines()
        if "fit" in row or "epoch" in row
    ]
    assert [["fit", "2.50s", "UNSET"], ["epoch", "1.00s", "UNSET"]] == [
        [row[0], row[-2], row[-1]] for row in rows
    ]
    assert ["fit", "epoch"] == [s["name"] for s in json.loads(as_json.output)]


def _span(
    trace_id: str, span_id: str, parent: str | None, name: str, start_ms: int, end_ms: int
) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "startTimeUnixNano": str(T0 + start_ms * 1_000_000),
        "endTimeUnixNano": str(T0 + end_ms * 1_000_000),
    }
    if parent:
        span["parentSpanId"] = parent
    return span
