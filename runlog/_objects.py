"""Workspace, Experiment and Run: the Azure ML v1 object model, in one module because each
builds the others (``Workspace.get_run``, ``Run.get_context``, ``Experiment.start_logging``).

`Run`'s write side — every logging call — is `runlog._recorder.RunRecorder`; what is here is
how runs are found, started, queried and finished. The public homes of these classes are
`runlog.workspace`, `runlog.experiment` and `runlog.run`.

Logging calls never raise and never wait for the network. Queries (`Run.get_metrics`,
`Run.get_file_names`, `Run.download_file`, `Run.get_status`, …) first flush this process's
buffered data (bounded wait), then ask the collector, and raise `runlog.exceptions` errors
with a useful message.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as url_quote
from urllib.parse import unquote

from runlog import _config, _kwargs, _lifecycle, _shutdown
from runlog import conventions as c
from runlog import submit as _submit
from runlog._pipeline import Pipeline, get_pipeline
from runlog._recorder import RunRecorder
from runlog.exceptions import (
    CollectorUnavailableError,
    ConfigError,
    InvalidArgumentError,
    NotFoundError,
)
from runlog.filters import children_of, quote, quote_name
from runlog.model import Model
from runlog.system_metrics import enabled_by_env as _system_metrics_by_env
from runlog.system_metrics import start as _start_system_metrics

if TYPE_CHECKING:
    from runlog._transport import Transport
    from runlog.client import Client
    from runlog.submit import ScriptRunConfig

_log = logging.getLogger("runlog.internal")
_RUN_IGNORED = {"_run_dto": "runlog reads the run from its collector"}
_NO_OUTPUTS = "runlog uploads no folder by itself; call run.upload_folder('outputs', path)"
_FROM_CONFIG_IGNORED = {
    "auth": "runlog sends the bearer token of the config file or RUNLOG_TOKEN",
    "_logger": "an Azure ML internal argument",
    "_file_name": f"runlog reads {_config.CONFIG_DIR}/{_config.CONFIG_FILE}",
}


# --- Workspace ---------------------------------------------------------------------------------
class Workspace:
    """A collector endpoint and its token.

    Args:
        endpoint: Collector URL; default ``RUNLOG_ENDPOINT``, then the nearest
            ``.runlog/config.json``, then ``http://127.0.0.1:4318``.
        token: Bearer token; default ``RUNLOG_TOKEN``, then the config file.
        transport: Where the exporter delivers run data instead of the collector's
            OTLP/HTTP endpoint (an object with ``deliver_logs(body)`` and
            ``deliver_file(upload)``, e.g. `runlog.testing.Recorder`); queries still go
            to *endpoint*.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        config_path: str | os.PathLike[str] | None = None,
        transport: Transport | None = None,
    ) -> None:
        self._settings = _config.resolve(endpoint, token, config_path)
        self._client: Client | None = None
        self._transport = transport

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        auth: Any = None,
        _logger: Any = None,
        _file_name: str | None = None,
    ) -> Workspace:
        """Read ``.runlog/config.json`` from *path* (a file or folder) or the nearest one up.

        Azure ML v1's *auth* has no effect (runlog authenticates with the config's or
        ``RUNLOG_TOKEN``'s bearer token) and warns once; so do *_logger* and *_file_name*.

        Raises:
            ConfigError: No config file was found, or it is malformed.
        """
        for name, value in (("auth", auth), ("_logger", _logger), ("_file_name", _file_name)):
            if value is not None:
                _kwargs.warn_once("Workspace.from_config", name, _FROM_CONFIG_IGNORED[name])
        found = _locate(path)
        if found is None:
            where = path or os.getcwd()
            raise ConfigError(
                f"no {_config.CONFIG_DIR}/{_config.CONFIG_FILE} found from {where} upwards; "
                'create one holding {"endpoint": "http://127.0.0.1:4318"} or use Workspace()'
            )
        return cls(config_path=found)

    @property
    def endpoint(self) -> str:
        """The collector URL."""
        return self._settings.endpoint

    @property
    def token(self) -> str | None:
        """The bearer token, if any."""
        return self._settings.token

    def client(self) -> Client:
        """The query client for this workspace."""
        if self._client is None:
            from runlog.client import Client  # httpx: only once something is queried

            self._client = Client(self.endpoint, self.token)
        return self._client

    def _pipeline(self) -> Pipeline:
        return get_pipeline(self.endpoint, self.token, self._transport)

    @property
    def experiments(self) -> dict[str, Experiment]:
        """Experiments known to the collector, by name."""
        return {e["name"]: Experiment(self, e["name"]) for e in self.client().list_experiments()}

    @property
    def models(self) -> dict[str, Model]:
        """Registered models by name, each at its latest version (Azure ML v1's
        ``Workspace.models``)."""
        return {
            m["name"]: Model(self, m["name"])
            for m in self.client().list_models()
            if m["latest_version"]
        }

    def get_run(self, run_id: str) -> Run:
        """The run *run_id* (raises NotFoundError if unknown)."""
        info = self.client().get_run(run_id)
        return Run._from_info(Experiment(self, info["experiment"]), info)

    def get_details(self) -> dict[str, Any]:
        """Endpoint and the config file it came from."""
        return {"endpoint": self.endpoint, "config": self._settings.config_path}

    def __repr__(self) -> str:
        return f"Workspace(endpoint={self.endpoint!r})"


def _locate(path: str | os.PathLike[str] | None) -> Path | None:
    if path is None:
        return _config.find_config()
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    for inner in (
        candidate / _config.CONFIG_DIR / _config.CONFIG_FILE,
        candidate / _config.CONFIG_FILE,
    ):
        if inner.is_file():
            return inner
    return _config.find_config(candidate) if candidate.is_dir() else None


_default: Workspace | None = None


def default_workspace() -> Workspace:
    """The workspace used when none is given (resolved once per process)."""
    global _default
    if _default is None:
        _default = Workspace()
    return _default


# --- Experiment --------------------------------------------------------------------------------
class Experiment:
    """An experiment: ``Experiment("name")`` or, as in Azure ML v1, ``Experiment(ws, "name")``.

    Raises:
        InvalidArgumentError: The name is empty, too long or not a string.
    """

    def __init__(
        self, workspace: Workspace | str | None = None, name: str | None = None, **kwargs: Any
    ) -> None:
        _kwargs.check("Experiment", kwargs, _AZURE_INTERNAL, ("workspace", "name"))
        if isinstance(workspace, str) and name is None:
            workspace, name = None, workspace
        reason = c.check_name("experiment name", name)
        if reason:
            raise InvalidArgumentError(f"{reason}; e.g. Experiment('my-experiment')")
        self._workspace = workspace if isinstance(workspace, Workspace) else default_workspace()
        self._name: str = name  # type: ignore[assignment]  # checked above

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self._name

    @property
    def workspace(self) -> Workspace:
        """The workspace (collector) of this experiment."""
        return self._workspace

    def __repr__(self) -> str:
        return f"Experiment(name={self._name!r}, endpoint={self._workspace.endpoint!r})"

    def start_logging(
        self,
        outputs: str | None = None,
        snapshot_directory: str | None = None,
        *,
        name: str | None = None,
        display_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        system_metrics: bool | None = None,
        **kwargs: Any,
    ) -> Run:
        """Start an interactive run (status Running) and return it.

        Azure ML v1's *outputs* and *snapshot_directory* are accepted and warn once that
        they have no effect here (upload files with ``run.upload_folder``); any other
        unknown keyword is a `TypeError`.

        Use it as a context manager to complete it (or fail it with the exception) at the end.
        ``system_metrics=True`` samples CPU, memory and GPU into the run until it finishes
        (default: ``RUNLOG_SYSTEM_METRICS``; see `runlog.system_metrics`).
        """
        _kwargs.check("Experiment.start_logging", kwargs, known=_START_LOGGING)
        if outputs is not None:
            _kwargs.warn_once("Experiment.start_logging", "outputs", _NO_OUTPUTS)
        if snapshot_directory is not None:
            _kwargs.warn_once("Experiment.start_logging", "snapshot_directory", _NO_SNAPSHOT)
        run = Run._start(self, name=name or display_name, tags=tags, params=params, run_id=run_id)
        if system_metrics or (system_metrics is None and _system_metrics_by_env()):
            _start_system_metrics(run)
        return run

    def submit(
        self,
        config: ScriptRunConfig,
        tags: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Run:
        """Submit a `ScriptRunConfig`: snapshot its folder and queue it on its compute
        target. Returns the run at once (status Queued); see `runlog.submit`."""
        _kwargs.check("Experiment.submit", kwargs, _SUBMIT_IGNORED, ("config", "tags", "run_id"))
        return Run._from_info(
            self, _submit.submit(self._workspace.client(), self._name, config, tags, run_id, name)
        )

    def get_runs(
        self,
        type: str | None = None,
        tags: str | Mapping[str, str] | None = None,
        properties: str | Mapping[str, str] | None = None,
        include_children: bool = False,
        *,
        status: str | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int | None = None,
    ) -> Iterator[Run]:
        """Runs of this experiment, newest first (Azure ML v1 filters plus a runlog filter).

        Args:
            type: Azure ML's run type; runlog's runs have none, so any value is refused.
            tags: A tag name the runs have, or ``{name: value}`` they all match.
            properties: The same for properties.
            include_children: Also child runs.
            status: Only runs in this status (``Running``, ``Completed``, …).
            filter: A filter of the query language (`runlog.filters`), ANDed with the rest.
            order_by: Order-by clauses, e.g. ``["metrics.mse ASC"]``.
            max_results: At most this many runs.

        Raises:
            InvalidArgumentError: *type* was given, or the filter is malformed.
        """
        no_run_types("Experiment.get_runs", type)
        clauses = [f"({filter})"] if filter else []
        clauses += run_clauses(tags, properties, status)
        if not include_children:
            clauses.append("attributes.parent_id IS NULL")
        return self._runs_where(" and ".join(clauses), order_by, max_results)

    def _runs_where(
        self, filter_string: str, order_by: list[str] | None = None, max_results: int | None = None
    ) -> Iterator[Run]:
        found = self._workspace.client().search_runs(
            [self._name], filter_string or None, order_by, max_results
        )
        for info in found:
            yield Run._from_info(self, info)

    def to_pandas(self, filter: str | None = None, order_by: list[str] | None = None) -> Any:
        """The experiment's runs as a pandas DataFrame (needs pandas)."""
        from runlog.client import runs_to_pandas  # pandas: only when asked

        runs = self._workspace.client().search_runs([self._name], filter, order_by)
        return runs_to_pandas(runs)

    @staticmethod
    def list(
        workspace: Workspace | None = None,
        experiment_name: str | None = None,
        view_type: str = "ActiveOnly",
        tags: Any = None,
    ) -> list[Experiment]:
        """The experiments the collector knows (Azure ML v1's ``Experiment.list``).

        Args:
            workspace: The collector; default from the environment or config.
            experiment_name: Only the experiment of this name.
            view_type: ``ActiveOnly`` (default), ``ArchivedOnly`` (deleted through MLflow)
                or ``All``.
            tags: Azure ML's experiment tags; runlog's experiments have none, so any value
                is refused.

        Raises:
            InvalidArgumentError: An unknown *view_type*, or *tags* given.
        """
        if view_type not in _VIEW_TYPES:
            raise InvalidArgumentError(
                f"view_type {view_type!r}: expected one of {', '.join(_VIEW_TYPES)}"
            )
        if tags is not None:
            raise InvalidArgumentError("runlog's experiments have no tags; list them without")
        ws = workspace or default_workspace()
        found = ws.client().list_experiments(include_deleted=view_type != "ActiveOnly")
        wanted = _VIEW_TYPES[view_type]
        return [
            Experiment(ws, e["name"])
            for e in found
            if (experiment_name is None or e["name"] == experiment_name)
            and (wanted is None or bool(e.get("deleted")) == wanted)
        ]


#: Azure ML v1's view types: whether the experiments listed are deleted (None: both).
_VIEW_TYPES: dict[str, bool | None] = {"ActiveOnly": False, "ArchivedOnly": True, "All": None}
_AZURE_INTERNAL = {
    name: "an Azure ML internal argument"
    for name in (
        "_skip_name_validation",
        "_id",
        "_archived_time",
        "_create_in_cloud",
        "_experiment_dto",
    )
}
_START_LOGGING = ("name", "display_name", "tags", "params", "run_id", "system_metrics")
_NO_OUTPUTS = "runlog uploads no folder by itself; call run.upload_folder('outputs', path)"
_NO_SNAPSHOT = "runlog snapshots the folders of submitted runs only (Experiment.submit)"
_SUBMIT_IGNORED = {"credential_passthrough": "runlog runs a submission as the submitting user"}


def no_run_types(where: str, type: str | None) -> None:
    """Refuse an Azure ML run type: runlog's runs have none, so it cannot select by one."""
    if type is not None:
        raise InvalidArgumentError(
            f"{where}: runlog's runs have no run type, so type={type!r} cannot select any; "
            "select runs with tags=, properties= or filter= instead"
        )


def run_clauses(
    tags: str | Mapping[str, str] | None,
    properties: str | Mapping[str, str] | None,
    status: str | None,
) -> list[str]:
    """Filter clauses for Azure ML v1's ``tags`` / ``properties`` / ``status`` arguments."""
    clauses = _key_clauses("tags", tags) + _key_clauses("properties", properties)
    if status:
        clauses.append(f"attributes.status = {quote(status)}")
    return clauses


def _key_clauses(kind: str, wanted: str | Mapping[str, str] | None) -> list[str]:
    if wanted is None:
        return []
    if isinstance(wanted, str):
        return [f"{kind}.{quote_name(wanted)} IS NOT NULL"]
    return [f"{kind}.{quote_name(k)} = {quote(v)}" for k, v in wanted.items()]


# --- Run ---------------------------------------------------------------------------------------
def new_run_id(experiment: str) -> str:
    """A fresh run id: ``<experiment>_<unix seconds>_<8 hex>`` within the 64-character limit."""
    prefix = re.sub(r"[^A-Za-z0-9_.-]", "_", experiment)[:40] or "run"
    return f"{prefix}_{int(time.time())}_{secrets.token_hex(4)}"


class Run(RunRecorder):
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
        return cls.__new__(cls)._adopt(experiment, info)

    def _adopt(self, experiment: Experiment, info: Mapping[str, Any]) -> Run:
        self._setup(
            experiment, info["run_id"], info.get("name"), info.get("parent_id"), owned=False
        )
        self._status = str(info.get("status", c.STATUS_RUNNING))
        return self

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
        pipeline = experiment.workspace._pipeline()
        RunRecorder.__init__(self, pipeline, run_id, experiment.name, parent_id, name, owned)

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
            raise InvalidArgumentError(
                f"run id {run_id!r} must be 1-64 characters of letters, digits, '_', '.' and '-'"
            )
        run._setup(experiment, run_id, name, parent_id, owned)
        run._begin()
        for key, value in (tags or {}).items():
            run.tag(key, value)
        if params:
            run.log_params(params)
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
        return context_run()

    # --- identity (`id`, `name`, `parent_id` are the recorder's) ------------------------------
    display_name = RunRecorder.name

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
            **_submit.submission_details(client, self._id),
        }

    def get_details_with_logs(self) -> dict[str, Any]:
        """`get_details` plus ``logFiles``: the run's log as text (``std_log.txt`` holds what
        the script printed; other files what runlog and loggers recorded)."""
        details = self.get_details()
        details["logFiles"] = _submit.log_files(self.get_logs())
        return details

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
        _submit.follow(self._client(), self._id, show_output)
        return _submit.ended(self.get_details(), show_output, raise_on_error)

    def restore_snapshot(self, path: str | os.PathLike[str] | None = None) -> str:
        """Download the submitted run's source snapshot as a zip; returns its path."""
        return self.download_file(c.SNAPSHOT_FILE, path or f"{self._id}-snapshot.zip")

    def get_status(self) -> str:
        """Running, Completed, Failed or Canceled (the local view when the collector is down)."""
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
        return f"{endpoint}/#/runs/{url_quote(self._id)}"

    def otel_environment(self) -> dict[str, str]:
        """Environment variables that make a child process (any language) log into this run."""
        attributes = {c.RUN_ID: self._id, c.EXPERIMENT: self._experiment.name}
        if self._parent_id:
            attributes[c.PARENT_RUN_ID] = self._parent_id
        resource = ",".join(f"{k}={url_quote(v, safe='')}" for k, v in attributes.items())
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
        self.finish(c.STATUS_COMPLETED)

    def fail(
        self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True
    ) -> None:
        """Mark the run Failed, recording *error_details* (text or an exception)."""
        if isinstance(error_details, BaseException):
            error_details = "".join(traceback.format_exception(error_details))
        text = None if error_details is None else str(error_details)[: c.MAX_VALUE_LENGTH]
        if error_code:
            text = f"{error_code}: {text or ''}"
        self.finish(c.STATUS_FAILED, text)

    def cancel(self) -> None:
        """Mark the run Canceled; a submitted run is stopped by its compute target (a
        queued one never starts)."""
        if not self._owned:
            try:
                self._status = self._client().cancel_run(self._id)
                return
            except NotFoundError:
                pass  # not submitted: an interactive run of another process
        self.finish(c.STATUS_CANCELED)

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


def _iso(time_ns: int | None) -> str | None:
    if time_ns is None:
        return None
    seconds = time_ns / 1e9
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        + f".{time_ns % 10**9 // 1000:06d}Z"
    )


# --- the run of Run.get_context, and the active run ------------------------------------------
#: Held while the context run is chosen (not the registry's lock: starting a run registers).
_context_lock = threading.Lock()


def context_run() -> Run:
    """The run of `Run.get_context`: the launched process's run, or one per process.

    Threads asking at once wait for the first one's run (each used to start its own, and
    all but one stayed behind as stray runs).
    """
    with _context_lock:
        chosen = _lifecycle.context()
        if isinstance(chosen, Run):
            return chosen
        run_id, experiment = launched_run()
        if run_id:
            run = Run._start_attached(Experiment(experiment or c.DEFAULT_EXPERIMENT), run_id)
        else:
            exp = Experiment(os.environ.get(c.ENV_EXPERIMENT) or c.DEFAULT_EXPERIMENT)
            run = Run._start(exp, name=script_name())
        _lifecycle.set_context(run)
    if _system_metrics_by_env():
        _start_system_metrics(run)
    return run


def start_run(
    experiment: str | Experiment | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    workspace: Workspace | None = None,
    system_metrics: bool | None = None,
) -> Run:
    """Start a run: the short form of ``Experiment(name).start_logging(...)``.

    Args:
        experiment: Experiment name or object; default ``RUNLOG_EXPERIMENT`` or ``Default``.
        name: Display name of the run.
        tags: Tags to set at the start.
        params: Hyperparameters to log at the start.
        run_id: Explicit run id (1-64 of ``[A-Za-z0-9_.-]``); generated by default.
        workspace: Where the collector is; default from the environment/config.
        system_metrics: Sample CPU, memory and GPU into the run every few seconds
            (default: ``RUNLOG_SYSTEM_METRICS``; see `runlog.system_metrics`).

    Returns:
        The run, status Running; use it as a context manager to complete it.
    """
    if not isinstance(experiment, Experiment):
        exp_name = experiment or os.environ.get(c.ENV_EXPERIMENT) or c.DEFAULT_EXPERIMENT
        experiment = Experiment(workspace, exp_name)
    return experiment.start_logging(
        name=name, tags=tags, params=params, run_id=run_id, system_metrics=system_metrics
    )


def active_run() -> Run:
    """The run that logging goes to: the innermost run started in this process and not
    finished, else `Run.get_context` (the launched process's run, or one per process)."""
    run = _lifecycle.innermost()
    return run if isinstance(run, Run) else context_run()


def current_run() -> Run | None:
    """The active run if there is one without starting a run: the innermost run started
    here, else the run this process was launched for (``runlog run``, a submitted run)."""
    run = _lifecycle.innermost()
    if isinstance(run, Run):
        return run
    return context_run() if launched_run()[0] else None


def script_name() -> str:
    """The running script's file name (``interactive`` in a REPL): the context run's name."""
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "interactive"


def launched_run() -> tuple[str | None, str | None]:
    """``(run id, experiment)`` of the run this process was launched for, from
    ``RUNLOG_RUN_ID`` / ``RUNLOG_EXPERIMENT`` or ``OTEL_RESOURCE_ATTRIBUTES``."""
    run_id = os.environ.get(c.ENV_RUN_ID)
    experiment = os.environ.get(c.ENV_EXPERIMENT)
    resource = _parse_resource(os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    return run_id or resource.get(c.RUN_ID), experiment or resource.get(c.EXPERIMENT)


def _parse_resource(text: str) -> dict[str, Any]:
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {k.strip(): unquote(v.strip()) for k, v in pairs}


def _forget_context_lock_in_child() -> None:
    """A thread of the parent may have held the lock at the fork."""
    global _context_lock
    _context_lock = threading.Lock()


_shutdown.after_fork_in_child(_forget_context_lock_in_child)
