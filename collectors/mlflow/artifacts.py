"""The ``mlflow-artifacts`` proxy: MLflow clients upload, download and list run files here.

A run's ``artifact_uri`` is ``mlflow-artifacts:/<experiment_id>/<run_id>/artifacts``; the
client turns it into ``<tracking URI>/api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts``.
Files land in the run's file store, the same files ``runlog files RUN`` lists. A logged
model's files (``<exp>/models/<model_id>/artifacts/...``) are its own, in the model file
store (a model needs no run). An experiment whose ``artifact_location`` is another
``mlflow-artifacts:`` prefix puts that prefix in front: the run or model is found by the
``<id>/artifacts`` segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from collectors.mlflow._context import Context, Params
from collectors.mlflow.errors import MlflowError, invalid, missing
from collectors.mlflow.mapping import experiment_root, join_uri
from collectors.read import encoding as enc
from collectors.read.registry import PROXY_SCHEME, proxy_owner
from collectors.read.run_files import file_response as serve_file
from collectors.store.base import FileInfo
from collectors.store.files import FileStore, InvalidPathError, check_path

PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


@dataclass(frozen=True, slots=True)
class _Target:
    """Whose files a proxy path names (a run's or a logged model's) and the path in them."""

    owner: str
    path: str
    model: bool

    def files(self, ctx: Context) -> FileStore:
        return ctx.model_files if self.model else ctx.files

    def listing(self, ctx: Context) -> list[FileInfo]:
        if self.model:
            return ctx.store.logged_model_files(self.owner)
        return ctx.store.list_files(self.owner)


def safe_path(path: str) -> str:
    """A path relative to an artifact root, or MLflow's 400 ``Invalid path``.

    As mlflow server's ``validate_path_is_safe``: no ``..`` segment, not absolute, no ``#``.
    """
    if "#" in path or ".." in path.split("/") or path.startswith("/") or "\x00" in path:
        raise invalid("Invalid path")
    return path


def _locate(ctx: Context, artifact_path: str) -> _Target:
    """The run or logged model of ``<prefix>/<run_id>/artifacts/...`` or
    ``<prefix>/models/<model_id>/artifacts/...``."""
    found = proxy_owner(safe_path(artifact_path))
    if found is None:
        raise invalid(
            f"artifact path {artifact_path[:200]!r} is not '<experiment_id>/<run_id>/artifacts/...'"
        )
    if found.model:
        ctx.existing_model(found.owner)
    else:
        ctx.run_state(found.owner)
    return _Target(found.owner, found.prefix, found.model)


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


def children(
    files: list[FileInfo], prefix: str
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Immediate children of *prefix* in *files* (relative names), and the file *prefix*."""
    entries: dict[str, dict[str, Any]] = {}
    itself = None
    base = f"{prefix}/" if prefix else ""
    for info in files:
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
    target = _locate(ctx, params.string("path", ""))
    found, itself = children(target.listing(ctx), target.path)
    return {"files": found or ([itself] if itself else [])}


def list_run(ctx: Context, params: Params) -> dict[str, Any]:
    """``GET /mlflow/artifacts/list``: children with paths from the run's artifact root."""
    path = safe_path(params.string("path", "")).strip("/")
    path = "" if path == "." else path
    run_id = params.string("run_id", params.get("run_uuid"))
    state = ctx.run_state(run_id)
    root = join_uri(experiment_root(ctx.experiment_by_id(state.experiment_id)), run_id)
    root = join_uri(root, "artifacts")
    if not root.startswith(PROXY_SCHEME):  # the client keeps those files itself
        return {"root_uri": root, "files": []}
    found, _ = children(ctx.store.list_files(run_id), path)
    for child in found:
        child["path"] = f"{path}/{child['path']}" if path else child["path"]
    return {"root_uri": root, "files": found}


async def upload(ctx: Context, artifact_path: str, request: Request) -> Response:
    """``PUT``: store the body as a run's or model's file (atomically; replaces the path)."""
    target = await run_in_threadpool(_locate, ctx, artifact_path)
    path = _checked(target.path)
    if target.model:
        await ctx.uploads.receive_model_file(request, ctx.model_files, target.owner, path)
    else:
        run = await run_in_threadpool(ctx.store.get_run, target.owner)
        experiment = run.experiment if run is not None else "Default"
        await ctx.uploads.receive(request, target.owner, path, experiment)
    return Response(enc.dumps({}), media_type="application/json")


def get_artifact(ctx: Context, run_id: str | None, path: str | None) -> Response:
    """``GET /get-artifact?run_id=&path=`` (MLflow's web UI): one file of a run."""
    checked = safe_path(path or "")
    ctx.run_state(run_id or "")
    return file_response(ctx.files, run_id or "", checked, checked)


def download(ctx: Context, artifact_path: str) -> Response:
    """``GET``: the bytes of one file."""
    target = _locate(ctx, artifact_path)
    return file_response(target.files(ctx), target.owner, target.path, artifact_path)


def file_response(files: FileStore, owner: str, path: str, shown: str) -> Response:
    """The bytes of *owner*'s file *path* (*shown* names it in errors)."""
    try:
        stream = files.open_read(owner, _checked(path))
    except FileNotFoundError:
        raise missing(f"File {shown!r} does not exist") from None
    except IsADirectoryError:
        raise MlflowError("INVALID_PARAMETER_VALUE", f"{shown!r} is a directory") from None
    return serve_file(stream, path)
