"""`Run`: one training run, with the Azure ML SDK v1 run-history API.

Logging calls (`log`, `log_list`, `log_row`, `log_table`, `log_image`, `tag`, `log_params`,
`add_properties`, `upload_file`) never raise and never wait for the network: they append to
the process's buffer and return; trouble is logged on the ``runlog.internal`` logger.
Queries (`get_metrics`, `get_file_names`, `download_file`, `get_status`, …) first flush
this process's buffered data (bounded wait), then ask the collector, and raise
`runlog.exceptions` errors with a useful message.
"""

from __future__ import annotations

import io
import logging
import os
import re
import secrets
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from time import time_ns as _time_ns
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from runlog import _kwargs, _lifecycle
from runlog import conventions as c
from runlog._packer import OP_EVENT, OP_LOG, OP_POINTS, OP_SERIES, OP_UPLOAD, RunHandle
from runlog._records import RunKey
from runlog._values import PLAIN, Invalid, check_string, coerce
from runlog.exceptions import NotFoundError
from runlog.filters import children_of

if TYPE_CHECKING:
    from runlog.client import Client
    from runlog.experiment import Experiment
    from runlog.model import Model

_log = logging.getLogger("runlog.internal")
_PLAIN_TYPES = frozenset(PLAIN)
_RUN_IGNORED = {"_run_dto": "runlog reads the run from its collector"}
_NO_OUTPUTS = "runlog uploads no folder by itself; call run.upload_folder('outputs', path)"


def new_run_id(experiment: str) -> str:
    """A fresh run id: ``<experiment>_<unix seconds>_<8 hex>`` within the 64-character limit."""
    prefix = re.sub(r"[^A-Za-z0-9_.-]", "_", experiment)[:40] or "run"
    return f"{prefix}_{int(time.time())}_{secrets.token_hex(4)}"


def _safe_file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "image"


class Run:
    """A run of an experiment.

    ``Run(experiment, run_id)`` attaches to an existing run (raises `NotFoundError` if the
    collector does not know it). New runs come from `Experiment.start_logging`,
    `runlog.start_run`, `Run.child_run` and `Run.get_context`.
    """

    def __init__(
        self, experiment: Experiment, run_id: str, outputs: str | None = None, **kwargs: Any
    ) -> None:
        _kwargs.check("Run", kwargs, _RUN_IGNORED, ("experiment", "run_id", "outputs"))
        if outputs is not None:
            _kwargs.warn_once("Run", "outputs", _NO_OUTPUTS)
        self._adopt(experiment, experiment.workspace.client().get_run(run_id))

    @classmethod
    def _from_info(cls, experiment: Experiment, info: Mapping[str, Any]) -> Run:
        """A handle on an existing run from its query-API record (no second request)."""
        run = cls.__new__(cls)
        run._adopt(experiment, info)
        return run

    def _adopt(self, experiment: Experiment, info: Mapping[str, Any]) -> None:
        self._setup(
            experiment, info["run_id"], info.get("name"), info.get("parent_id"), owned=False
        )
        self._status = str(info.get("status", c.STATUS_RUNNING))

    # --- construction ------------------------------------------------------------------------
    def _setup(
        self,
        experiment: Experiment,
        run_id: str,
        name: str | None,
        parent_id: str | None,
        owned: bool,
    ) -> None:
        self._experiment = experiment
        self._id = run_id
        self._name = name
        self._parent_id = parent_id
        self._owned = owned
        self._status = c.STATUS_RUNNING
        self._pipeline = experiment.workspace._pipeline()
        self._append = self._pipeline.append
        self._handle = RunHandle(RunKey(run_id, experiment.name, parent_id, name))
        self._params: dict[str, str] = {}
        self._properties: dict[str, str] = {}
        self._images: dict[str, int] = {}
        self._series: dict[str, Callable[[tuple[Any, Any, int]], None]] = self._handle.appenders

    @classmethod
    def _start(
        cls,
        experiment: Experiment,
        name: str | None = None,
        parent_id: str | None = None,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        owned: bool = True,
    ) -> Run:
        run = cls.__new__(cls)
        run_id = run_id or new_run_id(experiment.name)
        if not c.is_valid_run_id(run_id):
            from runlog.exceptions import InvalidArgumentError

            raise InvalidArgumentError(
                f"run id {run_id!r} must be 1-64 characters of letters, digits, '_', '.' and '-'"
            )
        run._setup(experiment, run_id, name, parent_id, owned)
        run._event(c.EVENT_RUN_START, ((c.STATUS, c.STATUS_RUNNING),))
        run._pipeline.watch(run._handle)  # heartbeats while it is live
        for key, value in (tags or {}).items():
            run.tag(key, value)
        if params:
            run.log_params(params)
        if owned:
            _lifecycle.register(run)
        return run

    @classmethod
    def _start_attached(cls, experiment: Experiment, run_id: str) -> Run:
        """A handle on a run that another process started (no start event, not owned)."""
        run = cls.__new__(cls)
        run._setup(experiment, run_id, None, None, owned=False)
        return run

    @classmethod
    def get_context(
        cls, allow_offline: bool = True, used_for_context_manager: bool = False, **kwargs: Any
    ) -> Run:
        """The run this process was started for, else a new run named after the script.

        A process started for a run (by `runlog run`, a submitted run, or a parent that
        passed `Run.otel_environment()`) has ``RUNLOG_RUN_ID`` or ``runlog.run.id`` in
        ``OTEL_RESOURCE_ATTRIBUTES``; its run is returned and stays the parent's to complete.
        Otherwise one run per process is started (experiment ``RUNLOG_EXPERIMENT`` or
        ``Default``) and completed when the process exits. Azure ML v1's *allow_offline* and
        *used_for_context_manager* change nothing here; another keyword is a `TypeError`.
        """
        _kwargs.check("Run.get_context", kwargs, known=("allow_offline",))
        return _lifecycle.context_run(cls)

    # --- identity --------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The run id."""
        return self._id

    @property
    def name(self) -> str | None:
        """The display name."""
        return self._name

    display_name = name

    @property
    def experiment(self) -> Experiment:
        """The experiment this run belongs to."""
        return self._experiment

    @property
    def parent(self) -> Run | None:
        """The parent run, or None."""
        if self._parent_id is None:
            return None
        return self._experiment.workspace.get_run(self._parent_id)

    def __repr__(self) -> str:
        return (
            f"Run(experiment={self._experiment.name!r}, id={self._id!r}, status={self._status!r})"
        )

    # --- logging (never raises, never waits) ---------------------------------------------------
    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log one value (float, int, bool or str) of metric *name*; repeats make a vector.

        Args:
            name: Metric name (1-255 characters).
            value: The value; numpy and torch scalars are converted.
            description: Accepted for Azure ML compatibility; not stored.
            step: Explicit step; by default the previous step of this metric plus one.
        """
        if type(value) not in _PLAIN_TYPES:
            value = coerce(value)
        try:
            self._series[name]((value, step, _time_ns()))
        except (KeyError, TypeError):  # first point of this name (or an unhashable name)
            self._new_series(name)((value, step, _time_ns()))

    def _new_series(self, name: Any) -> Callable[[tuple[Any, Any, int]], None]:
        reason = c.check_name("metric name", name)
        if reason:
            _log.warning("run %s: %r not logged: %s", self._id, str(name)[:80], reason)
            if isinstance(name, str):
                self._series[name] = _ignore  # warn once, then stay cheap
            return _ignore
        queue: deque[tuple[Any, Any, int]] = deque()
        self._series[name] = queue.append
        self._append((OP_SERIES, self._handle, name, queue))
        return queue.append

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        """Log a list of values as metric *name* (kind ``list``)."""
        try:
            values = [coerce(v) for v in value]
        except TypeError:
            _log.warning(
                "run %s: log_list(%r) needs an iterable, got %s",
                self._id,
                name,
                type(value).__name__,
            )
            return
        self._append((OP_POINTS, self._handle, name, c.KIND_LIST, {"": values}, _time_ns()))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Log one row of table *name*; repeated rows build up the table's columns."""
        columns = self._columns(name, {k: [v] for k, v in kwargs.items()})
        if columns:
            self._append((OP_POINTS, self._handle, name, c.KIND_ROW, columns, _time_ns()))

    def log_table(self, name: str, value: Mapping[str, Any], description: str = "") -> None:
        """Log a table as ``{column: [values]}``; columns must have the same length."""
        try:
            columns = {k: list(v) for k, v in value.items()}
        except (AttributeError, TypeError):
            _log.warning("run %s: log_table(%r) needs a dict of lists", self._id, name)
            return
        if len({len(v) for v in columns.values()}) > 1:
            _log.warning(
                "run %s: log_table(%r) columns differ in length: %s",
                self._id,
                name,
                {k: len(v) for k, v in columns.items()},
            )
            return
        checked = self._columns(name, columns)
        if checked:
            self._append((OP_POINTS, self._handle, name, c.KIND_TABLE, checked, _time_ns()))

    def _columns(self, name: str, columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if not columns:
            _log.warning("run %s: %r has no columns; nothing logged", self._id, name)
            return {}
        for column in columns:
            reason = c.check_name("column name", column)
            if reason:
                _log.warning("run %s: %r not logged: %s", self._id, name, reason)
                return {}
        return {k: [coerce(v) for v in values] for k, values in columns.items()}

    def log_image(
        self,
        name: str,
        path: str | os.PathLike[str] | None = None,
        plot: Any = None,
        description: str = "",
    ) -> None:
        """Log an image from a file (*path*) or a matplotlib figure or pyplot (*plot*).

        The image is uploaded to ``images/<name>.png`` (``_<n>`` added on repeats) and the
        metric's value is that file path.
        """
        if (path is None) == (plot is None):
            _log.warning(
                "run %s: log_image(%r) needs exactly one of path= or plot=", self._id, name
            )
            return
        count = self._images.get(name, 0)
        self._images[name] = count + 1
        suffix = Path(path).suffix if path is not None else ".png"
        target = f"images/{_safe_file_stem(name)}{f'_{count}' if count else ''}{suffix or '.png'}"
        source: Any = path
        if plot is not None:
            source = _render(plot)
            if source is None:
                _log.warning("run %s: log_image(%r): plot cannot be saved as PNG", self._id, name)
                return
        if self.upload_file(target, source) is None:
            return
        self._append((OP_POINTS, self._handle, name, c.KIND_IMAGE, {"": [target]}, _time_ns()))

    def tag(self, key: str, value: Any = None) -> None:
        """Set tag *key* (mutable); without a value the tag is set to an empty string."""
        self._key_value(c.EVENT_TAG, "tag", key, value)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags."""
        for key, value in tags.items():
            self.tag(key, value)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log hyperparameters; each is immutable once set (a different value is refused)."""
        for key, value in params.items():
            if self._immutable(self._params, "param", key, value):
                self._key_value(c.EVENT_PARAM, "param", key, value)

    def log_param(self, key: str, value: Any) -> None:
        """Log one hyperparameter."""
        self.log_params({key: value})

    def _log_line(self, logger: str, message: str, severity: int = 9, level: str = "INFO") -> None:
        """One log line of the run from a producer that is not `logging` (TensorBoard text)."""
        self._append((OP_LOG, self._handle, _time_ns(), severity, level, logger, message, None))

    def _record_params(self, params: Mapping[str, Any]) -> None:
        """Params found by autolog, which may see one change (a second optimizer, another
        trial in the same process): that is not the user's mistake, so nothing is said.

        The first value stays the param. A later different value is kept too: a number as
        the next point of the metric of the param's name (its first value its first point),
        anything else as the param ``key.2``, ``key.3`` …
        """
        for key, value in params.items():
            text = check_string(f"param {key!r}", value)
            if isinstance(text, Invalid):
                _log.debug("run %s: param %r not recorded: %s", self._id, key, text.reason)
                continue
            known = self._params.get(key)
            if known is None:
                self.log_params({key: value})
            elif known != text:
                self._param_changed(key, known, value, text)

    def _param_changed(self, key: str, known: str, value: Any, text: str) -> None:
        from runlog._logfields import metric_value

        number = metric_value(value)
        if number is not None:
            if key not in self._series:  # the param's first value opens its history
                first = _as_number(known)
                if first is not None:
                    self.log(key, first)
            self.log(key, number)
            return
        index = 2
        while self._params.get(f"{key}.{index}", text) != text:
            index += 1
        self.log_params({f"{key}.{index}": value})

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Add immutable properties (facts about the run that are not hyperparameters)."""
        for key, value in properties.items():
            if self._immutable(self._properties, "property", key, value):
                self._key_value(c.EVENT_PROPERTY, "property", key, value)

    def _immutable(self, known: dict[str, str], what: str, key: str, value: Any) -> bool:
        text = check_string(f"{what} {key!r}", value)
        if isinstance(text, Invalid):
            _log.warning("run %s: %s", self._id, text.reason)
            return False
        if key in known and known[key] != text:
            _log.warning(
                "run %s: %s %r is already %r; %ss cannot change (not set to %r)",
                self._id,
                what,
                key,
                known[key],
                what,
                text,
            )
            return False
        known[key] = text
        return True

    def _key_value(self, event: str, what: str, key: Any, value: Any) -> None:
        reason = c.check_name(f"{what} name", key)
        text = check_string(f"{what} {key!r}", value)
        if reason or isinstance(text, Invalid):
            _log.warning(
                "run %s: %s not set: %s", self._id, what, reason or getattr(text, "reason", "")
            )
            return
        self._event(event, ((c.KEY, key), (c.VALUE, text)))

    def _event(self, event: str, attributes: tuple[tuple[str, Any], ...]) -> None:
        self._append((OP_EVENT, self._handle, event, attributes, _time_ns()))

    # --- files ----------------------------------------------------------------------------
    def upload_file(
        self, name: str, path_or_stream: str | os.PathLike[str] | IO[bytes] | bytes
    ) -> str | None:
        """Upload a file (path, binary stream or bytes) as run file *name*.

        The content is kept as it is now and sent in the background: bytes and streams
        are written into the spool, a file is cloned or hard linked into it (else copied by
        a background thread), so the call does not wait for a copy; a file changed in place
        afterwards is reported. If the spool cannot be written, the file is uploaded
        directly. Returns *name*, or None if it was refused (the reason is logged).
        """
        reason = c.check_file_path(name)
        if reason:
            _log.warning("run %s: file %r not uploaded: %s", self._id, name, reason)
            return None
        try:
            upload = self._pipeline.spool.stage_upload(
                self._id, self._experiment.name, name, path_or_stream
            )
        except OSError as exc:
            _log.warning("run %s: file %r not uploaded: %s", self._id, name, exc)
            return None
        self._append((OP_UPLOAD, upload))
        return name

    def upload_files(self, names: list[str], paths: list[str | os.PathLike[str]]) -> None:
        """Upload several files."""
        for name, path in zip(names, paths, strict=True):
            self.upload_file(name, path)

    def upload_folder(self, name: str, path: str | os.PathLike[str]) -> list[str]:
        """Upload every file under folder *path* as ``<name>/<relative path>``."""
        root = Path(path)
        uploaded = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            target = f"{name.rstrip('/')}/{file.relative_to(root).as_posix()}"
            if self.upload_file(target, file):
                uploaded.append(target)
        return uploaded

    # --- queries (flush, then ask the collector) -----------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until this process's buffered data was sent (or spooled); False on timeout."""
        return self._pipeline.flush(timeout)

    def _client(self) -> Client:
        self.flush()
        return self._experiment.workspace.client()

    def get_metrics(
        self,
        name: str | None = None,
        recursive: bool = False,
        run_type: str | None = None,
        populate: bool = False,
    ) -> dict[str, Any]:
        """Metrics of the run in Azure ML shapes (value, list, {column: list}, image path).

        Args:
            name: Only this metric.
            recursive: As Azure ML v1: the metrics of this run and of every descendant,
                as ``{run_id: metrics}``. A run without the metric *name* is left out.
            run_type: Azure ML's run type; runlog's runs have none, so any value is refused.
            populate: Accepted for Azure ML v1; runlog's metrics link no external data.

        Raises:
            NotFoundError: The run, or (not *recursive*) the metric *name*, does not exist.
            InvalidArgumentError: *run_type* was given.
        """
        from runlog.experiment import no_run_types

        no_run_types("Run.get_metrics", run_type)
        if not recursive:
            return self._client().get_metrics(self._id, name)
        out: dict[str, Any] = {}
        for run in [self, *self.get_children(recursive=True)]:
            found = run._client().get_metrics(run.id) if name is None else run._metric_named(name)
            if found or name is None:
                out[run.id] = found
        return out

    def _metric_named(self, name: str) -> dict[str, Any]:
        """``{name: value}``, or ``{}`` when the run has no metric *name*."""
        try:
            return self._client().get_metrics(self._id, name)
        except NotFoundError:
            return {}

    def get_file_names(self) -> list[str]:
        """Paths of the run's files."""
        return [f["path"] for f in self._client().list_files(self._id)]

    def get_logs(self, level: str | None = None) -> list[dict[str, Any]]:
        """The run's log lines so far, oldest first (at *level* or above, e.g. ``"WARN"``)."""
        return list(self._client().iter_logs(self._id, level=level))

    def get_spans(self) -> list[dict[str, Any]]:
        """The run's spans (its timeline), by start time."""
        return self._client().get_spans(self._id)

    def download_file(
        self, name: str, output_file_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Download run file *name*; returns the local path."""
        return self._client().download_file(self._id, name, output_file_path)

    def download_files(
        self, prefix: str | None = None, output_directory: str | os.PathLike[str] | None = None
    ) -> list[str]:
        """Download the run's files (those under *prefix*), keeping their relative paths."""
        root = Path(output_directory or ".")
        paths = [n for n in self.get_file_names() if prefix is None or n.startswith(prefix)]
        return [self.download_file(n, root / n) for n in paths]

    def register_model(
        self,
        model_name: str,
        model_path: str | None = None,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        **kwargs: Any,
    ) -> Model:
        """Register the run's file or folder *model_path* as the next version of a model.

        As Azure ML v1's ``Run.register_model``: the model is created on first use, the
        files must have been uploaded to the run (``upload_file``, ``outputs/``), and the
        version is returned as a `runlog.model.Model`. MLflow clients see it in the same
        registry (``models:/<model_name>/<version>``).

        Args:
            model_name: The registered model's name.
            model_path: The run's file or folder (default: *model_name*).
            tags: Mutable labels of the version.
            properties: Immutable labels of the version (shown to MLflow as tags).
            description: What the version is.
            **kwargs: Azure ML's other arguments (``model_framework``, ``datasets``, …) are
                accepted and kept as properties when they are strings.

        Raises:
            InvalidArgumentError: The run has no such file or folder, or a name is refused.
        """
        from runlog.model import Model

        extra = {k: v for k, v in kwargs.items() if isinstance(v, str)}
        info = self._client().register_model(
            model_name,
            self._id,
            model_path or model_name,
            tags={str(k): str(v) for k, v in (tags or {}).items()},
            properties={**extra, **{str(k): str(v) for k, v in (properties or {}).items()}},
            description=description,
        )
        return Model._from_info(self._experiment.workspace, info)

    def get_details(self) -> dict[str, Any]:
        """The run's record: id, status, times, tags, params, properties, parent, child run
        ids, every status with its time (``statusHistory``) and, for a submitted run, how it was
        submitted (``target``, ``snapshotId``, ``runDefinition``)."""
        from runlog.submit import submission_details

        client = self._client()
        info = client.get_run(self._id)
        history = [
            {"status": s["status"], "timeUtc": _iso(s["time_ns"])}
            for s in client.get_statuses(self._id)
        ]
        return {
            "runId": info["run_id"],
            "experiment": info["experiment"],
            "displayName": info.get("name"),
            "status": info["status"],
            "startTimeUtc": _iso(info.get("start_ns")),
            "endTimeUtc": _iso(info.get("end_ns")),
            "parentRunId": info.get("parent_id"),
            "error": info.get("error"),
            "tags": info.get("tags", {}),
            "properties": info.get("properties", {}),
            "params": info.get("params", {}),
            "statusHistory": history,
            "children": [
                child["run_id"] for child in client.search_runs(filter=children_of(self._id))
            ],
            **submission_details(self),
        }

    def get_details_with_logs(self) -> dict[str, Any]:
        """`get_details` plus ``logFiles``: the run's log as text (``std_log.txt`` holds what
        the script printed; other files what runlog and loggers recorded)."""
        from runlog.submit import details_with_logs

        return details_with_logs(self)

    def wait_for_completion(
        self,
        show_output: bool = False,
        wait_post_processing: bool = False,
        raise_on_error: bool = True,
    ) -> dict[str, Any]:
        """Wait until the run ends and return `get_details`; with *show_output*, print what
        the script prints as it arrives.

        Raises:
            RunFailedError: the run ended Failed (and *raise_on_error* is true).
        """
        from runlog.submit import wait_for_completion

        return wait_for_completion(self, show_output, raise_on_error)

    def restore_snapshot(self, path: str | os.PathLike[str] | None = None) -> str:
        """Download the submitted run's source snapshot as a zip; returns its path."""
        from runlog.snapshot import FILE_NAME

        return self.download_file(FILE_NAME, path or f"{self._id}-snapshot.zip")

    def get_status(self) -> str:
        """Running, Completed, Failed or Canceled (the local view when the collector is down)."""
        from runlog.exceptions import CollectorUnavailableError

        try:
            return str(self._client().get_run(self._id)["status"])
        except CollectorUnavailableError:
            if self._owned:
                return self._status
            raise

    def get_tags(self) -> dict[str, str]:
        """The run's tags."""
        return dict(self._client().get_run(self._id).get("tags", {}))

    def get_properties(self) -> dict[str, str]:
        """The run's properties."""
        return dict(self._client().get_run(self._id).get("properties", {}))

    def get_params(self) -> dict[str, str]:
        """The run's hyperparameters."""
        return dict(self._client().get_run(self._id).get("params", {}))

    def get_children(
        self,
        recursive: bool = False,
        tags: str | Mapping[str, str] | None = None,
        properties: str | Mapping[str, str] | None = None,
        type: str | None = None,
        status: str | None = None,
        _rehydrate_runs: bool = True,
    ) -> Iterator[Run]:
        """Child runs of this run (Azure ML v1's arguments).

        Args:
            recursive: Also the children's children, and so on (parents before children).
            tags: A tag name the runs have, or ``{name: value}`` they all match.
            properties: The same for properties.
            type: Azure ML's run type; runlog's runs have none, so any value is refused.
            status: Only runs in this status.

        Raises:
            InvalidArgumentError: *type* was given.
        """
        from runlog.experiment import no_run_types, run_clauses

        no_run_types("Run.get_children", type)
        wanted = " and ".join(run_clauses(tags, properties, status))
        return self._descendants(wanted, recursive)

    def _descendants(self, wanted: str, recursive: bool) -> Iterator[Run]:
        children = list(self._experiment._runs_where(children_of(self._id)))
        selected: set[str] = set()
        if wanted and children:
            found = self._experiment._runs_where(f"{children_of(self._id)} and {wanted}")
            selected = {run.id for run in found}
        for child in children:
            if not wanted or child.id in selected:
                yield child
            if recursive:
                yield from child._descendants(wanted, recursive)

    def get_portal_url(self) -> str:
        """Where the run is shown in the collector's web studio."""
        endpoint = self._experiment.workspace.endpoint
        return f"{endpoint}/#/runs/{quote(self._id)}"

    def otel_environment(self) -> dict[str, str]:
        """Environment variables that make a child process (any language) log into this run."""
        attributes = {c.RUN_ID: self._id, c.EXPERIMENT: self._experiment.name}
        if self._parent_id:
            attributes[c.PARENT_RUN_ID] = self._parent_id
        resource = ",".join(f"{k}={quote(v, safe='')}" for k, v in attributes.items())
        workspace = self._experiment.workspace
        env = {
            "OTEL_RESOURCE_ATTRIBUTES": resource,
            "OTEL_EXPORTER_OTLP_ENDPOINT": workspace.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            c.ENV_ENDPOINT: workspace.endpoint,
            c.ENV_RUN_ID: self._id,
            c.ENV_EXPERIMENT: self._experiment.name,
        }
        if workspace.token:
            env["OTEL_EXPORTER_OTLP_HEADERS"] = f"authorization=Bearer%20{workspace.token}"
        return env

    # --- children and lifecycle --------------------------------------------------------------
    def child_run(
        self, name: str | None = None, run_id: str | None = None, outputs: str | None = None
    ) -> Run:
        """Start a child run (status Running) of this run."""
        if outputs is not None:
            _kwargs.warn_once("Run.child_run", "outputs", _NO_OUTPUTS)
        return Run._start(self._experiment, name=name, parent_id=self._id, run_id=run_id)

    def create_children(
        self,
        count: int | None = None,
        tag_key: str | None = None,
        tag_values: list[str] | None = None,
    ) -> list[Run]:
        """Start *count* child runs, or one per value of *tag_values* tagged *tag_key*."""
        if tag_values is not None:
            children = [self.child_run() for _ in tag_values]
            for child, value in zip(children, tag_values, strict=True):
                child.tag(tag_key or "tag", value)
            return children
        return [self.child_run() for _ in range(count or 0)]

    def complete(self, _set_status: bool = True) -> None:
        """Mark the run Completed and flush its data (bounded wait)."""
        self._finish(c.STATUS_COMPLETED, None)

    def fail(
        self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True
    ) -> None:
        """Mark the run Failed, recording *error_details* (text or an exception)."""
        if isinstance(error_details, BaseException):
            error_details = "".join(traceback.format_exception(error_details))
        text = None if error_details is None else str(error_details)[: c.MAX_VALUE_LENGTH]
        if error_code:
            text = f"{error_code}: {text or ''}"
        self._finish(c.STATUS_FAILED, text)

    def cancel(self) -> None:
        """Mark the run Canceled; a submitted run is stopped by its compute target (a
        queued one never starts)."""
        if not self._owned:
            from runlog.exceptions import NotFoundError

            try:
                self._status = self._client().cancel_run(self._id)
                return
            except NotFoundError:
                pass  # not submitted: an interactive run of another process
        self._finish(c.STATUS_CANCELED, None)

    def _finish(self, status: str, error: str | None, wait: bool = True) -> None:
        """End the run with *status*; *wait* flushes (autolog passes False: its end event
        goes with the exporter's next cycle instead of a round trip per fit)."""
        self._status = status
        attributes: tuple[tuple[str, Any], ...] = ((c.STATUS, status),)
        if error:
            attributes += ((c.ERROR, error),)
        self._event(c.EVENT_RUN_END, attributes)
        self._pipeline.unwatch(self._handle)
        _lifecycle.unregister(self)
        if wait:
            self.flush()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.complete()
        elif isinstance(exc, KeyboardInterrupt):
            self.cancel()
        else:
            self.fail(exc)


def _ignore(point: tuple[Any, Any, int]) -> None:
    """Where points of an invalid metric name go (one warning was logged)."""


def _render(plot: Any) -> bytes | None:
    savefig = getattr(plot, "savefig", None)
    if not callable(savefig):
        return None
    buffer = io.BytesIO()
    try:
        savefig(buffer, format="png")
    except Exception:  # a plotting error must not break training
        _log.warning("log_image: savefig() failed", exc_info=True)
        return None
    return buffer.getvalue()


def _iso(time_ns: int | None) -> str | None:
    if time_ns is None:
        return None
    seconds = time_ns / 1e9
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        + f".{time_ns % 10**9 // 1000:06d}Z"
    )


__all__ = ["Run", "new_run_id"]


def _as_number(text: str) -> float | int | None:
    """A param's stored text as the number it was, or None."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return None
