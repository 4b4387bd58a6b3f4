"""Locks that let several collectors write into one PostgreSQL at once.

Each collector commits groups of operation lists in one transaction. Two collectors writing
the same run would otherwise race: both read a metric's summary and last chunk, both append,
and one overwrites the other (a lost update); both insert the same new metric or the same
status-history entry and one fails on the unique key; both check a batch id before either
has committed it and both apply the batch (a duplicate).

So, on PostgreSQL, a transaction first takes one transaction-scoped advisory lock per run,
batch id and experiment name it will touch, in one global order (sorted 64-bit keys), so
two transactions never wait on each other in a cycle. A second collector's transaction on
the same run waits until the first commits, then reads what it wrote. SQLite needs none of
this: its write transactions start with ``BEGIN IMMEDIATE`` and so run one at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import sqlalchemy as sa
import xxhash

from collectors.ops import MarkBatch, Op

__all__ = ["lock_keys", "take_locks", "take_run_locks"]

_LOCK_ALL: Final = sa.text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"
)


def lock_keys(batches: Iterable[Sequence[Op]]) -> list[int]:
    """The sorted advisory lock keys for every run, batch id and experiment in *batches*."""
    names: set[str] = set()
    for ops in batches:
        for op in ops:
            run_id = getattr(op, "run_id", None)
            if isinstance(run_id, str):
                names.add(f"run\0{run_id}")
            experiment = getattr(op, "experiment", None)
            if isinstance(experiment, str):
                names.add(f"experiment\0{experiment}")
            if isinstance(op, MarkBatch):
                names.add(f"batch\0{op.batch_id}")
    return sorted({_key(name) for name in names})


def take_locks(conn: sa.Connection, batches: Iterable[Sequence[Op]]) -> None:
    """Take the advisory locks of *batches* on PostgreSQL (nothing on other databases).

    ``unnest`` yields the keys in array order, so the locks are taken in sorted order.
    """
    if conn.dialect.name != "postgresql":
        return
    keys = lock_keys(batches)
    if keys:
        conn.execute(_LOCK_ALL, {"keys": keys})


def take_run_locks(conn: sa.Connection, run_ids: Iterable[str]) -> None:
    """Take the advisory locks of *run_ids* on PostgreSQL (e.g. before purging them)."""
    if conn.dialect.name == "postgresql":
        keys = sorted({_key(f"run\0{run_id}") for run_id in run_ids})
        conn.execute(_LOCK_ALL, {"keys": keys})


def _key(name: str) -> int:
    """A signed 64-bit key (PostgreSQL's bigint) for *name*."""
    return xxhash.xxh64_intdigest(name.encode()) - (1 << 63)
