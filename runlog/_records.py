"""What the exporter packs: runs, metric segments, events and log lines (no protobuf here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RunKey:
    """Which run a record belongs to: becomes the resource of its `ResourceLogs`."""

    run_id: str
    experiment: str
    parent_id: str | None = None
    name: str | None = None


@dataclass(slots=True)
class Segment:
    """Consecutive points of one metric column with one dtype."""

    run: RunKey
    name: str
    column: str
    kind: str
    dtype: str
    steps: list[int] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Event:
    """One lifecycle/tag/param/property event."""

    run: RunKey
    event_name: str
    time_ns: int
    attributes: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log line: a plain OTel log record in the scope named after its logger."""

    run: RunKey
    time_ns: int
    severity_number: int
    severity_text: str
    scope: str
    message: str
    #: ``(type, message, stacktrace)`` of an exception; empty strings are left out.
    exception: tuple[str, str, str] | None = None
    #: ``"stdout"`` or ``"stderr"`` for a captured output line (``log.iostream``), else None.
    stream: str | None = None
