"""`Experiment`: a named group of runs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

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
        *args: Any,
        name: str | None = None,
        display_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        system_metrics: bool | None = None,
        **kwargs: Any,
    ) -> Run:
        """Start an interactive run (status Running) and return it.

        Use it as a context manager to complete it (or fail it with the exception) at the end.
        ``system_metrics=True`` samples CPU, memory and GPU into the run until it finishes
        (default: ``RUNLOG_SYSTEM_METRICS``; see `runlog.system_metrics`).
        """
        from runlog import system_metrics as system
        from runlog.run import Run

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
        """Runs of this experiment, newest first (Azure ML v1 filters plus a runlog filter)."""
        clauses = [f"({filter})"] if filter else []
        clauses += _key_clauses("tags", tags) + _key_clauses("properties", properties)
        if status:
            clauses.append(f"attributes.status = {quote(status)}")
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
    def list(workspace: Workspace | None = None, **kwargs: Any) -> list[Experiment]:
        """Every experiment the collector knows."""
        ws = workspace or default_workspace()
        return list(ws.experiments.values())


def _key_clauses(kind: str, wanted: str | Mapping[str, str] | None) -> list[str]:
    if wanted is None:
        return []
    if isinstance(wanted, str):
        return [f"{kind}.{quote_name(wanted)} IS NOT NULL"]
    return [f"{kind}.{quote_name(k)} = {quote(v)}" for k, v in wanted.items()]
