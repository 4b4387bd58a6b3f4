"""Store fixtures: a test that takes `store` runs on a fresh SQLite file and on PostgreSQL.

PostgreSQL runs get one scratch database per test session (``pg_database``, in
tests/collectors/conftest.py) and one schema per test, both dropped afterwards. With no
PostgreSQL server the PostgreSQL cases fail with a message saying how to start one (see
tests/postgres.py); they never skip silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres import scratch_schema

from collectors.store import SQLStore, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store database (a SQLite file, or a fresh PostgreSQL schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runlog.db'}"
        return
    scratch, database = request.getfixturevalue("pg_database")
    with scratch_schema(scratch, database) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[SQLStore]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
