"""Response models of the query and files API, for the OpenAPI schema.

Handlers encode responses themselves (`collectors.read.encoding`, fast and with the non-finite
rule); these models describe the shapes in ``/openapi.json`` and ``/docs``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

_VALUE = "a number, bool or string; non-finite floats are 'NaN', 'Infinity', '-Infinity'"


class ErrorDetail(BaseModel):
    code: str = Field(description="INVALID_ARGUMENT, UNAUTHENTICATED, NOT_FOUND, TOO_LARGE, …")
    message: str = Field(description="what was wrong, what was expected, what to do")


class ErrorBody(BaseModel):
    """Body of every 4xx/5xx answer of the query and files API."""

    error: ErrorDetail


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    version: str


class Experiment(BaseModel):
    experiment_id: int
    name: str
    created_ns: int = Field(description="Unix nanoseconds")
    run_count: int
    last_run_ns: int | None = Field(description="start of the newest run, Unix ns")
    deleted: bool = Field(description="deleted through MLflow (restorable); listed on request")


class ExperimentList(BaseModel):
    experiments: list[Experiment]


class MetricSummary(BaseModel):
    name: str
    column: str = Field(description="'' for scalar, list and image metrics")
    kind: str = Field(description="scalar, list, row, table or image")
    dtype: str = Field(description="f8, i8, bool, str or mixed")
    count: int
    last: Any = Field(description=f"the latest point (highest step, then newest time): {_VALUE}")
    last_step: int
    last_time_ns: int
    min: float | str | None = Field(description="over numeric non-NaN points")
    max: float | str | None


class MetricSummaryList(BaseModel):
    metrics: list[MetricSummary]


class Run(BaseModel):
    run_id: str
    experiment: str
    name: str | None
    parent_id: str | None
    status: str = Field(
        description="Running, Completed, Failed, Canceled, or NotResponding (no sign of life "
        "for the collector's --heartbeat-timeout); also NotStarted, Queued, Preparing, Finalizing"
    )
    start_ns: int
    end_ns: int | None
    error: str | None
    tags: dict[str, str]
    params: dict[str, str]
    properties: dict[str, str]
    metrics: list[MetricSummary]
    deleted: bool = Field(description="deleted through MLflow (restorable); listed on request")
    last_seen_ns: int | None = Field(
        description="when the collector last received anything of the run (Unix ns)"
    )


class RunList(BaseModel):
    runs: list[Run]
    next_page_token: str | None = Field(description="pass as page_token for the next page")


class MetricVector(BaseModel):
    """All points of one metric column (or a min/max-per-bucket downsample of them)."""

    name: str
    column: str
    kind: str
    dtype: str = Field(description="f8, i8, bool, str or mixed")
    count: int
    steps: list[int]
    timestamps: list[int] = Field(description="Unix nanoseconds")
    values: list[Any] = Field(description=_VALUE)
    dtypes: list[str] | None = Field(None, description="per point; mixed vectors only")
    downsampled: bool


class File(BaseModel):
    path: str
    size: int
    sha256: str
    created_ns: int


class FileList(BaseModel):
    files: list[File]


class LogLine(BaseModel):
    seq: int = Field(description="the line's number in its run, from 1, in arrival order")
    time_ns: int
    level: str = Field(description="severity text, e.g. INFO; '' when unset")
    level_number: int = Field(description="OTel severity number 1-24; 0 when unset")
    logger: str = Field(description="instrumentation scope (logger) name")
    message: str
    exception: str | None = Field(description="exception type, message and stack trace")
    stream: str | None = Field(description="stdout or stderr for captured output")


class LogLines(BaseModel):
    lines: list[LogLine]
    next_seq: int = Field(description="pass as after_seq for the next page")


class Span(BaseModel):
    trace_id: str = Field(description="32 hex digits")
    span_id: str = Field(description="16 hex digits")
    parent_span_id: str | None
    name: str
    kind: str = Field(description="INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER or UNSPECIFIED")
    start_ns: int
    end_ns: int
    status_code: str = Field(description="UNSET, OK or ERROR")
    status_message: str
    attributes: dict[str, Any]


class SpanList(BaseModel):
    spans: list[Span]


class ExportPartialSuccess(BaseModel):
    rejectedLogRecords: str | None = None
    errorMessage: str | None = None


class ExportResponse(BaseModel):
    """OTLP export response (JSON form; protobuf when the request was protobuf)."""

    partialSuccess: ExportPartialSuccess | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "malformed argument"},
    401: {"model": ErrorBody, "description": "token missing or wrong"},
    404: {"model": ErrorBody, "description": "unknown experiment, run, metric or file"},
}


class Model(BaseModel):
    """A registered model (the registry MLflow clients use too)."""

    name: str
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, int] = Field(description="alias -> version number")
    created_ns: int = Field(description="Unix nanoseconds")
    updated_ns: int
    latest_version: int | None = Field(description="the highest version number")
    version_count: int


class ModelList(BaseModel):
    models: list[Model]


class ModelVersion(BaseModel):
    """One version of a registered model."""

    name: str
    version: int
    created_ns: int
    updated_ns: int
    description: str | None
    stage: str = Field(description="MLflow stage: None, Staging, Production or Archived")
    aliases: list[str]
    run_id: str | None = Field(description="the run it came from")
    path: str | None = Field(description="the run's file or folder it was registered from")
    source: str = Field(description="runs:/<run>/<path>, models:/<logged model id>, …")
    storage_location: str
    logged_model_id: str | None = Field(description="the MLflow 3 logged model it came from")
    tags: dict[str, str]
    properties: dict[str, str] = Field(description="immutable (Azure ML v1 properties)")


class ModelWithVersions(Model):
    versions: list[ModelVersion] = Field(description="oldest first")


class StatusChange(BaseModel):
    status: str = Field(description="NotStarted, Queued, Preparing, Running, Finalizing, …")
    time_ns: int = Field(description="when the run entered it, Unix ns")


class StatusList(BaseModel):
    statuses: list[StatusChange]
