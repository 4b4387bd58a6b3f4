"""Store operations: what `convert` produces from a request and what a `Store` applies.

Receivers decode, `collectors.convert` maps decoded OTLP onto a list of these plain values
(pure, no I/O), and the writer hands lists of them to `Store.apply` in one transaction.
Every operation names its run; `EnsureRun` comes before any other operation on a run in
the same list, so a store can create unknown runs in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class EnsureRun:
    """Create the run if unknown (status Running); fill in experiment/parent/name if unset."""

    run_id: str
    experiment: str
    time_ns: int
    parent_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class SetStatus:
    """Change a run's status; a terminal status also sets its end time and error text."""

    run_id: str
    status: str
    time_ns: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SetTag:
    """Set (or overwrite) a mutable tag."""

    run_id: str
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class DeleteTag:
    """Remove a tag; a missing tag is not an error."""

    run_id: str
    key: str


@dataclass(frozen=True, slots=True)
class SetParam:
    """Set a hyperparameter; once set, only the same value may be set again."""

    run_id: str
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class SetProperty:
    """Set an immutable property (Azure ML v1 `add_properties`); same rule as params."""

    run_id: str
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class AppendPoints:
    """Append points to one metric column of a run, in the order given.

    ``steps`` and ``times`` are int64 arrays; ``values`` is a float64, int64 or bool numpy
    array, or a list of str when ``dtype`` is ``"str"``. All three have the same length.
    ``column`` is ``""`` for scalar, list and image metrics. A step of ``INT64_MIN`` means
    "automatic": the store gives it the column's previous step + 1.
    """

    run_id: str
    name: str
    kind: str
    dtype: str
    steps: npt.NDArray[np.int64]
    times: npt.NDArray[np.int64]
    values: npt.NDArray[np.generic] | list[str]
    column: str = ""

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log line of a run: an OTel log record that is not a runlog event.

    ``level_number`` is the OTel severity number (1-24, 0 when unset); ``level`` the
    severity text as the producer wrote it, else derived from the number. ``logger`` is the
    instrumentation scope name; ``stream`` is ``stdout``/``stderr`` for captured output.
    """

    time_ns: int
    level_number: int
    level: str
    logger: str
    message: str
    exception: str | None = None
    stream: str | None = None


@dataclass(frozen=True, slots=True)
class AppendLogLines:
    """Append log lines to a run, in order; the store numbers them (``seq``, from 1)."""

    run_id: str
    lines: tuple[LogLine, ...]


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One span of a run's timeline. Ids are lowercase hex; a repeated span replaces its row.

    ``kind`` is the OTel span kind without its prefix (``INTERNAL``, ``SERVER``, …);
    ``status_code`` is ``UNSET``, ``OK`` or ``ERROR``; ``attributes_json`` a JSON object.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status_code: str
    status_message: str
    attributes_json: str


@dataclass(frozen=True, slots=True)
class AppendSpans:
    """Keep spans as a run's timeline (upsert by trace id and span id)."""

    run_id: str
    spans: tuple[SpanRecord, ...]


@dataclass(frozen=True, slots=True)
class MarkBatch:
    """Remember a producer's batch id; `Store.apply` skips a list whose batch id it has seen.

    ``digest`` is the `batch_digest` of the request that carried the id: the same id
    with the same digest is a replay (skipped), with another digest a conflict (refused).
    """

    batch_id: str
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A sign of life from the process that owns a live run: from now on the collector
    watches the run, and long silence makes it NotResponding, then Failed (`SweepSilentRuns`).

    Every operation naming a run counts as a sign of life; this one only adds the watching.
    """

    run_id: str


@dataclass(frozen=True, slots=True)
class SweepSilentRuns:
    """Mark watched live runs silent since ``now_ns - timeout_ns`` NotResponding, and
    NotResponding runs silent for ``dead_after_ns`` more Failed (with the reason as error).

    Silence before ``since_ns`` (when this collector started listening) does not count: a
    producer cannot be heard while no collector listens.
    """

    now_ns: int
    timeout_ns: int
    dead_after_ns: int
    since_ns: int = 0


@dataclass(frozen=True, slots=True)
class RecordFile:
    """Register a run file (its bytes are already in the file store), creating the run if
    unknown.

    ``replace`` is True for an upload through the collector (its size and digest were
    measured from the bytes: they replace an earlier record of the path); False for a
    producer's ``runlog.file`` event, which records the file only if the path has no record
    yet and is refused when it contradicts the one there.
    """

    run_id: str
    experiment: str
    path: str
    size: int
    sha256: str
    time_ns: int
    replace: bool = True


# --- MLflow REST (collectors.mlflow): experiments, run lifecycle, inputs, logged models ----


@dataclass(frozen=True, slots=True)
class CreateExperiment:
    """Create an experiment; refused ("already exists") when the name is taken."""

    name: str
    time_ns: int
    artifact_location: str | None = None
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateExperiment:
    """Rename an experiment and/or set its lifecycle stage (``active`` / ``deleted``)."""

    experiment_id: int
    time_ns: int
    name: str | None = None
    lifecycle_stage: str | None = None


@dataclass(frozen=True, slots=True)
class SetExperimentTag:
    """Set (or overwrite) an experiment tag."""

    experiment_id: int
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class DeleteExperimentTag:
    """Remove an experiment tag; a missing tag is not an error."""

    experiment_id: int
    key: str


@dataclass(frozen=True, slots=True)
class SetRunName:
    """Rename a run (unlike `EnsureRun`, which only fills in a missing name)."""

    run_id: str
    name: str


@dataclass(frozen=True, slots=True)
class SetRunLifecycle:
    """Mark a run ``deleted`` or ``active`` again (MLflow's soft delete and restore)."""

    run_id: str
    lifecycle_stage: str


@dataclass(frozen=True, slots=True)
class SetRunIO:
    """Record one dataset input or model output of a run (``direction`` input/output).

    ``key`` identifies it within the run (a dataset's name and digest, a model id);
    ``payload`` is its JSON description. Recording the same key again replaces it.
    """

    run_id: str
    direction: str
    key: str
    payload: str


@dataclass(frozen=True, slots=True)
class CreateLoggedModel:
    """Create an MLflow 3 logged model (status ``PENDING``); tags and params are JSON objects."""

    model_id: str
    experiment_id: int
    name: str
    time_ns: int
    source_run_id: str | None = None
    model_type: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateLoggedModel:
    """Change a logged model: status, lifecycle stage, tags set or removed, params added."""

    model_id: str
    time_ns: int
    status: str | None = None
    lifecycle_stage: str | None = None
    set_tags: tuple[tuple[str, str], ...] = ()
    delete_tags: tuple[str, ...] = ()
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ModelMetric:
    """One metric point linked to a logged model, and the run and dataset it came from."""

    name: str
    value: float
    step: int
    time_ns: int
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True, slots=True)
class AppendModelMetrics:
    """Link metric points to a logged model (MLflow's ``model_id`` on a metric)."""

    model_id: str
    metrics: tuple[ModelMetric, ...]


@dataclass(frozen=True, slots=True)
class RecordModelFile:
    """Register an uploaded file of a logged model; replaces the same path."""

    model_id: str
    path: str
    size: int
    sha256: str
    time_ns: int


# --- the model registry (collectors.mlflow.registry, runlog's register_model) -------------


@dataclass(frozen=True, slots=True)
class CreateRegisteredModel:
    """Create a registered model; refused ("already exists") when the name is taken."""

    name: str
    time_ns: int
    description: str | None = None
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateRegisteredModel:
    """Rename a registered model and/or set its description (None: leave as is)."""

    name: str
    time_ns: int
    new_name: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteRegisteredModel:
    """Delete a registered model with its versions, tags and aliases."""

    name: str


@dataclass(frozen=True, slots=True)
class SetRegisteredModelTag:
    """Set a registered model's tag, or remove it (``value`` None)."""

    name: str
    key: str
    value: str | None


@dataclass(frozen=True, slots=True)
class CreateModelVersion:
    """Add version *version* to a registered model; refused if that number is taken.

    ``storage_location`` is where the version's files are read from (a run's or a logged
    model's artifact URI); ``properties`` are runlog's immutable properties (Azure ML v1).
    """

    name: str
    version: int
    time_ns: int
    source: str
    storage_location: str
    run_id: str | None = None
    run_link: str | None = None
    logged_model_id: str | None = None
    description: str | None = None
    user_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateModelVersion:
    """Change a version: description, stage (optionally archiving the stage's other
    versions), or mark it deleted (its aliases go, its number stays taken)."""

    name: str
    version: int
    time_ns: int
    description: str | None = None
    stage: str | None = None
    archive_existing: bool = False
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class SetModelVersionTag:
    """Set a model version's tag, or remove it (``value`` None)."""

    name: str
    version: int
    key: str
    value: str | None


@dataclass(frozen=True, slots=True)
class SetRegisteredModelAlias:
    """Point an alias of a registered model at a version, or remove it (``version`` None)."""

    name: str
    alias: str
    version: int | None


# --- submitted runs (collectors.compute): snapshots, the queue, the lifecycle ----------------


@dataclass(frozen=True, slots=True)
class AddSnapshot:
    """Record a stored source snapshot (its zip lies in the data directory); once per digest."""

    digest: str
    size: int
    file_count: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class SubmitRun:
    """Create a submitted run (NotStarted, then Queued) and its row in the target's queue.

    ``arguments`` are the script's arguments; ``environment`` is the environment's JSON.
    Refused when the run id exists or the snapshot is unknown.
    """

    run_id: str
    experiment: str
    name: str | None
    collector: str
    target: str
    snapshot: str
    script: str
    arguments: tuple[str, ...]
    environment: str
    time_ns: int


@dataclass(frozen=True, slots=True)
class ClaimRun:
    """Take a queued run off its queue (state active, status Preparing); refused otherwise."""

    run_id: str
    time_ns: int


@dataclass(frozen=True, slots=True)
class UpdateSubmission:
    """Remember where a started run runs: its process, its Ray job, how much log was read.

    Fields left None keep their value.
    """

    run_id: str
    pid: int | None = None
    pid_start: int | None = None
    job_id: str | None = None
    log_offset: int | None = None


@dataclass(frozen=True, slots=True)
class CancelRun:
    """Cancel a submitted run: a queued one is Canceled at once, an active one is marked
    for its target to stop; refused for a run that has finished."""

    run_id: str
    time_ns: int


@dataclass(frozen=True, slots=True)
class AdvanceStatus:
    """Move a submitted run forward in its lifecycle; never back, never out of an end state.

    With ``done`` the run also leaves its target's queue.
    """

    run_id: str
    status: str
    time_ns: int
    error: str | None = None
    done: bool = False


Op = Union[  # noqa: UP007  # a runtime alias on Python 3.10
    EnsureRun,
    SetStatus,
    SetTag,
    DeleteTag,
    SetParam,
    SetProperty,
    AppendPoints,
    AppendLogLines,
    AppendSpans,
    MarkBatch,
    Heartbeat,
    SweepSilentRuns,
    RecordFile,
    CreateExperiment,
    UpdateExperiment,
    SetExperimentTag,
    DeleteExperimentTag,
    SetRunName,
    SetRunLifecycle,
    SetRunIO,
    CreateLoggedModel,
    UpdateLoggedModel,
    AppendModelMetrics,
    RecordModelFile,
    CreateRegisteredModel,
    UpdateRegisteredModel,
    DeleteRegisteredModel,
    SetRegisteredModelTag,
    CreateModelVersion,
    UpdateModelVersion,
    SetModelVersionTag,
    SetRegisteredModelAlias,
    AddSnapshot,
    SubmitRun,
    ClaimRun,
    UpdateSubmission,
    CancelRun,
    AdvanceStatus,
]


@dataclass(slots=True)
class Converted:
    """What `convert` made of one request: operations to apply and the records it rejected."""

    ops: list[Op] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, message: str) -> None:
        """Count one rejected record and keep its reason (the first few are reported)."""
        self.rejected += 1
        if len(self.errors) < 20:
            self.errors.append(message)


@dataclass(slots=True)
class Applied:
    """What `Store.apply` did with one list of operations."""

    duplicate: bool = False  # the list's batch id had been applied before: nothing done
    errors: list[str] = field(default_factory=list)  # operations refused (param conflict, …)
    #: Why nothing was done: the list's batch id was applied before with other content.
    conflict: str | None = None
