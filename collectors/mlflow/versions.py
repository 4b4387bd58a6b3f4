"""MLflow's model-version endpoints: create (with mlflow server's source checks), get,
update, stage transitions, delete, search, tags and the download URI.

A version's ``source`` is where it was registered from: ``runs:/<run_id>/<path>`` (a run's
files), ``models:/<model_id>`` (an MLflow 3 logged model), ``models:/<name>/<version>`` (an
existing version), an ``mlflow-artifacts:`` URI inside the run's or model's artifacts, or
any other storage URI. Its download URI is the logged model's artifact location for
``models:/m-…`` sources, the referenced version's for ``models:/name/version``, and the
source itself otherwise, as in mlflow server.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from pathlib import PurePosixPath
from typing import Any

from fastapi import Response

from collectors.mlflow._context import Context, Params, page_offset, page_token
from collectors.mlflow.artifacts import file_response, safe_path
from collectors.mlflow.errors import MlflowError, from_store_error, invalid, missing
from collectors.mlflow.mapping import (
    experiment_root,
    join_uri,
    model_artifact_uri,
    model_version_json,
)
from collectors.mlflow.registry import (
    canonical_stage,
    check_model_name,
    check_registry_tag,
    check_version,
    model_version,
    registered_model,
)
from collectors.mlflow.search import PROMPT_TAG, model_version_filter, ordered, registry_order
from collectors.mlflow.validation import check_key
from collectors.ops import (
    SetModelVersionTag,
    UpdateLoggedModel,
    UpdateModelVersion,
)
from collectors.read.registry import (
    PROXY_SCHEME,
    VersionNotCreatedError,
    add_version,
    version_files,
)
from collectors.store.base import ModelVersionInfo

ACTIVE_STAGES = ("Staging", "Production")
MAX_SEARCH_RESULTS = 200_000
DEFAULT_SEARCH_RESULTS = 10_000
#: The logged-model tag listing the registered versions made from it (MLflow's).
MODEL_VERSIONS_TAG = "mlflow.modelVersions"


# --- create: where a version comes from ----------------------------------------------------


def _bad_source(source: str, id_name: str) -> MlflowError:
    return invalid(
        f"Invalid model version source: '{source}'. The {id_name} request parameter must "
        "identify the resource that contains the source."
    )


def _check_relative_paths(source: str) -> None:
    """mlflow server refuses sources with ``..`` (or NUL) anywhere: path traversal."""
    unquoted = source
    while (next_ := urllib.parse.unquote_plus(unquoted)) != unquoted:
        unquoted = next_
    path = re.sub(r"/+", "/", urllib.parse.urlparse(unquoted).path.rstrip("/"))
    if "\x00" in path or ".." in unquoted.split("/") or ".." in PurePosixPath(path).parts:
        raise invalid(
            f"Invalid model version source: '{unquoted}'. If supplying a source as an http, "
            "https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute "
            "path must be provided without relative path references present. "
            "Please provide an absolute path."
        )


def _within(source: str, root: str) -> bool:
    source_parts = [p for p in urllib.parse.urlsplit(source).path.split("/") if p]
    root_parts = [p for p in urllib.parse.urlsplit(root).path.split("/") if p]
    same_scheme = urllib.parse.urlsplit(source).scheme == urllib.parse.urlsplit(root).scheme
    return same_scheme and bool(root_parts) and source_parts[: len(root_parts)] == root_parts


def _run_root(ctx: Context, run_id: str, source: str) -> str:
    state = ctx.store.run_states([run_id]).get(run_id)
    if state is None:
        raise _bad_source(source, "run_id")
    return join_uri(experiment_root(ctx.experiment_by_id(state.experiment_id)), run_id, "artifacts")


def _model_root(ctx: Context, model_id: str, source: str) -> tuple[str, str | None]:
    """(artifact location, source run) of logged model *model_id*."""
    try:
        model = ctx.existing_model(model_id)
    except MlflowError:
        raise _bad_source(source, "model_id") from None
    root = experiment_root(ctx.experiment_by_id(model.experiment_id))
    return model_artifact_uri(root, model_id), model.source_run_id


def _is_local(source: str) -> bool:
    scheme = urllib.parse.urlsplit(source).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha())  # C:\\ paths


def _resolved(
    ctx: Context, source: str, run_id: str | None, model_id: str | None
) -> tuple[str, str, str | None, str | None]:
    """(source, storage location, run id, logged model id) of a new version; 400 if the
    source is not inside the run or logged model named (mlflow server's rules)."""
    parsed = urllib.parse.urlsplit(source)
    if parsed.scheme == "models":
        if parsed.netloc:
            raise _bad_source(source, "model_id")
        target = parsed.path.lstrip("/")
        if target.startswith("m-") and "/" not in target:  # models:/<model_id>
            if model_id is not None and model_id != target:
                raise _bad_source(source, "model_id")
            location, source_run = _model_root(ctx, target, source)
            return source, location, run_id or source_run, target
        existing = _version_from_uri(ctx, target, source)
        return (
            f"models:/{existing.name}/{existing.version}",
            existing.storage_location,
            run_id or existing.run_id,
            model_id or existing.logged_model_id,
        )
    if model_id is not None:
        location, source_run = _model_root(ctx, model_id, source)
        _check_relative_paths(source)
        if parsed.scheme == "runs" or not _within(source, location):
            raise _bad_source(source, "model_id")
        return source, source, run_id or source_run, model_id
    if _is_local(source):
        raise invalid(
            f"Invalid model version source: '{source}'. To use a local path as a model version "
            "source, the run_id request parameter has to be specified and the local path has "
            "to be contained within the artifact directory of the run specified by the run_id."
        )
    _check_relative_paths(source)
    if parsed.scheme == "runs":
        source_run = parsed.path.lstrip("/").split("/")[0]
        if parsed.netloc or not run_id or source_run != run_id:
            raise _bad_source(source, "run_id")
        _run_root(ctx, run_id, source)
    elif parsed.scheme == PROXY_SCHEME.rstrip(":") and (
        not run_id or not _within(source, _run_root(ctx, run_id, source))
    ):
        raise _bad_source(source, "run_id")
    return source, source, run_id, None


def _version_from_uri(ctx: Context, target: str, source: str) -> ModelVersionInfo:
    """The version a ``models:/<name>/<version>`` or ``models:/<name>@<alias>`` names."""
    name, _, rest = target.partition("/")
    alias = None
    if "@" in name and not rest:
        name, _, alias = name.partition("@")
    model = registered_model(ctx, name)
    if alias is not None:
        if alias not in model.aliases:
            raise invalid(f"Registered model alias {alias} not found.")
        return model_version(ctx, name, model.aliases[alias])
    if not rest.isdigit():
        raise _bad_source(source, "model_id")
    return model_version(ctx, name, rest)


def create(ctx: Context, params: Params) -> dict[str, Any]:
    name = check_model_name(params.get("name"))
    source = params.string("source")
    if not source:
        from collectors.mlflow.errors import required

        raise required("source")
    tags = tuple(
        check_registry_tag(t.get("key"), t.get("value", "")) for t in params.objects("tags")
    )
    run_id = params.optional_string("run_id") or None
    model_id = params.optional_string("model_id") or None
    registered_model(ctx, name)
    source, location, run_id, model_id = _resolved(ctx, source, run_id, model_id)
    version = _create(
        ctx,
        name,
        source=source,
        storage_location=location,
        run_id=run_id,
        run_link=params.optional_string("run_link") or None,
        logged_model_id=model_id,
        description=params.optional_string("description") or "",  # as mlflow server
        tags=tags,
    )
    if model_id is not None:
        _tag_logged_model(ctx, model_id, name, version)
    return {"model_version": model_version_json(model_version(ctx, name, version))}


def _create(ctx: Context, name: str, **fields: Any) -> int:
    """Add the next version of *name* (numbers taken concurrently are retried)."""
    try:
        return add_version(ctx.store, ctx.apply, name, time.time_ns(), **fields)
    except VersionNotCreatedError as exc:
        raise from_store_error(str(exc)) from None


def _tag_logged_model(ctx: Context, model_id: str, name: str, version: int) -> None:
    """List the new version on its logged model (``mlflow.modelVersions``), as MLflow does
    (the server lists the version as a number; MLflow's client adds it again as a string)."""
    entry: dict[str, Any] = {"name": name, "version": version}
    listed = json.loads(ctx.existing_model(model_id).tags.get(MODEL_VERSIONS_TAG, "[]"))
    if entry not in listed:
        listed.append(entry)
    tag = ((MODEL_VERSIONS_TAG, json.dumps(listed)),)
    ctx.submit([UpdateLoggedModel(model_id, time.time_ns(), set_tags=tag)])


# --- the other endpoints -----------------------------------------------------------------


def get(ctx: Context, params: Params) -> dict[str, Any]:
    version = model_version(ctx, params.get("name"), params.get("version"))
    return {"model_version": model_version_json(version)}


def update(ctx: Context, params: Params) -> dict[str, Any]:
    version = model_version(ctx, params.get("name"), params.get("version"))
    description = params.optional_string("description")
    op = UpdateModelVersion(version.name, version.version, time.time_ns(), description=description)
    ctx.submit([op])
    return {"model_version": model_version_json(model_version(ctx, version.name, version.version))}


def transition_stage(ctx: Context, params: Params) -> dict[str, Any]:
    name, number = params.get("name"), params.get("version")
    stage = canonical_stage(params.string("stage"))
    archive = params.get("archive_existing_versions", False)
    if not isinstance(archive, bool):
        archive = str(archive).lower() == "true"
    if archive and stage not in ACTIVE_STAGES:
        raise invalid(
            "Model version transition cannot archive existing model versions because "
            f"'{stage}' is not an Active stage. Valid stages are {list(ACTIVE_STAGES)}"
        )
    version = model_version(ctx, name, number)
    op = UpdateModelVersion(
        version.name, version.version, time.time_ns(), stage=stage, archive_existing=archive
    )
    ctx.submit([op])
    return {"model_version": model_version_json(model_version(ctx, version.name, version.version))}


def delete(ctx: Context, params: Params) -> dict[str, Any]:
    version = model_version(ctx, params.get("name"), params.get("version"))
    ctx.submit([UpdateModelVersion(version.name, version.version, time.time_ns(), deleted=True)])
    return {}


def download_uri(ctx: Context, params: Params) -> dict[str, Any]:
    version = model_version(ctx, params.get("name"), params.get("version"))
    return {"artifact_uri": version.storage_location}


def get_artifact(ctx: Context, name: Any, version: Any, path: str | None) -> Response:
    """``GET /model-versions/get-artifact?name=&version=&path=`` (MLflow's web UI)."""
    checked = safe_path(path or "")
    found = model_version(ctx, name, version)
    files = version_files(found)
    if files is None:
        raise missing(f"version {found.version} of {found.name!r} keeps its files elsewhere")
    store = ctx.model_files if files.model else ctx.files
    full = f"{files.prefix}/{checked}" if files.prefix else checked
    return file_response(store, files.owner, full, checked)


_ORDER_FIELDS = {
    "name": lambda v: v.name,
    "version_number": lambda v: v.version,
    "creation_timestamp": lambda v: v.created_ns,
    "last_updated_timestamp": lambda v: v.updated_ns,
}


def search(ctx: Context, params: Params) -> dict[str, Any]:
    max_results = params.integer("max_results", DEFAULT_SEARCH_RESULTS)
    if max_results < 1:
        raise invalid(
            f"Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )
    if max_results > MAX_SEARCH_RESULTS:
        raise invalid(
            "Invalid value for request parameter max_results. It must be at most "
            f"{MAX_SEARCH_RESULTS}, but got value {max_results}"
        )
    prompts = frozenset(
        m.name for m in ctx.store.registered_models() if m.tags.get(PROMPT_TAG) == "true"
    )
    matches = model_version_filter(params.string("filter", ""), prompts)
    order_by = params.strings("order_by") or [
        "last_updated_timestamp DESC",
        "name ASC",
        "version_number DESC",
    ]
    clauses = registry_order(order_by, _ORDER_FIELDS, "model version")
    named = {key for key, _ in clauses}
    clauses += [
        (_ORDER_FIELDS[field], descending)
        for field, descending in (("name", False), ("version_number", True))
        if _ORDER_FIELDS[field] not in named
    ]
    found = ordered([v for v in ctx.store.model_versions() if matches(v)], clauses)
    offset = page_offset(params.optional_string("page_token"))
    page = found[offset : offset + max_results]
    out: dict[str, Any] = {
        "model_versions": [model_version_json(v) | {"aliases": []} for v in page]
    }
    if offset + max_results < len(found):
        out["next_page_token"] = page_token(offset + max_results)
    return out


def set_tag(ctx: Context, params: Params) -> dict[str, Any]:
    name, number = check_model_name(params.get("name")), check_version(params.get("version"))
    key, value = check_registry_tag(params.get("key"), params.get("value", ""))
    version = model_version(ctx, name, number)
    ctx.submit([SetModelVersionTag(version.name, version.version, key, value)])
    return {}


def delete_tag(ctx: Context, params: Params) -> dict[str, Any]:
    name, number = check_model_name(params.get("name")), check_version(params.get("version"))
    key = check_key("key", params.get("key"))
    version = model_version(ctx, name, number)
    ctx.submit([SetModelVersionTag(version.name, version.version, key, None)])
    return {}


ROUTES = {
    ("POST", "/model-versions/create"): create,
    ("GET", "/model-versions/get"): get,
    ("PATCH", "/model-versions/update"): update,
    ("POST", "/model-versions/transition-stage"): transition_stage,
    ("DELETE", "/model-versions/delete"): delete,
    ("GET", "/model-versions/search"): search,
    ("GET", "/model-versions/get-download-uri"): download_uri,
    ("POST", "/model-versions/set-tag"): set_tag,
    ("DELETE", "/model-versions/delete-tag"): delete_tag,
}
