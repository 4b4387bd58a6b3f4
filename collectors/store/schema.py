"""The store's tables, as SQLAlchemy Core metadata (portable between SQLite and PostgreSQL).

This module describes the current schema; ``collectors/store/migrations`` creates and evolves
it (a test checks that the migrations produce exactly these tables).

Metric vectors are kept as columnar chunks (``metric_chunks``), never a row per point. Each
``metrics`` row holds a summary kept up to date on every append. The last value keeps its
type bit-exactly: ``last_dtype`` says which column holds it — ``last_bits`` (the IEEE-754
bits of an ``f8``, as a signed 64-bit integer, so NaN payloads and -0.0 survive),
``last_i8`` (``i8``, and ``bool`` as 0/1) or ``last_str``. ``last_f8`` repeats a float
last value (NULL for NaN, which SQLite cannot store) for filtering and sorting. The "last"
point is the latest one: the highest step, then the latest time (see
`collectors.store._points`); ``append_step`` is the step of the point appended last, from
which automatic steps count (migration 0005).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


def _run_key() -> sa.Column[Any]:
    """``run_id``: the run a row belongs to, the first part of the table's primary key."""
    return sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), primary_key=True)


def _registered_model_key() -> sa.Column[Any]:
    """``registered_model_id``: the registered model a row belongs to (primary key part)."""
    return sa.Column(
        "registered_model_id", sa.Integer, sa.ForeignKey("registered_models.id"), primary_key=True
    )


def _key_value_table(name: str, *owner: sa.Column[Any] | sa.Constraint) -> sa.Table:
    """A table of string values by key (tags, params, …) of the entity *owner* keys."""
    return sa.Table(
        name,
        metadata,
        *owner,
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def _file_table(name: str, owner: sa.Column[Any]) -> sa.Table:
    """A table of file records (path, size, digest) of the entity *owner* keys; the bytes
    are in a file store."""
    return sa.Table(
        name,
        metadata,
        owner,
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )


experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    # MLflow REST (migration 0003): 'active' or 'deleted', where artifacts go, last change.
    sa.Column("lifecycle_stage", sa.Text, nullable=False, server_default="active"),
    sa.Column("artifact_location", sa.Text, nullable=True),
    sa.Column("last_update_ns", sa.BigInteger, nullable=True),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("parent_id", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("start_ns", sa.BigInteger, nullable=False),
    sa.Column("end_ns", sa.BigInteger, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("lifecycle_stage", sa.Text, nullable=False, server_default="active"),
    # Liveness (migration 0004): when anything of the run last arrived, and whether the
    # collector watches it for silence (NULL: never sent a heartbeat; 'watched'; 'lost':
    # failed by the collector after a long silence, reopened by data arriving again).
    sa.Column("last_seen_ns", sa.BigInteger, nullable=True),
    sa.Column("liveness", sa.Text, nullable=True),
    sa.Index("ix_runs_experiment_start", "experiment_id", "start_ns"),
    sa.Index("ix_runs_start", "start_ns"),
    sa.Index("ix_runs_parent", "parent_id"),
    sa.Index("ix_runs_liveness", "liveness"),
)

tags = _key_value_table("tags", _run_key())
params = _key_value_table("params", _run_key())
properties = _key_value_table("properties", _run_key())

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("column", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("dtype", sa.Text, nullable=False),  # f8 | i8 | bool | str | mixed
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("last_dtype", sa.Text, nullable=False),
    sa.Column("last_f8", sa.Double, nullable=True),
    sa.Column("last_bits", sa.BigInteger, nullable=True),
    sa.Column("last_i8", sa.BigInteger, nullable=True),
    sa.Column("last_str", sa.Text, nullable=True),
    sa.Column("last_step", sa.BigInteger, nullable=False),
    sa.Column("last_time_ns", sa.BigInteger, nullable=False),
    sa.Column("append_step", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("min_value", sa.Double, nullable=True),
    sa.Column("max_value", sa.Double, nullable=True),
    sa.UniqueConstraint("run_id", "name", "column", name="uq_metrics_run_name_column"),
    sa.Index("ix_metrics_name", "name"),
)

metric_chunks = sa.Table(
    "metric_chunks",
    metadata,
    sa.Column("metric_id", sa.Integer, sa.ForeignKey("metrics.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("dtype", sa.Text, nullable=False),
    # Min/max per 100-point block (chunks.block_summary); before the big blobs so
    # that reading it does not walk their overflow pages. NULL for str chunks.
    sa.Column("summary", sa.LargeBinary, nullable=True),
    sa.Column("steps", sa.LargeBinary, nullable=False),
    sa.Column("times", sa.LargeBinary, nullable=False),
    sa.Column("values", sa.LargeBinary, nullable=False),
)

files = _file_table("files", _run_key())

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("batch_id", sa.Text, primary_key=True),
    sa.Column("applied_ns", sa.BigInteger, nullable=False),
    # Digest of the request that carried the id (migration 0004; NULL for older rows).
    sa.Column("digest", sa.Text, nullable=True),
)

# Log lines of a run, numbered per run in arrival order (seq from 1); the primary key
# serves paging (`seq > after`) and the level filter scans only the run's rows.
log_lines = sa.Table(
    "log_lines",
    metadata,
    _run_key(),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("time_ns", sa.BigInteger, nullable=False),
    sa.Column("level_number", sa.Integer, nullable=False),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("logger", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("exception", sa.Text, nullable=True),
    sa.Column("stream", sa.Text, nullable=True),
)

# A run's timeline: OTel spans (ids in hex); a span sent again replaces its row.
spans = sa.Table(
    "spans",
    metadata,
    _run_key(),
    sa.Column("trace_id", sa.Text, primary_key=True),
    sa.Column("span_id", sa.Text, primary_key=True),
    sa.Column("parent_span_id", sa.Text, nullable=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("start_ns", sa.BigInteger, nullable=False),
    sa.Column("end_ns", sa.BigInteger, nullable=False),
    sa.Column("status_code", sa.Text, nullable=False),
    sa.Column("status_message", sa.Text, nullable=False),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Index("ix_spans_run_start", "run_id", "start_ns"),
)

# MLflow REST (migration 0003): experiment tags, a run's dataset inputs and model outputs
# (``direction`` 'input' or 'output', ``payload`` JSON), and MLflow 3 logged models.
experiment_tags = _key_value_table(
    "experiment_tags",
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), primary_key=True),
)

run_io = sa.Table(
    "run_io",
    metadata,
    _run_key(),
    sa.Column("direction", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
    # Migration 0005: the order in which the run's inputs and outputs were first logged.
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
)

logged_models = sa.Table(
    "logged_models",
    metadata,
    sa.Column("model_id", sa.Text, primary_key=True),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("source_run_id", sa.Text, nullable=True),
    sa.Column("model_type", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("lifecycle_stage", sa.Text, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),  # JSON object
    sa.Column("params", sa.Text, nullable=False),  # JSON object
    sa.Index("ix_logged_models_experiment", "experiment_id"),
)

# Migration 0005: logged models as first-class entities (their own metrics and files, no
# source run needed) and the model registry.
# A metric linked to a logged model (MLflow's ``model_id`` on a metric). The value is kept
# as IEEE-754 bits (SQLite has no NaN); ``run_id`` and the dataset say where it came from.
logged_model_metrics = sa.Table(
    "logged_model_metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.Text, sa.ForeignKey("logged_models.model_id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("value_bits", sa.BigInteger, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("time_ns", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.Text, nullable=True),
    sa.Column("dataset_name", sa.Text, nullable=True),
    sa.Column("dataset_digest", sa.Text, nullable=True),
    sa.Index("ix_logged_model_metrics_model", "model_id"),
)

# A logged model's files (bytes in the collector's model file store, by model id).
logged_model_files = _file_table(
    "logged_model_files",
    sa.Column("model_id", sa.Text, sa.ForeignKey("logged_models.model_id"), primary_key=True),
)

# The model registry. Registered models have a surrogate id so that a rename touches one
# row; versions are numbered per model from 1 and never reused (a deleted version keeps
# its row with ``lifecycle_stage`` 'deleted'). ``logged_model_id`` is the MLflow 3 logged
# model a version was made from; ``properties`` (JSON) holds runlog's immutable properties.
registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
)

registered_model_tags = _key_value_table("registered_model_tags", _registered_model_key())

model_versions = sa.Table(
    "model_versions",
    metadata,
    _registered_model_key(),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("user_id", sa.Text, nullable=True),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("storage_location", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=True),
    sa.Column("run_link", sa.Text, nullable=True),
    sa.Column("logged_model_id", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("properties", sa.Text, nullable=False),
    sa.Column("lifecycle_stage", sa.Text, nullable=False),
    sa.Index("ix_model_versions_run", "run_id"),
)

model_version_tags = _key_value_table(
    "model_version_tags",
    sa.Column("registered_model_id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.ForeignKeyConstraint(
        ["registered_model_id", "version"],
        ["model_versions.registered_model_id", "model_versions.version"],
    ),
)

registered_model_aliases = sa.Table(
    "registered_model_aliases",
    metadata,
    _registered_model_key(),
    sa.Column("alias", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

# Submitted runs (migration 0006). ``run_statuses`` keeps every status change of every run
# with its time (``seq`` numbers a run's changes from 1). ``snapshots`` lists the source
# folders kept once per content digest (the bytes are a zip in the data directory);
# ``submissions`` is the persistent queue: one row per submitted run, ``state`` queued ->
# active -> done, taken in ``seq`` order by the collector named in ``collector``.
run_statuses = sa.Table(
    "run_statuses",
    metadata,
    _run_key(),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("time_ns", sa.BigInteger, nullable=False),
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("digest", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("file_count", sa.Integer, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
)

submissions = sa.Table(
    "submissions",
    metadata,
    _run_key(),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("collector", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("snapshot", sa.Text, sa.ForeignKey("snapshots.digest"), nullable=False),
    sa.Column("script", sa.Text, nullable=False),
    sa.Column("arguments", sa.Text, nullable=False),  # JSON array of strings
    sa.Column("environment", sa.Text, nullable=False),  # JSON object
    sa.Column("state", sa.Text, nullable=False),  # queued | active | done
    sa.Column("queued_ns", sa.BigInteger, nullable=False),
    sa.Column("claimed_ns", sa.BigInteger, nullable=True),
    sa.Column("cancel_ns", sa.BigInteger, nullable=True),
    sa.Column("done_ns", sa.BigInteger, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("pid_start", sa.BigInteger, nullable=True),
    sa.Column("job_id", sa.Text, nullable=True),
    sa.Column("log_offset", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("ix_submissions_queue", "collector", "target", "state", "seq"),
)
