"""`SQLStore`: the store on SQLAlchemy Core — SQLite by default, PostgreSQL by URL.

Opening a store runs the Alembic migrations in ``collectors/store/migrations`` up to the
newest version (a no-op when the database is current). SQLite connections use WAL,
``synchronous=NORMAL``, a busy timeout, foreign keys and case-sensitive ``LIKE``; write
transactions start with ``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from collectors.ops import Applied, Op
from collectors.store import (
    _apply,
    _compute,
    _locks,
    _logs,
    _mlflow,
    _registry,
    _search,
    _table,
    _window,
    chunks,
    paging,
    schema,
)
from collectors.store._transaction import Transaction
from collectors.store.base import (
    ExperimentInfo,
    FileInfo,
    LoggedModelInfo,
    LogLineInfo,
    MetricSummary,
    MetricVector,
    MlflowExperiment,
    ModelMetricInfo,
    ModelVersionInfo,
    RegisteredModelInfo,
    RunInfo,
    RunPage,
    RunState,
    RunTable,
    SpanInfo,
    StatusChange,
    SubmissionInfo,
)
from runlog import conventions as cv
from runlog.exceptions import ConfigError, RunlogError
from runlog.filters import MATCH_ALL, Filter, OrderBy

if TYPE_CHECKING:
    from collectors.store.protocols import CollectorStore

__all__ = [
    "SQLStore",
    "SchemaOutdatedError",
    "StoreUnavailableError",
    "safe_url",
    "upgrade_schema",
]

_MIGRATIONS: Final = Path(__file__).with_name("migrations")
_BUSY_TIMEOUT_MS: Final = 30_000
_MIGRATION_LOCK: Final = 7_201_130  # PostgreSQL advisory lock id: one migrating collector
_WRITE: Final = "runlog_write"
#: PostgreSQL connection pool: connections kept open, and extra ones allowed under load.
POOL_SIZE: Final = 8
POOL_OVERFLOW: Final = 16
_CONNECT_TIMEOUT_S: Final = 10


class StoreUnavailableError(RunlogError, ConnectionError):
    """The store's database cannot be reached (not running, wrong host, refused login)."""


class SchemaOutdatedError(ConfigError):
    """The database's schema is older than this collector's and was not to be migrated."""


def safe_url(url: str) -> str:
    """*url* with its password masked, for messages and logs."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable URL>"


_m, _c = schema.metrics, schema.metric_chunks
_METRIC_HEAD = sa.select(_m.c.id, _m.c.kind, _m.c.dtype, _m.c.count.label("points")).where(
    _m.c.run_id == sa.bindparam("r"),
    _m.c.name == sa.bindparam("n"),
    _m.c.column == sa.bindparam("c"),
)
_SUMMARIES = sa.select(_c.c.summary).where(_c.c.metric_id == sa.bindparam("i")).order_by(_c.c.seq)
_EDGE_CHUNK = sa.select(_c.c.steps, _c.c.times, _c.c["values"]).where(
    _c.c.metric_id == sa.bindparam("i"), _c.c.seq == sa.bindparam("s")
)
_SEQ_RANGE = sa.select(sa.func.min(_c.c.seq), sa.func.max(_c.c.seq)).where(
    _c.c.metric_id == sa.bindparam("i")
)
_CHUNKS = (
    sa.select(_c.c.dtype, _c.c.steps, _c.c.times, _c.c["values"])
    .where(_c.c.metric_id == sa.bindparam("i"))
    .order_by(_c.c.seq)
)


class SQLStore:
    """Experiments, runs, metric chunks and file records in a SQL database.

    Args:
        url: A SQLAlchemy URL: ``sqlite:///path/to/runlog.db`` or
            ``postgresql://user@host/db`` (the psycopg 3 driver is used when none is named).
        migrate: Bring the schema to the newest version on open (default); when False,
            the schema must already be the newest.

    Raises:
        StoreUnavailableError: the database cannot be reached.
        SchemaOutdatedError: *migrate* is False and the schema is not the newest.
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self._engine = _create_engine(url)
        try:
            if migrate:
                self.migrate()
            else:
                self.check_schema()
        except sa.exc.OperationalError as exc:
            self._engine.dispose()
            raise StoreUnavailableError(
                f"cannot reach the store's database at {safe_url(url)}: {exc.orig}. Is the "
                "server running and the URL (host, port, user, database) right?"
            ) from exc
        except SchemaOutdatedError:
            self._engine.dispose()
            raise

    @property
    def backend(self) -> str:
        """The database's dialect: ``sqlite`` or ``postgresql``."""
        return str(self._engine.dialect.name)

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (for tools and tests)."""
        return self._engine

    def migrate(self) -> None:
        """Run the Alembic migrations up to the newest version (idempotent)."""
        _upgrade(self._engine, "head")

    def schema_revision(self) -> tuple[str | None, str]:
        """The database's schema revision (None for an empty database) and the newest one."""
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        with self._engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        return current, str(head)

    def check_schema(self) -> None:
        """Make sure the schema is the newest one.

        Raises:
            SchemaOutdatedError: it is not (or the database is empty).
        """
        current, head = self.schema_revision()
        if current != head:
            shown = "an empty database" if current is None else f"schema revision {current}"
            raise SchemaOutdatedError(
                f"the store holds {shown}; this collector needs revision {head}. Run "
                f"`runlog db upgrade --store URL` first, or start the collector with --migrate"
            )

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def apply(self, batches: Sequence[Sequence[Op]]) -> list[Applied]:
        """Apply each list of operations, all in one transaction; one `Applied` per list.

        A list whose `MarkBatch` id was applied before is skipped (``duplicate=True``).
        Refused operations are reported in `Applied.errors`; a database error rolls the
        whole transaction back and propagates.
        """
        with self._write() as conn:
            _locks.take_locks(conn, batches)
            transaction = Transaction(conn)
            results = [_apply.apply(transaction, ops) for ops in batches]
            transaction.finish()
        return results

    # --- experiments and runs ------------------------------------------------------------

    def list_experiments(self) -> list[ExperimentInfo]:
        """All experiments, by name, with their run count and latest run start."""
        with self._engine.connect() as conn:
            return [_experiment(row) for row in conn.execute(_experiment_query())]

    def get_experiment(self, name: str) -> ExperimentInfo | None:
        """The experiment called *name*, or None."""
        query = _experiment_query().where(schema.experiments.c.name == name)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _experiment(row)

    def search_runs(
        self,
        experiments: Sequence[str] | None = None,
        filter: Filter | str = MATCH_ALL,
        order_by: Sequence[OrderBy | str] = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> RunPage:
        """Runs matching *filter* (see `runlog.filters`), one page at a time.

        Args:
            experiments: Experiment names to search; None searches all.
            filter: A parsed filter, or its text, e.g.
                ``metrics.mse < 3000 and params.alpha = '0.5'``.
            order_by: Clauses such as ``metrics.mse ASC`` (parsed or text); runs missing the
                key sort last, ties by run id. Default ``attributes.start_time DESC``.
            max_results: Page size, 1 to 10000.
            page_token: The ``next_page_token`` of the previous page.

        Raises:
            FilterError: The filter, an order-by clause, the page size or token is invalid.
        """
        paging.check_max_results(max_results)
        offset = paging.decode_page_token(page_token)
        query = _search.run_query(experiments, filter, order_by)
        query = query.offset(offset).limit(max_results + 1)
        with self._engine.connect() as conn:
            run_ids = list(conn.execute(query).scalars())
            runs = _search.load_runs(conn, run_ids[:max_results])
        more = len(run_ids) > max_results
        token = paging.encode_page_token(offset + max_results) if more else None
        return RunPage(runs=runs, next_page_token=token)

    def run_table(
        self,
        experiments: Sequence[str] | None = None,
        filter: Filter | str = MATCH_ALL,
        order_by: Sequence[OrderBy | str] = (),
        max_results: int = 10_000,
        page_token: str | None = None,
    ) -> RunTable:
        """Like `search_runs`, as columns: tags, params and last scalar metric values.

        Raises:
            FilterError: The filter, an order-by clause, the page size or token is invalid.
        """
        with self._engine.connect() as conn:
            return _table.run_table(conn, experiments, filter, order_by, max_results, page_token)

    def status_counts(self) -> dict[str, dict[str, int]]:
        """Runs not deleted, counted by experiment name and status."""
        with self._engine.connect() as conn:
            return _table.status_counts(conn)

    def get_run(self, run_id: str) -> RunInfo | None:
        """The run with its tags, params, properties and metric summaries, or None."""
        with self._engine.connect() as conn:
            runs = _search.load_runs(conn, [run_id])
        return runs[0] if runs else None

    # --- metrics -------------------------------------------------------------------------

    def list_metrics(self, run_id: str) -> list[MetricSummary]:
        """Summaries of every metric column of the run, by name and column."""
        m = schema.metrics
        query = sa.select(m).where(m.c.run_id == run_id).order_by(m.c.name, m.c.column)
        with self._engine.connect() as conn:
            return [_search.metric_summary(row) for row in conn.execute(query).mappings()]

    def read_metric(self, run_id: str, name: str, column: str = "") -> MetricVector | None:
        """All points of one metric column in append order, or None if there is none."""
        with self._engine.connect() as conn:
            metric = conn.execute(_METRIC_HEAD, {"r": run_id, "n": name, "c": column}).first()
            if metric is None:
                return None
            rows = conn.execute(_CHUNKS, {"i": metric.id})
            if metric.dtype in chunks.NUMPY_DTYPES:
                # Rows are copied one by one into preallocated arrays: no second full copy.
                steps, times, values = chunks.fill_numeric(metric.dtype, metric.points, rows)
            else:
                fetched = rows.all()
                steps = chunks.join_ints([row.steps for row in fetched])
                times = chunks.join_ints([row.times for row in fetched])
                values = _join_values(metric.dtype, fetched)
        return MetricVector(name, column, metric.kind, metric.dtype, steps, times, values)

    def read_metric_downsampled(
        self, run_id: str, name: str, column: str = "", max_points: int = 2000
    ) -> MetricVector | None:
        """At most *max_points* points of a numeric metric column: min/max per bucket.

        The first and last point are always kept (see `chunks.downsample_indices`).

        Raises:
            ValueError: The column holds strings or mixed dtypes, or *max_points* < 2.
        """
        if max_points < 2:
            raise ValueError(f"max_points must be at least 2, got {max_points}")
        summarized = self._downsample_from_summaries(run_id, name, column, max_points)
        if summarized is not None:
            return summarized
        vector = self.read_metric(run_id, name, column)
        if vector is None:
            return None
        if vector.dtype not in chunks.NUMPY_DTYPES:
            raise ValueError(
                f"metric {name!r} has dtype {vector.dtype!r}; only numeric vectors (f8, i8, "
                "bool) can be downsampled: read it without max_points"
            )
        values: Any = vector.values
        picked = chunks.downsample_indices(values, max_points)
        if len(picked) == len(values):
            return vector
        vector.steps, vector.times = vector.steps[picked], vector.times[picked]
        vector.values = values[picked]
        return vector

    def read_metric_window(
        self,
        run_id: str,
        name: str,
        column: str,
        axis: str,
        bounds: tuple[int, int],
        max_points: int | None = None,
    ) -> tuple[MetricVector, bool] | None:
        """The points with *axis* (``step`` or ``time``) within inclusive *bounds*.

        Reads only the chunks that can hold such points (see `collectors.store._window`);
        with *max_points*, downsampled by min/max per bucket. Returns the window and whether
        it was downsampled, or None when there is no such metric.
        """
        with self._engine.connect() as conn:
            try:
                return _window.read_window(conn, (run_id, name, column), axis, bounds, max_points)
            except ValueError:  # str or mixed values: every point, cut to the window
                pass
        vector = self.read_metric(run_id, name, column)
        return None if vector is None else (_window.sliced(vector, axis, bounds), False)

    def _downsample_from_summaries(
        self, run_id: str, name: str, column: str, max_points: int
    ) -> MetricVector | None:
        """Downsample from the chunks' block summaries when buckets span whole blocks.

        Reads ~1% of a long vector (a 1M-point view in a few ms); None when the vector is
        short, not numeric, or has chunks without a summary (then every point is read).
        """
        with self._engine.connect() as conn:
            metric = conn.execute(_METRIC_HEAD, {"r": run_id, "n": name, "c": column}).first()
            buckets = (max_points - 2) // 2
            if (
                metric is None
                or metric.dtype not in chunks.NUMPY_DTYPES
                or buckets < 1
                or metric.points < buckets * chunks.SUMMARY_BLOCK
            ):
                return None
            blobs = [row.summary for row in conn.execute(_SUMMARIES, {"i": metric.id})]
            if any(blob is None for blob in blobs):
                return None
            first_seq, last_seq = conn.execute(_SEQ_RANGE, {"i": metric.id}).one()
            first = self._edge_point(conn, metric.id, first_seq, metric.dtype, 0)
            last = self._edge_point(conn, metric.id, last_seq, metric.dtype, -1)
        steps, times, values = chunks.downsample_summaries(metric.dtype, blobs, max_points)
        steps = np.concatenate(([first[0]], steps, [last[0]])).astype(np.int64)
        times = np.concatenate(([first[1]], times, [last[1]])).astype(np.int64)
        values = np.concatenate(([first[2]], values, [last[2]])).astype(values.dtype)
        # The first or last point may also be its block's extreme: keep it once.
        keep = np.ones(len(steps), dtype=bool)
        keep[1:] = (steps[1:] != steps[:-1]) | (times[1:] != times[:-1])
        return MetricVector(
            name, column, metric.kind, metric.dtype, steps[keep], times[keep], values[keep]
        )

    @staticmethod
    def _edge_point(
        conn: sa.Connection, metric_id: int, seq: int, dtype: str, index: int
    ) -> tuple[int, int, Any]:
        row = conn.execute(_EDGE_CHUNK, {"i": metric_id, "s": seq}).one()
        steps = np.frombuffer(row.steps, dtype="<i8")
        times = np.frombuffer(row.times, dtype="<i8")
        values = np.frombuffer(row[2], dtype=chunks.NUMPY_DTYPES[dtype])
        return int(steps[index]), int(times[index]), values[index]

    # --- files ---------------------------------------------------------------------------

    def list_files(self, run_id: str) -> list[FileInfo]:
        """The files recorded for the run, by path."""
        f = schema.files
        query = sa.select(f.c.path, f.c.size, f.c.sha256, f.c.created_ns)
        query = query.where(f.c.run_id == run_id).order_by(f.c.path)
        with self._engine.connect() as conn:
            return [FileInfo(*row) for row in conn.execute(query)]

    # --- log lines and spans ------------------------------------------------------------

    def read_logs(
        self, run_id: str, after_seq: int = 0, limit: int = 1000, min_level_number: int = 0
    ) -> list[LogLineInfo]:
        """Up to *limit* log lines of the run with ``seq > after_seq``, by seq.

        Args:
            run_id: The run (an unknown run has no lines).
            after_seq: The last seq already seen (0: from the start).
            limit: Most lines returned.
            min_level_number: Only lines of at least this OTel severity number.
        """
        with self._engine.connect() as conn:
            return _logs.read_logs(conn, run_id, after_seq, limit, min_level_number)

    def list_spans(self, run_id: str) -> list[SpanInfo]:
        """The run's spans, by start time."""
        with self._engine.connect() as conn:
            return _logs.list_spans(conn, run_id)

    # --- MLflow REST ---------------------------------------------------------------------

    def mlflow_experiments(
        self, ids: Sequence[int] | None = None, names: Sequence[str] | None = None
    ) -> list[MlflowExperiment]:
        """Experiments by id or name (all when both are None) with lifecycle and tags."""
        with self._engine.connect() as conn:
            return _mlflow.experiments(conn, ids, names)

    def run_states(self, run_ids: Sequence[str]) -> dict[str, RunState]:
        """Experiment id and lifecycle stage of each run that exists."""
        with self._engine.connect() as conn:
            return _mlflow.run_states(conn, run_ids)

    def batch_state(
        self, run_id: str, param_keys: Sequence[str], metric_names: Sequence[str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Stored values of the run's *param_keys* and kinds of its *metric_names*."""
        with self._engine.connect() as conn:
            return _mlflow.batch_state(conn, run_id, param_keys, metric_names)

    def run_io(self, run_ids: Sequence[str]) -> dict[str, list[tuple[str, Any]]]:
        """Dataset inputs and model outputs of the runs: (direction, JSON payload) pairs."""
        with self._engine.connect() as conn:
            return _mlflow.run_io(conn, run_ids)

    def logged_models(
        self, model_ids: Sequence[str] | None = None, experiment_ids: Sequence[int] | None = None
    ) -> list[LoggedModelInfo]:
        """MLflow 3 logged models by id or experiment, newest first."""
        with self._engine.connect() as conn:
            return _mlflow.logged_models(conn, model_ids, experiment_ids)

    def logged_model_metrics(self, model_ids: Sequence[str]) -> dict[str, list[ModelMetricInfo]]:
        """The metrics linked to each logged model, in the order they were logged."""
        with self._engine.connect() as conn:
            return _mlflow.logged_model_metrics(conn, model_ids)

    def logged_model_files(self, model_id: str) -> list[FileInfo]:
        """The files of a logged model, by path."""
        with self._engine.connect() as conn:
            return _mlflow.logged_model_files(conn, model_id)

    # --- model registry ------------------------------------------------------------------

    def registered_models(self, names: Sequence[str] | None = None) -> list[RegisteredModelInfo]:
        """Registered models by name (all when None), with tags and aliases."""
        with self._engine.connect() as conn:
            return _registry.registered_models(conn, names)

    def model_versions(
        self,
        names: Sequence[str] | None = None,
        include_deleted: bool = False,
        version: int | None = None,
    ) -> list[ModelVersionInfo]:
        """Versions of the named registered models (all when None; only *version* if given),
        by name and version."""
        with self._engine.connect() as conn:
            return _registry.model_versions(conn, names, include_deleted, version)

    # --- submitted runs (collectors.compute) ---------------------------------------------

    def status_history(self, run_id: str) -> list[StatusChange]:
        """Every status the run has had, with its time, oldest first."""
        with self._engine.connect() as conn:
            return _compute.status_history(conn, run_id)

    def get_submission(self, run_id: str) -> SubmissionInfo | None:
        """The submitted run *run_id* as its target's queue holds it, or None."""
        with self._engine.connect() as conn:
            return _compute.submission(conn, run_id)

    def list_submissions(
        self,
        states: Sequence[str],
        target: str | None = None,
        collector: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[SubmissionInfo]:
        """Submitted runs in *states* (queued, active, done), oldest submission first (or
        newest first)."""
        with self._engine.connect() as conn:
            return _compute.submissions(conn, states, target, collector, limit, newest_first)

    def has_snapshot(self, digest: str) -> bool:
        """Whether the snapshot *digest* was recorded."""
        with self._engine.connect() as conn:
            return _compute.has_snapshot(conn, digest)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()


def _join_values(dtype: str, rows: Sequence[Any]) -> Any:
    if dtype in chunks.NUMPY_DTYPES or dtype == cv.DTYPE_STR:
        return chunks.join_values(dtype, [row.values for row in rows])
    mixed: list[Any] = []
    for row in rows:
        values = chunks.join_values(row.dtype, [row.values])
        mixed.extend(values if isinstance(values, list) else values.tolist())
    return mixed


def _experiment_query() -> sa.Select[Any]:
    e, r = schema.experiments, schema.runs
    # Deleted runs are left out of the count, as they are out of run listings.
    active_runs = sa.and_(r.c.experiment_id == e.c.id, r.c.lifecycle_stage == "active")
    return (
        sa.select(
            e.c.id,
            e.c.name,
            e.c.created_ns,
            sa.func.count(r.c.run_id),
            sa.func.max(r.c.start_ns),
            e.c.lifecycle_stage,
        )
        .select_from(e.outerjoin(r, active_runs))
        .group_by(e.c.id, e.c.name, e.c.created_ns, e.c.lifecycle_stage)
        .order_by(e.c.name)
    )


def _experiment(row: Any) -> ExperimentInfo:
    return ExperimentInfo(row[0], row[1], row[2], row[3], row[4], row[5] == "deleted")


def upgrade_schema(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate the store at *url* to *revision* (default: the newest); return the schema
    revision before and after (None: an empty database).

    Several collectors may start at once: on PostgreSQL an advisory lock lets one migrate
    while the others wait, then find nothing left to do.

    Raises:
        StoreUnavailableError: the database cannot be reached.
        ConfigError: *url* is not a SQLite or PostgreSQL URL.
    """
    engine = _create_engine(url)
    try:
        return _upgrade(engine, revision)
    except sa.exc.OperationalError as exc:
        raise StoreUnavailableError(
            f"cannot reach the store's database at {safe_url(url)}: {exc.orig}"
        ) from exc
    finally:
        engine.dispose()


def _upgrade(engine: sa.Engine, revision: str) -> tuple[str | None, str | None]:
    config = _alembic_config()
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
            before = MigrationContext.configure(conn).get_current_revision()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            after = MigrationContext.configure(conn).get_current_revision()
    return before, after


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def _create_engine(url: str) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            f"{url!r} is not a store URL; expected sqlite:///path/runlog.db or "
            "postgresql://user@host:5432/database"
        ) from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "postgresql":
        # A pool per process; pre-ping replaces connections the server dropped (a restart)
        # so the collector recovers by itself once the database is back.
        return sa.create_engine(
            parsed,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args={"connect_timeout": _CONNECT_TIMEOUT_S},
        )
    if parsed.get_backend_name() != "sqlite":
        raise ConfigError(
            f"unsupported store {parsed.get_backend_name()!r}: runlog stores runs in SQLite "
            "(sqlite:///path) or PostgreSQL (postgresql://user@host/db)"
        )
    memory = parsed.database in (None, "", ":memory:")
    if memory:
        engine = sa.create_engine(
            parsed, poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed)
    sa.event.listen(engine, "connect", _on_sqlite_connect)
    sa.event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    # The driver's own transaction handling is switched off; _on_sqlite_begin emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        f"busy_timeout={_BUSY_TIMEOUT_MS}",
        "foreign_keys=ON",
        "case_sensitive_like=ON",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _on_sqlite_begin(conn: sa.Connection) -> None:
    write = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


if TYPE_CHECKING:

    def _sql_store_is_complete(store: SQLStore) -> CollectorStore:
        return store  # mypy checks here that SQLStore has the whole surface
