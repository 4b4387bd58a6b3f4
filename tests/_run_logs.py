"""Reading a run's log lines back, and decoding what the client encoder puts on the wire."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

import runlog
from runlog._otlp_encode import encode
from runlog._packer import Packer


def stored_lines(run: runlog.Run) -> list[dict[str, Any]]:
    """Every log line of *run* as the collector's query API returns it, page by page."""
    run.flush()
    client = run.experiment.workspace.client()
    lines: list[dict[str, Any]] = []
    while True:
        page = client.get_logs(run.id, after_seq=lines[-1]["seq"] if lines else 0)
        if not page:
            return lines
        lines.extend(page)


def wire_lines(items: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Buffered items → packer → encoder → decoded plain log records (no event name)."""
    records, _ = Packer().pack(items)
    lines = []
    for body in encode(records):
        request = ExportLogsServiceRequest.FromString(body)
        for resource_logs in request.resource_logs:
            resource = {a.key: a.value.string_value for a in resource_logs.resource.attributes}
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    if record.event_name:
                        continue
                    lines.append(
                        {
                            "run_id": resource["runlog.run.id"],
                            "scope": scope_logs.scope.name,
                            "time_ns": record.time_unix_nano,
                            "severity_number": record.severity_number,
                            "severity_text": record.severity_text,
                            "body": record.body.string_value,
                            "attributes": {a.key: a.value.string_value for a in record.attributes},
                        }
                    )
    return lines
