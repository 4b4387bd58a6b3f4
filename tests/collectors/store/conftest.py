"""Store fixtures: a fresh SQLite file per test, and the same tests on PostgreSQL when
psycopg is installed and a server answers at 127.0.0.1:5432 (user postgres, database test).

PostgreSQL runs get one scratch database per test session and one schema per test, both
dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.store import SQLStore, open_store

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[tuple[Any, str]]:
    """A scratch database: (admin connection to it, its name)."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432: {exc}")
    name = f"runlog_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    scratch = psycopg.connect(PG_ADMIN.replace("dbname=test", f"dbname={name}"), autocommit=True)
    try:
        yield scratch, name
    finally:
        scratch.close()
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store database (a SQLite file, or a fresh PostgreSQL schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runlog.db'}"
        return
    scratch, database = request.getfixturevalue("pg_database")
    schema = f"s_{uuid.uuid4().hex[:12]}"
    scratch.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (f"postgresql://postgres@127.0.0.1:5432/{database}?options=-csearch_path%3D{schema}")
    finally:
        scratch.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store(store_url: str) -> Iterator[SQLStore]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
