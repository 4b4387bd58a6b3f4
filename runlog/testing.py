"""Test what your training code recorded, with no collector (as `structlog.testing` does).

>>> import runlog
>>> from runlog.testing import capture
>>> with capture() as recorded:
...     with runlog.start_run("demo", params={"alpha": 0.5}) as run:
...         run.log("loss", 0.3)
...         run.log("loss", 0.2)
>>> run = recorded.run()
>>> run.metrics["loss"], run.params, run.status
([0.3, 0.2], {'alpha': '0.5'}, 'Completed')

Inside `capture`, every run this process logs into (through `runlog.start_run`,
`Experiment.start_logging`, `Run.get_context`, the logging handler, autolog …) goes
through runlog's real buffer, packer and OTLP encoder, and its requests are delivered to a
`Recorder` in memory instead of a collector; `capture` flushes before it returns. What
travelled is decoded back into `CapturedRun` objects: metric values, params, tags,
properties, log lines, files and the status. Queries that ask a collector
(`run.get_metrics()` …) are not available here; read the `CapturedRun` instead.

`Recorder` is also a transport on its own: pass it as ``Workspace(transport=...)`` to
capture one workspace's runs (httpx-style injectable sender).
"""

from __future__ import annotations

import sys
import tempfile
import threading
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runlog import conventions as c
from runlog.spool import Spool, Upload

__all__ = ["CapturedRun", "Recorder", "capture"]


@dataclass
class CapturedRun:
    """What one run recorded, as it travelled.

    Attributes:
        run_id: The run id.
        experiment: The experiment's name.
        name: The display name, if any.
        parent_id: The parent run's id, if any.
        status: The last status sent (``Running`` until the run was finished).
        error: The error a failed run was ended with.
        metrics: Values per metric name (a row/table metric: ``{column: [values]}``).
        steps: Steps per metric name (scalar, list and image metrics).
        params: Hyperparameters.
        tags: Tags.
        properties: Properties.
        logs: Log lines: ``{"level", "logger", "message", "stream"}`` (stream is
            ``"stdout"``/``"stderr"`` for captured output, else None).
        files: File contents by run file path.
        events: Every other event's name, in order (heartbeats left out).
    """

    run_id: str
    experiment: str = c.DEFAULT_EXPERIMENT
    name: str | None = None
    parent_id: str | None = None
    status: str = c.STATUS_RUNNING
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, list[int]] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)


class Recorder:
    """A transport that keeps what the exporter delivers, decoded, in memory."""

    def __init__(self) -> None:
        self.runs: dict[str, CapturedRun] = {}
        self.requests = 0
        self._lock = threading.Lock()

    def run(self, run_id: str | None = None) -> CapturedRun:
        """The run *run_id*, or the only run recorded.

        Raises:
            LookupError: No such run, or several runs and no *run_id*.
        """
        if run_id is not None:
            if run_id not in self.runs:
                raise LookupError(f"no run {run_id!r} was recorded; recorded: {list(self.runs)}")
            return self.runs[run_id]
        if len(self.runs) != 1:
            raise LookupError(
                f"{len(self.runs)} runs were recorded ({list(self.runs)}); name one: run(run_id)"
            )
        return next(iter(self.runs.values()))

    # --- the transport ------------------------------------------------------------------------
    def deliver_logs(self, body: bytes) -> None:
        """Decode one OTLP logs request and keep what it carries."""
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest,
        )

        request = ExportLogsServiceRequest.FromString(body)
        with self._lock:
            self.requests += 1
            for resource_logs in request.resource_logs:
                run = self._run_of(_attributes(resource_logs.resource.attributes))
                for scope_logs in resource_logs.scope_logs:
                    for record in scope_logs.log_records:
                        _apply(run, scope_logs.scope.name, record)

    def deliver_file(self, upload: Upload) -> None:
        """Keep a file's bytes."""
        data = Path(upload.data).read_bytes()
        with self._lock:
            run = self.runs.setdefault(upload.run_id, CapturedRun(upload.run_id))
            run.files[upload.path] = data

    def _run_of(self, resource: dict[str, Any]) -> CapturedRun:
        run_id = str(resource.get(c.RUN_ID, ""))
        run = self.runs.get(run_id)
        if run is None:
            run = self.runs[run_id] = CapturedRun(run_id)
        run.experiment = str(resource.get(c.EXPERIMENT, run.experiment))
        run.name = resource.get(c.RUN_NAME, run.name)
        run.parent_id = resource.get(c.PARENT_RUN_ID, run.parent_id)
        return run


@contextmanager
def capture(flush_timeout: float = 30.0) -> Iterator[Recorder]:
    """Record every run of this process in memory for the duration (no collector).

    Args:
        flush_timeout: Seconds to wait at the end for the exporter to deliver.

    Yields:
        The `Recorder`; complete once the block has ended.
    """
    from runlog import _pipeline

    recorder = Recorder()
    with tempfile.TemporaryDirectory(prefix="runlog-capture-") as spool_dir:
        pipeline = _pipeline.Pipeline(
            "memory://runlog.testing", None, Spool(spool_dir), sender=recorder
        )
        previous = _pipeline.set_override(pipeline)
        try:
            yield recorder
        finally:
            _pipeline.set_override(previous)
            pipeline.close(flush_timeout)


# --- decoding (the client's own wire format; see runlog.conventions) ---------------------------
def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind)


def _apply(run: CapturedRun, scope: str, record: Any) -> None:
    attributes = _attributes(record.attributes)
    name = record.event_name
    if not name:
        run.logs.append(
            {
                "level": record.severity_text,
                "logger": scope,
                "message": _value(record.body),
                "stream": attributes.get(c.LOG_IOSTREAM),
            }
        )
    elif name == c.EVENT_METRIC_PACKED:
        _packed(run, attributes)
    elif name == c.EVENT_METRIC:
        _point(run, attributes)
    elif name in _KEY_VALUE:
        getattr(run, _KEY_VALUE[name])[attributes[c.KEY]] = attributes[c.VALUE]
    elif name in (c.EVENT_RUN_START, c.EVENT_RUN_STATUS, c.EVENT_RUN_END):
        run.status = str(attributes.get(c.STATUS, run.status))
        run.error = attributes.get(c.ERROR, run.error)
        run.events.append(name)
    elif name != c.EVENT_RUN_HEARTBEAT:
        run.events.append(name)


_KEY_VALUE = {c.EVENT_TAG: "tags", c.EVENT_PARAM: "params", c.EVENT_PROPERTY: "properties"}
_TYPECODES = {c.DTYPE_FLOAT: "d", c.DTYPE_INT: "q"}


def _le(typecode: str, data: bytes) -> list[Any]:
    values = array(typecode)
    values.frombytes(data)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def _packed(run: CapturedRun, attributes: dict[str, Any]) -> None:
    dtype = attributes[c.METRIC_DTYPE]
    raw = attributes[c.METRIC_VALUES]
    if dtype in _TYPECODES:
        values = _le(_TYPECODES[dtype], raw)
    elif dtype == c.DTYPE_BOOL:
        values = [bool(b) for b in raw]
    else:
        values = list(raw)
    steps = _le("q", attributes[c.METRIC_STEPS])
    _add(run, attributes, steps, values)


def _point(run: CapturedRun, attributes: dict[str, Any]) -> None:
    name = attributes[c.METRIC_NAME]
    step = attributes.get(c.METRIC_STEP)
    if step is None:
        step = len(run.steps.get(name, []))
    _add(run, attributes, [int(step)], [attributes[c.METRIC_VALUE]])


def _add(run: CapturedRun, attributes: dict[str, Any], steps: list[int], values: list[Any]) -> None:
    name = attributes[c.METRIC_NAME]
    column = attributes.get(c.METRIC_COLUMN, "")
    kind = attributes.get(c.METRIC_KIND, c.KIND_SCALAR)
    if kind in (c.KIND_ROW, c.KIND_TABLE):
        run.metrics.setdefault(name, {}).setdefault(column, []).extend(values)
        return
    run.metrics.setdefault(name, []).extend(values)
    run.steps.setdefault(name, []).extend(steps)
