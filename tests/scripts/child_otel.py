"""A child program that knows nothing of runlog: the OpenTelemetry Python SDK, configured
only by the standard environment (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_RESOURCE_ATTRIBUTES,
OTEL_EXPORTER_OTLP_PROTOCOL), logs ``runlog.metric`` events and one plain log line.

Started by child.sh; tests/test_otel_producers.py asserts on exactly these values.
"""

from __future__ import annotations

import os

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.resources import Resource


def exporter() -> LogRecordExporter:
    """The OTLP log exporter the environment asks for (the SDK default is gRPC)."""
    if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return OTLPLogExporter()
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (
        OTLPLogExporter as HttpLogExporter,
    )

    return HttpLogExporter()


def main() -> None:
    provider = LoggerProvider(resource=Resource.create(), shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter()))
    logger = provider.get_logger("child-program")
    for step, loss in enumerate([0.9, 0.6, 0.3]):
        point: dict[str, str | float] = {
            "runlog.metric.name": "child_loss",
            "runlog.metric.value": loss,
        }
        logger.emit(event_name="runlog.metric", attributes={**point, "runlog.metric.step": step})
    logger.emit(severity_number=SeverityNumber.INFO, severity_text="INFO", body="child done")
    provider.shutdown()  # flushes: the data is kept once this returns


if __name__ == "__main__":
    main()
