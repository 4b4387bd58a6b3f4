"""The collector's store: metadata and metric chunks in SQL, uploaded files on disk.

`open_store` picks the implementation from a URL or path::

    store = open_store("runlog-data/runlog.db")            # SQLite file
    store = open_store("postgresql://runlog@db/runlog")     # PostgreSQL (psycopg 3)
"""

from __future__ import annotations

from pathlib import Path

from collectors.store.base import Store
from collectors.store.files import FileTooLargeError, InvalidPathError, LocalFileStore
from collectors.store.sql import (
    SchemaOutdatedError,
    SQLStore,
    StoreUnavailableError,
    upgrade_schema,
)
from runlog.filters import FilterError

__all__ = [
    "FileTooLargeError",
    "FilterError",
    "InvalidPathError",
    "LocalFileStore",
    "SQLStore",
    "SchemaOutdatedError",
    "Store",
    "StoreUnavailableError",
    "open_store",
    "store_url",
    "upgrade_schema",
]


def store_url(url_or_path: str | Path) -> str:
    """*url_or_path* as a SQLAlchemy URL (a bare path names a SQLite file)."""
    text = str(url_or_path)
    if "://" not in text:
        text = f"sqlite:///{Path(text).expanduser().resolve()}"
    return text


def open_store(url_or_path: str | Path, *, migrate: bool = True) -> SQLStore:
    """Open (creating and migrating if needed) the store at *url_or_path*.

    Args:
        url_or_path: A filesystem path to a SQLite file, or a SQLAlchemy URL such as
            ``sqlite:///runlog.db`` or ``postgresql://user@host:5432/db``.
        migrate: Bring the schema to the newest version; when False it must already be.

    Returns:
        The opened store; call ``close()`` when done.

    Raises:
        StoreUnavailableError: the database cannot be reached.
        SchemaOutdatedError: *migrate* is False and the schema is older than this code.
        ConfigError: the URL is not a SQLite or PostgreSQL URL.
    """
    return SQLStore(store_url(url_or_path), migrate=migrate)
