"""The model registry's rules shared by its two front doors: MLflow's registry endpoints
(`collectors.mlflow.registry`) and runlog's own ``/api/v1/models`` (`collectors.read.models_api`).

`add_version` numbers a new version (the next number, retried when a concurrent request took
it); `version_files` says where a version's files are in the collector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from collectors.ops import CreateModelVersion, Op
from collectors.store.base import ModelVersionInfo
from collectors.store.protocols import RegistryStore

ATTEMPTS: Final = 3
PROXY_SCHEME: Final = "mlflow-artifacts:"


class VersionNotCreatedError(RuntimeError):
    """The store refused the new version for a reason other than a taken number."""


def add_version(
    store: RegistryStore,
    apply: Callable[[Sequence[Op]], list[str]],
    name: str,
    time_ns: int,
    **fields: Any,
) -> int:
    """Add the next version of registered model *name*; return its number.

    *apply* commits operations and returns the errors the store reported. Numbers are never
    reused (deleted versions keep theirs); a number taken by a concurrent request is retried.

    Raises:
        VersionNotCreatedError: the store refused the version (the message says why).
    """
    for _ in range(ATTEMPTS):
        versions = store.model_versions([name], include_deleted=True)
        number = max((v.version for v in versions), default=0) + 1
        errors = apply([CreateModelVersion(name, number, time_ns, **fields)])
        if not errors:
            return number
        if not errors[0].endswith("already exists"):
            raise VersionNotCreatedError(errors[0])
    raise VersionNotCreatedError(
        f"Model Version creation error (name={name}). Giving up after {ATTEMPTS} attempts."
    )


@dataclass(frozen=True, slots=True)
class Files:
    """Whose files hold a version: a run's or a logged model's (``model``), under *prefix*."""

    owner: str
    prefix: str
    model: bool


def proxy_owner(path: str) -> Files | None:
    """The run or logged model of an ``mlflow-artifacts`` path: ``<...>/<run_id>/artifacts/...``
    or ``<...>/models/<model_id>/artifacts/...``; None if it names neither."""
    parts = [part for part in path.strip("/").split("/") if part != "."]
    for i, part in enumerate(parts[:-1]):
        if parts[i + 1] == "artifacts":
            rest = "/".join(parts[i + 2 :])
            model = i >= 1 and parts[i - 1] == "models" and part.startswith("m-")
            return Files(part, rest, model)
    return None


def version_files(version: ModelVersionInfo) -> Files | None:
    """Where the collector keeps *version*'s files; None when they are elsewhere (an S3 or
    local path the client wrote to itself)."""
    location = version.storage_location
    if location.startswith("runs:/"):
        run_id, _, path = location.removeprefix("runs:/").partition("/")
        return Files(run_id, path.strip("/"), model=False)
    if location.startswith(PROXY_SCHEME):
        return proxy_owner(location.removeprefix(PROXY_SCHEME))
    return None
