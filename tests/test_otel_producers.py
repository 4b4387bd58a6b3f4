"""Independent OpenTelemetry producers land in runlog runs (issue 3, acceptance).

Nothing here uses runlog's own client to send: the JavaScript OTel SDK from npm (OTLP/HTTP
with chunked JSON bodies and hex ids), a shell script that starts an env-configured Python
OTel program, and the Python OTel SDK's metrics and traces through both OTLP exporters.
Everything goes to the real collector process; assertions read back what it stored through
the query API (`runlog.client.Client`). The values asserted are the ones the producers in
``tests/otel_js/emit.mjs`` and ``tests/scripts/child_otel.py`` emit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Status, StatusCode

import runlog
from runlog import conventions as c
from runlog.client import Client

TESTS = Path(__file__).resolve().parent
OTEL_JS = TESTS / "otel_js"
CHILD_SH = TESTS / "scripts" / "child.sh"
NODE_TIMEOUT_S = 60
NPM_CI_TIMEOUT_S = 300

pytestmark = pytest.mark.usefixtures("client_env")


@pytest.fixture
def client(collector: Any) -> Iterator[Client]:
    with Client(collector.endpoint) as query:
        yield query


@pytest.fixture
def parent_run(collector: Any) -> Iterator[runlog.Run]:
    """A runlog run that outside producers join through its `otel_environment()`."""
    run = runlog.Experiment(runlog.Workspace(collector.endpoint), "otel-producers").start_logging()
    yield run
    run.complete()


def _inherited_env() -> dict[str, str]:
    """This process's environment without runlog or OTel settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("RUNLOG_", "OTEL_"))}


def _child_env(run: runlog.Run, **extra: str) -> dict[str, str]:
    """The environment of a child process that joins *run*."""
    return {**_inherited_env(), **run.otel_environment(), **extra}


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- the JavaScript OTel SDK (npm) -------------------------------------------------------------


@pytest.fixture(scope="session")
def otel_js() -> Path:
    """tests/otel_js with its locked node_modules installed (`npm ci`, once per session)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not on PATH: the JavaScript OTel producer cannot run")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=OTEL_JS,
        capture_output=True,
        text=True,
        timeout=NPM_CI_TIMEOUT_S,
    )
    assert 0 == done.returncode, f"npm ci failed in {OTEL_JS}:\n{done.stdout}\n{done.stderr}"
    return OTEL_JS


def _emit_js(otel_js: Path, env: dict[str, str]) -> str:
    """Run `node emit.mjs` with *env*; return the trace id (hex) it printed."""
    done = subprocess.run(
        ["node", "emit.mjs"],
        cwd=otel_js,
        env=env,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    assert 0 == done.returncode, f"node emit.mjs failed:\n{done.stdout}\n{done.stderr}"
    return str(json.loads(done.stdout.splitlines()[-1])["trace_id"])


@pytest.fixture
def js_run(otel_js: Path, parent_run: runlog.Run) -> runlog.Run:
    """The parent run after `node emit.mjs` ran with its OTel environment."""
    _emit_js(otel_js, _child_env(parent_run))
    return parent_run


def test_js_sdk_metric_events_become_the_runs_metrics(js_run: runlog.Run, client: Client) -> None:
    assert {
        "js_loss": [0.5, 0.25, 0.125],
        "js_epochs": 3,
        "js_phase": ["warmup", "train"],
    } == client.get_metrics(js_run.id)
    loss = client.get_metric(js_run.id, "js_loss")
    assert ([0, 1, 2], "f8") == (loss.steps, loss.dtype)
    epochs = client.get_metric(js_run.id, "js_epochs")
    assert ([0], "i8") == (epochs.steps, epochs.dtype)  # no step sent: last step + 1 of none
    phase = client.get_metric(js_run.id, "js_phase")
    assert ([0, 1], "str") == (phase.steps, phase.dtype)


def test_js_sdk_joins_the_parent_run_and_sets_a_tag(js_run: runlog.Run, client: Client) -> None:
    run = client.get_run(js_run.id)
    assert ("otel-producers", "Running") == (run["experiment"], run["status"])
    assert "otel-js" == run["tags"].get("producer")


def test_js_sdk_log_records_become_log_lines_in_order(js_run: runlog.Run, client: Client) -> None:
    lines = client.get_logs(js_run.id)
    assert [
        ("INFO", "js: training started", "otel-js-producer"),
        ("WARN", "js: learning rate is high", "otel-js-producer"),
        ("ERROR", "js: batch 7 skipped", "otel-js-producer"),
    ] == [(line["level"], line["message"], line["logger"]) for line in lines]
    assert [1, 2, 3] == [line["seq"] for line in lines]
    assert all(line["time_ns"] > 0 for line in lines)


def test_js_sdk_spans_become_the_runs_timeline(js_run: runlog.Run, client: Client) -> None:
    spans = {span["name"]: span for span in client.get_spans(js_run.id)}
    assert {"js-train", "js-epoch"} == set(spans)
    root, child = spans["js-train"], spans["js-epoch"]
    assert root["trace_id"] == child["trace_id"]
    assert 32 == len(root["trace_id"])
    assert root["span_id"] == child["parent_span_id"]
    assert not root["parent_span_id"]
    assert {"js.epochs": 3} == _attributes(root)
    assert "OK" == root["status_code"]
    # The JS SDK times spans on an anchored performance.now() clock, which can put a
    # child's end a fraction of a millisecond past its parent's: allow 5 ms of drift.
    drift = 5_000_000
    assert root["start_ns"] <= root["end_ns"]
    assert child["start_ns"] <= child["end_ns"]
    assert root["start_ns"] - drift <= child["start_ns"]
    assert child["end_ns"] <= root["end_ns"] + drift


def test_js_trace_without_run_id_becomes_a_run_named_by_its_hex_trace_id(
    otel_js: Path, client: Client
) -> None:
    env = {
        **_inherited_env(),
        "OTEL_EXPORTER_OTLP_ENDPOINT": client.endpoint,
        "OTEL_RESOURCE_ATTRIBUTES": "service.name=svc-js",
    }
    trace_id = _emit_js(otel_js, env)
    run = client.get_run(trace_id)  # the JSON body's hex id, decoded as hex
    assert ("svc-js", "Completed") == (run["experiment"], run["status"])


def _attributes(span: dict[str, Any]) -> Any:
    """A span's attributes, whether the API returns them as an object or a JSON string."""
    attributes = span["attributes"]
    return json.loads(attributes) if isinstance(attributes, str) else attributes


# --- a shell script starting an env-configured child program -----------------------------------


def test_shell_script_child_logs_into_the_parent_run(
    parent_run: runlog.Run, client: Client
) -> None:
    env = _child_env(parent_run, PYTHON=sys.executable)
    assert "http/protobuf" == env["OTEL_EXPORTER_OTLP_PROTOCOL"]
    done = subprocess.run(
        ["bash", str(CHILD_SH)], env=env, capture_output=True, text=True, timeout=60
    )
    assert 0 == done.returncode, f"child.sh failed:\n{done.stdout}\n{done.stderr}"
    assert {"child_loss": [0.9, 0.6, 0.3]} == client.get_metrics(parent_run.id)
    assert [0, 1, 2] == client.get_metric(parent_run.id, "child_loss").steps
    assert [("INFO", "child done", "child-program")] == [
        (line["level"], line["message"], line["logger"]) for line in client.get_logs(parent_run.id)
    ]


# --- the Python OTel SDK: metrics and traces through both OTLP exporters -----------------------


def _http_metric_exporter(collector: Any) -> MetricExporter:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(endpoint=collector.endpoint + c.OTLP_METRICS_PATH)


def _grpc_metric_exporter(collector: Any) -> MetricExporter:
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(endpoint=collector.grpc_endpoint, insecure=True)


def _http_span_exporter(collector: Any) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=collector.endpoint + c.OTLP_TRACES_PATH)


def _grpc_span_exporter(collector: Any) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=collector.grpc_endpoint, insecure=True)


SPAN_EXPORTERS = pytest.mark.parametrize(
    "span_exporter", [_http_span_exporter, _grpc_span_exporter], ids=["http", "grpc"]
)


def _meter_provider(exporter: MetricExporter, run_id: str) -> MeterProvider:
    # A long interval: exports happen exactly at force_flush() and shutdown().
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({c.RUN_ID: run_id, c.EXPERIMENT: "otel-metrics"})
    return MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)


@pytest.fixture(params=[_http_metric_exporter, _grpc_metric_exporter], ids=["http", "grpc"])
def otel_metrics_run(request: pytest.FixtureRequest, collector: Any) -> str:
    """A run fed only by the OTel metrics API: a counter, a gauge and a histogram, two exports.

    Returns:
        The run id (on the resource as ``runlog.run.id``).
    """
    run_id = _unique("otel-metrics")
    provider = _meter_provider(request.param(collector), run_id)
    meter = provider.get_meter("trainer")
    samples = meter.create_counter("samples")
    temperature = meter.create_gauge("temperature")
    latency = meter.create_histogram("latency", explicit_bucket_boundaries_advisory=[1, 10, 100])

    samples.add(2, {"device": "cpu"})
    temperature.set(0.5)
    latency.record(0.5)
    latency.record(5)
    assert provider.force_flush()  # export 1
    samples.add(3, {"device": "cpu"})
    temperature.set(0.75)
    latency.record(50)
    latency.record(500)
    provider.shutdown()  # export 2
    return run_id


def test_otel_counter_and_gauge_become_run_vectors(otel_metrics_run: str, client: Client) -> None:
    run = client.get_run(otel_metrics_run)
    assert ("otel-metrics", "Running") == (run["experiment"], run["status"])
    counter = client.get_metric(otel_metrics_run, "samples", column="device=cpu")
    assert ([2, 5], [0, 1]) == (counter.values, counter.steps)  # cumulative sums
    gauge = client.get_metric(otel_metrics_run, "temperature")
    assert ([0.5, 0.75], [0, 1]) == (gauge.values, gauge.steps)
    assert 0 < gauge.timestamps[0] <= gauge.timestamps[1]


def test_otel_histogram_keeps_count_sum_and_buckets(otel_metrics_run: str, client: Client) -> None:
    assert {
        "count": [2, 4],
        "sum": [5.5, 555.5],
        "min": [0.5, 0.5],
        "max": [5, 500],
        "buckets": [
            {"bounds": [1, 10, 100], "counts": [1, 1, 0, 0]},
            {"bounds": [1, 10, 100], "counts": [1, 1, 1, 1]},
        ],
    } == _histogram(client, otel_metrics_run, "latency")


def _histogram(client: Client, run_id: str, name: str) -> dict[str, list[Any]]:
    """A histogram metric's columns; the buckets column decoded from its JSON strings."""
    kinds = {s["column"]: s["kind"] for s in client.list_metrics(run_id) if s["name"] == name}
    assert dict.fromkeys(["count", "sum", "min", "max", "buckets"], "histogram") == kinds
    columns = {column: client.get_metric(run_id, name, column).values for column in kinds}
    columns["buckets"] = [json.loads(value) for value in columns["buckets"]]
    return columns


def _tracer_provider(exporter: SpanExporter, resource: dict[str, str]) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create(resource), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@SPAN_EXPORTERS
def test_spans_with_a_run_id_become_its_timeline(
    collector: Any, client: Client, span_exporter: Callable[[Any], SpanExporter]
) -> None:
    run_id = _unique("otel-spans")
    provider = _tracer_provider(span_exporter(collector), {c.RUN_ID: run_id})
    tracer = provider.get_tracer("trainer")
    with tracer.start_as_current_span("fit", attributes={"model": "ridge"}) as fit:
        for epoch in range(2):
            with tracer.start_as_current_span("epoch", attributes={"epoch": epoch}):
                pass
    provider.shutdown()

    spans = client.get_spans(run_id)
    assert ["epoch", "epoch", "fit"] == sorted(span["name"] for span in spans)
    trace_id = format(fit.get_span_context().trace_id, "032x")
    fit_id = format(fit.get_span_context().span_id, "016x")
    by_name = {span["name"]: span for span in spans}
    assert (trace_id, fit_id) == (by_name["fit"]["trace_id"], by_name["fit"]["span_id"])
    assert {"model": "ridge"} == _attributes(by_name["fit"])
    epochs = sorted((s for s in spans if s["name"] == "epoch"), key=lambda s: s["start_ns"])
    assert [{"epoch": 0}, {"epoch": 1}] == [_attributes(s) for s in epochs]
    assert [fit_id, fit_id] == [s["parent_span_id"] for s in epochs]
    for span in spans:
        assert span["start_ns"] <= span["end_ns"]


@SPAN_EXPORTERS
@pytest.mark.parametrize(
    ("status", "expected"),
    [(Status(StatusCode.OK), "Completed"), (Status(StatusCode.ERROR, "diverged"), "Failed")],
    ids=["ok", "error"],
)
def test_a_trace_without_run_id_becomes_a_run_of_its_service(
    collector: Any,
    client: Client,
    span_exporter: Callable[[Any], SpanExporter],
    status: Status,
    expected: str,
) -> None:
    provider = _tracer_provider(span_exporter(collector), {"service.name": "svc-x"})
    tracer = provider.get_tracer("svc")
    with tracer.start_as_current_span("handle", record_exception=False) as root:
        with tracer.start_as_current_span("step"):
            pass
        root.set_status(status)
    provider.shutdown()

    run_id = format(root.get_span_context().trace_id, "032x")
    run = client.get_run(run_id)
    assert ("svc-x", expected) == (run["experiment"], run["status"])
    assert run["end_ns"] is not None
    if expected == "Failed":
        assert "diverged" in (run["error"] or "")
