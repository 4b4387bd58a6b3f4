"""Fixtures shared by the instrumentor tests."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import runlog
from runlog import conventions as c

_names = itertools.count()


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
