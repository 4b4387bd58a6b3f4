"""Log lines and spans through a real collector: the OTel Python SDK in, `Client` out."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import _otlp_json as otlp
import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from runlog import conventions as c
from runlog.client import Client
from runlog.exceptions import InvalidArgumentError, NotFoundError


def new_id() -> str:
    return f"logs-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(collector: Any) -> Iterator[Client]:
    with Client(collector.endpoint) as opened:
        yield opened


def emit_lines(endpoint: str, run_id: str, *lines: tuple[SeverityNumber, str, str]) -> None:
    """Log *lines* (severity, text, body) with the OTel SDK's own logs pipeline."""
    resource = Resource.create({c.RUN_ID: run_id, c.EXPERIMENT: "logs"})
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    exporter = OTLPLogExporter(endpoint=f"{endpoint}{c.OTLP_LOGS_PATH}")
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("trainer")
    for severity, text, body in lines:
        logger.emit(severity_number=severity, severity_text=text, body=body)
    provider.shutdown()


def test_lines_logged_with_the_otel_sdk_come_back_in_order(collector: Any, client: Client) -> None:
    run_id = new_id()
    emit_lines(
        collector.endpoint,
        run_id,
        (SeverityNumber.INFO, "INFO", "epoch 1"),
        (SeverityNumber.WARN, "WARNING", "slow"),
        (SeverityNumber.ERROR, "", "diverged"),
    )

    lines = client.get_logs(run_id)

    assert [
        (1, "INFO", "trainer", "epoch 1"),
        (2, "WARNING", "trainer", "slow"),
        (3, "ERROR", "trainer", "diverged"),
    ] == [(ln["seq"], ln["level"], ln["logger"], ln["message"]) for ln in lines]
    assert [9, 13, 17] == [ln["level_number"] for ln in lines]


def test_get_logs_pages_and_filters(collector: Any, client: Client) -> None:
    run_id = new_id()
    emit_lines(
        collector.endpoint,
        run_id,
        *((SeverityNumber.DEBUG if i % 2 else SeverityNumber.INFO, "", f"m{i}") for i in range(6)),
    )

    assert ["m2", "m3"] == [ln["message"] for ln in client.get_logs(run_id, after_seq=2, limit=2)]
    assert ["m0", "m2", "m4"] == [ln["message"] for ln in client.get_logs(run_id, level="info")]


def test_iter_logs_follows_all_pages(collector: Any, client: Client) -> None:
    run_id = new_id()
    emit_lines(collector.endpoint, run_id, *((SeverityNumber.INFO, "", f"m{i}") for i in range(7)))
    client.page_size = 3

    assert [f"m{i}" for i in range(7)] == [ln["message"] for ln in client.iter_logs(run_id)]


def test_iter_logs_with_follow_waits_for_lines_until_the_run_ends(
    collector: Any, client: Client
) -> None:
    run_id = new_id()
    otlp.send(collector.endpoint, run_id, "logs", [otlp.record(c.EVENT_RUN_START, {})])

    def produce() -> None:
        time.sleep(0.3)
        emit_lines(collector.endpoint, run_id, (SeverityNumber.INFO, "", "late line"))
        otlp.send(collector.endpoint, run_id, "logs", [otlp.end()])

    producer = threading.Thread(target=produce)
    producer.start()
    lines = list(client.iter_logs(run_id, follow=True, poll_interval=0.05))
    producer.join()

    assert ["late line"] == [ln["message"] for ln in lines]


def test_unknown_runs_and_bad_levels_are_errors(collector: Any, client: Client) -> None:
    run_id = new_id()
    emit_lines(collector.endpoint, run_id, (SeverityNumber.INFO, "", "x"))

    with pytest.raises(NotFoundError):
        client.get_logs("no-such-run")
    with pytest.raises(NotFoundError):
        client.get_spans("no-such-run")
    with pytest.raises(InvalidArgumentError, match="unknown level"):
        client.get_logs(run_id, level="LOUD")


def test_spans_of_a_run_come_back_as_its_timeline(collector: Any, client: Client) -> None:
    run_id = new_id()
    provider = TracerProvider(resource=Resource.create({c.RUN_ID: run_id}), shutdown_on_exit=False)
    exporter = OTLPSpanExporter(endpoint=f"{collector.endpoint}{c.OTLP_TRACES_PATH}")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("trainer")
    with tracer.start_as_current_span("fit", attributes={"epochs": 2}) as fit:
        for epoch in range(2):
            with tracer.start_as_current_span("epoch", attributes={"epoch": epoch}):
                pass
        fit.set_status(Status(StatusCode.ERROR, "diverged"))
    provider.shutdown()

    spans = client.get_spans(run_id)

    assert ["fit", "epoch", "epoch"] == [s["name"] for s in spans]
    fit_id = format(fit.get_span_context().span_id, "016x")
    assert [None, fit_id, fit_id] == [s["parent_span_id"] for s in spans]
    assert ("ERROR", "diverged", {"epochs": 2}) == (
        spans[0]["status_code"],
        spans[0]["status_message"],
        spans[0]["attributes"],
    )
    assert all(s["start_ns"] <= s["end_ns"] for s in spans)
