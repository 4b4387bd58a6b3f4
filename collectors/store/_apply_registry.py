"""Applying the model registry operations: registered models, versions, tags, aliases.

Handlers take the `Transaction` and one operation and return an error message or None, like
the other ``_apply`` modules. The API layers (`collectors.mlflow.registry`, the query API)
check names and look entities up before they submit; the checks here guard what must hold
inside the transaction: unique model names and version numbers, and that what an
operation names still exists when it is applied.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from collectors.ops import (
    CreateModelVersion,
    CreateRegisteredModel,
    DeleteRegisteredModel,
    SetModelVersionTag,
    SetRegisteredModelAlias,
    SetRegisteredModelTag,
    UpdateModelVersion,
    UpdateRegisteredModel,
)
from collectors.store import schema
from collectors.store._transaction import Transaction, primary_key

_rm, _rmt, _alias = (
    schema.registered_models,
    schema.registered_model_tags,
    schema.registered_model_aliases,
)
_mv, _mvt = schema.model_versions, schema.model_version_tags
#: MLflow's stages, as it writes them (``get_canonical_stage``).
STAGES = ("None", "Staging", "Production", "Archived")
ACTIVE_STAGES = ("Staging", "Production")


def _model_id(conn: sa.Connection, name: str) -> int | None:
    return conn.execute(sa.select(_rm.c.id).where(_rm.c.name == name)).scalar()


def _not_found(name: str) -> str:
    return f"Registered Model with name={name} not found"


def _version_where(model_id: int, version: int) -> tuple[Any, ...]:
    return (
        _mv.c.registered_model_id == model_id,
        _mv.c.version == version,
        _mv.c.lifecycle_stage == "active",
    )


def _live_version(conn: sa.Connection, name: str, version: int) -> int | None:
    """The registered model's id if it has *version* (not deleted), else None."""
    model_id = _model_id(conn, name)
    if model_id is None:
        return None
    found = conn.execute(sa.select(_mv.c.version).where(*_version_where(model_id, version)))
    return None if found.first() is None else model_id


def _version_not_found(name: str, version: int) -> str:
    return f"Model Version (name={name}, version={version}) not found"


class _OnModel(Protocol):
    """An operation on a registered model, which it names."""

    @property
    def name(self) -> str: ...


class _OnVersion(_OnModel, Protocol):
    """An operation on one version of a registered model."""

    @property
    def version(self) -> int: ...


_M = TypeVar("_M", bound=_OnModel)
_V = TypeVar("_V", bound=_OnVersion)


def _of_model(
    handle: Callable[[sa.Connection, int, _M], str | None],
) -> Callable[[Transaction, _M], str | None]:
    """The handler that runs *handle* with the id of the model the operation names, or
    refuses the operation when there is no such model."""

    def handler(tx: Transaction, op: _M) -> str | None:
        model_id = _model_id(tx.connection, op.name)
        return _not_found(op.name) if model_id is None else handle(tx.connection, model_id, op)

    return handler


def _of_version(
    handle: Callable[[sa.Connection, int, _V], str | None],
) -> Callable[[Transaction, _V], str | None]:
    """Like `_of_model`, for an operation on a version that must exist and not be deleted."""

    def handler(tx: Transaction, op: _V) -> str | None:
        model_id = _live_version(tx.connection, op.name, op.version)
        if model_id is None:
            return _version_not_found(op.name, op.version)
        return handle(tx.connection, model_id, op)

    return handler


def on_create_registered_model(tx: Transaction, op: CreateRegisteredModel) -> str | None:
    conn = tx.connection
    if _model_id(conn, op.name) is not None:
        return f"Registered Model (name={op.name}) already exists."
    row = {"name": op.name, "created_ns": op.time_ns, "updated_ns": op.time_ns}
    result = conn.execute(sa.insert(_rm).values(description=op.description, **row))
    model_id = primary_key(result)
    tags = [{"registered_model_id": model_id, "key": k, "value": v} for k, v in op.tags]
    if tags:
        conn.execute(sa.insert(_rmt), tags)
    return None


@_of_model
def on_update_registered_model(
    conn: sa.Connection, model_id: int, op: UpdateRegisteredModel
) -> str | None:
    values: dict[str, Any] = {"updated_ns": op.time_ns}
    if op.new_name is not None and op.new_name != op.name:
        if _model_id(conn, op.new_name) is not None:
            return f"Registered Model (name={op.new_name}) already exists."
        values["name"] = op.new_name
        versions = sa.update(_mv).where(_mv.c.registered_model_id == model_id)
        conn.execute(versions.values(updated_ns=op.time_ns))
    if op.description is not None:
        values["description"] = op.description
    conn.execute(sa.update(_rm).where(_rm.c.id == model_id).values(values))
    return None


@_of_model
def on_delete_registered_model(
    conn: sa.Connection, model_id: int, op: DeleteRegisteredModel
) -> str | None:
    for table in (_alias, _mvt, _mv, _rmt):
        conn.execute(sa.delete(table).where(table.c.registered_model_id == model_id))
    conn.execute(sa.delete(_rm).where(_rm.c.id == model_id))
    return None


@_of_model
def on_set_registered_model_tag(
    conn: sa.Connection, model_id: int, op: SetRegisteredModelTag
) -> str | None:
    _set_tag(conn, _rmt, {"registered_model_id": model_id, "key": op.key}, op.value)
    return None


def _set_tag(conn: sa.Connection, table: sa.Table, key: dict[str, Any], value: str | None) -> None:
    where = [table.c[column] == v for column, v in key.items()]
    if value is None:
        conn.execute(sa.delete(table).where(*where))
    elif not conn.execute(sa.update(table).where(*where).values(value=value)).rowcount:
        conn.execute(sa.insert(table).values(value=value, **key))


@_of_model
def on_create_model_version(
    conn: sa.Connection, model_id: int, op: CreateModelVersion
) -> str | None:
    taken = sa.select(_mv.c.version).where(
        _mv.c.registered_model_id == model_id, _mv.c.version == op.version
    )
    if conn.execute(taken).first() is not None:  # the API retries with the next number
        return f"Model version {op.version} of {op.name!r} already exists"
    row = {
        "registered_model_id": model_id,
        "version": op.version,
        "created_ns": op.time_ns,
        "updated_ns": op.time_ns,
        "description": op.description,
        "user_id": op.user_id,
        "stage": "None",
        "source": op.source,
        "storage_location": op.storage_location,
        "run_id": op.run_id,
        "run_link": op.run_link,
        "logged_model_id": op.logged_model_id,
        "status": "READY",
        "properties": json.dumps(dict(op.properties)),
        "lifecycle_stage": "active",
    }
    conn.execute(sa.insert(_mv).values(row))
    tags = [
        {"registered_model_id": model_id, "version": op.version, "key": k, "value": v}
        for k, v in op.tags
    ]
    if tags:
        conn.execute(sa.insert(_mvt), tags)
    conn.execute(sa.update(_rm).where(_rm.c.id == model_id).values(updated_ns=op.time_ns))
    return None


@_of_version
def on_update_model_version(
    conn: sa.Connection, model_id: int, op: UpdateModelVersion
) -> str | None:
    where = _version_where(model_id, op.version)
    values: dict[str, Any] = {"updated_ns": op.time_ns}
    if op.description is not None:
        values["description"] = op.description
    if op.stage is not None:
        if op.stage not in STAGES:
            expected = ", ".join(STAGES)
            return f"Invalid Model Version stage: {op.stage}. Value must be one of {expected}."
        values["stage"] = op.stage
        if op.archive_existing and op.stage in ACTIVE_STAGES:
            others = sa.update(_mv).where(
                _mv.c.registered_model_id == model_id,
                _mv.c.version != op.version,
                _mv.c.stage == op.stage,
                _mv.c.lifecycle_stage == "active",
            )
            conn.execute(others.values(stage="Archived", updated_ns=op.time_ns))
    if op.deleted:
        values.update(lifecycle_stage="deleted", description=None, user_id=None, run_link=None)
        aliases = sa.delete(_alias).where(
            _alias.c.registered_model_id == model_id, _alias.c.version == op.version
        )
        conn.execute(aliases)
    conn.execute(sa.update(_mv).where(*where).values(values))
    if op.stage is not None or op.deleted:
        conn.execute(sa.update(_rm).where(_rm.c.id == model_id).values(updated_ns=op.time_ns))
    return None


@_of_version
def on_set_model_version_tag(
    conn: sa.Connection, model_id: int, op: SetModelVersionTag
) -> str | None:
    key = {"registered_model_id": model_id, "version": op.version, "key": op.key}
    _set_tag(conn, _mvt, key, op.value)
    return None


@_of_model
def on_set_registered_model_alias(
    conn: sa.Connection, model_id: int, op: SetRegisteredModelAlias
) -> str | None:
    if op.version is not None and _live_version(conn, op.name, op.version) is None:
        return _version_not_found(op.name, op.version)
    where = (_alias.c.registered_model_id == model_id, _alias.c.alias == op.alias)
    conn.execute(sa.delete(_alias).where(*where))
    if op.version is not None:
        row = {"registered_model_id": model_id, "alias": op.alias, "version": op.version}
        conn.execute(sa.insert(_alias).values(row))
    return None


HANDLERS: dict[type, Callable[[Transaction, Any], str | None]] = {
    CreateRegisteredModel: on_create_registered_model,
    UpdateRegisteredModel: on_update_registered_model,
    DeleteRegisteredModel: on_delete_registered_model,
    SetRegisteredModelTag: on_set_registered_model_tag,
    CreateModelVersion: on_create_model_version,
    UpdateModelVersion: on_update_model_version,
    SetModelVersionTag: on_set_model_version_tag,
    SetRegisteredModelAlias: on_set_registered_model_alias,
}
