"""The ``mlflow-artifacts`` proxy: MLflow clients upload, download and list run files here.

A run's ``artifact_uri`` is ``mlflow-artifacts:/<experiment_id>/<run_id>/artifacts``; the
client turns it into ``<tracking URI>/api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts``.
Files land in the run's file store, the same files ``runlog files RUN`` lists. A logged
model's files (``<exp>/models/<model_id>/artifacts/...``) are kept with its source run
under ``models/<model_id>/``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from collectors import encoding as enc
from collectors.mlflow._context import Context, Params
from collectors.mlflow.errors import MlflowError, invalid, missing
from collectors.mlflow.mapping import artifact_root
from collectors.run_files import file_response
from collectors.store.files import InvalidPathError, check_path

PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


def _locate(ctx: Context, artifact_path: str) -> tuple[str, str]:
    """(run id, path prefix inside the run) for ``<exp>/<run>/artifacts[/...]`` or a model."""
    parts = artifact_path.strip("/").split("/")
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        from collectors.mlflow.models import model_source_run

        return model_source_run(ctx, parts[2]), "/".join(["models", parts[2], *parts[4:]])
    if len(parts) >= 3 and parts[2] == "artifacts":
        ctx.run_state(parts[1])
        return parts[1], "/".join(parts[3:])
    raise invalid(
        f"artifact path {artifact_path[:200]!r} is not '<experiment_id>/<run_id>/artifacts/...'"
    )


def _checked(path: str) -> str:
    try:
        return check_path(path)
    except InvalidPathError as exc:
        raise invalid(str(exc)) from None


def _file_entry(name: str, size: int) -> dict[str, Any]:
    """An MLflow ``FileInfo`` of a file; like mlflow server, no ``file_size`` when it is 0."""
    entry: dict[str, Any] = {"path": name, "is_dir": False}
    if size:  # mlflow's FileInfo.to_proto sets file_size only when truthy
        entry["file_size"] = size
    return entry


def _children(
    ctx: Context, run_id: str, prefix: str
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Immediate children of *prefix* in the run (relative names), and the file *prefix* itself."""
    entries: dict[str, dict[str, Any]] = {}
    itself = None
    base = f"{prefix}/" if prefix else ""
    for info in ctx.store.list_files(run_id):
        if info.path == prefix:
            itself = _file_entry(info.path.rsplit("/", 1)[-1], info.size)
        elif info.path.startswith(base):
            name, _, rest = info.path[len(base) :].partition("/")
            if rest:
                entries.setdefault(name, {"path": name, "is_dir": True})
            else:
                entries[name] = _file_entry(name, info.size)
    return [entries[name] for name in sorted(entries)], itself


def list_proxy(ctx: Context, params: Params) -> dict[str, Any]:
    """``GET /mlflow-artifacts/artifacts?path=``: children relative to the listed directory."""
    run_id, prefix = _locate(ctx, params.string("path", ""))
    children, itself = _children(ctx, run_id, prefix)
    return {"files": children or ([itself] if itself else [])}


def list_run(ctx: Context, params: Params) -> dict[str, Any]:
    """``GET /mlflow/artifacts/list``: children with paths from the run's artifact root."""
    run_id = params.string("run_id", params.get("run_uuid"))
    state = ctx.run_state(run_id)
    path = params.string("path", "").strip("/")
    run = ctx.store.get_run(run_id)
    experiment = "0" if run is None else _experiment_id(run.experiment, state.experiment_id)
    children, _ = _children(ctx, run_id, path)
    for child in children:
        child["path"] = f"{path}/{child['path']}" if path else child["path"]
    return {"root_uri": f"{artifact_root(experiment)}/{run_id}/artifacts", "files": children}


def _experiment_id(name: str, number: int) -> str:
    from collectors.mlflow.mapping import mlflow_experiment_id

    return mlflow_experiment_id(number, name)


async def upload(ctx: Context, artifact_path: str, request: Request) -> Response:
    """``PUT``: store the body as a run file (atomically; replaces the same path)."""
    run_id, path = await run_in_threadpool(_locate, ctx, artifact_path)
    path = _checked(path)
    run = await run_in_threadpool(ctx.store.get_run, run_id)
    experiment = run.experiment if run is not None else "Default"
    await ctx.uploads.receive(request, run_id, path, experiment)
    return Response(enc.dumps({}), media_type="application/json")


def download(ctx: Context, artifact_path: str) -> Response:
    """``GET``: the bytes of one file."""
    run_id, path = _locate(ctx, artifact_path)
    try:
        stream = ctx.files.open_read(run_id, _checked(path))
    except FileNotFoundError:
        raise missing(f"File {artifact_path!r} does not exist") from None
    except IsADirectoryError:
        raise MlflowError("INVALID_PARAMETER_VALUE", f"{artifact_path!r} is a directory") from None
    return file_response(stream, path)
