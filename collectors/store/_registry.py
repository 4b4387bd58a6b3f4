"""Reads of the model registry: registered models and their versions, tags and aliases.

Each function takes an open connection. Registries hold few models, so callers filter,
sort and page what these return (`collectors.mlflow.registry`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa

from collectors.store import schema
from collectors.store._rows import from_row
from collectors.store.base import ModelVersionInfo, RegisteredModelInfo

_rm, _rmt, _alias = (
    schema.registered_models,
    schema.registered_model_tags,
    schema.registered_model_aliases,
)
_mv, _mvt = schema.model_versions, schema.model_version_tags


def registered_models(
    conn: sa.Connection, names: Sequence[str] | None
) -> list[RegisteredModelInfo]:
    """Registered models by name (all when None), ordered by name, with tags and aliases."""
    query = sa.select(_rm).order_by(_rm.c.name)
    if names is not None:
        query = query.where(_rm.c.name.in_(list(names)))
    found: dict[int, RegisteredModelInfo] = {
        row.id: RegisteredModelInfo(row.name, row.created_ns, row.updated_ns, row.description)
        for row in conn.execute(query)
    }
    if found:
        ids = list(found)
        tags = sa.select(_rmt).where(_rmt.c.registered_model_id.in_(ids)).order_by(_rmt.c.key)
        for tag in conn.execute(tags):
            found[tag.registered_model_id].tags[tag.key] = tag.value
        aliases = sa.select(_alias).where(_alias.c.registered_model_id.in_(ids))
        for alias in conn.execute(aliases.order_by(_alias.c.alias)):
            found[alias.registered_model_id].aliases[alias.alias] = alias.version
    return list(found.values())


def model_versions(
    conn: sa.Connection,
    names: Sequence[str] | None,
    include_deleted: bool,
    version: int | None = None,
) -> list[ModelVersionInfo]:
    """Versions of the named models (all when None; only *version* if given), by name and
    version, with tags and aliases; deleted versions only with *include_deleted*."""
    query = (
        sa.select(_mv, _rm.c.name)
        .join(_rm, _rm.c.id == _mv.c.registered_model_id)
        .order_by(_rm.c.name, _mv.c.version)
    )
    if names is not None:
        query = query.where(_rm.c.name.in_(list(names)))
    if not include_deleted:
        query = query.where(_mv.c.lifecycle_stage == "active")
    if version is not None:
        query = query.where(_mv.c.version == version)
    found = {
        (row.registered_model_id, row.version): _version(row)
        for row in conn.execute(query).mappings()
    }
    if found:
        ids = sorted({model_id for model_id, _ in found})
        tags = sa.select(_mvt).where(_mvt.c.registered_model_id.in_(ids)).order_by(_mvt.c.key)
        if version is not None:
            tags = tags.where(_mvt.c.version == version)
        for tag in conn.execute(tags):
            tagged = found.get((tag.registered_model_id, tag.version))
            if tagged is not None:
                tagged.tags[tag.key] = tag.value
        aliases = sa.select(_alias).where(_alias.c.registered_model_id.in_(ids))
        for alias in conn.execute(aliases.order_by(_alias.c.alias)):
            aliased = found.get((alias.registered_model_id, alias.version))
            if aliased is not None:
                aliased.aliases.append(alias.alias)
    return list(found.values())


def _version(row: sa.RowMapping) -> ModelVersionInfo:
    deleted = row["lifecycle_stage"] != "active"
    properties = json.loads(row["properties"])
    return from_row(ModelVersionInfo, row, deleted=deleted, properties=properties)
