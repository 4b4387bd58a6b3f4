"""The store's surface, declared once here and split by capability.

`collectors.store.sql.SQLStore` is the one implementation (mypy checks there that it has the
whole surface; this module does not import it, so imports flow one way); each reader of the
store names the capability it needs (the query API a `QueryStore`, the MLflow API an
`MlflowStore`, …), so a test double or a second store implements only what its reader uses.
`CollectorStore` is all of them: what the collector's app is built on. `Store` (writes
through `apply`, and the reads every reader shares) is declared beside the data types in
`collectors.store.base`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol

from collectors.store.base import (
    FileInfo,
    LoggedModelInfo,
    MetricSummary,
    MetricVector,
    MlflowExperiment,
    ModelMetricInfo,
    ModelVersionInfo,
    RegisteredModelInfo,
    RunState,
    RunTable,
    StatusChange,
    Store,
    SubmissionInfo,
)
from runlog.filters import MATCH_ALL, Filter, OrderBy

__all__ = [
    "ACTIVE",
    "DONE",
    "QUEUED",
    "CollectorStore",
    "ComputeStore",
    "MlflowStore",
    "ModelsStore",
    "QueryStore",
    "RegistryStore",
    "Store",
    "StudioStore",
]


class QueryStore(Store, Protocol):
    """Metric reads of the query API beyond `Store`: downsampled and windowed vectors."""

    def read_metric_downsampled(
        self, run_id: str, name: str, column: str, max_points: int
    ) -> MetricVector | None: ...

    def list_metrics(self, run_id: str) -> list[MetricSummary]: ...

    def read_metric_window(
        self,
        run_id: str,
        name: str,
        column: str,
        axis: str,
        bounds: tuple[int, int],
        max_points: int | None = None,
    ) -> tuple[MetricVector, bool] | None: ...

    def status_history(self, run_id: str) -> list[StatusChange]: ...


class StudioStore(QueryStore, Protocol):
    """The studio's reads beyond the query API's: runs as columns, runs counted by status."""

    def run_table(
        self,
        experiments: Sequence[str] | None = None,
        filter: Filter | str = MATCH_ALL,
        order_by: Sequence[OrderBy | str] = (),
        max_results: int = 10_000,
        page_token: str | None = None,
    ) -> RunTable: ...

    def status_counts(self) -> dict[str, dict[str, int]]: ...


class RegistryStore(Protocol):
    """The model registry's reads."""

    def registered_models(
        self, names: Sequence[str] | None = None
    ) -> list[RegisteredModelInfo]: ...

    def model_versions(
        self,
        names: Sequence[str] | None = None,
        include_deleted: bool = False,
        version: int | None = None,
    ) -> list[ModelVersionInfo]: ...

    def logged_model_files(self, model_id: str) -> list[FileInfo]: ...


class ModelsStore(QueryStore, RegistryStore, Protocol):
    """What runlog's models API reads: the registry, and runs' lifecycle states."""

    def run_states(self, run_ids: Sequence[str]) -> dict[str, RunState]: ...


class MlflowStore(ModelsStore, Protocol):
    """What the MLflow API reads beyond the models API: MLflow's experiments, runs' inputs
    and outputs, the state a log_batch checks, logged models and their metrics."""

    def mlflow_experiments(
        self, ids: Sequence[int] | None = None, names: Sequence[str] | None = None
    ) -> list[MlflowExperiment]: ...

    def run_io(self, run_ids: Sequence[str]) -> dict[str, list[tuple[str, Any]]]: ...

    def batch_state(
        self, run_id: str, param_keys: Sequence[str], metric_names: Sequence[str]
    ) -> tuple[dict[str, str], dict[str, str]]: ...

    def logged_models(
        self, model_ids: Sequence[str] | None = None, experiment_ids: Sequence[int] | None = None
    ) -> list[LoggedModelInfo]: ...

    def logged_model_metrics(
        self, model_ids: Sequence[str]
    ) -> dict[str, list[ModelMetricInfo]]: ...


#: The states of a submission in its target's queue (`SubmissionInfo.state`, the *states*
#: of `ComputeStore.list_submissions`): waiting, claimed by a worker, ended.
QUEUED: Final = "queued"
ACTIVE: Final = "active"
DONE: Final = "done"


class ComputeStore(Store, Protocol):
    """The submission queue's reads (the compute service)."""

    def get_submission(self, run_id: str) -> SubmissionInfo | None: ...

    def list_submissions(
        self,
        states: Sequence[str],
        target: str | None = None,
        collector: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[SubmissionInfo]: ...

    def status_history(self, run_id: str) -> list[StatusChange]: ...

    def has_snapshot(self, digest: str) -> bool: ...


class CollectorStore(StudioStore, MlflowStore, ComputeStore, Protocol):
    """Every capability: what the collector's app is built on."""
