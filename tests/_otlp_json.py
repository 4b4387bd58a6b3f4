"""Build OTLP/JSON log requests in runlog's event shapes, as any OTel producer could send them.

The client and CLI tests use these to put known data into a real collector without going
through runlog's own Run API, so they exercise only the query side.
"""

from __future__ import annotations

import base64
import math
import struct
import time
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from runlog import conventions as c


def any_value(value: Any) -> dict[str, Any]:
    """An OTLP AnyValue in proto-JSON form."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"doubleValue": "NaN"}
        if math.isinf(value):
            return {"doubleValue": "Infinity" if value > 0 else "-Infinity"}
        return {"doubleValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    return {"stringValue": str(value)}


def _attrs(pairs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in pairs.items() if v is not None]


def record(event: str, attrs: dict[str, Any], time_ns: int | None = None) -> dict[str, Any]:
    """One log record carrying a runlog event."""
    return {
        "timeUnixNano": str(time_ns or time.time_ns()),
        "eventName": event,
        "attributes": _attrs(attrs),
    }


def point(
    name: str,
    value: Any,
    step: int | None = None,
    kind: str | None = None,
    column: str | None = None,
) -> dict[str, Any]:
    """One metric point (the shape any OTel client can send)."""
    return record(
        c.EVENT_METRIC,
        {
            c.METRIC_NAME: name,
            c.METRIC_VALUE: value,
            c.METRIC_STEP: step,
            c.METRIC_KIND: kind,
            c.METRIC_COLUMN: column,
        },
    )


def packed_f8(
    name: str, values: Sequence[float], start_ns: int = 1_700_000_000_000_000_000
) -> dict[str, Any]:
    """Many float points of one scalar metric in one packed record."""
    n = len(values)
    return record(
        c.EVENT_METRIC_PACKED,
        {
            c.METRIC_NAME: name,
            c.METRIC_DTYPE: c.DTYPE_FLOAT,
            c.METRIC_STEPS: struct.pack(f"<{n}q", *range(n)),
            c.METRIC_TIMESTAMPS: struct.pack(f"<{n}q", *(start_ns + i for i in range(n))),
            c.METRIC_VALUES: struct.pack(f"<{n}d", *values),
        },
    )


def key_value(event: str, key: str, value: str) -> dict[str, Any]:
    """A tag, param or property event."""
    return record(event, {c.KEY: key, c.VALUE: value})


def end(status: str = c.STATUS_COMPLETED) -> dict[str, Any]:
    """The run's end event."""
    return record(c.EVENT_RUN_END, {c.STATUS: status})


def request(
    run_id: str, experiment: str, records: Iterable[dict[str, Any]], name: str | None = None
) -> dict[str, Any]:
    """An ExportLogsServiceRequest for one run."""
    resource = _attrs({c.RUN_ID: run_id, c.EXPERIMENT: experiment, c.RUN_NAME: name})
    return {
        "resourceLogs": [
            {"resource": {"attributes": resource}, "scopeLogs": [{"logRecords": list(records)}]}
        ]
    }


def send(
    endpoint: str,
    run_id: str,
    experiment: str,
    records: Iterable[dict[str, Any]],
    name: str | None = None,
) -> None:
    """POST one run's records to the collector; fail the test if any record was rejected."""
    response = httpx.post(
        f"{endpoint}{c.OTLP_LOGS_PATH}", json=request(run_id, experiment, records, name), timeout=30
    )
    response.raise_for_status()
    partial = response.json().get("partialSuccess") or response.json().get("partial_success")
    if partial and int(
        partial.get("rejectedLogRecords", partial.get("rejected_log_records", 0)) or 0
    ):
        raise AssertionError(f"collector rejected records: {partial}")
