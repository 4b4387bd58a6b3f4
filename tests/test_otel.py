"""configure_otel: the OTel SDK's providers export to the collector as the run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from _run_logs import stored_lines

import runlog
from runlog.otel import resource_attributes

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytestmark = pytest.mark.usefixtures("client_env")


@pytest.fixture
def ws(collector: Any) -> runlog.Workspace:
    return runlog.Workspace(collector.endpoint)


@pytest.fixture
def otel_globals() -> Iterator[None]:
    """OTel lets a process set its global providers once; tests reset them (OTel's own
    test utilities do the same)."""
    from opentelemetry import _logs, metrics, trace
    from opentelemetry.util._once import Once

    def reset() -> None:
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        trace._TRACER_PROVIDER = None
        metrics._internal._METER_PROVIDER_SET_ONCE = Once()
        metrics._internal._METER_PROVIDER = None
        _logs._internal._LOGGER_PROVIDER_SET_ONCE = Once()
        _logs._internal._LOGGER_PROVIDER = None

    reset()
    yield
    import runlog.otel

    if runlog.otel._configured is not None:
        runlog.otel._configured.shutdown()
    reset()


def test_resource_names_the_run(ws: runlog.Workspace) -> None:
    with runlog.Experiment(ws, "otel-exp").start_logging(name="r1") as parent:
        child = parent.child_run()
        assert {
            "service.name": "otel-exp",
            "runlog.run.id": child.id,
            "runlog.experiment": "otel-exp",
            "runlog.run.parent_id": parent.id,
        } == resource_attributes(child)
        child.complete()


@pytest.mark.usefixtures("otel_globals")
def test_metrics_spans_and_logs_land_in_the_run(ws: runlog.Workspace) -> None:
    from opentelemetry import _logs, metrics, trace

    run = runlog.Experiment(ws, "otel").start_logging()
    providers = runlog.configure_otel(run, metric_interval_s=60)
    assert providers.tracer_provider is trace.get_tracer_provider()
    assert providers.meter_provider is metrics.get_meter_provider()
    assert providers.logger_provider is _logs.get_logger_provider()

    counter = metrics.get_meter("train").create_counter("samples")
    with trace.get_tracer("train").start_as_current_span("epoch"):
        counter.add(128)
        counter.add(64)
    _logs.get_logger("train.otel").emit(body="from the OTel logs API", severity_text="INFO")
    providers.force_flush()
    run.complete()

    assert 192 == run.get_metrics()["samples"]
    assert ["from the OTel logs API"] == [line["message"] for line in stored_lines(run)]
    assert ["epoch"] == [span["name"] for span in run.get_spans()]


@pytest.mark.usefixtures("otel_globals")
def test_second_call_warns_and_returns_the_same_providers(
    ws: runlog.Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    internal = logging.getLogger("runlog.internal")
    internal.addHandler(caplog.handler)
    try:
        with runlog.Experiment(ws, "otel").start_logging() as run:
            first = runlog.configure_otel(run, traces=False, logs=False)
            assert first is runlog.configure_otel()
    finally:
        internal.removeHandler(caplog.handler)
    assert first.tracer_provider is None
    assert [
        "configure_otel: OpenTelemetry is already configured for run %s; returning those providers"
    ] == [r.msg for r in caplog.records]
