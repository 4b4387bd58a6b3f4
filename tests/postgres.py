"""The PostgreSQL server the store tests need (test helper).

Tests that need PostgreSQL fail — they do not skip — when no server answers at
127.0.0.1:5432 (user ``postgres``, trust auth, database ``test``), with a message saying how
to start one. Set ``RUNLOG_TEST_POSTGRES=skip`` to skip them on purpose (a laptop without
PostgreSQL); CI never sets it.

Each test gets its own scratch database or schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

HOST, PORT, USER, ADMIN_DB = "127.0.0.1", 5432, "postgres", "test"
ADMIN_DSN = f"host={HOST} port={PORT} user={USER} dbname={ADMIN_DB} connect_timeout=3"
OPT_OUT = "RUNLOG_TEST_POSTGRES"
HOW_TO_START = (
    f"PostgreSQL is required by the store tests but none answers at {HOST}:{PORT} "
    f"(user {USER}, trust auth, database {ADMIN_DB}). Start one, e.g.\n"
    f"  docker run -d -p {PORT}:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test "
    "postgres:16\n"
    "  or: sudo apt-get install postgresql && sudo pg_ctlcluster 15 main start "
    "(then allow trust auth on 127.0.0.1 and `createdb -U postgres test`)\n"
    f"or skip these tests on purpose with {OPT_OUT}=skip."
)


def admin_connection() -> Any:
    """An autocommit connection to the ``test`` database; fails the test loudly if there
    is no server (or skips when ``RUNLOG_TEST_POSTGRES=skip``)."""
    if os.environ.get(OPT_OUT) == "skip":
        pytest.skip(f"PostgreSQL tests skipped on purpose ({OPT_OUT}=skip)")
    try:
        import psycopg
    except ImportError as exc:
        pytest.fail(f"psycopg is missing ({exc}); install the dev extra: pip install -e '.[dev]'")
    try:
        return psycopg.connect(ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"{HOW_TO_START}\n(connecting said: {exc})")


def database_url(database: str, schema: str | None = None) -> str:
    """The SQLAlchemy URL of *database* (with *schema* first on the search path)."""
    url = f"postgresql://{USER}@{HOST}:{PORT}/{database}"
    return url if schema is None else f"{url}?options=-csearch_path%3D{schema}"


@contextmanager
def scratch_database() -> Iterator[tuple[Any, str]]:
    """A new empty database: (autocommit connection to it, its name); dropped on exit."""
    import psycopg

    admin = admin_connection()
    name = f"runlog_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    scratch = psycopg.connect(ADMIN_DSN.replace(f"dbname={ADMIN_DB}", f"dbname={name}"))
    scratch.autocommit = True
    try:
        yield scratch, name
    finally:
        scratch.close()
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def scratch_schema(connection: Any, database: str) -> Iterator[str]:
    """A new schema in *database*; yields the URL that uses it; dropped on exit."""
    schema = f"s_{uuid.uuid4().hex[:12]}"
    connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield database_url(database, schema)
    finally:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
