"""The store interface: what the writer, the query API and (later) MLflow REST talk to.

`SQLStore` implements it on SQLAlchemy Core (SQLite by default, PostgreSQL by URL). The
result types here are plain dataclasses; the query API serialises them as JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from collectors.ops import Applied, Op
from runlog.filters import MATCH_ALL, Filter, OrderBy


@dataclass(slots=True)
class ExperimentInfo:
    experiment_id: int
    name: str
    created_ns: int
    run_count: int
    last_run_ns: int | None
    deleted: bool = False  # deleted through MLflow's delete-experiment (restorable)


@dataclass(slots=True)
class MetricSummary:
    """Per-column summary kept up to date on every append (for listing, sorting, filtering).

    ``dtype`` is ``f8``/``i8``/``bool``/``str``, or ``mixed`` when points of several
    dtypes were appended. ``min``/``max`` cover the numeric, non-NaN points (None if none).
    """

    name: str
    column: str
    kind: str
    dtype: str
    count: int
    last: Any
    last_step: int
    last_time_ns: int
    min: float | None
    max: float | None


@dataclass(slots=True)
class RunInfo:
    run_id: str
    experiment: str
    name: str | None
    parent_id: str | None
    status: str
    start_ns: int
    end_ns: int | None
    error: str | None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    metrics: list[MetricSummary] = field(default_factory=list)
    deleted: bool = False  # deleted through MLflow's delete-run (restorable)
    last_seen_ns: int | None = None  # when anything of the run last arrived (None: before 0004)


@dataclass(slots=True)
class RunPage:
    runs: list[RunInfo]
    next_page_token: str | None


@dataclass(slots=True)
class RunTable:
    """One page of a run search as columns: list *i* of each field belongs to ``run_ids[i]``.

    ``tags``, ``params`` and ``metrics`` map a key to one value per run (None where the run
    has none); ``metrics`` holds the last value of each scalar metric.
    """

    run_ids: list[str]
    names: list[str | None] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    start_ns: list[int] = field(default_factory=list)
    end_ns: list[int | None] = field(default_factory=list)
    parent_ids: list[str | None] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)
    tags: dict[str, list[str | None]] = field(default_factory=dict)
    params: dict[str, list[str | None]] = field(default_factory=dict)
    metrics: dict[str, list[Any]] = field(default_factory=dict)
    next_page_token: str | None = None


@dataclass(slots=True)
class MetricVector:
    """One metric column, all points in append order.

    ``values`` is a numpy array for a single numeric dtype (float64, int64 or bool) and a
    list of Python values (str, or a mix) otherwise.
    """

    name: str
    column: str
    kind: str
    dtype: str
    steps: npt.NDArray[np.int64]
    times: npt.NDArray[np.int64]
    values: npt.NDArray[Any] | list[Any]


@dataclass(slots=True)
class FileInfo:
    path: str
    size: int
    sha256: str
    created_ns: int


@dataclass(slots=True)
class MlflowExperiment:
    """An experiment as the MLflow REST API shows it (lifecycle, artifact location, tags)."""

    experiment_id: int
    name: str
    created_ns: int
    lifecycle_stage: str
    artifact_location: str | None
    last_update_ns: int | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RunState:
    """What MLflow writes check first: the run's experiment and lifecycle stage."""

    run_id: str
    experiment_id: int
    lifecycle_stage: str


@dataclass(slots=True)
class LoggedModelInfo:
    """An MLflow 3 logged model."""

    model_id: str
    experiment_id: int
    name: str
    source_run_id: str | None
    model_type: str | None
    status: str
    lifecycle_stage: str
    created_ns: int
    updated_ns: int
    tags: dict[str, str]
    params: dict[str, str]


@dataclass(slots=True)
class ModelMetricInfo:
    """A metric point linked to a logged model."""

    name: str
    value: float
    step: int
    time_ns: int
    run_id: str | None
    dataset_name: str | None
    dataset_digest: str | None


@dataclass(slots=True)
class RegisteredModelInfo:
    """A registered model of the model registry; ``aliases`` maps alias to version."""

    name: str
    created_ns: int
    updated_ns: int
    description: str | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class ModelVersionInfo:
    """One version of a registered model.

    ``source`` is the URI it was registered from (``runs:/…``, ``models:/m-…``);
    ``storage_location`` where its files are read; ``logged_model_id`` the MLflow 3 logged
    model it was made from; ``properties`` runlog's immutable properties.
    """

    name: str
    version: int
    created_ns: int
    updated_ns: int
    description: str | None
    user_id: str | None
    stage: str
    source: str
    storage_location: str
    run_id: str | None
    run_link: str | None
    logged_model_id: str | None
    status: str
    deleted: bool
    properties: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LogLineInfo:
    """One log line of a run; ``seq`` numbers a run's lines from 1 in arrival order."""

    seq: int
    time_ns: int
    level_number: int
    level: str
    logger: str
    message: str
    exception: str | None
    stream: str | None


@dataclass(slots=True)
class SpanInfo:
    """One span of a run's timeline (ids in hex, times in Unix ns)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status_code: str
    status_message: str
    attributes: dict[str, Any]


@dataclass(slots=True)
class StatusChange:
    """One entry of a run's status history."""

    status: str
    time_ns: int


@dataclass(slots=True)
class SubmissionInfo:
    """A submitted run as its compute target's queue holds it (``state`` queued/active/done).

    ``status`` is the run's current status; ``environment`` the environment's JSON object.
    """

    run_id: str
    experiment: str
    name: str | None
    status: str
    seq: int
    collector: str
    target: str
    snapshot: str
    script: str
    arguments: list[str]
    environment: dict[str, Any]
    state: str
    queued_ns: int
    claimed_ns: int | None
    cancel_ns: int | None
    done_ns: int | None
    pid: int | None
    pid_start: int | None
    job_id: str | None
    log_offset: int


class Store(Protocol):
    """Metadata and metric vectors of experiments and runs."""

    def apply(self, batches: Sequence[Sequence[Op]]) -> list[Applied]:
        """Apply each list of operations, all in one transaction; one `Applied` per list."""

    def list_experiments(self) -> list[ExperimentInfo]: ...

    def get_experiment(self, name: str) -> ExperimentInfo | None: ...

    def search_runs(
        self,
        experiments: Sequence[str] | None = None,
        filter: Filter | str = MATCH_ALL,
        order_by: Sequence[OrderBy | str] = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> RunPage:
        """Runs matching *filter*; raises `FilterError` (a ValueError) when malformed."""

    def get_run(self, run_id: str) -> RunInfo | None: ...

    def read_metric(self, run_id: str, name: str, column: str = "") -> MetricVector | None: ...

    def list_metrics(self, run_id: str) -> list[MetricSummary]:
        """Summaries of every metric column of the run, ordered by name and column."""

    def list_files(self, run_id: str) -> list[FileInfo]: ...

    def read_logs(
        self, run_id: str, after_seq: int = 0, limit: int = 1000, min_level_number: int = 0
    ) -> list[LogLineInfo]:
        """Up to *limit* lines with ``seq > after_seq`` and at least that severity, by seq."""

    def list_spans(self, run_id: str) -> list[SpanInfo]:
        """The run's spans by start time."""

    def close(self) -> None: ...
