"""runlog's model registry API: ``/api/v1/models`` (list, one model with its versions,
register a version from a run's files, a version's files).

The same registry MLflow clients use (`collectors.mlflow.registry`): a model registered here
is a version MLflow's ``models:/<name>/<version>`` URIs load, and a model MLflow registered
is listed here. Registering goes through the group-commit writer and answers after commit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from collectors.ops import CreateRegisteredModel, Op
from collectors.read import encoding as enc
from collectors.read import schemas
from collectors.read.query_api import check_run_id, json_response, run_not_found
from collectors.read.registry import (
    VersionNotCreatedError,
    add_version,
    version_files,
)
from collectors.read.run_files import serve_stored
from collectors.store.base import FileInfo, ModelVersionInfo, RegisteredModelInfo
from collectors.store.files import FileStore
from collectors.store.protocols import ModelsStore
from collectors.web.errors import UNAVAILABLE, ApiError, invalid, not_found
from collectors.web.routes import add_create, add_download, api_router
from collectors.writer import Writer, WriterError
from runlog import conventions as c

COMMIT_TIMEOUT_S = 60.0
_FILES = c.API_PREFIX + "/models/{name}/versions/{version}/files"
_BAD_NAME_CHARACTERS = ("/", ":")


def check_model_name(name: str) -> str:
    """A registered model name, or a 400 saying what is allowed."""
    problem = c.check_name("model name", name)
    if problem is None and any(ch in name for ch in _BAD_NAME_CHARACTERS):
        problem = f"model name {name!r} contains '/' or ':', which model URIs use as separators"
    if problem is not None:
        raise invalid(problem)
    return name


def model_json(model: RegisteredModelInfo, versions: Sequence[ModelVersionInfo]) -> dict[str, Any]:
    """A ``Model``: the registered model, its latest version number and version count."""
    return {
        "name": model.name,
        "description": model.description,
        "tags": model.tags,
        "aliases": model.aliases,
        "created_ns": model.created_ns,
        "updated_ns": model.updated_ns,
        "latest_version": max((v.version for v in versions), default=None),
        "version_count": len(versions),
    }


def version_json(version: ModelVersionInfo) -> dict[str, Any]:
    """A ``ModelVersion``; ``path`` is the run's file or folder it was registered from."""
    files = version_files(version)
    run_path = files.prefix if files is not None and not files.model else None
    return {
        "name": version.name,
        "version": version.version,
        "created_ns": version.created_ns,
        "updated_ns": version.updated_ns,
        "description": version.description or None,
        "stage": version.stage,
        "aliases": version.aliases,
        "run_id": version.run_id,
        "path": run_path,
        "source": version.source,
        "storage_location": version.storage_location,
        "logged_model_id": version.logged_model_id,
        "tags": version.tags,
        "properties": version.properties,
    }


def _string_map(body: dict[str, Any], field: str) -> tuple[tuple[str, str], ...]:
    value = body.get(field) or {}
    if not isinstance(value, dict):
        raise invalid(f"{field!r} must be an object of string keys and values")
    pairs = []
    for key, item in value.items():
        problem = c.check_name(f"{field[:-1]} key", key)
        if problem is None and not isinstance(item, str):
            problem = f"{field[:-1]} {key!r} must have a string value"
        if problem is not None:
            raise invalid(problem)
        pairs.append((key, item))
    return tuple(pairs)


class ModelsApi:
    """Routes under ``/api/v1/models``.

    Args:
        store: the store (`SQLStore`).
        writer: the started group-commit writer.
        files: the file byte store of runs.
        model_files: the file byte store of MLflow logged models.
    """

    def __init__(
        self, store: ModelsStore, writer: Writer, files: FileStore, model_files: FileStore
    ) -> None:
        self.store = store
        self.writer = writer
        self.files = files
        self.model_files = model_files

    def router(self) -> APIRouter:
        """An `APIRouter` with the models routes."""
        router = api_router("models")
        add = router.add_api_route
        add("/models", self.list_models, response_model=schemas.ModelList)
        add("/models/{name}", self.get_model, response_model=schemas.ModelWithVersions)
        add_create(router, "/models/{name}/versions", self.register, schemas.ModelVersion)
        files = _FILES.removeprefix(c.API_PREFIX)
        add(files, self.list_version_files, response_model=schemas.FileList)
        add_download(router, files + "/{path:path}", self.download_version_file)
        return router

    def list_models(self) -> Response:
        """Every registered model, by name."""
        versions: dict[str, list[ModelVersionInfo]] = {}
        for version in self.store.model_versions():
            versions.setdefault(version.name, []).append(version)
        models = self.store.registered_models()
        return json_response({"models": [model_json(m, versions.get(m.name, [])) for m in models]})

    def get_model(self, name: str) -> Response:
        """One registered model and its versions (oldest first)."""
        model = self._model(name)
        versions = self.store.model_versions([name])
        out = model_json(model, versions) | {"versions": [version_json(v) for v in versions]}
        return json_response(out)

    def _model(self, name: str) -> RegisteredModelInfo:
        found = self.store.registered_models([check_model_name(name)])
        if not found:
            raise not_found(f"model {name!r} is not registered; list models with `runlog models`")
        return found[0]

    async def register(self, name: str, request: Request) -> Response:
        """Register the run's file or folder ``path`` as the next version of model *name*."""
        body = await request.json() if await request.body() else {}
        if not isinstance(body, dict):
            raise invalid("the body must be a JSON object: {'run_id': ..., 'path': ...}")
        version = await run_in_threadpool(self._register, check_model_name(name), body)
        return Response(json.dumps(version_json(version)), 201, media_type="application/json")

    def _register(self, name: str, body: dict[str, Any]) -> ModelVersionInfo:
        run_id, path = body.get("run_id"), body.get("path")
        if not isinstance(run_id, str) or not isinstance(path, str) or not path.strip("/"):
            raise invalid("'run_id' and 'path' (the run's file or folder) are required strings")
        path = path.strip("/")
        tags, properties = _string_map(body, "tags"), _string_map(body, "properties")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise invalid("'description' must be a string")
        state = self.store.run_states([check_run_id(run_id)]).get(run_id)
        if state is None:
            raise run_not_found(run_id)
        self._check_run_path(run_id, path)
        now = time.time_ns()
        if not self.store.registered_models([name]):
            self._apply([CreateRegisteredModel(name, now)], allow_exists=True)
        fields = {
            "source": f"runs:/{run_id}/{path}",
            "storage_location": f"runs:/{run_id}/{path}",
            "run_id": run_id,
            "description": description or "",
            "tags": tags,
            "properties": properties,
        }
        try:
            number = add_version(self.store, self._apply, name, now, **fields)
        except VersionNotCreatedError as exc:
            raise invalid(str(exc)) from None
        return self._version(name, number)

    def _check_run_path(self, run_id: str, path: str) -> None:
        paths = [f.path for f in self.store.list_files(run_id)]
        if not any(p == path or p.startswith(path + "/") for p in paths):
            shown = ", ".join(paths[:5]) + (", ..." if len(paths) > 5 else "") or "none"
            raise invalid(
                f"run {run_id!r} has no file or folder {path!r} to register (its files: "
                f"{shown}); upload it first, e.g. run.upload_file({path!r}, ...)"
            )

    def _apply(self, ops: Sequence[Op], allow_exists: bool = False) -> list[str]:
        try:
            errors = self.writer.submit(ops).result(COMMIT_TIMEOUT_S).errors
        except WriterError as exc:
            raise ApiError(UNAVAILABLE, str(exc)) from None
        if allow_exists:
            return [e for e in errors if not e.endswith("already exists.")]
        return errors

    def _version(self, name: str, number: int | str) -> ModelVersionInfo:
        self._model(name)
        found = []
        if str(number).isdigit() and int(number) < 2**31:
            found = self.store.model_versions([name], version=int(number))
        if not found:
            raise not_found(f"model {name!r} has no version {number}; see `runlog models {name}`")
        return found[0]

    def list_version_files(self, name: str, version: str) -> Response:
        """The files of a version, with paths relative to what was registered."""
        _, _, listing = self._listing(name, version)
        files = [enc.file_json(info) | {"path": relative} for relative, info in listing.items()]
        return json_response({"files": files})

    def download_version_file(self, name: str, version: str, path: str) -> Response:
        """One file of a version (its path relative to what was registered)."""
        owner, model, listing = self._listing(name, version)
        info = listing.get(path)
        hint = _FILES.format(name=name, version=version)
        missing = f"version {version} of {name!r} has no file {path!r}; see {hint}"
        if info is None:
            raise not_found(missing)
        return serve_stored(self.model_files if model else self.files, owner, info.path, missing)

    def _listing(self, name: str, version: str) -> tuple[str, bool, dict[str, FileInfo]]:
        """(owner, is a logged model, {path relative to the version: file}) of a version."""
        found = self._version(name, version)
        files = version_files(found)
        if files is None:
            raise not_found(
                f"version {version} of {name!r} keeps its files at {found.storage_location}, "
                "outside the collector"
            )
        owner, model = files.owner, files.model
        stored = self.store.logged_model_files(owner) if model else self.store.list_files(owner)
        listing = {}
        for info in stored:
            relative = _relative(info.path, files.prefix)
            if relative is not None:
                listing[relative] = info
        return owner, model, listing


def _relative(path: str, prefix: str) -> str | None:
    """*path* relative to *prefix* (a file registered alone is its own name)."""
    if not prefix:
        return path
    if path == prefix:
        return prefix.rsplit("/", 1)[-1]
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else None
