"""The collector's store: metadata and metric chunks in SQL, uploaded files on disk.

`open_store` picks the implementation from a URL or path::

    store = open_store("runlog-data/runlog.db")            # SQLite file
    store = open_store("postgresql://runlog@db/runlog")     # PostgreSQL (psycopg 3)
"""

from __future__ import annotations

from pathlib import Path

from collectors.store.base import Store
from collectors.store.files import FileTooLargeError, InvalidPathError, LocalFileStore
from collectors.store.sql import SQLStore
from runlog.filters import FilterError

__all__ = [
    "FileTooLargeError",
    "FilterError",
    "InvalidPathError",
    "LocalFileStore",
    "SQLStore",
    "Store",
    "open_store",
]


def open_store(url_or_path: str | Path) -> SQLStore:
    """Open (creating and migrating if needed) the store at *url_or_path*.

    Args:
        url_or_path: A filesystem path to a SQLite file, or a SQLAlchemy URL such as
            ``sqlite:///runlog.db`` or ``postgresql://user@host:5432/db``.

    Returns:
        The opened store; call ``close()`` when done.
    """
    text = str(url_or_path)
    if "://" not in text:
        text = f"sqlite:///{Path(text).expanduser().resolve()}"
    return SQLStore(text)
