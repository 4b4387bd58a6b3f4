"""Submitted runs: snapshots, a persistent queue per compute target, ``local`` and ``ray``.

`build_service` makes the `ComputeService` of a collector from its settings; the HTTP
routes are in `collectors.compute.api`. See docs/api.md ("Submitted runs").
"""

from __future__ import annotations

from pathlib import Path

from collectors.compute.environments import EnvironmentCache
from collectors.compute.service import (
    ComputeService,
    Context,
    Target,
    collector_id,
)
from collectors.compute.snapshots import SnapshotStore
from collectors.read.run_files import Uploads
from collectors.settings import Settings
from collectors.store.files import FileStore
from collectors.store.protocols import ComputeStore
from collectors.writer import Writer

__all__ = ["ComputeService", "build_service", "disabled_targets"]


def build_service(
    store: ComputeStore, files: FileStore, writer: Writer, settings: Settings
) -> ComputeService:
    """The compute service of a collector: its ``local`` and (with an address) ``ray`` target."""
    data = Path(settings.data_dir)
    context = Context(
        store=store,
        writer=writer,
        files=files,
        uploads=Uploads(files, writer, settings.max_file_bytes),
        snapshots=SnapshotStore(data / "snapshots"),
        environments=EnvironmentCache(data / "envs"),
        endpoint=settings.run_endpoint,
        token=settings.token,
        runs_dir=data / "compute" / "runs",
        collector_id=collector_id(data),
        cancel_grace_s=settings.cancel_grace_s,
    )
    targets: list[Target] = []
    if settings.local_execution:
        from collectors.compute.local import LocalTarget

        targets.append(LocalTarget("local", settings.max_local_runs, context))
    if settings.ray_address:
        from collectors.compute.ray import RayTarget

        targets.append(RayTarget("ray", settings.max_ray_runs, context, settings.ray_address))
    return ComputeService(context, targets)


def disabled_targets(settings: Settings) -> dict[str, str]:
    """Targets switched off, with the reason a submission to them is refused."""
    if settings.local_execution:
        return {}
    return {
        "local": "local execution is switched off on this collector (--no-local-execution); "
        "submit to another target"
    }
