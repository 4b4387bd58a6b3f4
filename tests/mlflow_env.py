"""Point the real `mlflow` client at a collector, and put its global state back afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def mlflow_at(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Yield the `mlflow` module with *endpoint* as tracking URI; end runs and reset after."""
    mlflow = pytest.importorskip("mlflow")
    from mlflow.tracking import fluent

    monkeypatch.setenv("MLFLOW_TRACKING_URI", endpoint)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # error tests answer at once
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    mlflow.set_tracking_uri(endpoint)
    try:
        yield mlflow
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        fluent._active_experiment_id = None
        mlflow.set_tracking_uri(None)
