"""`configure_otel`: point the OpenTelemetry SDK at the collector, as the current run.

For code that uses OTel's APIs directly (tracers, meters, the logs API) or libraries
instrumented with OTel: after ``runlog.configure_otel()``, their spans become the run's
timeline, their metrics become vectors of the run and their log records its log lines::

    run = runlog.start_run("demo")
    runlog.configure_otel(run)
    from opentelemetry import trace, metrics
    with trace.get_tracer("train").start_as_current_span("epoch"):
        metrics.get_meter("train").create_counter("samples").add(128)

Needs ``pip install 'runlog-ml[otel]'`` (opentelemetry-sdk and the OTLP/HTTP exporter); they
are imported only here, when called.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from runlog import conventions as c
from runlog._objects import Run, active_run

_log = logging.getLogger("runlog.internal")


@dataclass
class OtelProviders:
    """The SDK providers `configure_otel` set up (None where that signal was off)."""

    run_id: str
    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None

    def _each(self) -> list[Any]:
        providers = (self.tracer_provider, self.meter_provider, self.logger_provider)
        return [p for p in providers if p is not None]

    def force_flush(self, timeout_millis: int = 10_000) -> None:
        """Export everything buffered now."""
        for provider in self._each():
            provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Flush and stop the providers; `configure_otel` may then be called again."""
        global _configured
        for provider in self._each():
            provider.shutdown()
        if _configured is self:
            _configured = None


_configured: OtelProviders | None = None


def resource_attributes(run: Run) -> dict[str, str]:
    """The OTel resource of *run*: run id, experiment, parent and ``service.name``."""
    attributes = {
        "service.name": run.experiment.name,
        c.RUN_ID: run.id,
        c.EXPERIMENT: run.experiment.name,
    }
    if run.parent_id:
        attributes[c.PARENT_RUN_ID] = run.parent_id
    if run.name:
        attributes[c.RUN_NAME] = run.name
    return attributes


def configure_otel(
    run: Run | None = None,
    traces: bool = True,
    metrics: bool = True,
    logs: bool = True,
    metric_interval_s: float = 5,
) -> OtelProviders:
    """Set the OTel SDK's global providers to export to the run's collector (OTLP/HTTP).

    Args:
        run: The run whose resource the data carries; default `runlog.active_run`.
        traces: Set up a `TracerProvider` (batch span processor).
        metrics: Set up a `MeterProvider` exporting every *metric_interval_s* seconds.
        logs: Set up a `LoggerProvider` (batch log record processor) for the logs API.
        metric_interval_s: Seconds between metric exports.

    Returns:
        The providers. A second call warns and returns the first call's providers (OTel's
        global providers can be set only once per process); ``shutdown()`` them first to
        configure another run.

    Raises:
        ImportError: opentelemetry-sdk or the OTLP/HTTP exporter is not installed.
    """
    global _configured
    if _configured is not None:
        _log.warning(
            "configure_otel: OpenTelemetry is already configured for run %s; "
            "returning those providers",
            _configured.run_id,
        )
        return _configured
    if run is None:
        run = active_run()
    _configured = _build(run, traces, metrics, logs, metric_interval_s)
    return _configured


def _build(run: Run, traces: bool, metrics: bool, logs: bool, interval_s: float) -> OtelProviders:
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create(resource_attributes(run))
    workspace = run.experiment.workspace
    endpoint = workspace.endpoint
    headers = {"authorization": f"Bearer {workspace.token}"} if workspace.token else None
    providers = OtelProviders(run.id)
    if traces:
        providers.tracer_provider = _tracer_provider(resource, endpoint, headers)
    if metrics:
        providers.meter_provider = _meter_provider(resource, endpoint, headers, interval_s)
    if logs:
        providers.logger_provider = _logger_provider(resource, endpoint, headers)
    return providers


def _tracer_provider(resource: Any, endpoint: str, headers: dict[str, str] | None) -> Any:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=endpoint + c.OTLP_TRACES_PATH, headers=headers)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return _install(trace, "tracer", provider, trace.ProxyTracerProvider)


def _meter_provider(
    resource: Any, endpoint: str, headers: dict[str, str] | None, interval_s: float
) -> Any:
    from opentelemetry import metrics
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    exporter = OTLPMetricExporter(endpoint=endpoint + c.OTLP_METRICS_PATH, headers=headers)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval_s * 1000)
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    return _install(metrics, "meter", provider, metrics.NoOpMeterProvider)


def _logger_provider(resource: Any, endpoint: str, headers: dict[str, str] | None) -> Any:
    from opentelemetry import _logs
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = LoggerProvider(resource=resource)
    exporter = OTLPLogExporter(endpoint=endpoint + c.OTLP_LOGS_PATH, headers=headers)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    return _install(_logs, "logger", provider, _logs.NoOpLoggerProvider)


def _install(api: Any, kind: str, provider: Any, placeholder: type) -> Any:
    """Make *provider* the global *kind* provider of the OpenTelemetry *api* module (its
    ``get_<kind>_provider`` / ``set_<kind>_provider``) and return it; warn when another one
    is set already (OTel keeps the first one; *placeholder* is the type of none set)."""
    current = getattr(api, f"get_{kind}_provider")()
    if not isinstance(current, placeholder) and "Proxy" not in type(current).__name__:
        _log.warning(
            "configure_otel: a global %s provider is already set (%s); OpenTelemetry keeps "
            "it, so use the returned provider directly",
            kind,
            type(current).__name__,
        )
    getattr(api, f"set_{kind}_provider")(provider)
    return provider


__all__ = ["OtelProviders", "configure_otel", "resource_attributes"]
