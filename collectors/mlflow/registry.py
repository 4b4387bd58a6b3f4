"""MLflow's model registry endpoints: registered models, their tags, aliases and search.

Registered models and their versions (`collectors.mlflow.versions`) live in runlog's store
(migration 0005), so runlog's own ``Run.register_model`` and ``runlog models`` see what
MLflow clients register, and the other way round. Names, messages and status codes follow
mlflow server's SQL registry store.
"""

from __future__ import annotations

import posixpath
import time
from typing import Any

from collectors.mlflow._context import Context, Params, page_offset, page_token
from collectors.mlflow.errors import (
    RESOURCE_ALREADY_EXISTS,
    MlflowError,
    invalid,
    invalid_value,
    missing,
    required,
)
from collectors.mlflow.mapping import model_version_json, registered_model_json
from collectors.mlflow.search import ordered, registered_model_filter, registry_order
from collectors.mlflow.validation import check_key, check_value
from collectors.ops import (
    CreateRegisteredModel,
    DeleteRegisteredModel,
    SetRegisteredModelAlias,
    SetRegisteredModelTag,
    UpdateRegisteredModel,
)
from collectors.store.base import ModelVersionInfo, RegisteredModelInfo

MAX_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_SEARCH_RESULTS = 1000
#: A model version's stages, as MLflow spells them.
STAGES = ("None", "Staging", "Production", "Archived")


def check_model_name(name: Any, field: str = "name") -> str:
    """A registered model name, or MLflow's 400."""
    if not isinstance(name, str) or not name.strip():
        raise required(field)
    if "/" in name or ":" in name:
        raise invalid(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    normal = posixpath.normpath(name)
    if normal != name or normal == "." or normal.startswith(".."):
        raise invalid_value(
            field,
            name,
            "Names may be treated as files in certain cases, and must not resolve to other "
            f"names when treated as such. This name would resolve to {normal!r}",
        )
    return name


def check_registry_tag(key: Any, value: Any) -> tuple[str, str]:
    """A registered model or model version tag (values up to 100,000 characters)."""
    key = check_key("key", key)
    if value is None:
        raise invalid("Tag value cannot be None")
    return key, check_value("value", key, value, MAX_TAG_VALUE_LENGTH)


def check_version(value: Any) -> int:
    """A version number; MLflow's message for anything that is not an integer."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"Parameter 'version' must be an integer, got '{value}'.") from None


def registered_model(ctx: Context, name: str) -> RegisteredModelInfo:
    """The registered model *name*; 404 (MLflow's message) if there is none."""
    found = ctx.store.registered_models([check_model_name(name)])
    if not found:
        raise missing(f"Registered Model with name={name} not found")
    return found[0]


def canonical_stage(stage: Any) -> str:
    """A stage in MLflow's spelling (case-insensitive input), or MLflow's 400."""
    for known in STAGES:
        if isinstance(stage, str) and stage.lower() == known.lower():
            return known
    raise invalid(
        f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(STAGES)}."
    )


def model_version(ctx: Context, name: Any, version: Any) -> ModelVersionInfo:
    """Version *version* of registered model *name*; 404 (MLflow's message) if missing."""
    name, number = check_model_name(name), check_version(version)
    found = ctx.store.model_versions([name], version=number) if abs(number) < 2**31 else []
    if not found:
        raise missing(f"Model Version (name={name}, version={number}) not found")
    return found[0]


def model_json(ctx: Context, model: RegisteredModelInfo) -> dict[str, Any]:
    return registered_model_json(model, ctx.store.model_versions([model.name]))


def _tags(params: Params) -> tuple[tuple[str, str], ...]:
    tags = {}
    for tag in params.objects("tags"):
        key, value = check_registry_tag(tag.get("key"), tag.get("value", ""))
        tags[key] = value
    return tuple(tags.items())


def create(ctx: Context, params: Params) -> dict[str, Any]:
    name = check_model_name(params.get("name"))
    tags = _tags(params)
    if ctx.store.registered_models([name]):
        raise MlflowError(
            RESOURCE_ALREADY_EXISTS, f"Registered Model (name={name}) already exists."
        )
    description = params.optional_string("description")
    ctx.submit([CreateRegisteredModel(name, time.time_ns(), description or None, tags)])
    return {"registered_model": model_json(ctx, registered_model(ctx, name))}


def get(ctx: Context, params: Params) -> dict[str, Any]:
    return {"registered_model": model_json(ctx, registered_model(ctx, params.string("name")))}


def update(ctx: Context, params: Params) -> dict[str, Any]:
    model = registered_model(ctx, params.string("name"))
    description = params.optional_string("description") or ""
    ctx.submit([UpdateRegisteredModel(model.name, time.time_ns(), description=description)])
    return {"registered_model": model_json(ctx, registered_model(ctx, model.name))}


def rename(ctx: Context, params: Params) -> dict[str, Any]:
    new_name = check_model_name(params.get("new_name"), "new_name")
    model = registered_model(ctx, params.string("name"))
    if new_name != model.name and ctx.store.registered_models([new_name]):
        raise MlflowError(
            RESOURCE_ALREADY_EXISTS, f"Registered Model (name={new_name}) already exists."
        )
    ctx.submit([UpdateRegisteredModel(model.name, time.time_ns(), new_name=new_name)])
    return {"registered_model": model_json(ctx, registered_model(ctx, new_name))}


def delete(ctx: Context, params: Params) -> dict[str, Any]:
    model = registered_model(ctx, params.string("name"))
    ctx.submit([DeleteRegisteredModel(model.name)])
    return {}


def search(ctx: Context, params: Params) -> dict[str, Any]:
    max_results = params.integer("max_results", 100)
    if max_results > MAX_SEARCH_RESULTS:
        raise invalid(
            "Invalid value for request parameter max_results. It must be at most "
            f"{MAX_SEARCH_RESULTS}, but got value {max_results}"
        )
    if max_results < 1:
        raise invalid(
            f"Invalid value for max_results. It must be a positive integer, got {max_results}"
        )
    matches = registered_model_filter(params.string("filter", ""))
    fields = {
        "name": lambda m: m.name,
        "timestamp": lambda m: m.updated_ns,
        "last_updated_timestamp": lambda m: m.updated_ns,
        "creation_timestamp": lambda m: m.created_ns,
    }
    clauses = registry_order(params.strings("order_by"), fields, "registered model")
    if not any(key is fields["name"] for key, _ in clauses):
        clauses.append((fields["name"], False))
    found = ordered([m for m in ctx.store.registered_models() if matches(m)], clauses)
    offset = page_offset(params.optional_string("page_token"))
    page = found[offset : offset + max_results]
    versions = _by_name(ctx.store.model_versions([m.name for m in page])) if page else {}
    out: dict[str, Any] = {
        "registered_models": [registered_model_json(m, versions.get(m.name, [])) for m in page]
    }
    if offset + max_results < len(found):
        out["next_page_token"] = page_token(offset + max_results)
    return out


def _by_name(versions: list[ModelVersionInfo]) -> dict[str, list[ModelVersionInfo]]:
    out: dict[str, list[ModelVersionInfo]] = {}
    for version in versions:
        out.setdefault(version.name, []).append(version)
    return out


def get_latest_versions(ctx: Context, params: Params) -> dict[str, Any]:
    """The highest version in each requested stage (every stage when none is named)."""
    model = registered_model(ctx, params.string("name"))
    stages = {canonical_stage(s) for s in params.strings("stages")}
    latest = registered_model_json(model, ctx.store.model_versions([model.name]))
    versions = [v for v in latest["latest_versions"] if not stages or v["current_stage"] in stages]
    aliases = model.aliases
    for version in versions:
        version["aliases"] = [a for a, v in aliases.items() if str(v) == version["version"]]
    return {"model_versions": versions}


def set_tag(ctx: Context, params: Params) -> dict[str, Any]:
    name = check_model_name(params.get("name"))
    key, value = check_registry_tag(params.get("key"), params.get("value", ""))
    registered_model(ctx, name)
    ctx.submit([SetRegisteredModelTag(name, key, value)])
    return {}


def delete_tag(ctx: Context, params: Params) -> dict[str, Any]:
    name = check_model_name(params.get("name"))
    key = check_key("key", params.get("key"))
    registered_model(ctx, name)
    ctx.submit([SetRegisteredModelTag(name, key, None)])
    return {}


def check_alias(alias: Any) -> str:
    """An alias name (letters, digits, ``_``, ``-``), or MLflow's 400."""
    if not isinstance(alias, str) or not alias:
        raise invalid("Registered model alias name cannot be empty.")
    if not all(c.isalnum() or c in "_-" for c in alias) or not alias.isascii():
        raise invalid(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise invalid(
            f"'Registered model alias name' exceeds the maximum length of {MAX_ALIAS_LENGTH} "
            "characters"
        )
    return alias


def set_alias(ctx: Context, params: Params) -> dict[str, Any]:
    name = check_model_name(params.get("name"))
    alias = check_alias(params.get("alias"))
    if alias.lower() == "latest":
        raise invalid("'latest' alias name (case insensitive) is reserved.")
    if alias[:1] in "vV" and alias[1:].isdigit():
        raise invalid(f"Version alias name '{alias}' is reserved.")
    version = model_version(ctx, name, params.get("version"))
    ctx.submit([SetRegisteredModelAlias(name, alias, version.version)])
    return {}


def delete_alias(ctx: Context, params: Params) -> dict[str, Any]:
    name = check_model_name(params.get("name"))
    alias = check_alias(params.get("alias"))
    registered_model(ctx, name)
    ctx.submit([SetRegisteredModelAlias(name, alias, None)])
    return {}


def get_by_alias(ctx: Context, params: Params) -> dict[str, Any]:
    """The version an alias points at (``latest``: the highest version)."""
    name = check_model_name(params.get("name"))
    alias = check_alias(params.get("alias"))
    model = registered_model(ctx, name)
    if alias.lower() == "latest":
        versions = ctx.store.model_versions([name])
        if not versions:
            raise missing(f"Latest version not found for model {name}.")
        number = max(v.version for v in versions)
    elif alias in model.aliases:
        number = model.aliases[alias]
    else:
        raise invalid(f"Registered model alias {alias} not found.")
    return {"model_version": model_version_json(model_version(ctx, name, number))}


ROUTES = {
    ("POST", "/registered-models/create"): create,
    ("GET", "/registered-models/get"): get,
    ("POST", "/registered-models/rename"): rename,
    ("PATCH", "/registered-models/update"): update,
    ("DELETE", "/registered-models/delete"): delete,
    ("GET", "/registered-models/search"): search,
    ("POST", "/registered-models/get-latest-versions"): get_latest_versions,
    ("GET", "/registered-models/get-latest-versions"): get_latest_versions,
    ("POST", "/registered-models/set-tag"): set_tag,
    ("DELETE", "/registered-models/delete-tag"): delete_tag,
    ("POST", "/registered-models/alias"): set_alias,
    ("DELETE", "/registered-models/alias"): delete_alias,
    ("GET", "/registered-models/alias"): get_by_alias,
}
