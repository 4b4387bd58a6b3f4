"""Fixtures shared by the collector tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mlflow_env import mlflow_at
from postgres import scratch_database


@pytest.fixture
def ml(collector: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The `mlflow` module pointed at the session's collector (skips if mlflow is missing).

    Its global state (active runs, experiment, tracking URI) is put back afterwards.
    """
    with mlflow_at(collector.endpoint, monkeypatch) as module:
        yield module


@pytest.fixture(scope="session")
def pg_database() -> Iterator[tuple[Any, str]]:
    """A scratch PostgreSQL database for the session: (admin connection to it, its name).

    Fails (never skips) when no server answers; see tests/postgres.py.
    """
    with scratch_database() as scratch:
        yield scratch
