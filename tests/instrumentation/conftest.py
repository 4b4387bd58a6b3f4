"""Fixtures shared by the instrumentor tests."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import runlog
from runlog import conventions as c
from runlog.instrumentation import Instrumentor

_names = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "instrumentor(cls=..., options={}, flush=False, complete_run=False): "
        "what the `instrumented` fixture instruments in this module",
    )


@pytest.fixture
def experiment(
    collector: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> runlog.Experiment:
    """A fresh experiment that autologged runs land in (``RUNLOG_EXPERIMENT``), named after
    the test module."""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = f"{module}-{next(_names)}-{id(monkeypatch)}"
    monkeypatch.setenv(c.ENV_ENDPOINT, collector.endpoint)
    monkeypatch.setenv(c.ENV_EXPERIMENT, name)
    return runlog.Experiment(runlog.Workspace(collector.endpoint), name)


@pytest.fixture
def internal_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Records of ``runlog.internal`` (it does not propagate to the root logger)."""
    logger = logging.getLogger("runlog.internal")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="runlog.internal")
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.fixture
def instrumented(
    request: pytest.FixtureRequest, experiment: runlog.Experiment
) -> Iterator[Instrumentor]:
    """The instrumentor the test module names, instrumented for one test, then uninstrumented.

    A module names it with ``pytest.mark.instrumentor(cls=..., options={...}, flush=False,
    complete_run=False)`` (``cls`` by keyword: a mark called with one class alone would
    decorate that class): ``options`` go to ``instrument``; ``flush`` asserts that background
    work (scikit-learn's) finished within 30 s before uninstrumenting; ``complete_run``
    completes the run the instrumentor left open (PyTorch's step tracker), so that the next
    test starts without one.
    """
    marker = request.node.get_closest_marker("instrumentor")
    if marker is None:
        raise pytest.UsageError(f"{request.module.__name__}: no pytest.mark.instrumentor(cls=...)")
    instrumentor = marker.kwargs["cls"]()
    instrumentor.instrument(**marker.kwargs.get("options", {}))
    yield instrumentor
    if marker.kwargs.get("flush", False):
        assert instrumentor.flush(30)
    run = instrumentor.tracker.run if marker.kwargs.get("complete_run", False) else None
    instrumentor.uninstrument()
    if run is not None:
        run.complete()
