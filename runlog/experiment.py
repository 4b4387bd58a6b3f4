"""`Experiment`: a named group of runs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from runlog import _kwargs
from runlog import conventions as c
from runlog.exceptions import InvalidArgumentError
from runlog.filters import quote, quote_name
from runlog.workspace import Workspace, default_workspace

if TYPE_CHECKING:
    from runlog.run import Run
    from runlog.submit import ScriptRunConfig


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
        from runlog import system_metrics as system
        from runlog.run import Run

        _kwargs.check("Experiment.start_logging", kwargs, known=_START_LOGGING)
        if outputs is not None:
            _kwargs.warn_once("Experiment.start_logging", "outputs", _NO_OUTPUTS)
        if snapshot_directory is not None:
            _kwargs.warn_once("Experiment.start_logging", "snapshot_directory", _NO_SNAPSHOT)
        run = Run._start(self, name=name or display_name, tags=tags, params=params, run_id=run_id)
        if system_metrics or (system_metrics is None and system.enabled_by_env()):
            system.start(run)
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
        from runlog.submit import submit

        _kwargs.check("Experiment.submit", kwargs, _SUBMIT_IGNORED, ("config", "tags", "run_id"))
        return submit(self, config, tags, run_id, name)

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
        from runlog.run import Run

        found = self._workspace.client().search_runs(
            [self._name], filter_string or None, order_by, max_results
        )
        for info in found:
            yield Run._from_info(self, info)

    def to_pandas(self, filter: str | None = None, order_by: list[str] | None = None) -> Any:
        """The experiment's runs as a pandas DataFrame (needs pandas)."""
        from runlog.client import runs_to_pandas

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
